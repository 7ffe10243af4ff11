//! Operating a cluster (`mqadmin getBrokerConfig`, `updateBrokerConfig`, `getNamesrvConfig`,
//! `updateNamesrvConfig`, `brokerConsumeStats`, `queryCq`, `cleanExpiredCQ`, `cleanUnusedTopic`,
//! `producer`, `deleteTopic`, `deleteSubGroup`, `consumeMessage`; docs/broker/admin.md).

use rmq_protocol::body::{
    self, properties, ConsumeMessageDirectlyResult, ConsumeStatsList, ConsumerConnection, GroupList,
    HaRuntimeInfo, ProducerConnection, ProducerTableInfo, QueryConsumeQueueResponseBody,
    SubscriptionGroupConfig, SubscriptionGroupWrapper,
};
use rmq_protocol::codes::request_code;
use rmq_protocol::header::{
    AddBrokerRequestHeader, CheckRocksdbCqWriteProgressRequestHeader,
    ConsumeMessageDirectlyResultRequestHeader, DeleteSubscriptionGroupRequestHeader,
    DeleteTopicFromNamesrvRequestHeader, DeleteTopicRequestHeader, GetConsumeStatsInBrokerHeader,
    GetConsumerConnectionListRequestHeader, GetProducerConnectionListRequestHeader,
    QueryConsumeQueueRequestHeader, QueryTopicConsumeByWhoRequestHeader, RemoveBrokerRequestHeader,
};

use super::Admin;
use crate::ClientError;

/// `key=value` pairs in a stable (sorted) order.
fn sorted(text: &[u8]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = properties::parse(&String::from_utf8_lossy(text))
        .into_iter()
        .collect();
    pairs.sort();
    pairs
}

impl Admin {
    /// The name servers this admin was given.
    pub fn namesrv_addrs(&self) -> Vec<String> {
        self.client.config.namesrv_addr.clone()
    }

    /// GET_BROKER_CONFIG: the broker's configuration, sorted by key.
    pub async fn broker_config(&self, broker_addr: &str) -> Result<Vec<(String, String)>, ClientError> {
        let cmd = self.client.request(request_code::GET_BROKER_CONFIG);
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(sorted(&resp.body))
    }

    /// UPDATE_BROKER_CONFIG.
    pub async fn update_broker_config(
        &self,
        broker_addr: &str,
        pairs: &[(String, String)],
    ) -> Result<(), ClientError> {
        let cmd = self
            .client
            .request(request_code::UPDATE_BROKER_CONFIG)
            .with_body(properties::format(pairs.iter().map(|(k, v)| (k, v))).into_bytes());
        self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(())
    }

    /// GET_NAMESRV_CONFIG from one name server, sorted by key.
    pub async fn namesrv_config(&self, namesrv_addr: &str) -> Result<Vec<(String, String)>, ClientError> {
        let cmd = self.client.request(request_code::GET_NAMESRV_CONFIG);
        let resp = self.client.invoke_ok(namesrv_addr, cmd, self.timeout()).await?;
        Ok(sorted(&resp.body))
    }

    /// UPDATE_NAMESRV_CONFIG on one name server.
    pub async fn update_namesrv_config(
        &self,
        namesrv_addr: &str,
        pairs: &[(String, String)],
    ) -> Result<(), ClientError> {
        let cmd = self
            .client
            .request(request_code::UPDATE_NAMESRV_CONFIG)
            .with_body(properties::format(pairs.iter().map(|(k, v)| (k, v))).into_bytes());
        self.client.invoke_ok(namesrv_addr, cmd, self.timeout()).await?;
        Ok(())
    }

    /// GET_BROKER_CONSUME_STATS: every group's lag on the broker (`only_order`: orderly topics).
    pub async fn broker_consume_stats(
        &self,
        broker_addr: &str,
        only_order: bool,
    ) -> Result<ConsumeStatsList, ClientError> {
        let cmd = self
            .client
            .request(request_code::GET_BROKER_CONSUME_STATS)
            .with_header(&GetConsumeStatsInBrokerHeader { is_order: only_order });
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(body::from_fastjson(&resp.body)?)
    }

    /// QUERY_CONSUME_QUEUE: `None` (with the broker's remark) when `index` is outside the queue.
    pub async fn query_consume_queue(
        &self,
        broker_addr: &str,
        header: QueryConsumeQueueRequestHeader,
    ) -> Result<Result<QueryConsumeQueueResponseBody, String>, ClientError> {
        let cmd = self
            .client
            .request(request_code::QUERY_CONSUME_QUEUE)
            .with_header(&header);
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        if resp.body.is_empty() {
            return Ok(Err(resp.remark.unwrap_or_default()));
        }
        Ok(Ok(body::from_fastjson(&resp.body)?))
    }

    /// CLEAN_EXPIRED_CONSUMEQUEUE on one broker.
    pub async fn clean_expired_consume_queues(&self, broker_addr: &str) -> Result<(), ClientError> {
        let cmd = self.client.request(request_code::CLEAN_EXPIRED_CONSUMEQUEUE);
        self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(())
    }

    /// CLEAN_UNUSED_TOPIC on one broker.
    pub async fn clean_unused_topics(&self, broker_addr: &str) -> Result<(), ClientError> {
        let cmd = self.client.request(request_code::CLEAN_UNUSED_TOPIC);
        self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(())
    }

    /// GET_ALL_SUBSCRIPTIONGROUP_CONFIG of one broker.
    pub async fn subscription_groups(
        &self,
        broker_addr: &str,
    ) -> Result<SubscriptionGroupWrapper, ClientError> {
        let cmd = self
            .client
            .request(request_code::GET_ALL_SUBSCRIPTIONGROUP_CONFIG);
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(body::from_fastjson(&resp.body)?)
    }

    /// QUERY_TOPIC_CONSUME_BY_WHO on every master of the topic's route: the groups, sorted.
    pub async fn consumed_by(&self, topic: &str) -> Result<Vec<String>, ClientError> {
        let route = self.topic_route(topic).await?;
        let mut groups = std::collections::BTreeSet::new();
        for addr in route.broker_datas.iter().filter_map(|bd| bd.master_addr()) {
            let cmd = self
                .client
                .request(request_code::QUERY_TOPIC_CONSUME_BY_WHO)
                .with_header(&QueryTopicConsumeByWhoRequestHeader {
                    topic: topic.to_owned(),
                });
            let resp = self.client.invoke_ok(addr, cmd, self.timeout()).await?;
            let list: GroupList = body::from_fastjson(&resp.body)?;
            groups.extend(list.group_list);
        }
        Ok(groups.into_iter().collect())
    }

    /// GET_CONSUMER_CONNECTION_LIST from a master of the group's retry topic route.
    pub async fn consumer_connections(&self, group: &str) -> Result<ConsumerConnection, ClientError> {
        let route = self
            .topic_route(&crate::consumer::pull::retry_topic(group))
            .await?;
        let mut last = None;
        for addr in route.broker_datas.iter().filter_map(|bd| bd.master_addr()) {
            match self.consumer_connections_at(group, addr).await {
                Ok(cc) => return Ok(cc),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(ClientError::NoNameServer))
    }

    /// GET_CONSUMER_CONNECTION_LIST from one broker (`mqadmin consumerConnection -b`).
    pub async fn consumer_connections_at(
        &self,
        group: &str,
        broker_addr: &str,
    ) -> Result<ConsumerConnection, ClientError> {
        let cmd = self
            .client
            .request(request_code::GET_CONSUMER_CONNECTION_LIST)
            .with_header(&GetConsumerConnectionListRequestHeader {
                consumer_group: group.to_owned(),
            });
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(body::from_fastjson(&resp.body)?)
    }

    /// GET_PRODUCER_CONNECTION_LIST from the first master of the topic's route that answers
    /// (`mqadmin producerConnection`, as Java's `examineProducerConnectionInfo`).
    pub async fn producer_connections(
        &self,
        group: &str,
        topic: &str,
    ) -> Result<ProducerConnection, ClientError> {
        let route = self.topic_route(topic).await?;
        let mut last = None;
        for addr in route.broker_datas.iter().filter_map(|bd| bd.master_addr()) {
            let cmd = self
                .client
                .request(request_code::GET_PRODUCER_CONNECTION_LIST)
                .with_header(&GetProducerConnectionListRequestHeader {
                    producer_group: group.to_owned(),
                });
            match self.client.invoke_ok(addr, cmd, self.timeout()).await {
                Ok(resp) => return Ok(body::from_fastjson(&resp.body)?),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(ClientError::NoNameServer))
    }

    /// GET_ALL_PRODUCER_INFO: every producer group connected to the broker.
    pub async fn producer_info(&self, broker_addr: &str) -> Result<ProducerTableInfo, ClientError> {
        let cmd = self.client.request(request_code::GET_ALL_PRODUCER_INFO);
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(body::from_fastjson(&resp.body)?)
    }

    /// DELETE_TOPIC_IN_BROKER on every master of the topic's route, then DELETE_TOPIC_IN_NAMESRV
    /// on every name server (the console's delete). Returns the broker names it was deleted on.
    pub async fn delete_topic(&self, topic: &str) -> Result<Vec<String>, ClientError> {
        let route = self.topic_route(topic).await?;
        let mut names = Vec::new();
        let mut masters = Vec::new();
        for bd in &route.broker_datas {
            if let Some(addr) = bd.master_addr() {
                names.push(bd.broker_name.clone());
                masters.push(addr.to_string());
            }
        }
        self.delete_topic_in_brokers(&masters, topic).await?;
        self.delete_topic_in_namesrv(topic, None).await?;
        Ok(names)
    }

    /// DELETE_TOPIC_IN_BROKER on each of `addrs` (`mqadmin deleteTopic` sends it to a cluster's
    /// masters).
    pub async fn delete_topic_in_brokers(&self, addrs: &[String], topic: &str) -> Result<(), ClientError> {
        for addr in addrs {
            let cmd = self
                .client
                .request(request_code::DELETE_TOPIC_IN_BROKER)
                .with_header(&DeleteTopicRequestHeader {
                    topic: topic.to_owned(),
                });
            self.client.invoke_ok(addr, cmd, self.timeout()).await?;
        }
        Ok(())
    }

    /// DELETE_TOPIC_IN_NAMESRV on every name server, for `cluster`'s brokers only when given.
    pub async fn delete_topic_in_namesrv(
        &self,
        topic: &str,
        cluster: Option<&str>,
    ) -> Result<(), ClientError> {
        for addr in self.namesrv_addrs() {
            let cmd = self
                .client
                .request(request_code::DELETE_TOPIC_IN_NAMESRV)
                .with_header(&DeleteTopicFromNamesrvRequestHeader {
                    topic: topic.to_owned(),
                    cluster_name: cluster.map(str::to_owned),
                });
            self.client.invoke_ok(&addr, cmd, self.timeout()).await?;
        }
        Ok(())
    }

    /// GET_BROKER_HA_STATUS (`mqadmin haStatus`).
    pub async fn ha_status(&self, broker_addr: &str) -> Result<HaRuntimeInfo, ClientError> {
        let cmd = self.client.request(request_code::GET_BROKER_HA_STATUS);
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(body::from_fastjson(&resp.body)?)
    }

    /// SET_COMMITLOG_READ_MODE on one broker (`mode` "0" read-ahead on, "1" off); the broker's
    /// remark.
    pub async fn set_commit_log_read_ahead_mode(
        &self,
        broker_addr: &str,
        mode: &str,
    ) -> Result<String, ClientError> {
        let cmd = self
            .client
            .request(request_code::SET_COMMITLOG_READ_MODE)
            .with_ext("READ_AHEAD_MODE", mode);
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(resp.remark.unwrap_or_default())
    }

    /// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP on one broker.
    pub async fn create_subscription_group(
        &self,
        broker_addr: &str,
        config: &SubscriptionGroupConfig,
    ) -> Result<(), ClientError> {
        let cmd = self
            .client
            .request(request_code::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
            .with_body(body::to_json(config));
        self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(())
    }

    /// DELETE_SUBSCRIPTIONGROUP on one broker (`removeOffset` drops its committed offsets too).
    pub async fn delete_subscription_group(
        &self,
        broker_addr: &str,
        group: &str,
        remove_offset: bool,
    ) -> Result<(), ClientError> {
        let cmd = self
            .client
            .request(request_code::DELETE_SUBSCRIPTIONGROUP)
            .with_header(&DeleteSubscriptionGroupRequestHeader {
                group_name: group.to_owned(),
                remove_offset,
            });
        self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(())
    }

    /// CONSUME_MESSAGE_DIRECTLY through `broker_addr`: the stored message `offset_msg_id` handed
    /// to the listener of `client_id` in `group` (`mqadmin consumeMessage`, the dashboard's
    /// resend). The broker forwards it to the client; the answer is the client's.
    pub async fn consume_message_directly(
        &self,
        broker_addr: &str,
        group: &str,
        client_id: &str,
        offset_msg_id: &str,
        topic: &str,
    ) -> Result<ConsumeMessageDirectlyResult, ClientError> {
        let cmd = self
            .client
            .request(request_code::CONSUME_MESSAGE_DIRECTLY)
            .with_header(&ConsumeMessageDirectlyResultRequestHeader {
                consumer_group: group.to_owned(),
                client_id: Some(client_id.to_owned()),
                msg_id: Some(offset_msg_id.to_owned()),
                broker_name: None,
                topic: Some(topic.to_owned()),
            });
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(body::from_fastjson(&resp.body)?)
    }
}

impl Admin {
    /// ADD_BROKER to a 5.x broker container: start the broker of `config_path` there.
    pub async fn add_broker_to_container(
        &self,
        container_addr: &str,
        config_path: &str,
    ) -> Result<(), ClientError> {
        let cmd = self
            .client
            .request(request_code::ADD_BROKER)
            .with_header(&AddBrokerRequestHeader {
                config_path: config_path.to_owned(),
            });
        self.client.invoke_ok(container_addr, cmd, self.timeout()).await?;
        Ok(())
    }

    /// REMOVE_BROKER from a 5.x broker container.
    pub async fn remove_broker_from_container(
        &self,
        container_addr: &str,
        cluster: &str,
        broker_name: &str,
        broker_id: i64,
    ) -> Result<(), ClientError> {
        let cmd = self
            .client
            .request(request_code::REMOVE_BROKER)
            .with_header(&RemoveBrokerRequestHeader {
                broker_cluster_name: cluster.to_owned(),
                broker_name: broker_name.to_owned(),
                broker_id,
            });
        self.client.invoke_ok(container_addr, cmd, self.timeout()).await?;
        Ok(())
    }

    /// CHECK_ROCKSDB_CQ_WRITE_PROGRESS: the broker's `diffResult` text.
    pub async fn check_rocksdb_cq_write_progress(
        &self,
        broker_addr: &str,
        topic: &str,
    ) -> Result<String, ClientError> {
        let cmd = self
            .client
            .request(request_code::CHECK_ROCKSDB_CQ_WRITE_PROGRESS)
            .with_header(&CheckRocksdbCqWriteProgressRequestHeader {
                topic: topic.to_owned(),
            });
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
        Ok(body["diffResult"].as_str().unwrap_or_default().to_owned())
    }
}
