#![allow(dead_code)]

pub mod wait;

use std::path::Path;

use bytes::Bytes;
use rmq_store::record::{self, RecordCheck};
use rmq_store::{FlushDiskType, PutMessage, StoreConfig};

pub fn config(root: &Path) -> StoreConfig {
    StoreConfig {
        store_path_root_dir: root.to_path_buf(),
        mapped_file_size_commit_log: 64 * 1024,
        mapped_file_size_consume_queue: 50 * 20,
        flush_interval_commit_log_ms: 20,
        flush_interval_consume_queue_ms: 20,
        max_hash_slot_num: 97,
        max_index_num: 400,
        ..StoreConfig::default()
    }
}

pub fn sync_config(root: &Path) -> StoreConfig {
    StoreConfig {
        flush_disk_type: FlushDiskType::SyncFlush,
        ..config(root)
    }
}

pub fn msg(topic: &str, queue_id: i32, body: &str, tags: Option<&str>) -> PutMessage {
    let properties = match tags {
        Some(t) => format!("TAGS\u{1}{t}\u{2}UNIQ_KEY\u{1}{body}"),
        None => format!("UNIQ_KEY\u{1}{body}"),
    };
    PutMessage {
        topic: topic.into(),
        queue_id,
        flag: 0,
        body: Bytes::from(body.to_string()),
        properties,
        tags_code: record::tags_code(tags),
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: "10.1.2.3:40000".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    }
}

/// (topic, queue id, queue offset, physical offset, body) of a whole record.
pub fn decode(rec: &[u8]) -> (String, i32, i64, i64, String) {
    let RecordCheck::Message(info) = record::check(rec, true) else {
        panic!("not a valid record")
    };
    assert_eq!(info.total_size, rec.len());
    let flag = info.sys_flag;
    let body_len_pos = record::store_timestamp_pos(flag)
        + 8
        + if flag & record::sys_flag::STOREHOST_V6 != 0 {
            20
        } else {
            8
        }
        + 4
        + 8;
    let body_len = i32::from_be_bytes(rec[body_len_pos..body_len_pos + 4].try_into().unwrap());
    let body = &rec[body_len_pos + 4..body_len_pos + 4 + body_len as usize];
    (
        String::from_utf8(info.topic.to_vec()).unwrap(),
        info.queue_id,
        info.queue_offset,
        info.physical_offset,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

pub fn body_of_size(i: usize, n: usize) -> String {
    let head = format!("m{i}-");
    format!("{head}{}", "x".repeat(n.saturating_sub(head.len())))
}
