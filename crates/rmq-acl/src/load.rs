//! Where the ACL files live and reading them (Java `PlainPermissionManager.load`):
//! `<home>/conf/acl/*.yml` in name order, then `<home>/conf/plain_acl.yml`.

use std::path::{Path, PathBuf};

use crate::file::AclFile;
use crate::rules::AclRules;
use crate::AclError;

/// The ACL files under one RocketMQ home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclSource {
    pub home: PathBuf,
}

/// Everything read in one pass.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub rules: AclRules,
    /// Duplicate access keys and similar, to be logged.
    pub warnings: Vec<String>,
    /// Each file and its parsed form, in load order.
    pub files: Vec<(PathBuf, AclFile)>,
    /// Each file's bytes: a change to any is a reason to load again.
    pub snapshot: Snapshot,
}

/// The bytes of every ACL file, to notice a change (Java compares MD5s; the files are small).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot(Vec<(PathBuf, Vec<u8>)>);

impl AclSource {
    pub fn new(home: impl Into<PathBuf>) -> Self {
        Self { home: home.into() }
    }

    /// `conf/plain_acl.yml`: where new accounts go.
    pub fn default_file(&self) -> PathBuf {
        self.home.join("conf").join("plain_acl.yml")
    }

    pub fn acl_dir(&self) -> PathBuf {
        self.home.join("conf").join("acl")
    }

    /// The files to read, in order.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.acl_dir())
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "yml") && p.is_file())
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        let default = self.default_file();
        if default.is_file() && !files.contains(&default) {
            files.push(default);
        }
        files
    }

    /// The current bytes of every file (unreadable files count as absent).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot(
            self.files()
                .into_iter()
                .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
                .collect(),
        )
    }
}

/// Reads and compiles every file. Fails as a whole: one bad file keeps all the old rules.
pub fn load(source: &AclSource) -> Result<Loaded, AclError> {
    let snapshot = source.snapshot();
    let mut files = Vec::new();
    for (path, bytes) in &snapshot.0 {
        let text = String::from_utf8_lossy(bytes);
        let file = AclFile::parse(&text).map_err(|e| AclError::Yaml {
            path: path.display().to_string(),
            source: e,
        })?;
        files.push((path.clone(), file));
    }
    let names: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    let (rules, warnings) =
        AclRules::compile(names.iter().map(String::as_str).zip(files.iter().map(|(_, f)| f)))?;
    Ok(Loaded {
        rules,
        warnings,
        files,
        snapshot,
    })
}

/// Writes `file` to `path` atomically (a temp file renamed over it), creating the directory.
pub fn write_atomically(path: &Path, file: &AclFile) -> Result<(), AclError> {
    let io = |e| AclError::Io {
        path: path.display().to_string(),
        source: e,
    };
    let text = file.to_yaml().map_err(|e| AclError::Yaml {
        path: path.display().to_string(),
        source: e,
    })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("yml.tmp");
    std::fs::write(&tmp, text.as_bytes()).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
