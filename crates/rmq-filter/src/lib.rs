//! The broker's message filters (docs/broker/filters.md): tags at the consume-queue stage, SQL92
//! over properties at the commitlog stage. Its own crate because it is pure (no I/O, no locks,
//! only `rmq-protocol`): the broker uses it on the pull path, the fuzz targets without the rest.
//!
//! # Layout
//! - [`tag`]: the consume-queue stage tag filter ([`TagFilter`]).
//! - [`sql92`]: the `MessageSelector.bySql` language — lexer, parser with Java's compile-time
//!   checks, and the compiled [`Expr`].
//! - `eval`: runtime values and Java's comparison/conversion rules.
//!
//! Everything here is pure: no I/O, no locks. The pull path calls [`matches_sql`] on each stored
//! record that passed the consume-queue stage (SQL92 filters only at the commitlog stage).

mod eval;
pub mod sql92;
pub mod tag;

pub use sql92::{compile, Expr, FilterError};
pub use tag::TagFilter;

use rmq_protocol::message::{decode_properties, parse_record, Record};

/// Evaluates a compiled SQL92 filter against one stored commitlog record
/// (docs/format/commitlog.md#record-layout). The record's properties are the identifiers' values. A record
/// that does not decode never matches.
pub fn matches_sql(expr: &Expr, stored_record: &[u8]) -> bool {
    match parse_record(stored_record, false) {
        Ok(Record::Message(info)) => {
            let props = decode_properties(&String::from_utf8_lossy(info.properties));
            expr.evaluate(&props)
        }
        Ok(Record::Blank) | Err(_) => false,
    }
}

#[cfg(test)]
mod tests;
