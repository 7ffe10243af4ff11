//! Java `.properties` text: `broker.conf` and `namesrv.properties`, and the bodies of
//! GET/UPDATE_BROKER_CONFIG and GET/UPDATE_NAMESRV_CONFIG (`MixAll.string2Properties` /
//! `properties2String`).

use std::collections::HashMap;

/// Parses `key=value`, `key = value` and `key: value` lines; `#` and `!` start comments, as
/// `java.util.Properties.load` reads the files users write (no escapes or continuations: no
/// RocketMQ key or value needs them).
pub fn parse(text: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let split = line.find(['=', ':']).unwrap_or(line.len());
        let (k, v) = line.split_at(split);
        let v = v.get(1..).unwrap_or("");
        map.insert(k.trim().to_string(), v.trim().to_string());
    }
    map
}

/// `key=value\n` per pair, in the given order (`MixAll.properties2String`).
pub fn format<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        out.push_str(k.as_ref());
        out.push('=');
        out.push_str(v.as_ref());
        out.push('\n');
    }
    out
}

/// Whether the `;`-separated `list` (a `configBlackList`) names `key`.
pub fn listed(list: &str, key: &str) -> bool {
    list.split(';').map(str::trim).any(|k| k == key)
}

/// `text` with `updates` applied in place: a line that sets one of the keys gets the new value
/// (comments, order and every other line kept); keys not set anywhere are appended.
pub fn update_text(text: &str, updates: &[(String, String)]) -> String {
    let mut pending: Vec<&(String, String)> = updates.iter().collect();
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        let trimmed = line.trim_start();
        let key = if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            None
        } else {
            trimmed.split(['=', ':']).next().map(str::trim)
        };
        match key.and_then(|k| updates.iter().find(|(u, _)| u == k)) {
            Some((k, v)) => {
                out.push_str(&format!("{k}={v}\n"));
                pending.retain(|(p, _)| p != k);
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (k, v) in pending {
        out.push_str(&format!("{k}={v}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_like_java() {
        let p = super::parse(
            "# comment\n! also\nbrokerName = broker-a\nlistenPort:10911\n  flushDiskType=SYNC_FLUSH\nempty\n",
        );
        assert_eq!(p["brokerName"], "broker-a");
        assert_eq!(p["listenPort"], "10911");
        assert_eq!(p["flushDiskType"], "SYNC_FLUSH");
        assert_eq!(p["empty"], "");
        assert_eq!(p.len(), 4);
    }

    #[test]
    fn formats_and_round_trips() {
        let text = super::format([("a", "1"), ("b", "x=y")]);
        assert_eq!(text, "a=1\nb=x=y\n");
        let p = super::parse(&text);
        assert_eq!(p["b"], "x=y");
    }

    #[test]
    fn updates_in_place_and_appends() {
        let text = "# keep me\nbrokerName=broker-a\nbrokerPermission = 6\n\nfileReservedTime=72\n";
        let out = super::update_text(
            text,
            &[
                ("brokerPermission".into(), "4".into()),
                ("autoCreateTopicEnable".into(), "false".into()),
            ],
        );
        assert_eq!(
            out,
            "# keep me\nbrokerName=broker-a\nbrokerPermission=4\n\nfileReservedTime=72\nautoCreateTopicEnable=false\n"
        );
    }
}
