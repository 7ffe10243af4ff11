//! 5.x static topics from the tool side (`mqadmin updateStaticTopic` / `remappingStaticTopic`,
//! Java's `TopicQueueMappingUtils` and `MQAdminUtils`; docs/broker/admin.md#static-topics):
//! read every broker's config and mapping of a topic, plan the new mapping, and write it to the
//! brokers with UPDATE_AND_CREATE_STATIC_TOPIC (513).
//!
//! The plans are pure ([`plan_update`], [`plan_remapping`]): the same checks and allocation as
//! Java's, except that brokers tied for the fewest queues take new ones in name order where
//! Java shuffles them.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rmq_protocol::body::static_topic::{
    LogicQueueMappingItem, TopicConfigAndQueueMapping, TopicQueueMappingDetail, TopicRemappingDetailWrapper,
    TYPE_CREATE_OR_UPDATE, TYPE_REMAPPING,
};
use rmq_protocol::body::{self, ClusterInfo, TopicConfig};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::{CreateTopicRequestHeader, GetTopicConfigRequestHeader};

use super::Admin;
use crate::send::AUTO_CREATE_TOPIC;
use crate::ClientError;

/// The logic offset block a remapped queue's new generation starts on (Java passes 10000).
pub const BLOCK_SEQ_SIZE: i64 = 10_000;

/// Every broker's config and mapping of a topic, by broker name.
pub type BrokerConfigMap = BTreeMap<String, TopicConfigAndQueueMapping>;

fn invalid(remark: impl Into<String>) -> ClientError {
    ClientError::InvalidArgument(remark.into())
}

impl Admin {
    /// GET_TOPIC_CONFIG with `lo=true`: the topic's config on one broker with its static-topic
    /// mapping, `None` when the broker does not have the topic.
    pub async fn topic_config_and_mapping(
        &self,
        broker_addr: &str,
        topic: &str,
    ) -> Result<Option<TopicConfigAndQueueMapping>, ClientError> {
        let cmd =
            self.client
                .request(request_code::GET_TOPIC_CONFIG)
                .with_header(&GetTopicConfigRequestHeader {
                    topic: topic.to_owned(),
                    lo: Some(true),
                });
        let resp = self.client.invoke(broker_addr, cmd, self.timeout()).await?;
        match resp.code {
            response_code::SUCCESS => Ok(Some(body::from_fastjson(&resp.body)?)),
            response_code::TOPIC_NOT_EXIST => Ok(None),
            code => Err(ClientError::Broker {
                code,
                remark: resp.remark.unwrap_or_default(),
            }),
        }
    }

    /// UPDATE_AND_CREATE_STATIC_TOPIC (513): the topic config and its mapping on one broker.
    pub async fn create_static_topic(
        &self,
        broker_addr: &str,
        config: &TopicConfigAndQueueMapping,
        force: bool,
    ) -> Result<(), ClientError> {
        let tc = &config.topic_config;
        let header = CreateTopicRequestHeader {
            topic: tc.topic_name.clone(),
            default_topic: AUTO_CREATE_TOPIC.to_owned(),
            read_queue_nums: tc.read_queue_nums,
            write_queue_nums: tc.write_queue_nums,
            perm: tc.perm,
            topic_filter_type: tc.topic_filter_type.clone(),
            topic_sys_flag: Some(tc.topic_sys_flag),
            order: tc.order,
            attributes: None,
            force: Some(force),
        };
        let detail = config.mapping_detail.clone().unwrap_or_default();
        let cmd = self
            .client
            .request(request_code::UPDATE_AND_CREATE_STATIC_TOPIC)
            .with_header(&header)
            .with_body(body::to_json(&detail));
        self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(())
    }

    /// Java's `examineTopicConfigAll`: the topic's config and mapping on every broker's master
    /// that has it.
    pub async fn static_topic_configs(
        &self,
        topic: &str,
        info: &ClusterInfo,
    ) -> Result<BrokerConfigMap, ClientError> {
        let mut configs = BrokerConfigMap::new();
        for (name, bd) in &info.broker_addr_table {
            let Some(addr) = bd.master_addr() else {
                continue;
            };
            if let Some(config) = self.topic_config_and_mapping(addr, topic).await? {
                configs.insert(name.clone(), config);
            }
        }
        Ok(configs)
    }

    /// Writes a planned creation or expansion (Java's `completeNoTargetBrokers` and
    /// `updateTopicConfigMappingAll`): every broker of the clusters involved gets the mapping,
    /// those without queues an empty one.
    pub async fn apply_static_topic_update(
        &self,
        plan: &mut TopicRemappingDetailWrapper,
        info: &ClusterInfo,
        force: bool,
    ) -> Result<(), ClientError> {
        complete_no_target_brokers(plan, info);
        for (broker, config) in &plan.broker_config_map {
            self.create_static_topic(&master_of(info, broker)?, config, force)
                .await?;
        }
        Ok(())
    }

    /// Writes a planned remapping in Java's five steps (`MQAdminUtils.remappingStaticTopic`):
    /// the brokers queues move into (new generations, logic offset undecided), the brokers they
    /// move out of (no longer leaders), each moved queue's new logic offset decided from its old
    /// leader's max offset (rounded up to `block_seq_size`), the brokers moved into again, then
    /// the rest.
    pub async fn apply_static_topic_remapping(
        &self,
        plan: &mut TopicRemappingDetailWrapper,
        info: &ClusterInfo,
        block_seq_size: i64,
        force: bool,
    ) -> Result<(), ClientError> {
        complete_no_target_brokers(plan, info);
        for broker in plan.broker_config_map.keys() {
            master_of(info, broker)?;
        }
        let topic = plan.topic.clone();
        let (map_in, map_out) = (plan.broker_to_map_in.clone(), plan.broker_to_map_out.clone());
        for broker in map_in.iter().chain(&map_out) {
            self.create_static_topic(&master_of(info, broker)?, &plan.broker_config_map[broker], force)
                .await?;
        }
        for broker in &map_out {
            let stats = self.topic_stats_at(&master_of(info, broker)?, &topic).await?;
            let hosted = plan.broker_config_map[broker]
                .mapping_detail
                .as_ref()
                .map(|d| d.hosted_queues.clone())
                .unwrap_or_default();
            for (global_id, mut items) in hosted {
                let n = items.len();
                if n < 2 || items[n - 1].logic_offset > 0 {
                    continue;
                }
                let old = &items[n - 2];
                let max = stats
                    .offset_table
                    .iter()
                    .find(|(mq, _)| {
                        Some(&mq.broker_name) == old.bname.as_ref() && mq.queue_id == old.queue_id
                    })
                    .map(|(_, o)| o.max_offset)
                    .ok_or_else(|| invalid(format!("Cannot get the max offset for old leader {old:?}")))?;
                if max < old.start_offset {
                    return Err(invalid(format!(
                        "The max offset is smaller then the start offset {old:?} {max}"
                    )));
                }
                let logic = block_seq_round_up(old.logic_offset_strictly(max), block_seq_size);
                items[n - 1].logic_offset = logic;
                let new_leader = items[n - 1].bname.clone().unwrap_or_default();
                for name in [&new_leader, broker] {
                    if let Some(detail) = plan
                        .broker_config_map
                        .get_mut(name)
                        .and_then(|c| c.mapping_detail.as_mut())
                    {
                        detail.hosted_queues.insert(global_id, items.clone());
                    }
                }
            }
        }
        for broker in &map_in {
            self.create_static_topic(&master_of(info, broker)?, &plan.broker_config_map[broker], force)
                .await?;
        }
        for (broker, config) in &plan.broker_config_map {
            if !map_in.contains(broker) && !map_out.contains(broker) {
                self.create_static_topic(&master_of(info, broker)?, config, force)
                    .await?;
            }
        }
        Ok(())
    }
}

/// The master address of broker `name`.
fn master_of(info: &ClusterInfo, name: &str) -> Result<String, ClientError> {
    info.broker_addr_table
        .get(name)
        .and_then(|bd| bd.master_addr())
        .map(str::to_owned)
        .ok_or_else(|| invalid(format!("Can't find addr for broker {name}")))
}

/// The brokers of `clusters` (unknown clusters add none).
pub fn brokers_of_clusters(info: &ClusterInfo, clusters: &[String]) -> BTreeSet<String> {
    clusters
        .iter()
        .filter_map(|c| info.cluster_addr_table.get(c.trim()))
        .flatten()
        .cloned()
        .collect()
}

/// Java's `blockSeqRoundUp`: the next block boundary, skipping one when past half a block.
pub fn block_seq_round_up(offset: i64, block: i64) -> i64 {
    let (num, left) = (offset / block, offset % block);
    if left < block / 2 {
        (num + 1) * block
    } else {
        (num + 2) * block
    }
}

/// Java's `completeNoTargetBrokers`: every other broker of the clusters the plan's brokers are
/// in gets the topic with no queues and an empty mapping of the plan's epoch and size.
fn complete_no_target_brokers(plan: &mut TopicRemappingDetailWrapper, info: &ClusterInfo) {
    let Some(first) = plan.broker_config_map.values().next() else {
        return;
    };
    let topic = first.topic_config.topic_name.clone();
    let (total, epoch) = first
        .mapping_detail
        .as_ref()
        .map(|d| (d.total_queues, d.epoch))
        .unwrap_or_default();
    let clusters: Vec<String> = info
        .cluster_addr_table
        .iter()
        .filter(|(_, brokers)| brokers.iter().any(|b| plan.broker_config_map.contains_key(b)))
        .map(|(c, _)| c.clone())
        .collect();
    for broker in brokers_of_clusters(info, &clusters) {
        plan.broker_config_map
            .entry(broker.clone())
            .or_insert_with(|| empty_config(&topic, &broker, total, epoch));
    }
}

/// `new TopicConfigAndQueueMapping(new TopicConfig(topic, 0, 0), new TopicQueueMappingDetail(...))`.
fn empty_config(topic: &str, broker: &str, total: i32, epoch: i64) -> TopicConfigAndQueueMapping {
    TopicConfigAndQueueMapping {
        topic_config: TopicConfig {
            topic_name: topic.to_owned(),
            read_queue_nums: 0,
            write_queue_nums: 0,
            ..TopicConfig::default()
        },
        mapping_detail: Some(TopicQueueMappingDetail {
            topic: Some(topic.to_owned()),
            bname: Some(broker.to_owned()),
            total_queues: total,
            epoch,
            ..TopicQueueMappingDetail::default()
        }),
    }
}

/// One more physical queue of a broker's topic config (read and write); its id.
fn add_physical_queue(config: &mut TopicConfigAndQueueMapping) -> i32 {
    config.topic_config.write_queue_nums += 1;
    config.topic_config.read_queue_nums += 1;
    config.topic_config.write_queue_nums - 1
}

/// Java's `checkNameEpochNumConsistence`: every broker's mapping present, its own, clean, of
/// `topic`, one scope, one epoch and one queue count; returns that epoch and count.
pub fn check_consistence(topic: &str, configs: &BrokerConfigMap) -> Result<(i64, i32), String> {
    let (mut epoch, mut num, mut scope) = (-1i64, -1i32, None::<&str>);
    for (broker, config) in configs {
        let d = config
            .mapping_detail
            .as_ref()
            .ok_or_else(|| format!("Mapping info should not be null in broker {broker}"))?;
        if d.bname.as_deref() != Some(broker.as_str()) {
            return Err(format!(
                "The broker name is not equal {broker} != {} ",
                d.bname.as_deref().unwrap_or("null")
            ));
        }
        if d.dirty {
            return Err(format!("The mapping info is dirty in broker  {broker}"));
        }
        if d.topic.as_deref() != Some(config.topic_config.topic_name.as_str()) {
            return Err(format!("The topic name is inconsistent in broker  {broker}"));
        }
        if d.topic.as_deref() != Some(topic) {
            return Err(format!("The topic name is not match for broker  {broker}"));
        }
        match scope {
            Some(s) if s != d.scope => {
                return Err(format!("scope dose not match {} != {s} in {broker}", d.scope))
            }
            _ => scope = Some(&d.scope),
        }
        if epoch != -1 && epoch != d.epoch {
            return Err(format!("epoch dose not match {epoch} != {} in {broker}", d.epoch));
        }
        epoch = d.epoch;
        if num != -1 && num != d.total_queues {
            return Err(format!(
                "total queue number dose not match {num} != {} in {broker}",
                d.total_queues
            ));
        }
        num = d.total_queues;
    }
    Ok((epoch, num))
}

/// One logic queue: its leader broker and generations.
#[derive(Debug, Clone)]
struct Leader {
    bname: String,
    items: Vec<LogicQueueMappingItem>,
}

/// Java's `checkAndBuildMappingItems(details, false, true)` and `checkIfReusePhysicalQueue`:
/// each logic queue once, from the broker leading it, ids `0..total` all present, no physical
/// queue used by two logic ones.
fn leaders(configs: &BrokerConfigMap) -> Result<BTreeMap<i32, Leader>, String> {
    let mut details: Vec<&TopicQueueMappingDetail> = configs
        .values()
        .filter_map(|c| c.mapping_detail.as_ref())
        .collect();
    details.sort_by_key(|d| std::cmp::Reverse(d.epoch));
    let mut max = 0;
    let mut map = BTreeMap::new();
    for d in details {
        max = max.max(d.total_queues);
        for (id, items) in &d.hosted_queues {
            let Some(last) = items.last() else { continue };
            if last.bname != d.bname {
                continue;
            }
            let bname = d.bname.clone().unwrap_or_default();
            if map.contains_key(id) {
                return Err(format!("The queue id is duplicated in broker {bname} {bname}"));
            }
            map.insert(
                *id,
                Leader {
                    bname,
                    items: items.clone(),
                },
            );
        }
    }
    if max as usize != map.len() {
        return Err(format!(
            "The total queue number in config dose not match the real hosted queues {max} != {}",
            map.len()
        ));
    }
    if let Some(missing) = (0..max).find(|i| !map.contains_key(i)) {
        return Err(format!("The queue number {missing} is not in globalIdMap"));
    }
    let mut physical = BTreeSet::new();
    for leader in map.values() {
        for item in &leader.items {
            if !physical.insert((item.bname.clone(), item.queue_id)) {
                return Err(format!("Topic queue is reused {item:?}"));
            }
        }
    }
    Ok(map)
}

/// Java's `MappingAllocator.upToNum`: logic queues `id_to_broker.len()..up_to` each to one of
/// the brokers with the fewest queues, a round over all of them before the counts are looked at
/// again. A round's order is Java's: the tied brokers sorted by the queues they held before a
/// remapping (`before`; else by name, where Java shuffles), taken at a fixed index.
fn allocate(
    id_to_broker: &mut BTreeMap<i32, String>,
    counts: &mut BTreeMap<String, i32>,
    before: Option<&BTreeMap<String, i32>>,
    up_to: i32,
) {
    let mut least: Vec<String> = Vec::new();
    let mut index = 0;
    for id in id_to_broker.len() as i32..up_to {
        if least.is_empty() {
            let min = counts.values().copied().min().unwrap_or(0);
            least = counts
                .iter()
                .filter(|(_, n)| **n == min)
                .map(|(b, _)| b.clone())
                .collect();
            if let Some(before) = before {
                least.sort_by_key(|b| before.get(b).copied().unwrap_or(0));
            }
            index = least.len().saturating_sub(1);
        }
        if least.is_empty() {
            return;
        }
        let broker = least.remove(index % least.len());
        *counts.entry(broker.clone()).or_default() += 1;
        id_to_broker.insert(id, broker);
    }
}

/// Java's `createTopicConfigMapping`: a new static topic of `queue_num` logic queues over
/// `targets`, or an existing one grown to it (existing queues stay where they are; each new
/// one is a new physical queue of its broker, generation 0 from offset 0).
pub fn plan_update(
    topic: &str,
    queue_num: i32,
    targets: &BTreeSet<String>,
    mut configs: BrokerConfigMap,
    now_ms: i64,
) -> Result<TopicRemappingDetailWrapper, String> {
    for (broker, config) in &configs {
        let hosts = config
            .mapping_detail
            .as_ref()
            .is_some_and(|d| !d.hosted_queues.is_empty());
        if hosts && !targets.contains(broker) {
            return Err(format!("The existed broker {broker} dose not in target brokers "));
        }
    }
    let mut old_epoch = now_ms;
    let mut existing = BTreeMap::new();
    if !configs.is_empty() {
        old_epoch = check_consistence(topic, &configs)?.0;
        existing = leaders(&configs)?;
    }
    let have = existing.len() as i32;
    if queue_num < have {
        return Err(format!(
            "Cannot decrease the queue num for static topic {queue_num} < {have}"
        ));
    }
    if queue_num == have {
        return Err("The topic queue num is equal the existed queue num, do nothing".into());
    }
    let mut counts: BTreeMap<String, i32> = targets.iter().map(|b| (b.clone(), 0)).collect();
    let mut id_to_broker = BTreeMap::new();
    for (id, leader) in &existing {
        *counts.entry(leader.bname.clone()).or_default() += 1;
        id_to_broker.insert(*id, leader.bname.clone());
    }
    allocate(&mut id_to_broker, &mut counts, None, queue_num);
    let epoch = (old_epoch + 1000).max(now_ms);
    for (id, broker) in &id_to_broker {
        if existing.contains_key(id) {
            continue;
        }
        let config = configs
            .entry(broker.clone())
            .or_insert_with(|| empty_config(topic, broker, 0, now_ms));
        let item = LogicQueueMappingItem {
            bname: Some(broker.clone()),
            queue_id: add_physical_queue(config),
            ..LogicQueueMappingItem::default()
        };
        if let Some(d) = config.mapping_detail.as_mut() {
            d.hosted_queues.insert(*id, vec![item]);
        }
    }
    finish(
        topic,
        TYPE_CREATE_OR_UPDATE,
        configs,
        queue_num,
        epoch,
        BTreeSet::new(),
        BTreeSet::new(),
    )
}

/// Java's `TopicQueueMappingUtils.remappingStaticTopic`: the topic's logic queues spread over
/// `targets` moving as few as possible; a moved queue gets a new generation on its new broker
/// (a new physical queue, logic offset decided when written), kept in both brokers' mappings.
pub fn plan_remapping(
    topic: &str,
    mut configs: BrokerConfigMap,
    targets: &BTreeSet<String>,
    now_ms: i64,
) -> Result<TopicRemappingDetailWrapper, String> {
    let (old_epoch, num) = check_consistence(topic, &configs)?;
    let existing = leaders(&configs)?;
    let mut before: BTreeMap<String, i32> = BTreeMap::new();
    for leader in existing.values() {
        *before.entry(leader.bname.clone()).or_default() += 1;
    }
    let mut counts: BTreeMap<String, i32> = targets.iter().map(|b| (b.clone(), 0)).collect();
    allocate(&mut BTreeMap::new(), &mut counts, Some(&before), num);
    let mut expected = BTreeMap::new();
    let mut waiting = VecDeque::new();
    for (id, leader) in &existing {
        match counts.get_mut(&leader.bname) {
            Some(left) if *left > 0 => {
                *left -= 1;
                expected.insert(*id, leader.bname.clone());
            }
            Some(_) => {
                counts.remove(&leader.bname);
                waiting.push_back(*id);
            }
            None => waiting.push_back(*id),
        }
    }
    for (broker, left) in &counts {
        for _ in 0..*left {
            if let Some(id) = waiting.pop_front() {
                expected.insert(id, broker.clone());
            }
        }
    }
    let epoch = (old_epoch + 1000).max(now_ms);
    let (mut map_in, mut map_out) = (BTreeSet::new(), BTreeSet::new());
    for (id, broker) in &expected {
        let leader = &existing[id];
        if &leader.bname == broker {
            continue;
        }
        map_in.insert(broker.clone());
        map_out.insert(leader.bname.clone());
        let config = configs
            .entry(broker.clone())
            .or_insert_with(|| empty_config(topic, broker, num, epoch));
        let queue_id = add_physical_queue(config);
        let mut items = leader.items.clone();
        let last_gen = items.last().map(|i| i.gen).unwrap_or(0);
        items.push(LogicQueueMappingItem {
            gen: last_gen + 1,
            queue_id,
            bname: Some(broker.clone()),
            logic_offset: -1,
            ..LogicQueueMappingItem::default()
        });
        for name in [broker, &leader.bname] {
            if let Some(d) = configs.get_mut(name).and_then(|c| c.mapping_detail.as_mut()) {
                d.hosted_queues.insert(*id, items.clone());
            }
        }
    }
    let wrapper = finish(topic, TYPE_REMAPPING, configs, num, epoch, map_in, map_out)?;
    for (id, leader) in leaders(&wrapper.broker_config_map)? {
        if !targets.contains(&leader.bname) {
            return Err(format!(
                "The leader broker {} of queue {id} is not in target brokers",
                leader.bname
            ));
        }
    }
    Ok(wrapper)
}

/// Every mapping of the plan to `epoch` and `total`, then Java's double check.
fn finish(
    topic: &str,
    kind: &str,
    mut configs: BrokerConfigMap,
    total: i32,
    epoch: i64,
    map_in: BTreeSet<String>,
    map_out: BTreeSet<String>,
) -> Result<TopicRemappingDetailWrapper, String> {
    for config in configs.values_mut() {
        if let Some(d) = config.mapping_detail.as_mut() {
            d.epoch = epoch;
            d.total_queues = total;
        }
    }
    check_consistence(topic, &configs)?;
    leaders(&configs)?;
    Ok(TopicRemappingDetailWrapper {
        broker_config_map: configs,
        broker_to_map_in: map_in,
        broker_to_map_out: map_out,
        epoch,
        topic: topic.to_owned(),
        kind: kind.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn a_new_topic_is_spread_evenly_and_grows_in_place() {
        let plan = plan_update("S", 8, &targets(&["a", "b"]), BrokerConfigMap::new(), 1000).unwrap();
        assert_eq!(plan.epoch, 2000);
        let mut logic_ids = BTreeSet::new();
        for (broker, config) in &plan.broker_config_map {
            assert_eq!(config.topic_config.write_queue_nums, 4, "{broker}");
            let d = config.mapping_detail.as_ref().unwrap();
            assert_eq!((d.total_queues, d.epoch), (8, 2000));
            let physical: BTreeSet<i32> = d.hosted_queues.values().map(|i| i[0].queue_id).collect();
            assert_eq!(physical, (0..4).collect());
            logic_ids.extend(d.hosted_queues.keys().copied());
        }
        assert_eq!(logic_ids, (0..8).collect());

        let grown = plan_update(
            "S",
            10,
            &targets(&["a", "b"]),
            plan.broker_config_map.clone(),
            1500,
        )
        .unwrap();
        assert_eq!(grown.epoch, 3000);
        let nums: Vec<i32> = grown
            .broker_config_map
            .values()
            .map(|c| c.topic_config.write_queue_nums)
            .collect();
        assert_eq!(nums, vec![5, 5]);
        for (broker, config) in &plan.broker_config_map {
            let old = &config.mapping_detail.as_ref().unwrap().hosted_queues;
            let new = &grown.broker_config_map[broker]
                .mapping_detail
                .as_ref()
                .unwrap()
                .hosted_queues;
            assert!(
                old.iter().all(|(id, items)| new.get(id) == Some(items)),
                "{broker}"
            );
        }
        let err =
            plan_update("S", 10, &targets(&["a", "b"]), grown.broker_config_map.clone(), 0).unwrap_err();
        assert_eq!(
            err,
            "The topic queue num is equal the existed queue num, do nothing"
        );
        let err = plan_update("S", 9, &targets(&["a"]), grown.broker_config_map, 0).unwrap_err();
        assert_eq!(err, "The existed broker b dose not in target brokers ");
    }

    #[test]
    fn remapping_moves_only_what_it_must() {
        let plan = plan_update("S", 8, &targets(&["a", "b"]), BrokerConfigMap::new(), 1000).unwrap();
        let remap = plan_remapping("S", plan.broker_config_map.clone(), &targets(&["a"]), 1500).unwrap();
        assert_eq!(remap.broker_to_map_in, targets(&["a"]));
        assert_eq!(remap.broker_to_map_out, targets(&["b"]));
        let on_a = remap.broker_config_map["a"].mapping_detail.as_ref().unwrap();
        assert_eq!(on_a.hosted_queues.len(), 8);
        assert_eq!(remap.broker_config_map["a"].topic_config.write_queue_nums, 8);
        let moved: Vec<&Vec<LogicQueueMappingItem>> = on_a
            .hosted_queues
            .values()
            .filter(|items| items.len() == 2)
            .collect();
        assert_eq!(moved.len(), 4);
        for items in moved {
            assert_eq!(items[0].bname.as_deref(), Some("b"));
            assert_eq!((items[1].gen, items[1].logic_offset), (1, -1));
            assert!(items[1].queue_id >= 4);
        }
        // the same targets again: nothing moves
        let same = plan_remapping("S", plan.broker_config_map, &targets(&["a", "b"]), 1500).unwrap();
        assert!(same.broker_to_map_in.is_empty() && same.broker_to_map_out.is_empty());
        assert_eq!(block_seq_round_up(3, BLOCK_SEQ_SIZE), 10_000);
        assert_eq!(block_seq_round_up(7_000, BLOCK_SEQ_SIZE), 20_000);
    }
}
