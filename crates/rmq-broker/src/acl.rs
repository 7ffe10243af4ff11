//! ACL 1.0 in the broker (docs/broker/acl.md): the current rules, checked before every request
//! is dispatched, re-read when the files change, and the refusals logged at a bounded rate.
//!
//! The rules live behind an `Arc` swapped whole on reload, so a check never sees half a file and
//! a file that does not parse (or does not compile) keeps the last good rules.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use rmq_acl::{AclRules, AclSource, Denied, Request, Snapshot};
use rmq_protocol::RemotingCommand;

use crate::{BrokerError, BrokerState};

/// How often the files are looked at (Java's `AclFileWatchService` looks every 5 s).
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Refusals logged per second at most; the rest are counted and summed up in the next line.
const REFUSALS_LOGGED_PER_SECOND: u64 = 10;

/// What a reload did.
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    Unchanged,
    Reloaded,
    /// The files changed but do not load; the last good rules stay. The error is logged.
    Kept(String),
}

pub struct AclService {
    source: AclSource,
    rules: RwLock<Arc<AclRules>>,
    /// The bytes the current rules came from (or the last bad bytes, so a broken file is
    /// reported once, not every second).
    seen: Mutex<Snapshot>,
    refusals: RefusalLog,
    /// Edits over the wire, one at a time (Java's handlers are `synchronized`).
    editing: Mutex<()>,
}

impl AclService {
    /// Loads the rules under `home`; rules that do not load stop the broker's start.
    pub fn open(home: PathBuf) -> Result<AclService, BrokerError> {
        let source = AclSource::new(home);
        let loaded = rmq_acl::load(&source)?;
        for w in &loaded.warnings {
            tracing::warn!("acl: {w}");
        }
        if loaded.files.is_empty() {
            tracing::warn!(file = %source.default_file().display(), "acl: no ACL file; every request not from a white address is refused");
        }
        tracing::info!(
            accounts = loaded.rules.accounts.len(),
            files = loaded.files.len(),
            "acl: ACL 1.0 enabled"
        );
        Ok(AclService {
            source,
            rules: RwLock::new(Arc::new(loaded.rules)),
            seen: Mutex::new(loaded.snapshot),
            refusals: RefusalLog::default(),
            editing: Mutex::new(()),
        })
    }

    pub fn source(&self) -> &AclSource {
        &self.source
    }

    pub fn rules(&self) -> Arc<AclRules> {
        self.rules.read().clone()
    }

    /// The decision for `req` from `peer`.
    pub fn check(&self, req: &RemotingCommand, peer: IpAddr) -> Result<(), Denied> {
        // The read guard, not an Arc clone: a reload waits for the checks under way.
        let rules = self.rules.read();
        let request = Request {
            code: req.code,
            version: req.version,
            fields: &req.ext_fields,
            body: &req.body,
        };
        let decision = rules.check(&request, peer);
        if let Err(d) = &decision {
            self.refusals.record(req.code, peer, d);
        }
        decision
    }

    /// Logs a refusal decided elsewhere (the gRPC port), within the same rate.
    pub fn record_refusal(&self, code: i32, peer: IpAddr, d: &Denied) {
        self.refusals.record(code, peer, d);
    }

    /// Loads the files again if their bytes changed since the last look.
    pub fn reload_if_changed(&self) -> Reload {
        let now = self.source.snapshot();
        let mut seen = self.seen.lock();
        if *seen == now {
            return Reload::Unchanged;
        }
        *seen = now;
        drop(seen);
        self.reload()
    }

    /// Loads the files now, keeping the old rules if they do not load.
    pub fn reload(&self) -> Reload {
        match rmq_acl::load(&self.source) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    tracing::warn!("acl: {w}");
                }
                tracing::info!(accounts = loaded.rules.accounts.len(), "acl: rules reloaded");
                *self.seen.lock() = loaded.snapshot;
                *self.rules.write() = Arc::new(loaded.rules);
                Reload::Reloaded
            }
            Err(e) => {
                tracing::error!(error = %e, "acl: the changed ACL files do not load; keeping the last good rules");
                Reload::Kept(e.to_string())
            }
        }
    }
}

/// Re-reads the ACL files every [`WATCH_INTERVAL`] while the broker runs.
pub(crate) async fn watch(state: Arc<BrokerState>) {
    let Some(acl) = state.acl.as_ref() else { return };
    loop {
        tokio::time::sleep(WATCH_INTERVAL).await;
        acl.reload_if_changed();
    }
}

/// Logs refusals, at most [`REFUSALS_LOGGED_PER_SECOND`] a second, so that a client retrying a
/// refused request in a loop cannot fill the disk.
#[derive(Default)]
struct RefusalLog {
    /// The second (Unix) the counts belong to.
    second: AtomicU64,
    logged: AtomicU64,
    suppressed: AtomicU64,
}

impl RefusalLog {
    fn record(&self, code: i32, peer: IpAddr, d: &Denied) {
        let now = u64::try_from(rmq_protocol::time::now_ms() / 1000).unwrap_or(0);
        let last = self.second.load(Ordering::Relaxed);
        if now != last
            && self
                .second
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.logged.store(0, Ordering::Relaxed);
            let dropped = self.suppressed.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                tracing::warn!(dropped, "acl: more refusals in the last second were not logged");
            }
        }
        if self.logged.fetch_add(1, Ordering::Relaxed) < REFUSALS_LOGGED_PER_SECOND {
            tracing::warn!(code, %peer, reason = %d.reason, "acl: request refused");
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Why an edit of the ACL files failed.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Acl(#[from] rmq_acl::AclError),
    #[error("the edited ACL files do not load: {0}")]
    NotLoaded(String),
}

impl AclService {
    /// UPDATE_AND_CREATE_ACL_CONFIG: replaces the account in the file that holds it, or adds it
    /// to `conf/plain_acl.yml` (Java `PlainPermissionManager.updateAccessConfig`).
    pub fn upsert_account(&self, account: rmq_acl::AccountConfig) -> Result<(), EditError> {
        rmq_acl::rules::Account::compile(&account)?;
        for entry in account.topic_perms.iter().chain(&account.group_perms) {
            let mut parts = entry.split('=').filter(|s| !s.is_empty());
            let ok = matches!((parts.next(), parts.next(), parts.next()),
                (Some(_), Some(perm), None) if rmq_acl::Perm::is_valid_text(perm));
            if !ok {
                return Err(EditError::Invalid(format!(
                    "Parse resource permission error for {entry}. The expected format is 'Res=Perm' with Perm one of SUB, PUB, SUB|PUB, PUB|SUB, DENY"
                )));
            }
        }
        let ak = account.access_key.clone().unwrap_or_default();
        self.edit(|files, default| {
            let holder = files
                .iter()
                .position(|(_, f)| f.accounts.iter().any(|a| a.access_key.as_deref() == Some(&ak)));
            let i = holder.unwrap_or_else(|| file_index(files, default));
            let file = &mut files[i].1;
            match file
                .accounts
                .iter_mut()
                .find(|a| a.access_key.as_deref() == Some(&ak))
            {
                Some(a) => *a = account.clone(),
                None => file.accounts.push(account.clone()),
            }
            Ok(i)
        })
    }

    /// DELETE_ACL_CONFIG: removes the account from the file that holds it.
    pub fn delete_account(&self, access_key: &str) -> Result<(), EditError> {
        self.edit(|files, _| {
            for (i, (_, f)) in files.iter_mut().enumerate() {
                let before = f.accounts.len();
                f.accounts.retain(|a| a.access_key.as_deref() != Some(access_key));
                if f.accounts.len() != before {
                    return Ok(i);
                }
            }
            Err(EditError::Invalid(format!(
                "The accesskey[{access_key}] corresponding to accessConfig has been deleted failed."
            )))
        })
    }

    /// UPDATE_GLOBAL_WHITE_ADDRS_CONFIG: replaces the global white list of one file (the default
    /// file unless `file` names another ACL file).
    pub fn set_global_white(&self, addrs: Vec<String>, file: Option<&str>) -> Result<(), EditError> {
        for a in &addrs {
            rmq_acl::address::AddressPattern::parse(a)?;
        }
        self.edit(|files, default| {
            let i = match file.filter(|f| !f.trim().is_empty()) {
                Some(f) => files
                    .iter()
                    .position(|(p, _)| p == std::path::Path::new(f.trim()))
                    .ok_or_else(|| {
                        EditError::Invalid(format!("{f} is not one of this broker's ACL files"))
                    })?,
                None => file_index(files, default),
            };
            files[i].1.global_white_remote_addresses = addrs.clone();
            Ok(i)
        })
    }

    /// Every file's data version (GET_BROKER_CLUSTER_ACL_INFO).
    pub fn versions(&self) -> Result<Vec<(PathBuf, rmq_acl::file::DataVersion)>, EditError> {
        let loaded = rmq_acl::load(&self.source)?;
        Ok(loaded
            .files
            .into_iter()
            .map(|(p, f)| (p, f.data_version.first().copied().unwrap_or_default()))
            .collect())
    }

    /// All files as read (GET_BROKER_CLUSTER_ACL_CONFIG).
    pub fn files(&self) -> Result<Vec<(PathBuf, rmq_acl::AclFile)>, EditError> {
        Ok(rmq_acl::load(&self.source)?.files)
    }

    /// Reads the files, lets `change` edit them and name the one it changed, bumps that file's
    /// data version, writes it atomically and loads the result. One edit at a time.
    fn edit(
        &self,
        change: impl FnOnce(&mut Vec<(PathBuf, rmq_acl::AclFile)>, &std::path::Path) -> Result<usize, EditError>,
    ) -> Result<(), EditError> {
        let _one_at_a_time = self.editing.lock();
        let mut files = rmq_acl::load(&self.source)?.files;
        let default = self.source.default_file();
        if !files.iter().any(|(p, _)| *p == default) {
            files.push((default.clone(), rmq_acl::AclFile::default()));
        }
        let i = change(&mut files, &default)?;
        let (path, file) = &mut files[i];
        let mut version = file.data_version.first().copied().unwrap_or_default();
        version.counter += 1;
        version.timestamp = rmq_protocol::time::now_ms();
        file.data_version = vec![version];
        rmq_acl::write_atomically(path, file)?;
        match self.reload() {
            Reload::Kept(e) => Err(EditError::NotLoaded(e)),
            _ => Ok(()),
        }
    }
}

fn file_index(files: &[(PathBuf, rmq_acl::AclFile)], default: &std::path::Path) -> usize {
    files.iter().position(|(p, _)| p == default).unwrap_or(0)
}
