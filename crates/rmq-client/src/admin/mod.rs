//! [`Admin`]: name-server queries and broker administration, as mqadmin does them
//! (docs/protocol/client.md#what-a-client-sends), including the POP request mode
//! (`setConsumeMode`). Message lookup by key / unique key and the DLQ resend are in `query`.

use std::collections::HashMap;
use std::time::Duration;

use rmq_protocol::body::pop::SetMessageRequestModeRequestBody;
use rmq_protocol::body::{
    self, ClusterInfo, ConsumeStats, KvTable, ResetOffsetBody, TopicConfig, TopicList, TopicRouteData,
    TopicStatsTable,
};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::{
    CreateTopicRequestHeader, GetConsumeStatsRequestHeader, GetMaxOffsetRequestHeader,
    GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader, GetMinOffsetResponseHeader,
    GetTopicStatsInfoRequestHeader, ResetOffsetRequestHeader, SearchOffsetRequestHeader,
    SearchOffsetResponseHeader, ViewMessageRequestHeader,
};
use rmq_protocol::message::{self, MessageExt};
use rmq_protocol::CommandHeader;

mod acl;
mod auth;
mod controller;
mod more;
mod ops;
mod query;
pub mod static_topic;

pub use acl::ClusterAclConfig;
pub use auth::acl_info;
pub use controller::ElectedMaster;

use crate::client::{check, Client, DEFAULT_TIMEOUT};
use crate::config::ClientConfig;
use crate::consumer::pull::retry_topic;
use crate::message::MessageQueue;
use crate::send::AUTO_CREATE_TOPIC;
use crate::ClientError;

/// Admin operations over the same connection and route machinery as the producer. Needs no
/// `start`.
pub struct Admin {
    client: Client,
}

impl Admin {
    pub fn new(config: ClientConfig) -> Self {
        Admin {
            client: Client::new(config),
        }
    }

    fn timeout(&self) -> Duration {
        DEFAULT_TIMEOUT
    }

    /// GET_ROUTEINFO_BY_TOPIC.
    pub async fn topic_route(&self, topic: &str) -> Result<TopicRouteData, ClientError> {
        self.client.fetch_route(topic).await
    }

    /// GET_BROKER_CLUSTER_INFO.
    pub async fn cluster_info(&self) -> Result<ClusterInfo, ClientError> {
        let cmd = self.client.request(request_code::GET_BROKER_CLUSTER_INFO);
        let resp = check(self.client.invoke_namesrv(cmd).await?)?;
        Ok(body::from_fastjson(&resp.body)?)
    }

    /// GET_ALL_TOPIC_LIST_FROM_NAMESERVER, sorted.
    pub async fn topic_list(&self) -> Result<Vec<String>, ClientError> {
        let cmd = self
            .client
            .request(request_code::GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
        let resp = check(self.client.invoke_namesrv(cmd).await?)?;
        let list: TopicList = body::from_fastjson(&resp.body)?;
        let mut topics: Vec<String> = list.topic_list.into_iter().collect();
        topics.sort();
        Ok(topics)
    }

    /// UPDATE_AND_CREATE_TOPIC to one broker.
    pub async fn create_topic(&self, broker_addr: &str, config: &TopicConfig) -> Result<(), ClientError> {
        let header = CreateTopicRequestHeader {
            topic: config.topic_name.clone(),
            default_topic: AUTO_CREATE_TOPIC.to_owned(),
            read_queue_nums: config.read_queue_nums,
            write_queue_nums: config.write_queue_nums,
            perm: config.perm,
            topic_filter_type: config.topic_filter_type.clone(),
            topic_sys_flag: Some(config.topic_sys_flag),
            order: config.order,
            attributes: (!config.attributes.is_empty()).then(|| {
                config
                    .attributes
                    .iter()
                    .map(|(k, v)| format!("+{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            }),
            force: None,
        };
        let cmd = self
            .client
            .request(request_code::UPDATE_AND_CREATE_TOPIC)
            .with_header(&header);
        self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(())
    }

    /// UPDATE_AND_CREATE_TOPIC to every master of `cluster` (from GET_BROKER_CLUSTER_INFO).
    pub async fn create_topic_in_cluster(
        &self,
        cluster: &str,
        config: &TopicConfig,
    ) -> Result<(), ClientError> {
        let masters = master_addrs_of_cluster(&self.cluster_info().await?, cluster)?;
        for addr in masters {
            self.create_topic(&addr, config).await?;
        }
        Ok(())
    }

    /// GET_MAX_OFFSET.
    pub async fn max_offset(
        &self,
        broker_addr: &str,
        topic: &str,
        queue_id: i32,
    ) -> Result<i64, ClientError> {
        let header = GetMaxOffsetRequestHeader {
            topic: topic.to_owned(),
            queue_id,
            bname: None,
        };
        let resp: GetMaxOffsetResponseHeader = self
            .invoke_for_header(broker_addr, request_code::GET_MAX_OFFSET, &header)
            .await?;
        Ok(resp.offset)
    }

    /// GET_MIN_OFFSET.
    pub async fn min_offset(
        &self,
        broker_addr: &str,
        topic: &str,
        queue_id: i32,
    ) -> Result<i64, ClientError> {
        let header = GetMinOffsetRequestHeader {
            topic: topic.to_owned(),
            queue_id,
            bname: None,
        };
        let resp: GetMinOffsetResponseHeader = self
            .invoke_for_header(broker_addr, request_code::GET_MIN_OFFSET, &header)
            .await?;
        Ok(resp.offset)
    }

    /// A request with a typed header whose SUCCESS response carries a typed header.
    async fn invoke_for_header<R: CommandHeader>(
        &self,
        addr: &str,
        code: i32,
        header: &impl CommandHeader,
    ) -> Result<R, ClientError> {
        let cmd = self.client.request(code).with_header(header);
        let resp = self.client.invoke_ok(addr, cmd, self.timeout()).await?;
        Ok(resp.header::<R>()?)
    }

    /// VIEW_MESSAGE_BY_ID to the store host encoded in `offset_msg_id` (docs/format/message.md#offsetmsgid).
    pub async fn view_message(&self, offset_msg_id: &str) -> Result<MessageExt, ClientError> {
        let (addr, offset) = message::decode_offset_msg_id(offset_msg_id)?;
        let cmd = self
            .client
            .request(request_code::VIEW_MESSAGE_BY_ID)
            .with_header(&ViewMessageRequestHeader { offset });
        let addr = addr.to_string();
        let resp = self.client.invoke_ok(&addr, cmd, self.timeout()).await?;
        // Like Java's `clientDecode`: zlib bodies come back inflated.
        message::decode_messages(&resp.body)?
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::Broker {
                code: resp.code,
                remark: format!("{addr} returned no message"),
            })
    }

    /// GET_TOPIC_STATS_INFO to one address per broker of the topic's route (master preferred),
    /// merged into one table.
    pub async fn topic_stats(&self, topic: &str) -> Result<TopicStatsTable, ClientError> {
        let route = self.topic_route(topic).await?;
        let mut merged = TopicStatsTable::default();
        for bd in &route.broker_datas {
            let Some(addr) = bd
                .master_addr()
                .or_else(|| bd.broker_addrs.values().next().map(String::as_str))
            else {
                continue;
            };
            let table = self.topic_stats_at(addr, topic).await?;
            merged.offset_table.extend(table.offset_table);
        }
        Ok(merged)
    }

    /// GET_TOPIC_STATS_INFO of one broker (its physical queues).
    async fn topic_stats_at(&self, addr: &str, topic: &str) -> Result<TopicStatsTable, ClientError> {
        let cmd = self
            .client
            .request(request_code::GET_TOPIC_STATS_INFO)
            .with_header(&GetTopicStatsInfoRequestHeader {
                topic: topic.to_owned(),
            });
        let resp = self.client.invoke_ok(addr, cmd, self.timeout()).await?;
        Ok(body::from_fastjson(&resp.body)?)
    }

    /// GET_BROKER_RUNTIME_INFO.
    pub async fn broker_runtime_info(
        &self,
        broker_addr: &str,
    ) -> Result<HashMap<String, String>, ClientError> {
        let cmd = self.client.request(request_code::GET_BROKER_RUNTIME_INFO);
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        let table: KvTable = body::from_fastjson(&resp.body)?;
        Ok(table.table.into_iter().collect())
    }

    /// SET_MESSAGE_REQUEST_MODE (mqadmin `setConsumeMode`): whether `group` consumes `topic` on
    /// this broker by `"PULL"` or `"POP"`, which the broker's QUERY_ASSIGNMENT answers with
    /// (docs/protocol/pop.md). `pop_share_queue_num` ≤ 0 lets every POP client pop from
    /// every queue.
    pub async fn set_message_request_mode(
        &self,
        broker_addr: &str,
        topic: &str,
        group: &str,
        mode: &str,
        pop_share_queue_num: i32,
    ) -> Result<(), ClientError> {
        if mode != "PULL" && mode != "POP" {
            return Err(ClientError::InvalidArgument(format!(
                "message request mode {mode:?} is neither PULL nor POP"
            )));
        }
        let request = SetMessageRequestModeRequestBody {
            consumer_group: group.to_owned(),
            mode: mode.to_owned(),
            pop_share_queue_num,
            topic: topic.to_owned(),
        };
        let cmd = self
            .client
            .request(request_code::SET_MESSAGE_REQUEST_MODE)
            .with_body(body::to_json(&request));
        self.client
            .invoke_ok(broker_addr, cmd, SET_MESSAGE_REQUEST_MODE_TIMEOUT)
            .await?;
        Ok(())
    }
}

impl Admin {
    /// GET_CONSUME_STATS of `group` from every master of the route of `topic` (or, without a
    /// topic, of `%RETRY%<group>`, like mqadmin `consumerProgress`), merged. An empty result is
    /// `CONSUMER_NOT_ONLINE` (206), as mqadmin reports it.
    pub async fn consume_stats(&self, group: &str, topic: Option<&str>) -> Result<ConsumeStats, ClientError> {
        let route_topic = topic.map_or_else(|| retry_topic(group), str::to_owned);
        let route = self.topic_route(&route_topic).await?;
        let mut merged = ConsumeStats::default();
        for addr in route.broker_datas.iter().filter_map(|bd| bd.master_addr()) {
            let stats = self.consume_stats_of(addr, group, topic).await?;
            merged.consume_tps += stats.consume_tps;
            merged.offset_table.extend(stats.offset_table);
        }
        if merged.offset_table.is_empty() {
            return Err(ClientError::Broker {
                code: response_code::CONSUMER_NOT_ONLINE,
                remark: format!("Not found the consumer group consume stats, because return offset table is empty, maybe the consumer not consume any message ({group})"),
            });
        }
        Ok(merged)
    }

    /// GET_CONSUME_STATS from one broker.
    pub async fn consume_stats_of(
        &self,
        broker_addr: &str,
        group: &str,
        topic: Option<&str>,
    ) -> Result<ConsumeStats, ClientError> {
        let header = GetConsumeStatsRequestHeader {
            consumer_group: group.to_owned(),
            topic: topic.map(str::to_owned),
        };
        let cmd = self
            .client
            .request(request_code::GET_CONSUME_STATS)
            .with_header(&header);
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(body::from_fastjson(&resp.body)?)
    }

    /// INVOKE_BROKER_TO_RESET_OFFSET to every master of `topic` (spec A.3): each broker computes
    /// the offsets for `timestamp_ms` (−1 = the max offset) and pushes them to the group's live
    /// consumers. Returns the merged offsets. A group with no live consumer gives
    /// `CONSUMER_NOT_ONLINE` (206); see [`reset_offset_offline`](Self::reset_offset_offline).
    pub async fn reset_offset_by_time(
        &self,
        group: &str,
        topic: &str,
        timestamp_ms: i64,
        force: bool,
    ) -> Result<HashMap<MessageQueue, i64>, ClientError> {
        let route = self.topic_route(topic).await?;
        let mut offsets = HashMap::new();
        for addr in route.broker_datas.iter().filter_map(|bd| bd.master_addr()) {
            let header = ResetOffsetRequestHeader {
                topic: topic.to_owned(),
                group: group.to_owned(),
                timestamp: timestamp_ms,
                is_force: force,
            };
            let cmd = self
                .client
                .request(request_code::INVOKE_BROKER_TO_RESET_OFFSET)
                .with_header(&header);
            let resp = self.client.invoke_ok(addr, cmd, RESET_OFFSET_TIMEOUT).await?;
            if !resp.body.is_empty() {
                let table: ResetOffsetBody = body::from_fastjson(&resp.body)?;
                offsets.extend(table.offset_table.into_iter().map(|(mq, o)| (mq.into(), o)));
            }
        }
        Ok(offsets)
    }

    /// The offline fallback of mqadmin `resetOffsetByTime` (`ResetOffsetByTimeOldCommand`):
    /// for every queue of `topic` in the group's consume stats, the offset for `timestamp_ms`
    /// (−1 = max) is written with UPDATE_CONSUMER_OFFSET when `force` or when it is not ahead of
    /// the current offset. Returns the resulting offsets.
    pub async fn reset_offset_offline(
        &self,
        group: &str,
        topic: &str,
        timestamp_ms: i64,
        force: bool,
    ) -> Result<HashMap<MessageQueue, i64>, ClientError> {
        let route = self.topic_route(topic).await?;
        let mut offsets = HashMap::new();
        for addr in route.broker_datas.iter().filter_map(|bd| bd.master_addr()) {
            let stats = self.consume_stats_of(addr, group, Some(topic)).await?;
            for (mq, wrapper) in stats.offset_table.into_iter().filter(|(mq, _)| mq.topic == topic) {
                let target = if timestamp_ms == -1 {
                    self.max_offset(addr, &mq.topic, mq.queue_id).await?
                } else {
                    self.search_offset(addr, &mq.topic, mq.queue_id, timestamp_ms)
                        .await?
                };
                let offset = if force || target <= wrapper.consumer_offset {
                    target
                } else {
                    wrapper.consumer_offset
                };
                self.update_consumer_offset(addr, group, &mq, offset).await?;
                offsets.insert(mq.into(), offset);
            }
        }
        Ok(offsets)
    }

    /// SEARCH_OFFSET_BY_TIMESTAMP.
    pub async fn search_offset(
        &self,
        broker_addr: &str,
        topic: &str,
        queue_id: i32,
        timestamp_ms: i64,
    ) -> Result<i64, ClientError> {
        let header = SearchOffsetRequestHeader {
            topic: topic.to_owned(),
            queue_id,
            timestamp: timestamp_ms,
            bname: None,
        };
        let resp: SearchOffsetResponseHeader = self
            .invoke_for_header(broker_addr, request_code::SEARCH_OFFSET_BY_TIMESTAMP, &header)
            .await?;
        Ok(resp.offset)
    }
}

/// mqadmin's timeout for INVOKE_BROKER_TO_RESET_OFFSET.
const RESET_OFFSET_TIMEOUT: Duration = Duration::from_millis(5000);
/// mqadmin's timeout for SET_MESSAGE_REQUEST_MODE (`SetConsumeModeSubCommand`).
const SET_MESSAGE_REQUEST_MODE_TIMEOUT: Duration = Duration::from_millis(5000);

/// The master address of every broker of `cluster`.
fn master_addrs_of_cluster(info: &ClusterInfo, cluster: &str) -> Result<Vec<String>, ClientError> {
    addrs_of_cluster(info, cluster, true)
}

/// The addresses of every broker group of `cluster`: the masters, or every member.
fn addrs_of_cluster(
    info: &ClusterInfo,
    cluster: &str,
    masters_only: bool,
) -> Result<Vec<String>, ClientError> {
    let names = info
        .cluster_addr_table
        .get(cluster)
        .ok_or_else(|| ClientError::InvalidArgument(format!("cluster {cluster} not found")))?;
    let mut addrs: Vec<String> = names
        .iter()
        .filter_map(|name| info.broker_addr_table.get(name))
        .flat_map(|bd| match masters_only {
            true => bd
                .master_addr()
                .map(str::to_owned)
                .into_iter()
                .collect::<Vec<_>>(),
            false => bd.broker_addrs.values().cloned().collect(),
        })
        .collect();
    addrs.sort();
    Ok(addrs)
}
