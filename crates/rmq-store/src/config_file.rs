//! Persisting the broker's JSON config files (`topics.json`, `consumerOffset.json`, ...) the way
//! Java's `MixAll.string2File` / `ConfigManager.load` do, plus the fsyncs Java leaves out.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::IoContext;
use crate::mapped_file::sync_dir;
use crate::StoreError;

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Sets `updates` in the `.properties` file at `path` in place (comments and other lines kept,
/// new keys appended; a missing file is created) and writes it as [`write_atomic`] does: where
/// UPDATE_BROKER_CONFIG and UPDATE_NAMESRV_CONFIG persist.
pub fn update_properties(path: &Path, updates: &[(String, String)]) -> Result<(), StoreError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).at(path),
    };
    write_atomic(
        path,
        rmq_protocol::body::properties::update_text(&text, updates).as_bytes(),
    )
}

/// Write `contents` to `path` atomically: write and fsync `<path>.tmp`, keep the previous content
/// as `<path>.bak` (fsynced), rename the tmp over `path`, fsync the directory.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).at(dir)?;
    let tmp = with_suffix(path, ".tmp");
    {
        let mut f = File::create(&tmp).at(&tmp)?;
        f.write_all(contents).at(&tmp)?;
        f.sync_all().at(&tmp)?;
    }
    match fs::read(path) {
        Ok(prev) => {
            let bak = with_suffix(path, ".bak");
            let mut f = File::create(&bak).at(&bak)?;
            f.write_all(&prev).at(&bak)?;
            f.sync_all().at(&bak)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).at(path),
    }
    fs::rename(&tmp, path).at(path)?;
    sync_dir(dir)
}

/// Read `path`; if it is missing or empty, fall back to `<path>.bak`. `Ok(None)` if neither has
/// content. (A file that fails to *parse* should be retried with [`read_backup`].)
pub fn read_with_backup(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match read_nonempty(path)? {
        Some(v) => Ok(Some(v)),
        None => read_backup(path),
    }
}

/// The content of `<path>.bak`, if present and non-empty.
pub fn read_backup(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    read_nonempty(&with_suffix(path, ".bak"))
}

/// Read and parse `path`, falling back to `<path>.bak` when the main file is missing, empty or
/// does not parse (Java `ConfigManager.load`).
pub fn load_with_backup<T>(path: &Path, parse: impl Fn(&[u8]) -> Option<T>) -> Result<Option<T>, StoreError> {
    if let Some(v) = read_nonempty(path)?.and_then(|b| parse(&b)) {
        return Ok(Some(v));
    }
    if read_nonempty(path)?.is_some() {
        tracing::warn!(path = %path.display(), "config file does not parse, trying .bak");
    }
    Ok(read_backup(path)?.and_then(|b| parse(&b)))
}

fn read_nonempty(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match fs::read(path) {
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).at(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_keeps_backup() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config").join("topics.json");
        assert_eq!(read_with_backup(&p).unwrap(), None);
        write_atomic(&p, b"{\"v\":1}").unwrap();
        assert!(!with_suffix(&p, ".bak").exists());
        write_atomic(&p, b"{\"v\":2}").unwrap();
        assert_eq!(read_with_backup(&p).unwrap().unwrap(), b"{\"v\":2}");
        assert_eq!(read_backup(&p).unwrap().unwrap(), b"{\"v\":1}");
        assert!(!with_suffix(&p, ".tmp").exists());
        // main file emptied (torn) -> backup is used
        fs::write(&p, b"").unwrap();
        assert_eq!(read_with_backup(&p).unwrap().unwrap(), b"{\"v\":1}");
        // main file garbage -> parse fallback
        fs::write(&p, b"{garbage").unwrap();
        let parsed = load_with_backup(&p, |b| serde_json::from_slice::<serde_json::Value>(b).ok());
        assert_eq!(parsed.unwrap().unwrap()["v"], 1);
    }
}
