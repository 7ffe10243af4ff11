//! [`OffsetStore`]: the next offset to consume per queue. Clustering keeps it on the broker
//! (QUERY_CONSUMER_OFFSET / UPDATE_CONSUMER_OFFSET); broadcasting in a local JSON file
//! (`OffsetSerializeWrapper` shape, docs/protocol/client.md#rebalance).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rmq_protocol::body;
use rmq_protocol::codes::request_code;
use rmq_protocol::header::{
    QueryConsumerOffsetRequestHeader, QueryConsumerOffsetResponseHeader, UpdateConsumerOffsetRequestHeader,
};
use serde::{Deserialize, Serialize};

use crate::client::{Client, DEFAULT_TIMEOUT};
use crate::message::MessageQueue;
use crate::ClientError;

/// File name under `<dir>/<clientId>/<group>/`.
pub const LOCAL_OFFSET_FILE: &str = "offsets.json";

/// Where offsets live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreKind {
    Remote,
    /// The full path of the offsets file.
    Local(PathBuf),
}

/// In-memory offsets plus their persistent home. The table lock is never held across `.await`.
#[derive(Debug)]
pub(crate) struct OffsetStore {
    kind: StoreKind,
    table: Mutex<HashMap<MessageQueue, i64>>,
}

/// Java `OffsetSerializeWrapper`: `{"offsetTable":{<mq json>: offset}}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct OffsetFile {
    #[serde(with = "body::mq_map")]
    offset_table: HashMap<body::MessageQueue, i64>,
}

impl OffsetStore {
    pub fn remote() -> Self {
        OffsetStore {
            kind: StoreKind::Remote,
            table: Mutex::new(HashMap::new()),
        }
    }

    /// A local store at `path`, loaded from the file if it exists. A file that cannot be parsed
    /// is an error rather than a silent restart from scratch.
    pub fn local(path: PathBuf) -> Result<Self, ClientError> {
        let table = match std::fs::read(&path) {
            Ok(bytes) => {
                let file: OffsetFile = body::from_fastjson(&bytes)?;
                file.offset_table
                    .into_iter()
                    .map(|(mq, o)| (mq.into(), o))
                    .collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => return Err(ClientError::Io(path.display().to_string(), e)),
        };
        Ok(OffsetStore {
            kind: StoreKind::Local(path),
            table: Mutex::new(table),
        })
    }

    /// `<dir>/<clientId>/<group>/offsets.json`; `dir` defaults to `~/.rocketmq_offsets`.
    pub fn local_path(dir: Option<&Path>, client_id: &str, group: &str) -> PathBuf {
        let dir = dir.map(Path::to_path_buf).unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."))
                .join(".rocketmq_offsets")
        });
        dir.join(client_id).join(group).join(LOCAL_OFFSET_FILE)
    }

    pub fn is_remote(&self) -> bool {
        self.kind == StoreKind::Remote
    }

    /// Sets the offset of `mq`; with `increase_only` a smaller value is ignored.
    pub fn update(&self, mq: &MessageQueue, offset: i64, increase_only: bool) {
        let mut table = self.table.lock();
        let entry = table.entry(mq.clone()).or_insert(offset);
        if !increase_only || offset > *entry {
            *entry = offset;
        }
    }

    /// The in-memory offset.
    pub fn read(&self, mq: &MessageQueue) -> Option<i64> {
        self.table.lock().get(mq).copied()
    }

    pub fn remove(&self, mq: &MessageQueue) {
        self.table.lock().remove(mq);
    }

    /// The offset kept for `mq` in the store itself: QUERY_CONSUMER_OFFSET for a remote store
    /// (`None` when the broker has none), the loaded file for a local one.
    pub async fn read_stored(
        &self,
        client: &Client,
        group: &str,
        mq: &MessageQueue,
    ) -> Result<Option<i64>, ClientError> {
        match &self.kind {
            StoreKind::Local(_) => Ok(self.read(mq)),
            StoreKind::Remote => query_offset(client, group, mq).await,
        }
    }

    /// Writes the offsets of `mqs`: UPDATE_CONSUMER_OFFSET oneway per queue to its master, or
    /// the whole table to the local file (written to a temporary file, then renamed).
    pub async fn persist(&self, client: &Client, group: &str, mqs: &[MessageQueue]) {
        match &self.kind {
            StoreKind::Local(path) => {
                if let Err(e) = self.write_file(path) {
                    tracing::warn!(path = %path.display(), error = %e, "persisting local offsets failed");
                }
            }
            StoreKind::Remote => {
                for mq in mqs {
                    let Some(offset) = self.read(mq) else { continue };
                    if let Err(e) = update_offset(client, group, mq, offset, true).await {
                        tracing::warn!(%mq, offset, error = %e, "persisting offset failed");
                    }
                }
            }
        }
    }

    fn write_file(&self, path: &Path) -> std::io::Result<()> {
        let file = OffsetFile {
            offset_table: self
                .table
                .lock()
                .iter()
                .map(|(mq, o)| (mq.clone().into(), *o))
                .collect(),
        };
        let json = body::try_to_json(&file).map_err(std::io::Error::other)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, &json)?;
        std::fs::rename(&tmp, path)
    }
}

/// QUERY_CONSUMER_OFFSET to the master of `mq`'s broker (a slave while it is down). Any non-SUCCESS answer (normally
/// QUERY_NOT_FOUND) means "no offset" (`None`); transport failures are errors.
pub(crate) async fn query_offset(
    client: &Client,
    group: &str,
    mq: &MessageQueue,
) -> Result<Option<i64>, ClientError> {
    let addr = client.admin_addr_or_fetch(mq).await?;
    let header = QueryConsumerOffsetRequestHeader {
        consumer_group: group.to_owned(),
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        bname: Some(mq.broker_name.clone()),
    };
    let cmd = client
        .request(request_code::QUERY_CONSUMER_OFFSET)
        .with_header(&header);
    let resp = client.invoke(&addr, cmd, DEFAULT_TIMEOUT).await?;
    if resp.code != rmq_protocol::codes::response_code::SUCCESS {
        return Ok(None);
    }
    Ok(Some(resp.header::<QueryConsumerOffsetResponseHeader>()?.offset))
}

/// UPDATE_CONSUMER_OFFSET to the master of `mq`'s broker (a slave while it is down), oneway
/// or awaiting SUCCESS.
pub(crate) async fn update_offset(
    client: &Client,
    group: &str,
    mq: &MessageQueue,
    offset: i64,
    oneway: bool,
) -> Result<(), ClientError> {
    let addr = client.admin_addr_or_fetch(mq).await?;
    let header = UpdateConsumerOffsetRequestHeader {
        consumer_group: group.to_owned(),
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        commit_offset: offset,
        bname: Some(mq.broker_name.clone()),
    };
    let cmd = client
        .request(request_code::UPDATE_CONSUMER_OFFSET)
        .with_header(&header);
    if oneway {
        client.invoke_oneway(&addr, cmd).await
    } else {
        client.invoke_ok(&addr, cmd, DEFAULT_TIMEOUT).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increase_only_and_remove() {
        let store = OffsetStore::remote();
        let mq = MessageQueue::new("T", "b", 0);
        store.update(&mq, 5, true);
        store.update(&mq, 3, true);
        assert_eq!(store.read(&mq), Some(5));
        store.update(&mq, 3, false);
        assert_eq!(store.read(&mq), Some(3));
        store.remove(&mq);
        assert_eq!(store.read(&mq), None);
    }

    #[test]
    fn local_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = OffsetStore::local_path(Some(dir.path()), "127.0.0.1@DEFAULT", "CG");
        assert!(path.ends_with("127.0.0.1@DEFAULT/CG/offsets.json"));
        let store = OffsetStore::local(path.clone()).unwrap();
        let (q0, q1) = (
            MessageQueue::new("T", "broker-a", 0),
            MessageQueue::new("T", "broker-a", 1),
        );
        store.update(&q0, 10, true);
        store.update(&q1, 20, true);
        store.write_file(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(r#"{"offsetTable":{"#), "{text}");
        assert!(text.contains(r#"\"queueId\":1"#), "{text}");
        let reopened = OffsetStore::local(path.clone()).unwrap();
        assert_eq!((reopened.read(&q0), reopened.read(&q1)), (Some(10), Some(20)));
        // A fastjson-written file (object keys) loads too.
        std::fs::write(
            &path,
            r#"{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:7}}"#,
        )
        .unwrap();
        assert_eq!(OffsetStore::local(path).unwrap().read(&q0), Some(7));
    }

    #[test]
    fn corrupt_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        std::fs::write(&path, "not json").unwrap();
        assert!(OffsetStore::local(path).is_err());
    }
}
