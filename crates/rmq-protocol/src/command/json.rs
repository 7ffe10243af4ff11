//! The JSON header (serialize type 0, docs/format/remoting-frame.md#json-header).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use bytes::Bytes;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
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
    let decoded: Decoded = serde_json::from_slice(header).map_err(|source| WireError::Json {
        context: "header",
        source,
    })?;
    let language = match decoded.language {
        None | Some(Value::Null) => LanguageCode::Java,
        Some(Value::String(s)) => LanguageCode::parse(&s).unwrap_or(UNKNOWN_LANGUAGE_NAME),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .map_or(UNKNOWN_LANGUAGE_NAME, LanguageCode::from_code),
        Some(_) => return Err(WireError::BadJsonHeader("language".into())),
    };
    if decoded.ext_fields_invalid {
        return Err(WireError::BadJsonHeader("extFields is not an object".into()));
    }
    let remark = match decoded.remark {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    };
    Ok(RemotingCommand {
        code: int(decoded.code, "code")?,
        language,
        version: int(decoded.version, "version")?,
        opaque: int(decoded.opaque, "opaque")?,
        flag: int(decoded.flag, "flag")?,
        remark,
        ext_fields: decoded.ext_fields,
        body: Bytes::new(),
        serialize_type: SerializeType::Json,
    })
}

/// The header's fields as found, straight from the parser: the extFields strings are moved into
/// the command's map, not built as a `Value` tree and cloned (this decode runs for every request).
/// Later duplicates of a key win, as with `serde_json::Map`.
#[derive(Default)]
struct Decoded {
    code: Option<Value>,
    language: Option<Value>,
    version: Option<Value>,
    opaque: Option<Value>,
    flag: Option<Value>,
    remark: Option<Value>,
    ext_fields: HashMap<String, String>,
    /// The last `extFields` was neither an object nor null.
    ext_fields_invalid: bool,
}

/// Top-level keys; anything else is skipped.
enum Field {
    Code,
    Language,
    Version,
    Opaque,
    Flag,
    Remark,
    ExtFields,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a header field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(match v {
                    "code" => Field::Code,
                    "language" => Field::Language,
                    "version" => Field::Version,
                    "opaque" => Field::Opaque,
                    "flag" => Field::Flag,
                    "remark" => Field::Remark,
                    "extFields" => Field::ExtFields,
                    _ => Field::Other,
                })
            }
        }
        d.deserialize_identifier(FieldVisitor)
    }
}

impl<'de> Deserialize<'de> for Decoded {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HeaderVisitor;
        impl<'de> Visitor<'de> for HeaderVisitor {
            type Value = Decoded;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Decoded, A::Error> {
                let mut out = Decoded::default();
                while let Some(field) = map.next_key::<Field>()? {
                    match field {
                        Field::Code => out.code = Some(map.next_value()?),
                        Field::Language => out.language = Some(map.next_value()?),
                        Field::Version => out.version = Some(map.next_value()?),
                        Field::Opaque => out.opaque = Some(map.next_value()?),
                        Field::Flag => out.flag = Some(map.next_value()?),
                        Field::Remark => out.remark = Some(map.next_value()?),
                        Field::ExtFields => match map.next_value::<ExtFields>()?.0 {
                            Some(ext) => (out.ext_fields, out.ext_fields_invalid) = (ext, false),
                            None => (out.ext_fields, out.ext_fields_invalid) = (HashMap::new(), true),
                        },
                        Field::Other => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(HeaderVisitor)
    }
}

/// `extFields`: null = empty; string values as they are, null values dropped, other scalars
/// (and, leniently, arrays/objects) as their JSON text. `None`: not an object (an error unless a
/// later duplicate `extFields` replaces it).
struct ExtFields(Option<HashMap<String, String>>);

impl<'de> Deserialize<'de> for ExtFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ExtVisitor;
        impl<'de> Visitor<'de> for ExtVisitor {
            type Value = ExtFields;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("extFields as an object")
            }
            fn visit_unit<E: de::Error>(self) -> Result<ExtFields, E> {
                Ok(ExtFields(Some(HashMap::new())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<ExtFields, E> {
                Ok(ExtFields(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<ExtFields, E> {
                Ok(ExtFields(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<ExtFields, E> {
                Ok(ExtFields(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<ExtFields, E> {
                Ok(ExtFields(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<ExtFields, E> {
                Ok(ExtFields(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<ExtFields, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(ExtFields(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ExtFields, A::Error> {
                let mut ext = HashMap::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(k) = map.next_key::<String>()? {
                    let v = match map.next_value::<Value>()? {
                        Value::Null => {
                            ext.remove(&k);
                            continue;
                        }
                        Value::String(s) => s,
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => n.to_string(),
                        other => other.to_string(),
                    };
                    ext.insert(k, v);
                }
                Ok(ExtFields(Some(ext)))
            }
        }
        d.deserialize_any(ExtVisitor)
    }
}

/// An i32 field: absent/null → 0; numbers or numeric strings accepted.
fn int(value: Option<Value>, key: &'static str) -> Result<i32, WireError> {
    let parsed = match value {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::Number(n)) => n.as_i64().and_then(|v| i32::try_from(v).ok()),
        Some(Value::String(s)) => s.trim().parse::<i32>().ok(),
        Some(_) => None,
    };
    parsed.ok_or_else(|| WireError::BadJsonHeader(format!("{key} is not an i32")))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    /// The previous decoder (via a `Value` tree), kept as the reference for the streaming one.
    fn decode_via_value(header: &[u8]) -> Result<RemotingCommand, WireError> {
        let value: Value = serde_json::from_slice(header).map_err(|source| WireError::Json {
            context: "header",
            source,
        })?;
        let Value::Object(map) = value else {
            return Err(WireError::BadJsonHeader("not an object".into()));
        };
        let get = |k: &str| map.get(k).cloned();
        let language = match map.get("language") {
            None | Some(Value::Null) => LanguageCode::Java,
            Some(Value::String(s)) => LanguageCode::parse(s).unwrap_or(UNKNOWN_LANGUAGE_NAME),
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u8::try_from(n).ok())
                .map_or(UNKNOWN_LANGUAGE_NAME, LanguageCode::from_code),
            Some(_) => return Err(WireError::BadJsonHeader("language".into())),
        };
        let remark = match map.get("remark") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        let mut ext_fields = HashMap::new();
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
                    ext_fields.insert(k.clone(), v);
                }
            }
            Some(_) => return Err(WireError::BadJsonHeader("extFields is not an object".into())),
        }
        Ok(RemotingCommand {
            code: int(get("code"), "code")?,
            language,
            version: int(get("version"), "version")?,
            opaque: int(get("opaque"), "opaque")?,
            flag: int(get("flag"), "flag")?,
            remark,
            ext_fields,
            body: Bytes::new(),
            serialize_type: SerializeType::Json,
        })
    }

    fn same(header: &[u8]) {
        match (decode(header), decode_via_value(header)) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", String::from_utf8_lossy(header)),
            (Err(_), Err(_)) => {}
            (a, b) => panic!(
                "{}: streaming {a:?} vs reference {b:?}",
                String::from_utf8_lossy(header)
            ),
        }
    }

    #[test]
    fn duplicates_and_nulls_match_the_value_decoder() {
        for h in [
            &br#"{"code":1,"code":2,"extFields":{"a":"1","a":"2","b":"x","b":null}}"#[..],
            br#"{"extFields":{"a":"1"},"extFields":null}"#,
            br#"{"extFields":{"a":"1"},"extFields":{"b":"2"}}"#,
            br#"{"remark":{"x":[1,2]},"language":"JAVA","version":"409"}"#,
            br#"{"extFields":{"k":[1,{"a":null}],"e":"\u00e9\n"}}"#,
            br#"{"extFields":"x"}"#,
            br#"{"language":true}"#,
            br#"{"opaque":2147483648}"#,
            br#"{} "#,
            br#"{}x"#,
        ] {
            same(h);
        }
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "[a-zA-Z0-9 \\\\\"\u{1}\u{2}é]{0,12}".prop_map(Value::from),
        ]
    }

    fn any_value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(2, 8, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                prop::collection::btree_map("[a-c]{1,2}", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn streaming_decode_matches_the_value_decoder(
            fields in prop::collection::vec(
                (prop_oneof![
                    Just("code".to_owned()), Just("language".to_owned()), Just("version".to_owned()),
                    Just("opaque".to_owned()), Just("flag".to_owned()), Just("remark".to_owned()),
                    Just("extFields".to_owned()), "[a-z]{1,6}",
                ], any_value()),
                0..8,
            ),
            ext in prop::collection::vec(("[a-e]{1,2}", any_value()), 0..8),
        ) {
            // Raw JSON text, so duplicate keys survive.
            let mut text = String::from("{");
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 { text.push(','); }
                text.push_str(&format!("{}:{}", json!(k), v));
            }
            let mut ext_text = String::from("{");
            for (i, (k, v)) in ext.iter().enumerate() {
                if i > 0 { ext_text.push(','); }
                ext_text.push_str(&format!("{}:{}", json!(k), v));
            }
            ext_text.push('}');
            if !fields.is_empty() { text.push(','); }
            text.push_str(&format!("\"extFields\":{ext_text}}}"));
            same(text.as_bytes());
            // And a real command round trip.
            let mut cmd = RemotingCommand::request(310).with_opaque(7).with_remark("r");
            for (k, v) in &ext {
                if let Value::String(s) = v { cmd.ext_fields.insert(k.clone(), s.clone()); }
            }
            let bytes = encode(&cmd).unwrap();
            let back = decode(&bytes).unwrap();
            prop_assert_eq!(back.ext_fields, cmd.ext_fields);
            prop_assert_eq!(back.opaque, 7);
        }
    }
}
