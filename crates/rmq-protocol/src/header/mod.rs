//! Custom headers: typed views of `RemotingCommand::ext_fields` (docs/format/remoting-frame.md#ext-fields,
//! docs/protocol/headers.md).
//!
//! Every header implements [`CommandHeader`]. Keys are the Java field names verbatim; every
//! value travels as a string. Decoding is Java-liberal: unknown keys are ignored, numbers are
//! trimmed before parsing, booleans follow [`parse_bool`]. A missing required field is
//! [`WireError::MissingField`], an unparsable value [`WireError::BadField`].
//!
//! Field kinds used by the declarations below:
//! * `req` — required (`@CFNotNull` in Java); plain Rust type; always encoded.
//! * `opt` — optional; `Option<T>`; encoded only when `Some`.
//! * `prim` — Java primitive that is always sent; plain Rust type; missing → `Default`.

use std::collections::HashMap;

use crate::WireError;

mod admin;
mod client;
mod controller;
mod namesrv;
mod pop;
mod send;

pub use admin::*;
pub use client::*;
pub use controller::*;
pub use namesrv::*;
pub use pop::*;
pub use send::*;

/// A typed custom header carried in `extFields`.
pub trait CommandHeader: Sized {
    /// Writes this header's fields into `ext` (other entries are kept).
    fn encode_ext(&self, ext: &mut HashMap<String, String>);
    /// Reads the header; missing required → `MissingField`, unparsable → `BadField`.
    fn decode_ext(ext: &HashMap<String, String>) -> Result<Self, WireError>;
}

/// A header with no fields (e.g. the UPDATE_CONSUMER_OFFSET response).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmptyHeader;

impl CommandHeader for EmptyHeader {
    fn encode_ext(&self, _ext: &mut HashMap<String, String>) {}
    fn decode_ext(_ext: &HashMap<String, String>) -> Result<Self, WireError> {
        Ok(EmptyHeader)
    }
}

/// Java-liberal boolean: `"true"` (any case) or `"1"` → true; anything else false.
pub fn parse_bool(s: &str) -> bool {
    let s = s.trim();
    s.eq_ignore_ascii_case("true") || s == "1"
}

/// A value type that can travel as an `extFields` string.
pub trait WireValue: Sized {
    fn to_wire(&self) -> String;
    fn from_wire(s: &str) -> Option<Self>;
}

impl WireValue for String {
    fn to_wire(&self) -> String {
        self.clone()
    }
    fn from_wire(s: &str) -> Option<Self> {
        Some(s.to_owned())
    }
}

impl WireValue for bool {
    fn to_wire(&self) -> String {
        self.to_string()
    }
    fn from_wire(s: &str) -> Option<Self> {
        Some(parse_bool(s))
    }
}

macro_rules! wire_number {
    ($($t:ty),*) => {$(
        impl WireValue for $t {
            fn to_wire(&self) -> String {
                self.to_string()
            }
            fn from_wire(s: &str) -> Option<Self> {
                s.trim().parse().ok()
            }
        }
    )*};
}
wire_number!(i32, i64, f64);

/// Reads a required field.
pub fn required<T: WireValue>(ext: &HashMap<String, String>, key: &'static str) -> Result<T, WireError> {
    optional(ext, key)?.ok_or(WireError::MissingField(key))
}

/// Reads an optional field. An empty value counts as absent for non-string types.
pub fn optional<T: WireValue>(
    ext: &HashMap<String, String>,
    key: &'static str,
) -> Result<Option<T>, WireError> {
    match ext.get(key) {
        None => Ok(None),
        Some(v) => match T::from_wire(v) {
            Some(t) => Ok(Some(t)),
            None if v.trim().is_empty() => Ok(None),
            None => Err(WireError::BadField {
                field: key,
                value: v.clone(),
            }),
        },
    }
}

/// Reads a field that Java declares as a primitive: missing → `Default`.
pub fn primitive<T: WireValue + Default>(
    ext: &HashMap<String, String>,
    key: &'static str,
) -> Result<T, WireError> {
    Ok(optional(ext, key)?.unwrap_or_default())
}

/// Declares a header struct and its [`CommandHeader`] impl from `kind name: Type => "wireKey"`
/// lines (kinds: `req`, `opt`, `prim`; see the module docs).
macro_rules! command_header {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $kind:ident $field:ident : $ty:ty => $wire:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: command_header!(@ty $kind $ty), )*
        }

        impl $crate::header::CommandHeader for $name {
            #[allow(unused_variables)]
            fn encode_ext(&self, ext: &mut std::collections::HashMap<String, String>) {
                $( command_header!(@enc $kind self.$field, $wire, ext); )*
            }

            #[allow(unused_variables)]
            fn decode_ext(
                ext: &std::collections::HashMap<String, String>,
            ) -> Result<Self, $crate::WireError> {
                Ok(Self { $( $field: command_header!(@dec $kind ext, $wire), )* })
            }
        }
    };
    (@ty req $ty:ty) => { $ty };
    (@ty prim $ty:ty) => { $ty };
    (@ty opt $ty:ty) => { Option<$ty> };
    (@enc req $v:expr, $wire:literal, $ext:ident) => {
        $ext.insert($wire.to_owned(), $crate::header::WireValue::to_wire(&$v));
    };
    (@enc prim $v:expr, $wire:literal, $ext:ident) => {
        $ext.insert($wire.to_owned(), $crate::header::WireValue::to_wire(&$v));
    };
    (@enc opt $v:expr, $wire:literal, $ext:ident) => {
        if let Some(v) = &$v {
            $ext.insert($wire.to_owned(), $crate::header::WireValue::to_wire(v));
        }
    };
    (@dec req $ext:ident, $wire:literal) => { $crate::header::required($ext, $wire)? };
    (@dec prim $ext:ident, $wire:literal) => { $crate::header::primitive($ext, $wire)? };
    (@dec opt $ext:ident, $wire:literal) => { $crate::header::optional($ext, $wire)? };
}
pub(crate) use command_header;

#[cfg(test)]
mod tests;
