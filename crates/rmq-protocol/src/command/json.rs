//! The JSON header (serialize type 0, spec §1.3).

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use super::{LanguageCode, RemotingCommand, SerializeType, UNKNOWN_LANGUAGE_NAME};
use crate::WireError;

/// Field order = alphabetical, as fastjson writes it.
#[derive(Serialize)]
struct JsonHeaderOut<'a> {
    code: i32,
    #[serde(rename = "extFields")]
    ext_fields: BTreeMap<&'a str, &'a str>,
    flag: i32,
    language: Value,
    opaque: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    remark: Option<&'a str>,
    #[serde(rename = "serializeTypeCurrentRPC")]
    serialize_type: &'static str,
    version: i32,
}

pub(super) fn encode(cmd: &RemotingCommand) -> Result<Vec<u8>, WireError> {
    let language = match cmd.language.name() {
        Some(n) => Value::from(n),
        None => Value::from(cmd.language.code()),
    };
    let out = JsonHeaderOut {
        code: cmd.code,
        ext_fields: cmd
            .ext_fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        flag: cmd.flag,
        language,
        opaque: cmd.opaque,
        remark: cmd.remark.as_deref(),
        serialize_type: SerializeType::Json.name(),
        version: cmd.version,
    };
    serde_json::to_vec(&out).map_err(|source| WireError::Json {
        context: "header",
        source,
    })
}

pub(super) fn decode(header: &[u8]) -> Result<RemotingCommand, WireError> {
    let value: Value = serde_json::from_slice(header).map_err(|source| WireError::Json {
        context: "header",
        source,
    })?;
    let Value::Object(map) = value else {
        return Err(WireError::BadJsonHeader("not an object".into()));
    };
    let mut cmd = RemotingCommand {
        code: int(&map, "code")?,
        language: LanguageCode::Java,
        version: int(&map, "version")?,
        opaque: int(&map, "opaque")?,
        flag: int(&map, "flag")?,
        remark: None,
        ext_fields: HashMap::new(),
        body: Bytes::new(),
        serialize_type: SerializeType::Json,
    };
    cmd.language = match map.get("language") {
        None | Some(Value::Null) => LanguageCode::Java,
        Some(Value::String(s)) => LanguageCode::parse(s).unwrap_or(UNKNOWN_LANGUAGE_NAME),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .map_or(UNKNOWN_LANGUAGE_NAME, LanguageCode::from_code),
        Some(_) => return Err(WireError::BadJsonHeader("language".into())),
    };
    cmd.remark = match map.get("remark") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    match map.get("extFields") {
        None | Some(Value::Null) => {}
        Some(Value::Object(ext)) => {
            for (k, v) in ext {
                let v = match v {
                    Value::Null => continue,
                    Value::String(s) => s.clone(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    other => other.to_string(),
                };
                cmd.ext_fields.insert(k.clone(), v);
            }
        }
        Some(_) => return Err(WireError::BadJsonHeader("extFields is not an object".into())),
    }
    Ok(cmd)
}

/// An i32 field: absent/null → 0; numbers or numeric strings accepted.
fn int(map: &serde_json::Map<String, Value>, key: &'static str) -> Result<i32, WireError> {
    let parsed = match map.get(key) {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::Number(n)) => n.as_i64().and_then(|v| i32::try_from(v).ok()),
        Some(Value::String(s)) => s.trim().parse::<i32>().ok(),
        Some(_) => None,
    };
    parsed.ok_or_else(|| WireError::BadJsonHeader(format!("{key} is not an i32")))
}
