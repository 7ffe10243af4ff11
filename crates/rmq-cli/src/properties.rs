//! Java `.properties` files, as `broker.conf` and `namesrv.properties` are written.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;

pub use rmq_protocol::body::properties::parse;

/// Reads and parses a properties file.
pub fn load(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(parse(&text))
}
