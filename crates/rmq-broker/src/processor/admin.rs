//! Topic admin, queue offsets by position and time, message lookup and broker stats.

use std::collections::HashMap;

use rmq_protocol::body::{self, KvTable, TopicConfig};
use rmq_protocol::codes::response_code as code;
use rmq_protocol::header::*;
use rmq_protocol::RemotingCommand;

use super::{error, header, ok};
use crate::static_topic::{self, LogicQueue, NotServed};
use crate::topic::{self, topic_config};
use crate::topic_attributes;
use crate::{register, BrokerState};
use rmq_protocol::body::static_topic::LogicQueueMappingItem;

const SLAVE_REFUSES_TOPIC_ADMIN: &str =
    "Can't modify topic or subscription group from slave broker, please execute it from master broker.";

/// The checks every topic create/update passes (`AdminBrokerProcessor.updateAndCreateTopic`):
/// a valid name that is no system topic, the attribute modification applied to the current
/// attributes (`AttributeUtil`), MIXED only with `enableMixedMessageType`. Returns the config to
/// store and the one stored now, if any.
fn checked_topic(
    s: &BrokerState,
    mut tc: TopicConfig,
    modification: &[(String, String)],
) -> Result<(TopicConfig, Option<TopicConfig>), String> {
    rmq_protocol::message::validate_topic(&tc.topic_name)?;
    if topic::is_system_topic(&tc.topic_name) || s.topics.is_broker_system_topic(&tc.topic_name) {
        return Err(format!(
            "The topic[{}] is conflict with system topic.",
            tc.topic_name
        ));
    }
    let existing = s.topics.get(&tc.topic_name);
    let current = existing
        .as_ref()
        .map(|t| t.attributes.clone())
        .unwrap_or_default();
    tc.attributes = topic_attributes::alter(existing.is_none(), &current, modification)?;
    if tc.message_type() == "MIXED" && !s.config.enable_mixed_message_type {
        return Err("MIXED message type is not supported.".to_owned());
    }
    Ok((tc, existing))
}

/// UPDATE_AND_CREATE_TOPIC (17), timed for `rocketmq_topic_create_execution_time` from a decoded
/// header to the answer, the name server registration included (as Java times it).
pub(super) async fn update_topic(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, CreateTopicRequestHeader);
    let started = std::time::Instant::now();
    let resp = update_topic_with(s, req, &h).await;
    s.metrics.topic_create(
        started.elapsed(),
        resp.code == code::SUCCESS,
        topic::is_system_topic(&h.topic),
    );
    resp
}

/// The topic config a CreateTopicRequestHeader describes (attributes aside).
fn header_topic_config(h: &CreateTopicRequestHeader) -> TopicConfig {
    TopicConfig {
        topic_filter_type: h.topic_filter_type.clone(),
        topic_sys_flag: h.topic_sys_flag.unwrap_or(0),
        read_queue_nums: h.read_queue_nums,
        write_queue_nums: h.write_queue_nums,
        order: h.order,
        ..topic_config(&h.topic, 0, h.perm)
    }
}

async fn update_topic_with(
    s: &BrokerState,
    req: &RemotingCommand,
    h: &CreateTopicRequestHeader,
) -> RemotingCommand {
    if !s.is_master() {
        return error(req, code::SYSTEM_ERROR, SLAVE_REFUSES_TOPIC_ADMIN);
    }
    let checked = topic_attributes::parse(h.attributes.as_deref().unwrap_or(""))
        .and_then(|m| checked_topic(s, header_topic_config(h), &m));
    let (tc, existing) = match checked {
        Ok(c) => c,
        Err(remark) => return error(req, code::SYSTEM_ERROR, remark),
    };
    if existing.as_ref() == Some(&tc) {
        // Java answers an unchanged config without bumping the data version.
        return ok(req);
    }
    match s.topics.upsert(tc) {
        Ok(_) => {
            register::register_all(s, false).await;
            ok(req)
        }
        Err(e) => error(req, code::SYSTEM_ERROR, format!("update topic failed: {e}")),
    }
}

/// UPDATE_AND_CREATE_STATIC_TOPIC (513, 5.x `updateStaticTopic` / `remappingStaticTopic`): the
/// topic's config from the header (checked as UPDATE_AND_CREATE_TOPIC checks it), then its
/// mapping from the body (a `TopicQueueMappingDetail`, see [`crate::static_topic`]), then a
/// registration so that routes carry the mapping.
pub(super) async fn update_static_topic(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, CreateTopicRequestHeader);
    if !s.is_master() {
        return error(req, code::SYSTEM_ERROR, SLAVE_REFUSES_TOPIC_ADMIN);
    }
    let detail: body::static_topic::TopicQueueMappingDetail = match body::from_fastjson(&req.body) {
        Ok(d) => d,
        Err(e) => {
            return error(
                req,
                code::SYSTEM_ERROR,
                format!("bad TopicQueueMappingDetail: {e}"),
            )
        }
    };
    if detail.topic.as_deref() != Some(h.topic.as_str()) {
        return error(
            req,
            code::SYSTEM_ERROR,
            format!(
                "The mapping is of topic {}, not {}",
                detail.topic.as_deref().unwrap_or("null"),
                h.topic
            ),
        );
    }
    let (tc, existing) = match checked_topic(s, header_topic_config(&h), &[]) {
        Ok(c) => c,
        Err(remark) => return error(req, code::SYSTEM_ERROR, remark),
    };
    if existing.as_ref() != Some(&tc) {
        if let Err(e) = s.topics.upsert(tc) {
            return error(req, code::SYSTEM_ERROR, format!("update topic failed: {e}"));
        }
    }
    if let Err(remark) = s.static_topics.update(detail, h.force == Some(true)) {
        return error(req, code::SYSTEM_ERROR, remark);
    }
    // the name servers take a registration's topics (and mappings) when the version moved
    s.topics.next_version();
    register::register_all(s, false).await;
    ok(req)
}

/// UPDATE_AND_CREATE_TOPIC_LIST (18, 5.x): every topic checked (name, system topic, attributes)
/// before any is written; one registration afterwards. Each config's `attributes` are the
/// modifications (`"+message.type": "FIFO"`). Timed as [`update_topic`] once the body is decoded;
/// `is_system` of the names joined with `;`, as Java labels it.
pub(super) async fn update_topic_list(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let list: body::CreateTopicListRequestBody = match body::from_fastjson(&req.body) {
        Ok(l) => l,
        Err(e) => return error(req, code::SYSTEM_ERROR, format!("bad topic list body: {e}")),
    };
    let started = std::time::Instant::now();
    let names: String = list
        .topic_config_list
        .iter()
        .map(|t| format!("{};", t.topic_name))
        .collect();
    let resp = update_topic_list_with(s, req, list).await;
    s.metrics.topic_create(
        started.elapsed(),
        resp.code == code::SUCCESS,
        topic::is_system_topic(&names),
    );
    resp
}

async fn update_topic_list_with(
    s: &BrokerState,
    req: &RemotingCommand,
    list: body::CreateTopicListRequestBody,
) -> RemotingCommand {
    if !s.is_master() {
        return error(req, code::SYSTEM_ERROR, SLAVE_REFUSES_TOPIC_ADMIN);
    }
    let mut checked = Vec::with_capacity(list.topic_config_list.len());
    for mut tc in list.topic_config_list {
        let modification: Vec<(String, String)> = std::mem::take(&mut tc.attributes).into_iter().collect();
        match checked_topic(s, tc, &modification) {
            Ok((tc, _)) => checked.push(tc),
            Err(remark) => return error(req, code::SYSTEM_ERROR, remark),
        }
    }
    if let Err(e) = s.topics.upsert_all(checked) {
        return error(req, code::SYSTEM_ERROR, format!("update topic failed: {e}"));
    }
    register::register_all(s, false).await;
    ok(req)
}

/// GET_TOPIC_CONFIG (351, 5.x): one topic's config (`TopicConfigAndQueueMapping`; rmq has no
/// static topics, so no `mappingDetail`).
/// GET_TOPIC_CONFIG: the topic's config (a `TopicConfigAndQueueMapping`), with its static-topic
/// mapping when the request says `lo=true` and there is one.
pub(super) fn topic_config_of(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, GetTopicConfigRequestHeader);
    match s.topics.get(&h.topic) {
        Some(tc) => ok(req).with_body(body::to_json(&body::static_topic::TopicConfigAndQueueMapping {
            topic_config: tc,
            mapping_detail: if h.lo == Some(true) {
                s.static_topics.get(&h.topic)
            } else {
                None
            },
        })),
        None => error(
            req,
            code::TOPIC_NOT_EXIST,
            format!("No topic in this broker. topic: {}", h.topic),
        ),
    }
}

pub(super) fn delete_topic(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, DeleteTopicRequestHeader);
    if topic::is_system_topic(&h.topic) {
        return error(
            req,
            code::SYSTEM_ERROR,
            format!("The topic[{}] is conflict with system topic.", h.topic),
        );
    }
    match s.topics.delete(&h.topic) {
        Ok(_) => {
            s.store.delete_topics(std::slice::from_ref(&h.topic));
            s.stats.forget_topic(&h.topic);
            if let Err(e) = s.static_topics.delete(&h.topic) {
                tracing::warn!(topic = %h.topic, error = %e, "static topic mapping not deleted");
            }
            ok(req)
        }
        Err(e) => error(req, code::SYSTEM_ERROR, format!("delete topic failed: {e}")),
    }
}

pub(super) fn all_topic_config(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    ok(req).with_body(body::to_json(&s.topics.wrapper(6)))
}

/// The logic queue a static topic's request addresses (`None`: an ordinary queue).
fn logic_queue(
    s: &BrokerState,
    req: &RemotingCommand,
    topic: &str,
    queue_id: i32,
) -> Result<Option<LogicQueue>, NotServed> {
    s.static_topics.logic_queue(req, topic, queue_id, false)
}

/// An offset-like ext field (`key`) of generation `item`: read here by `local`, else asked of
/// the item's broker (the request forwarded to its physical queue).
async fn of_item(
    s: &BrokerState,
    req: &RemotingCommand,
    item: &LogicQueueMappingItem,
    lq: &LogicQueue,
    key: &str,
    local: impl FnOnce(i32) -> i64,
) -> Result<i64, NotServed> {
    if lq.is_local(item) {
        return Ok(local(item.queue_id));
    }
    let resp = static_topic::forward(s, &lq.topic, item, req, &[]).await?;
    let failed = |remark: String| NotServed {
        code: code::SYSTEM_ERROR,
        remark,
    };
    if resp.code != code::SUCCESS {
        return Err(failed(resp.remark.unwrap_or_default()));
    }
    resp.ext(key)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| failed(format!("no {key} in the answer of broker {:?}", item.bname)))
}

/// GET_MAX_OFFSET; of a static topic's logic queue, its newest decided generation's, made logic.
pub(super) async fn max_offset(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, GetMaxOffsetRequestHeader);
    let read = |q| s.store.max_offset_in_queue(&h.topic, q);
    let pick = |lq: &LogicQueue| lq.newest().cloned();
    queue_offset(
        s,
        req,
        &h.topic,
        h.queue_id,
        read,
        pick,
        LogicQueueMappingItem::logic_offset_strictly,
    )
    .await
}

/// GET_MIN_OFFSET; of a static topic's logic queue, its earliest generation's, made logic.
pub(super) async fn min_offset(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, GetMinOffsetRequestHeader);
    let read = |q| s.store.min_offset_in_queue(&h.topic, q);
    let pick = |lq: &LogicQueue| lq.earliest().cloned();
    queue_offset(
        s,
        req,
        &h.topic,
        h.queue_id,
        read,
        pick,
        LogicQueueMappingItem::logic_offset_loosely,
    )
    .await
}

/// The `offset` answer of GET_MAX_OFFSET / GET_MIN_OFFSET: `read` of the queue; of a static
/// topic's logic queue, `read` of the generation `pick` chooses (here or asked of its broker),
/// made logic by `logic`.
async fn queue_offset(
    s: &BrokerState,
    req: &RemotingCommand,
    topic: &str,
    queue_id: i32,
    read: impl FnOnce(i32) -> i64,
    pick: impl FnOnce(&LogicQueue) -> Result<LogicQueueMappingItem, NotServed>,
    logic: fn(&LogicQueueMappingItem, i64) -> i64,
) -> RemotingCommand {
    let offset = match logic_queue(s, req, topic, queue_id) {
        Ok(None) => Ok(read(queue_id)),
        Ok(Some(lq)) => match pick(&lq) {
            Ok(item) => of_item(s, req, &item, &lq, "offset", read)
                .await
                .map(|physical| logic(&item, physical)),
            Err(refused) => Err(refused),
        },
        Err(refused) => Err(refused),
    };
    match offset {
        Ok(offset) => ok(req).with_ext("offset", offset.to_string()),
        Err(refused) => error(req, refused.code, refused.remark),
    }
}

/// SEARCH_OFFSET_BY_TIMESTAMP; of a static topic's logic queue, the oldest decided generation
/// whose answer falls before its end (the newest has none), made logic.
pub(super) async fn search_offset(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, SearchOffsetRequestHeader);
    let lq = match logic_queue(s, req, &h.topic, h.queue_id) {
        Ok(None) => {
            let offset = s.store.offset_by_timestamp(&h.topic, h.queue_id, h.timestamp);
            return ok(req).with_ext("offset", offset.to_string());
        }
        Ok(Some(lq)) => lq,
        Err(refused) => return error(req, refused.code, refused.remark),
    };
    let mut offset = -1;
    for item in lq.items().iter().filter(|i| i.logic_offset_decided()) {
        let physical = match of_item(s, req, item, &lq, "offset", |q| {
            s.store.offset_by_timestamp(&h.topic, q, h.timestamp)
        })
        .await
        {
            Ok(physical) => physical,
            Err(refused) => return error(req, refused.code, refused.remark),
        };
        if physical < 0 || (item.end_offset_decided() && physical >= item.end_offset) {
            continue;
        }
        offset = item.logic_offset_strictly(physical);
        break;
    }
    ok(req).with_ext("offset", offset.to_string())
}

/// GET_EARLIEST_MSG_STORETIME; of a static topic's logic queue, its earliest generation's.
pub(super) async fn earliest_time(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, GetEarliestMsgStoretimeRequestHeader);
    let local = |q: i32| s.store.earliest_message_time(&h.topic, q).unwrap_or(-1);
    let ts = match logic_queue(s, req, &h.topic, h.queue_id) {
        Ok(None) => Ok(local(h.queue_id)),
        Ok(Some(lq)) => match lq.earliest() {
            Ok(item) => of_item(s, req, item, &lq, "timestamp", local).await,
            Err(refused) => Err(refused),
        },
        Err(refused) => Err(refused),
    };
    match ts {
        Ok(ts) => ok(req).with_ext("timestamp", ts.to_string()),
        Err(refused) => error(req, refused.code, refused.remark),
    }
}

pub(super) fn view_message(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, ViewMessageRequestHeader);
    match s.store.read_record(h.offset) {
        Some(record) => ok(req).with_body(record),
        None => error(
            req,
            code::SYSTEM_ERROR,
            format!("can not find message by the offset, {}", h.offset),
        ),
    }
}

pub(super) fn topic_stats(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, GetTopicStatsInfoRequestHeader);
    let Some(tc) = s.topics.get(&h.topic) else {
        return error(
            req,
            code::TOPIC_NOT_EXIST,
            format!("topic[{}] not exist", h.topic),
        );
    };
    let mut table = HashMap::new();
    for queue_id in 0..tc.write_queue_nums {
        let max = s.store.max_offset_in_queue(&h.topic, queue_id);
        let min = s.store.min_offset_in_queue(&h.topic, queue_id);
        let last = if max > 0 {
            s.store
                .message_store_timestamp(&h.topic, queue_id, max - 1)
                .unwrap_or(0)
        } else {
            0
        };
        let mq = body::MessageQueue {
            topic: h.topic.clone(),
            broker_name: s.config.broker_name.clone(),
            queue_id,
        };
        table.insert(
            mq,
            body::TopicOffset {
                min_offset: min,
                max_offset: max,
                last_update_timestamp: last,
            },
        );
    }
    ok(req).with_body(body::to_json(&body::TopicStatsTable { offset_table: table }))
}

/// `MixAll.humanReadableByteCount(bytes, false)`: `512 B`, `1.5 KiB`, `252.0 GiB`.
fn human_bytes(bytes: u64) -> String {
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let exp = ((bytes as f64).ln() / 1024f64.ln()) as i32;
    let prefix = "KMGTPE"
        .chars()
        .nth((exp - 1).clamp(0, 5) as usize)
        .unwrap_or('E');
    format!("{:.1} {prefix}iB", bytes as f64 / 1024f64.powi(exp))
}

/// SET_COMMITLOG_READ_MODE (2004, `mqadmin setCommitLogReadAheadMode`): `READ_AHEAD_MODE` 0
/// (`MADV_NORMAL`, read-ahead on) or 1 (`MADV_RANDOM`, off) on every commitlog segment and those
/// created later; `dataReadAheadEnable` follows. Java's remarks.
pub(super) fn set_commit_log_read_mode(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let Some(raw) = req.ext("READ_AHEAD_MODE") else {
        return error(req, code::SYSTEM_ERROR, "set commitlog readahead mode failed");
    };
    let random = match raw.trim() {
        "0" => false,
        "1" => true,
        _ => {
            return error(
                req,
                code::SYSTEM_ERROR,
                "set commitlog readahead mode param value error",
            )
        }
    };
    match s.store.set_commit_log_read_ahead(random) {
        Ok(files) => {
            tracing::info!(random, files, "commitlog read-ahead mode set");
            ok(req).with_remark(format!(
                "set commitlog readahead mode success, mode: {}",
                u8::from(random)
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "set commitlog readahead mode failed");
            error(req, code::SYSTEM_ERROR, "set commitlog readahead mode failed")
        }
    }
}

/// GET_BROKER_HA_STATUS (907, `mqadmin haStatus`): a master's slave connections (ack, the gap
/// to its own max offset, in sync when under `haMaxGapNotInSync`, bytes sent in the last second,
/// where the transfer started), or a slave's link to its master (Java's
/// `DefaultHAService.getRuntimeInfo`).
pub(super) fn ha_status(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    use rmq_protocol::body::{HaClientRuntimeInfo, HaConnectionRuntimeInfo, HaRuntimeInfo};
    let ha = s.store.ha();
    let max = s.store.max_phy_offset();
    let to_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let info = if s.is_master() {
        let connections: Vec<HaConnectionRuntimeInfo> = ha
            .slaves()
            .into_iter()
            .map(|l| HaConnectionRuntimeInfo {
                diff: max - l.ack_offset,
                in_sync: max - l.ack_offset < rmq_store::ha::MAX_GAP_IN_SYNC,
                addr: l.addr,
                slave_ack_offset: l.ack_offset,
                transferred_byte_in_second: to_i64(l.bytes_per_second),
                transfer_from_where: l.transfer_from,
            })
            .collect();
        HaRuntimeInfo {
            master: true,
            master_commit_log_max_offset: max,
            in_sync_slave_nums: i32::try_from(connections.iter().filter(|c| c.in_sync).count())
                .unwrap_or(i32::MAX),
            ha_connection_info: connections,
            ha_client_runtime_info: HaClientRuntimeInfo::default(),
        }
    } else {
        let link = ha.master_link();
        HaRuntimeInfo {
            master: false,
            ha_client_runtime_info: HaClientRuntimeInfo {
                master_addr: link.master_addr,
                transferred_byte_in_second: to_i64(link.bytes_per_second),
                max_offset: max,
                last_read_timestamp: link.last_read_ms,
                last_write_timestamp: link.last_write_ms,
                // what RESET_MASTER_FLUSH_OFFSET last set (a classic master never sends it)
                master_flush_offset: s.master.master_flush_offset(),
                activated: link.connected,
            },
            ..HaRuntimeInfo::default()
        }
    };
    ok(req).with_body(body::to_json(&info))
}

/// RESET_MASTER_FLUSH_OFFSET (908, 5.x `mqadmin resetMasterFlushOffset`): on a slave (brokerId
/// not 0) the `masterFlushOffset` header becomes the master's flushed offset `haStatus` shows;
/// on a master it does nothing. SUCCESS either way, a missing or unreadable offset included
/// (Java's `AdminBrokerProcessor.resetMasterFlushOffset`).
pub(super) fn reset_master_flush_offset(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    if s.broker_id() != 0 {
        if let Some(offset) = req
            .ext("masterFlushOffset")
            .and_then(|v| v.trim().parse::<i64>().ok())
        {
            tracing::info!(offset, "master flush offset reset");
            s.master.set_master_flush_offset(offset);
        }
    }
    ok(req)
}

/// GET_BROKER_RUNTIME_INFO (28, `mqadmin brokerStatus`, `clusterList`): Java's key set
/// (`AdminBrokerProcessor.prepareRuntimeInfo` and the store's `getRuntimeInfo`) with real
/// figures, plus the 5.x keys (`getTransferredTps`, `brokerActive`, `litePullThreadPool*`,
/// the timer keys). rmq's send queue stands for Java's send thread pool queue;
/// pulls and queries run without a queue (size 0, capacity as configured in Java).
/// CHECK_ROCKSDB_CQ_WRITE_PROGRESS (354, 5.x `checkRocksdbCqWriteProgress`): what a Java broker
/// without `rocksdbCQDoubleWriteEnable` answers; rmq's consume queues are never written to RocksDB.
pub(super) fn check_rocksdb_cq_write_progress(req: &RemotingCommand) -> RemotingCommand {
    const NOT_ROCKSDB: &[u8] =
        br#"{"diffResult":"rocksdbCQWriteEnable is false, checkRocksdbCqWriteProgressCommand is invalid"}"#;
    ok(req).with_body(NOT_ROCKSDB)
}

/// VIEW_BROKER_STATS_DATA: one item of [`crate::stats`] over the last minute, hour and day, or
/// Java's SYSTEM_ERROR for an item never counted.
pub(super) fn broker_stats_data(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, ViewBrokerStatsDataRequestHeader);
    let Some(w) = s.stats.windows(&h.stats_name, &h.stats_key) else {
        return error(
            req,
            code::SYSTEM_ERROR,
            format!("The stats <{}> <{}> not exist", h.stats_name, h.stats_key),
        );
    };
    let item = |w: crate::stats::Snapshot| body::BrokerStatsItem {
        avgpt: w.avgpt,
        sum: i64::try_from(w.sum).unwrap_or(i64::MAX),
        tps: w.tps,
    };
    ok(req).with_body(body::to_json(&body::BrokerStatsData {
        stats_day: item(w.day),
        stats_hour: item(w.hour),
        stats_minute: item(w.minute),
    }))
}

pub(super) fn runtime_info(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    use rmq_store::stats::java_double;
    let now = s.clock.now_ms();
    let stats = s.store.stats();
    let mut pairs = Vec::with_capacity(64);
    stats.runtime_info(now, &mut pairs);
    let mut table: HashMap<String, String> = pairs.into_iter().collect();
    if let Some(tps) = table.get("getTransferedTps").cloned() {
        // 5.x spells it right (its tools read this one); 4.x tools read the other
        table.insert("getTransferredTps".into(), tps);
    }
    let mut put = |k: &str, v: String| {
        table.insert(k.to_string(), v);
    };
    let store_cfg = s.store.config();
    let ratio = |p: &std::path::Path| rmq_store::disk::used_ratio(p).map_or(-1.0, |r| r);
    let cl_dir = store_cfg.commit_log_dir();
    put("commitLogDiskRatio", java_double(ratio(&cl_dir)));
    put(
        &format!("commitLogDiskRatio_{}", cl_dir.display()),
        java_double(ratio(&cl_dir)),
    );
    put(
        "consumeQueueDiskRatio",
        java_double(ratio(&store_cfg.consume_queue_dir())),
    );
    for (level, offset) in s.schedule.offsets() {
        let max = s
            .store
            .max_offset_in_queue(crate::topic::SCHEDULE_TOPIC, level - 1);
        put(
            &format!("scheduleMessageOffset_{level}"),
            format!("{offset},{max}"),
        );
    }
    put("commitLogMinOffset", s.store.min_phy_offset().to_string());
    put("commitLogMaxOffset", s.store.max_phy_offset().to_string());
    put("brokerVersionDesc", "V4_9_8".into());
    put("brokerVersion", rmq_protocol::VERSION.to_string());
    // 5.x: `isSpecialServiceRunning` (schedule, transaction check and revive run on a master)
    put("brokerActive", s.is_master().to_string());
    let daily = s.daily.observe(now, stats.put_times(), stats.get_transferred());
    put(
        "msgPutTotalYesterdayMorning",
        daily.put_yesterday_morning.to_string(),
    );
    put("msgPutTotalTodayMorning", daily.put_today_morning.to_string());
    put("msgPutTotalTodayNow", stats.put_times().to_string());
    put(
        "msgGetTotalYesterdayMorning",
        daily.get_yesterday_morning.to_string(),
    );
    put("msgGetTotalTodayMorning", daily.get_today_morning.to_string());
    put("msgGetTotalTodayNow", stats.get_transferred().to_string());
    put("sendThreadPoolQueueSize", s.send_queue.len().to_string());
    put(
        "sendThreadPoolQueueCapacity",
        s.config.send_thread_pool_queue_capacity.to_string(),
    );
    put("pullThreadPoolQueueSize", "0".into());
    put("pullThreadPoolQueueCapacity", "100000".into());
    put("litePullThreadPoolQueueSize", "0".into());
    put("litePullThreadPoolQueueCapacity", "100000".into());
    put("litePullThreadPoolQueueHeadWaitTimeMills", "0".into());
    put("queryThreadPoolQueueSize", "0".into());
    put("queryThreadPoolQueueCapacity", "20000".into());
    put("EndTransactionQueueSize", "0".into());
    put("EndTransactionThreadPoolQueueCapacity", "100000".into());
    put(
        "dispatchBehindBytes",
        (s.store.max_phy_offset() - s.store.dispatched_offset())
            .max(0)
            .to_string(),
    );
    put("pageCacheLockTimeMills", "0".into());
    put("sendThreadPoolQueueHeadWaitTimeMills", "0".into());
    put("pullThreadPoolQueueHeadWaitTimeMills", "0".into());
    put("queryThreadPoolQueueHeadWaitTimeMills", "0".into());
    put(
        "earliestMessageTimeStamp",
        s.store.first_message_store_time().unwrap_or(-1).to_string(),
    );
    put("startAcceptSendRequestTimeStamp", "0".into());
    put("remainTransientStoreBufferNumbs", i32::MAX.to_string());
    put(
        "remainHowManyDataToFlush",
        human_bytes((s.store.max_phy_offset() - s.store.flushed_phy_offset()).max(0) as u64),
    );
    if let Some((total, free)) = rmq_store::disk::space(&store_cfg.store_path_root_dir) {
        put(
            "commitLogDirCapacity",
            format!("Total : {}, Free : {}.", human_bytes(total), human_bytes(free)),
        );
    }
    // 5.x timer keys (`mqadmin clusterList` prints them): how far behind the read time is (s),
    // timer-queue entries not yet in the wheel, timers pending.
    let t = &s.timer.stats;
    let (read_behind, offset_behind) = if s.timer.settings().enable && s.is_master() {
        let read = t.read_time_ms.load(std::sync::atomic::Ordering::Relaxed);
        let behind = if read > 0 {
            (s.clock.now_ms() - read).max(0) / 1000
        } else {
            0
        };
        let max = s.store.max_offset_in_queue(crate::timer::TIMER_TOPIC, 0);
        let offset = t.enqueue_offset.load(std::sync::atomic::Ordering::Relaxed);
        (behind, (max - offset).max(0))
    } else {
        (0, 0)
    };
    put("timerReadBehind", read_behind.to_string());
    put("timerOffsetBehind", offset_behind.to_string());
    put(
        "timerCongestNum",
        t.pending.load(std::sync::atomic::Ordering::Relaxed).to_string(),
    );
    put("timerEnqueueTps", "0.0".into());
    put("timerDequeueTps", "0.0".into());
    ok(req).with_body(body::to_json(&KvTable { table }))
}

/// DELETE_EXPIRED_COMMITLOG (329): the next cleanup runs delete expired commitlog files
/// whatever the hour (`executeDeleteFilesManually`).
pub(super) fn delete_expired_commit_log(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    s.store.delete_expired_files_manually();
    ok(req)
}

/// GET_BROKER_CONFIG: every key as `key=value` lines, the config's data version in `version`.
pub(super) fn broker_config(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let (text, version) = s.runtime.snapshot();
    let version = String::from_utf8_lossy(&body::to_json(&version)).into_owned();
    ok(req).with_ext("version", version).with_body(text.into_bytes())
}

/// UPDATE_BROKER_CONFIG: the body's properties applied (5.x: refused whole when one is in
/// `configBlackList`), persisted into the broker's config file; a `brokerPermission` change
/// re-registers at once with a new topic data version, as Java does.
pub(super) async fn update_broker_config(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    if req.body.is_empty() {
        return ok(req);
    }
    let Ok(text) = std::str::from_utf8(&req.body) else {
        return error(req, code::SYSTEM_ERROR, "string2Properties error");
    };
    let mut props: Vec<(String, String)> = body::properties::parse(text).into_iter().collect();
    props.sort();
    let updated = match s.runtime.update(&props, s.clock.now_ms()) {
        Ok(u) => u,
        Err(refused) => return error(req, code::NO_PERMISSION, refused.to_string()),
    };
    tracing::info!(keys = ?props, unused = ?updated.unused, "broker config updated");
    if let Some(on) = updated.auto_create_topic {
        s.topics.set_auto_create(on);
    }
    if let Some(on) = updated.auto_create_group {
        s.groups.set_auto_create(on);
    }
    if updated.permission_changed {
        s.topics.next_version();
        register::register_all(s, false).await;
    }
    ok(req)
}

/// QUERY_CONSUME_QUEUE (`mqadmin queryCq`): up to `count` consume-queue entries from `index`,
/// with the group's live subscription when it has one (Java's answers: SYSTEM_ERROR for an
/// unknown queue, SUCCESS without a body and a remark for an index outside it).
pub(super) fn query_consume_queue(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, QueryConsumeQueueRequestHeader);
    let count = h.count.clamp(0, 10_000) as usize;
    let Some((min, max, entries)) = s
        .store
        .consume_queue_entries(&h.topic, h.queue_id, h.index, count)
    else {
        return error(
            req,
            code::SYSTEM_ERROR,
            format!("{}@{} is not exist!", h.queue_id, h.topic),
        );
    };
    if h.index < min || h.index >= max {
        return ok(req).with_remark(format!(
            "Index {} of {}@{} is not exist!",
            h.index, h.queue_id, h.topic
        ));
    }
    // mqadmin queryCq sends no group unless -g is given: no subscription, no filter data
    let (subscription, filter_data) = match &h.consumer_group {
        None => (None, None),
        Some(group) => {
            let sub = s.clients.subscription(group, &h.topic);
            let filter = match &sub {
                None => format!("{group}@{} is not online!", h.topic),
                // Java's ConsumerFilterData exists for SQL92 subscriptions only
                Some(sd) if sd.expression_type.eq_ignore_ascii_case("SQL92") => serde_json::json!({
                    "consumerGroup": group,
                    "topic": h.topic,
                    "expression": sd.sub_string,
                    "expressionType": "SQL92",
                    "clientVersion": sd.sub_version,
                    "bornTime": sd.sub_version,
                    "deadTime": 0,
                })
                .to_string(),
                Some(_) => "null".to_string(),
            };
            (sub, Some(filter))
        }
    };
    let b = body::QueryConsumeQueueResponseBody {
        subscription_data: subscription,
        filter_data,
        queue_data: entries
            .into_iter()
            .map(|e| body::ConsumeQueueData {
                physic_offset: e.phy_offset,
                physic_size: e.size,
                tags_code: e.tags_code,
                ..Default::default()
            })
            .collect(),
        max_queue_index: max,
        min_queue_index: min,
    };
    ok(req).with_body(body::to_json(&b))
}

/// GET_SYSTEM_TOPIC_LIST_FROM_BROKER (305): `TopicValidator`'s system topics.
pub(super) fn system_topics(req: &RemotingCommand) -> RemotingCommand {
    let list = body::TopicList {
        broker_addr: None,
        topic_list: topic::SYSTEM_TOPICS.iter().map(|t| t.to_string()).collect(),
    };
    ok(req).with_body(body::to_json(&list))
}

/// CLEAN_EXPIRED_CONSUMEQUEUE (306, `mqadmin cleanExpiredCQ`): consume queues whose every entry
/// points below the commitlog's first offset are removed.
pub(super) fn clean_expired_consume_queues(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let n = s.store.clean_expired_consume_queues();
    tracing::warn!(removed = n, "cleanExpiredConsumeQueue done");
    ok(req)
}

/// CLEAN_UNUSED_TOPIC (316, `mqadmin cleanUnusedTopic`): the consume queues of topics the topic
/// table no longer has are removed (Java's `cleanUnusedTopic`); the broker's own internal topics
/// (schedule, transaction, timer, POP revive, `rmq_sys_*`) are kept even without a table entry.
pub(super) fn clean_unused_topics(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let unused: Vec<String> = s
        .store
        .consume_queue_topics()
        .into_iter()
        .filter(|t| s.topics.get(t).is_none())
        .filter(|t| !topic::is_system_topic(t) && !t.starts_with("RMQ_SYS_") && *t != s.pop.revive_topic)
        .collect();
    if !unused.is_empty() {
        tracing::warn!(topics = ?unused, "cleanUnusedTopic: removing consume queues");
        s.store.delete_topics(&unused);
    }
    ok(req)
}

/// GET_ALL_PRODUCER_INFO (328, `mqadmin producer`): every producer group and its connections.
pub(super) fn all_producer_info(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let now = s.clock.instant();
    let now_ms = s.clock.now_ms();
    let data = s
        .clients
        .all_producers()
        .into_iter()
        .map(|(group, conns)| {
            let infos = conns
                .iter()
                .map(|c| body::ProducerInfo {
                    client_id: c.client_id.clone(),
                    remote_ip: format!("/{}", c.channel.peer_addr()),
                    language: c.language.clone(),
                    version: c.version,
                    last_update_timestamp: now_ms
                        - i64::try_from(now.saturating_duration_since(c.last_update).as_millis())
                            .unwrap_or(0),
                })
                .collect();
            (group, infos)
        })
        .collect();
    ok(req).with_body(body::to_json(&body::ProducerTableInfo { data }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_bytes_as_java() {
        assert_eq!(super::human_bytes(0), "0 B");
        assert_eq!(super::human_bytes(1023), "1023 B");
        assert_eq!(super::human_bytes(1536), "1.5 KiB");
        assert_eq!(super::human_bytes(252 << 30), "252.0 GiB");
    }
}
