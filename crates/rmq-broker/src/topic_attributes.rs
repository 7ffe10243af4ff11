//! 5.x topic attributes: the `attributes` string of UPDATE_AND_CREATE_TOPIC
//! (`+key=value,+key2=value2,-key3`) applied to a topic's current attributes, with the checks
//! and remarks of Java's `AttributeParser` / `AttributeUtil.alterCurrentAttributes`.

use std::collections::BTreeMap;

use rmq_protocol::body::attribute;

/// One attribute the broker knows: may it change after creation, and which values are valid.
struct Known {
    name: &'static str,
    changeable: bool,
    values: Values,
}

enum Values {
    OneOf(&'static [&'static str]),
    /// `reserve.time`: -1 ..= i64::MAX.
    LongAtLeast(i64),
}

const KNOWN: &[Known] = &[
    Known {
        name: attribute::QUEUE_TYPE,
        changeable: false,
        values: Values::OneOf(&["BatchCQ", "SimpleCQ"]),
    },
    Known {
        name: attribute::CLEANUP_POLICY,
        changeable: false,
        values: Values::OneOf(&["DELETE", "COMPACTION"]),
    },
    Known {
        name: attribute::MESSAGE_TYPE,
        changeable: true,
        values: Values::OneOf(&["UNSPECIFIED", "NORMAL", "FIFO", "DELAY", "TRANSACTION", "MIXED"]),
    },
    Known {
        name: attribute::RESERVE_TIME,
        changeable: true,
        values: Values::LongAtLeast(-1),
    },
];

/// Parses the `attributes` header: `+k=v` adds or alters, `-k` deletes. Keys keep their sign.
pub fn parse(modification: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    if modification.is_empty() {
        return Ok(out);
    }
    for kv in modification.split(',') {
        let (key, value) = match kv.split_once('=') {
            Some((key, value)) => {
                if !key.contains('+') {
                    return Err(format!("add/alter attribute format is wrong: {key}"));
                }
                // Java's split("=")[1]: the text up to a second '='.
                (key, value.split('=').next().unwrap_or(""))
            }
            None => {
                if !kv.contains('-') {
                    return Err(format!("delete attribute format is wrong: {kv}"));
                }
                (kv, "")
            }
        };
        if out.iter().any(|(k, _)| k == key) {
            return Err(format!("key duplication: {key}"));
        }
        out.push((key.to_owned(), value.to_owned()));
    }
    Ok(out)
}

/// The attributes a topic ends up with: `current` altered by the parsed `modification`.
/// `create` is true when the topic does not exist yet (then only `+` is allowed).
pub fn alter(
    create: bool,
    current: &BTreeMap<String, String>,
    modification: &[(String, String)],
) -> Result<BTreeMap<String, String>, String> {
    let mut result = current.clone();
    let mut seen: Vec<&str> = Vec::new();
    let mut deletes = Vec::new();
    for (key, value) in modification {
        let real = key.get(1..).unwrap_or("");
        if real.is_empty() || real.contains('+') || real.contains('-') {
            return Err("kv string format wrong.".to_owned());
        }
        if seen.contains(&real) {
            return Err(format!("alter duplication key. key: {real}"));
        }
        seen.push(real);
        let delete = if create {
            if !key.starts_with('+') {
                return Err(format!(
                    "only add attribute is supported while creating topic. key: {real}"
                ));
            }
            false
        } else if key.starts_with('+') {
            false
        } else if key.starts_with('-') {
            if !current.contains_key(real) {
                return Err(format!("attempt to delete a nonexistent key: {real}"));
            }
            true
        } else {
            return Err(format!("wrong format key: {real}"));
        };
        let Some(known) = KNOWN.iter().find(|k| k.name == real) else {
            return Err(format!("unsupported key: {real}"));
        };
        if !create && !known.changeable {
            return Err(format!(
                "attempt to update an unchangeable attribute. key: {real}"
            ));
        }
        if delete {
            deletes.push(real.to_owned());
            continue;
        }
        match known.values {
            Values::OneOf(set) if !set.contains(&value.as_str()) => {
                return Err(format!("value is not in set: [{}]", set.join(", ")));
            }
            Values::LongAtLeast(min) => match value.trim().parse::<i64>() {
                Ok(v) if v >= min => {}
                Ok(_) => return Err(format!("value is not in range({min}, {})", i64::MAX)),
                Err(_) => return Err(format!("For input string: \"{value}\"")),
            },
            _ => {}
        }
        result.insert(real.to_owned(), value.clone());
    }
    for key in deletes {
        result.remove(&key);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn create_with_message_type() {
        let m = parse("+message.type=FIFO").unwrap();
        assert_eq!(
            alter(true, &BTreeMap::new(), &m).unwrap(),
            map(&[("message.type", "FIFO")])
        );
    }

    #[test]
    fn create_refuses_delete_and_unknown_keys_and_bad_values() {
        let del = parse("-message.type").unwrap();
        assert_eq!(
            alter(true, &BTreeMap::new(), &del).unwrap_err(),
            "only add attribute is supported while creating topic. key: message.type"
        );
        let unknown = parse("+colour=red").unwrap();
        assert_eq!(
            alter(true, &BTreeMap::new(), &unknown).unwrap_err(),
            "unsupported key: colour"
        );
        let bad = parse("+message.type=FAST").unwrap();
        assert!(alter(true, &BTreeMap::new(), &bad)
            .unwrap_err()
            .starts_with("value is not in set"));
        assert_eq!(
            parse("message.type=FIFO").unwrap_err(),
            "add/alter attribute format is wrong: message.type"
        );
        assert_eq!(
            parse("message.type").unwrap_err(),
            "delete attribute format is wrong: message.type"
        );
        assert_eq!(parse("+a=1,+a=2").unwrap_err(), "key duplication: +a");
    }

    #[test]
    fn update_adds_alters_and_deletes() {
        let current = map(&[("message.type", "NORMAL"), ("queue.type", "SimpleCQ")]);
        let m = parse("+message.type=DELAY").unwrap();
        assert_eq!(
            alter(false, &current, &m).unwrap(),
            map(&[("message.type", "DELAY"), ("queue.type", "SimpleCQ")])
        );
        let m = parse("-message.type").unwrap();
        assert_eq!(
            alter(false, &current, &m).unwrap(),
            map(&[("queue.type", "SimpleCQ")])
        );
        let m = parse("+queue.type=BatchCQ").unwrap();
        assert_eq!(
            alter(false, &current, &m).unwrap_err(),
            "attempt to update an unchangeable attribute. key: queue.type"
        );
        let m = parse("-reserve.time").unwrap();
        assert_eq!(
            alter(false, &current, &m).unwrap_err(),
            "attempt to delete a nonexistent key: reserve.time"
        );
    }

    #[test]
    fn empty_modification_keeps_current() {
        let current = map(&[("message.type", "FIFO")]);
        assert_eq!(alter(false, &current, &parse("").unwrap()).unwrap(), current);
    }
}
