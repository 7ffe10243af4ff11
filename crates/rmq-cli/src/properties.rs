//! Java `.properties` files, as `broker.conf` and `namesrv.properties` are written.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;

/// Parses `key=value`, `key = value` and `key: value` lines; `#` and `!` start comments.
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

/// Reads and parses a properties file.
pub fn load(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(parse(&text))
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
}
