//! JSON bodies (docs/protocol/name-server.md, docs/protocol/client.md#heartbeat, docs/protocol/admin.md) and
//! the fastjson-tolerant reader.
//!
//! Every struct is `#[serde(default)]` (missing fields take their Java defaults) and ignores
//! unknown fields. Fields are declared in alphabetical wire order so output matches fastjson's.
//! Writers emit standard JSON: numeric map keys quoted, `MessageQueue` keys as JSON-encoded
//! strings — which every Java 4.9 reader accepts. Readers should use [`from_fastjson`], which
//! also accepts fastjson's bare numeric keys and object keys.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::WireError;

mod admin;
mod client;
mod controller;
pub mod fastjson;
pub mod pop;
pub mod properties;
mod route;
pub mod static_topic;

pub use admin::*;
pub use client::*;
pub use controller::*;
pub use route::*;

/// Parses a JSON body written by fastjson (or anyone else).
pub fn from_fastjson<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    match serde_json::from_slice(bytes) {
        Ok(v) => Ok(v),
        Err(first) => {
            let normalized = fastjson::normalize(bytes).map_err(|_| WireError::Json {
                context: "body",
                source: first,
            })?;
            serde_json::from_str(&normalized).map_err(|source| WireError::Json {
                context: "body",
                source,
            })
        }
    }
}

/// Serializes a body as standard JSON.
pub fn to_json<T: Serialize>(v: &T) -> Bytes {
    try_to_json(v).unwrap_or_default()
}

/// Serializes a body as standard JSON, reporting serializer errors.
pub fn try_to_json<T: Serialize>(v: &T) -> Result<Bytes, WireError> {
    serde_json::to_vec(v)
        .map(Bytes::from)
        .map_err(|source| WireError::Json {
            context: "body",
            source,
        })
}

/// Names of Java enums that may arrive as their ordinal.
pub mod enum_names {
    pub const CONSUME_TYPE: &[&str] = &["CONSUME_ACTIVELY", "CONSUME_PASSIVELY"];
    pub const MESSAGE_MODEL: &[&str] = &["BROADCASTING", "CLUSTERING"];
    pub const CONSUME_FROM_WHERE: &[&str] = &[
        "CONSUME_FROM_LAST_OFFSET",
        "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
        "CONSUME_FROM_MIN_OFFSET",
        "CONSUME_FROM_MAX_OFFSET",
        "CONSUME_FROM_FIRST_OFFSET",
        "CONSUME_FROM_TIMESTAMP",
    ];
    pub const TOPIC_FILTER_TYPE: &[&str] = &["SINGLE_TAG", "MULTI_TAG"];
    pub const LANGUAGE: &[&str] = &[
        "JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO", "PHP", "OMS",
        "RUST",
    ];
    pub const CONSUME_RESULT: &[&str] = &[
        "CR_SUCCESS",
        "CR_LATER",
        "CR_ROLLBACK",
        "CR_COMMIT",
        "CR_THROW_EXCEPTION",
        "CR_RETURN_NULL",
    ];
}

/// Accepts an enum as its name, or as its ordinal in `names`; null → empty string.
fn enum_or_ordinal<'de, D: Deserializer<'de>>(d: D, names: &[&str]) -> Result<String, D::Error> {
    use serde::de::Error;
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Null => Ok(String::new()),
        serde_json::Value::Number(n) => match n.as_u64().and_then(|i| names.get(i as usize)) {
            Some(name) => Ok((*name).to_owned()),
            None => Ok(n.to_string()),
        },
        other => Err(D::Error::custom(format!(
            "expected an enum name or ordinal, got {other}"
        ))),
    }
}

macro_rules! enum_deserializer {
    ($($fn_name:ident => $names:path),* $(,)?) => {$(
        pub(crate) fn $fn_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
            enum_or_ordinal(d, $names)
        }
    )*};
}
enum_deserializer! {
    de_consume_type => enum_names::CONSUME_TYPE,
    de_message_model => enum_names::MESSAGE_MODEL,
    de_consume_from_where => enum_names::CONSUME_FROM_WHERE,
    de_topic_filter_type => enum_names::TOPIC_FILTER_TYPE,
    de_language => enum_names::LANGUAGE,
    de_consume_result => enum_names::CONSUME_RESULT,
}

/// A boolean as fastjson reads one: `true`/`false`, `"true"`/`"1"`, a number (non-zero is true);
/// null → false.
pub(crate) fn de_lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    use serde::de::Error;
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => Ok(b),
        serde_json::Value::Null => Ok(false),
        serde_json::Value::String(s) => Ok(crate::header::parse_bool(&s)),
        serde_json::Value::Number(n) => Ok(n.as_f64().is_some_and(|f| f != 0.0)),
        other => Err(D::Error::custom(format!("expected a boolean, got {other}"))),
    }
}

/// A `Map<String, String>` that may be null or hold non-string values (written as their JSON
/// text, as fastjson's `TypeReference<Map<String, String>>` does).
pub(crate) fn de_attributes<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    use serde::de::Error;
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => Ok(Default::default()),
        serde_json::Value::Object(m) => Ok(m
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect()),
        other => Err(D::Error::custom(format!(
            "expected an attribute map, got {other}"
        ))),
    }
}

/// A number as fastjson reads it into a `long`/`int`: a number, a string holding one (the C++
/// client writes `subVersion` as `"1700000000000"`, the Go client each `codeSet` entry as
/// `"2598919"`), or null (0).
fn lenient_number<T, E>(v: serde_json::Value) -> Result<T, E>
where
    T: TryFrom<i64> + std::str::FromStr,
    E: serde::de::Error,
{
    let n: i64 = match &v {
        serde_json::Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| E::custom(format!("number out of range: {n}")))?,
        serde_json::Value::String(s) if s.trim().is_empty() => 0,
        serde_json::Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| E::custom(format!("expected a number, got \"{s}\"")))?,
        serde_json::Value::Null => 0,
        other => return Err(E::custom(format!("expected a number, got {other}"))),
    };
    T::try_from(n).map_err(|_| E::custom(format!("number out of range: {n}")))
}

/// A `long` field read as fastjson does (see [`lenient_number`]).
pub(crate) fn de_lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    lenient_number(serde_json::Value::deserialize(d)?)
}

/// A `Set<Integer>` read as fastjson does: each entry a number or a string holding one (null
/// entries are left out); null is an empty set.
pub(crate) fn de_lenient_i32_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i32>, D::Error> {
    Option::<Vec<serde_json::Value>>::deserialize(d)?
        .unwrap_or_default()
        .into_iter()
        .filter(|v| !v.is_null())
        .map(lenient_number)
        .collect()
}

/// Maps keyed by `MessageQueue`: written with JSON-encoded string keys; read from those or
/// (after the fastjson pre-pass) from object keys.
pub mod mq_map {
    use std::collections::{BTreeMap, HashMap};

    use serde::de::Error as _;
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::MessageQueue;

    pub fn serialize<S: Serializer, V: Serialize>(
        map: &HashMap<MessageQueue, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut sorted = BTreeMap::new();
        for (k, v) in map {
            sorted.insert(serde_json::to_string(k).map_err(S::Error::custom)?, v);
        }
        sorted.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, V: Deserialize<'de>>(
        d: D,
    ) -> Result<HashMap<MessageQueue, V>, D::Error> {
        let raw = HashMap::<String, V>::deserialize(d)?;
        raw.into_iter()
            .map(|(k, v)| {
                serde_json::from_str::<MessageQueue>(&k)
                    .map(|mq| (mq, v))
                    .map_err(D::Error::custom)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
