//! [`Admin`]: name-server queries and broker administration, as mqadmin does them (spec §2.3).

use std::collections::HashMap;
use std::time::Duration;

use rmq_protocol::body::{
    self, ClusterInfo, KvTable, TopicConfig, TopicList, TopicRouteData, TopicStatsTable,
};
use rmq_protocol::codes::request_code;
use rmq_protocol::header::{
    CreateTopicRequestHeader, GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader,
    GetMinOffsetRequestHeader, GetMinOffsetResponseHeader, GetTopicStatsInfoRequestHeader,
    ViewMessageRequestHeader,
};
use rmq_protocol::message::{self, MessageExt};

use crate::client::{check, Client, DEFAULT_TIMEOUT};
use crate::config::ClientConfig;
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
        let cmd = self
            .client
            .request(request_code::GET_MAX_OFFSET)
            .with_header(&header);
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(resp.header::<GetMaxOffsetResponseHeader>()?.offset)
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
        let cmd = self
            .client
            .request(request_code::GET_MIN_OFFSET)
            .with_header(&header);
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(resp.header::<GetMinOffsetResponseHeader>()?.offset)
    }

    /// VIEW_MESSAGE_BY_ID to the store host encoded in `offset_msg_id` (spec §4.7.1).
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
            let header = GetTopicStatsInfoRequestHeader {
                topic: topic.to_owned(),
            };
            let cmd = self
                .client
                .request(request_code::GET_TOPIC_STATS_INFO)
                .with_header(&header);
            let resp = self.client.invoke_ok(addr, cmd, self.timeout()).await?;
            let table: TopicStatsTable = body::from_fastjson(&resp.body)?;
            merged.offset_table.extend(table.offset_table);
        }
        Ok(merged)
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
}

/// The master address of every broker of `cluster`.
fn master_addrs_of_cluster(info: &ClusterInfo, cluster: &str) -> Result<Vec<String>, ClientError> {
    let names = info
        .cluster_addr_table
        .get(cluster)
        .ok_or_else(|| ClientError::InvalidArgument(format!("cluster {cluster} not found")))?;
    let mut addrs: Vec<String> = names
        .iter()
        .filter_map(|name| info.broker_addr_table.get(name))
        .filter_map(|bd| bd.master_addr().map(str::to_owned))
        .collect();
    addrs.sort();
    Ok(addrs)
}
