//! Requests of `mqadmin addWritePerm`, `wipeWritePerm`, `updateKvConfig`, `deleteKvConfig`
//! (name server), `consumerStatus` (broker, answered by the client) and `cloneGroupOffset`
//! `statsAll` (VIEW_BROKER_STATS_DATA), `exportMetadata`, `deleteExpiredCommitLog`,
//! `resetMasterFlushOffset`, `updateTopicList`, `updateSubGroupList` and the cold-read flow control
//! verbs (docs/broker/admin.md).

use rmq_protocol::body::{self, ConsumerRunningInfo, MessageQueue};
use rmq_protocol::codes::request_code;
use rmq_protocol::header::{
    AddWritePermOfBrokerRequestHeader, AddWritePermOfBrokerResponseHeader, DeleteKvConfigRequestHeader,
    GetConsumerRunningInfoRequestHeader, GetKvConfigRequestHeader, GetKvConfigResponseHeader,
    PutKvConfigRequestHeader, UpdateConsumerOffsetRequestHeader, ViewBrokerStatsDataRequestHeader,
    WipeWritePermOfBrokerRequestHeader, WipeWritePermOfBrokerResponseHeader,
};

use super::Admin;
use crate::ClientError;

impl Admin {
    /// WIPE_WRITE_PERM_OF_BROKER to one name server: the number of topics whose route lost
    /// the write permission on `broker_name`.
    pub async fn wipe_write_perm(&self, namesrv_addr: &str, broker_name: &str) -> Result<i32, ClientError> {
        let header = WipeWritePermOfBrokerRequestHeader {
            broker_name: broker_name.to_owned(),
        };
        let resp: WipeWritePermOfBrokerResponseHeader = self
            .invoke_for_header(namesrv_addr, request_code::WIPE_WRITE_PERM_OF_BROKER, &header)
            .await?;
        Ok(resp.wipe_topic_count)
    }

    /// ADD_WRITE_PERM_OF_BROKER to one name server: the number of topics given the write
    /// permission back.
    pub async fn add_write_perm(&self, namesrv_addr: &str, broker_name: &str) -> Result<i32, ClientError> {
        let header = AddWritePermOfBrokerRequestHeader {
            broker_name: broker_name.to_owned(),
        };
        let resp: AddWritePermOfBrokerResponseHeader = self
            .invoke_for_header(namesrv_addr, request_code::ADD_WRITE_PERM_OF_BROKER, &header)
            .await?;
        Ok(resp.add_topic_count)
    }

    /// PUT_KV_CONFIG to every name server (Java's `createAndUpdateKvConfig`).
    pub async fn put_kv_config(&self, namespace: &str, key: &str, value: &str) -> Result<(), ClientError> {
        for addr in self.namesrv_addrs() {
            let cmd =
                self.client
                    .request(request_code::PUT_KV_CONFIG)
                    .with_header(&PutKvConfigRequestHeader {
                        namespace: namespace.to_owned(),
                        key: key.to_owned(),
                        value: value.to_owned(),
                    });
            self.client.invoke_ok(&addr, cmd, self.timeout()).await?;
        }
        Ok(())
    }

    /// DELETE_KV_CONFIG to every name server (Java's `deleteKvConfig`).
    pub async fn delete_kv_config(&self, namespace: &str, key: &str) -> Result<(), ClientError> {
        for addr in self.namesrv_addrs() {
            let cmd = self.client.request(request_code::DELETE_KV_CONFIG).with_header(
                &DeleteKvConfigRequestHeader {
                    namespace: namespace.to_owned(),
                    key: key.to_owned(),
                },
            );
            self.client.invoke_ok(&addr, cmd, self.timeout()).await?;
        }
        Ok(())
    }

    /// GET_KV_CONFIG from the name servers: the first value found, `None` when none has it.
    pub async fn kv_config(&self, namespace: &str, key: &str) -> Result<Option<String>, ClientError> {
        for addr in self.namesrv_addrs() {
            let header = GetKvConfigRequestHeader {
                namespace: namespace.to_owned(),
                key: key.to_owned(),
            };
            let cmd = self
                .client
                .request(request_code::GET_KV_CONFIG)
                .with_header(&header);
            let resp = self.client.invoke(&addr, cmd, self.timeout()).await?;
            if resp.code == rmq_protocol::codes::response_code::SUCCESS {
                return Ok(resp.header::<GetKvConfigResponseHeader>()?.value);
            }
        }
        Ok(None)
    }

    /// GET_CONSUMER_RUNNING_INFO through a broker of the group's retry topic (the master if it
    /// has one), which asks the client `client_id` (Java's `getConsumerRunningInfo`).
    pub async fn consumer_running_info(
        &self,
        group: &str,
        client_id: &str,
        jstack: bool,
    ) -> Result<ConsumerRunningInfo, ClientError> {
        let retry = crate::consumer::pull::retry_topic(group);
        let route = self.topic_route(&retry).await?;
        let addr = route
            .broker_datas
            .iter()
            .find_map(|bd| {
                bd.master_addr()
                    .or_else(|| bd.broker_addrs.values().next().map(String::as_str))
            })
            .ok_or(ClientError::NoRoute(retry.clone()))?
            .to_owned();
        let cmd = self
            .client
            .request(request_code::GET_CONSUMER_RUNNING_INFO)
            .with_header(&GetConsumerRunningInfoRequestHeader {
                consumer_group: group.to_owned(),
                client_id: client_id.to_owned(),
                jstack_enable: jstack,
            });
        let resp = self.client.invoke_ok(&addr, cmd, self.timeout()).await?;
        Ok(body::from_fastjson(&resp.body)?)
    }

    /// UPDATE_CONSUMER_OFFSET of one queue on one broker (Java's `updateConsumeOffset`).
    pub async fn update_consumer_offset(
        &self,
        broker_addr: &str,
        group: &str,
        mq: &MessageQueue,
        offset: i64,
    ) -> Result<(), ClientError> {
        let header = UpdateConsumerOffsetRequestHeader {
            consumer_group: group.to_owned(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            commit_offset: offset,
            bname: Some(mq.broker_name.clone()),
        };
        let cmd = self
            .client
            .request(request_code::UPDATE_CONSUMER_OFFSET)
            .with_header(&header);
        self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(())
    }
    /// VIEW_BROKER_STATS_DATA of one stats item on one broker (Java's `viewBrokerStatsData`): the
    /// `BrokerStatsData` body as JSON (`statsMinute` / `statsHour` / `statsDay`, each with `sum`,
    /// `tps`, `avgpt`).
    pub async fn view_broker_stats_data(
        &self,
        broker_addr: &str,
        stats_name: &str,
        stats_key: &str,
    ) -> Result<serde_json::Value, ClientError> {
        let cmd = self
            .client
            .request(request_code::VIEW_BROKER_STATS_DATA)
            .with_header(&ViewBrokerStatsDataRequestHeader {
                stats_name: stats_name.to_owned(),
                stats_key: stats_key.to_owned(),
            });
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(body::from_fastjson(&resp.body)?)
    }
    /// Java's `getUserTopicConfig`: GET_ALL_TOPIC_CONFIG of one broker without the topics of its
    /// GET_SYSTEM_TOPIC_LIST_FROM_BROKER, the system topics, those with an invalid perm and
    /// (unless `special_topic`) the retry and DLQ topics.
    pub async fn user_topic_config(
        &self,
        broker_addr: &str,
        special_topic: bool,
    ) -> Result<body::TopicConfigSerializeWrapper, ClientError> {
        let cmd = self.client.request(request_code::GET_ALL_TOPIC_CONFIG);
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        let mut wrapper: body::TopicConfigSerializeWrapper = body::from_fastjson(&resp.body)?;
        let cmd = self
            .client
            .request(request_code::GET_SYSTEM_TOPIC_LIST_FROM_BROKER);
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        let system: serde_json::Value = body::from_fastjson(&resp.body)?;
        let system: Vec<&str> = system["topicList"]
            .as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
            .unwrap_or_default();
        wrapper.topic_config_table.retain(|name, tc| {
            !(system.contains(&name.as_str())
                || rmq_protocol::topic::is_system_topic(name)
                || (!special_topic && (name.starts_with("%RETRY%") || name.starts_with("%DLQ%")))
                || !(0..8).contains(&tc.perm))
        });
        Ok(wrapper)
    }

    /// Java's `getUserSubscriptionGroup`: GET_ALL_SUBSCRIPTIONGROUP_CONFIG of one broker without
    /// the `CID_RMQ_SYS_` groups and mqadmin's `SYSTEM_GROUP_SET`.
    pub async fn user_subscription_groups(
        &self,
        broker_addr: &str,
    ) -> Result<body::SubscriptionGroupWrapper, ClientError> {
        const SYSTEM_GROUPS: &[&str] = &[
            "DEFAULT_CONSUMER",
            "DEFAULT_PRODUCER",
            "TOOLS_CONSUMER",
            "SCHEDULE_CONSUMER",
            "FILTERSRV_CONSUMER",
            "__MONITOR_CONSUMER",
            "CLIENT_INNER_PRODUCER",
            "SELF_TEST_P_GROUP",
            "SELF_TEST_C_GROUP",
            "CID_ONS-HTTP-PROXY",
            "CID_ONSAPI_PERMISSION",
            "CID_ONSAPI_OWNER",
            "CID_ONSAPI_PULL",
            "CID_RMQ_SYS_TRANS",
        ];
        let mut wrapper = self.subscription_groups(broker_addr).await?;
        wrapper
            .subscription_group_table
            .retain(|name, _| !name.starts_with("CID_RMQ_SYS_") && !SYSTEM_GROUPS.contains(&name.as_str()));
        Ok(wrapper)
    }
    /// DELETE_EXPIRED_COMMITLOG to one broker (Java's `deleteExpiredCommitLogByAddr`).
    pub async fn delete_expired_commit_log(&self, broker_addr: &str) -> Result<(), ClientError> {
        let cmd = self.client.request(request_code::DELETE_EXPIRED_COMMITLOG);
        self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(())
    }

    /// RESET_MASTER_FLUSH_OFFSET to one broker (header `masterFlushOffset`).
    pub async fn reset_master_flush_offset(&self, broker_addr: &str, offset: i64) -> Result<(), ClientError> {
        let cmd = self
            .client
            .request(request_code::RESET_MASTER_FLUSH_OFFSET)
            .with_ext("masterFlushOffset", offset.to_string());
        self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(())
    }

    /// UPDATE_AND_CREATE_TOPIC_LIST to one broker (Java's `createAndUpdateTopicConfigList`).
    pub async fn create_topic_list(
        &self,
        broker_addr: &str,
        configs: &[body::TopicConfig],
    ) -> Result<(), ClientError> {
        let list = body::CreateTopicListRequestBody {
            topic_config_list: configs.to_vec(),
        };
        let cmd = self
            .client
            .request(request_code::UPDATE_AND_CREATE_TOPIC_LIST)
            .with_body(body::to_json(&list));
        self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(())
    }

    /// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST to one broker (Java's
    /// `createAndUpdateSubscriptionGroupConfigList`).
    pub async fn create_subscription_group_list(
        &self,
        broker_addr: &str,
        configs: &[body::SubscriptionGroupConfig],
    ) -> Result<(), ClientError> {
        let list = body::SubscriptionGroupList {
            group_config_list: configs.to_vec(),
        };
        let cmd = self
            .client
            .request(request_code::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST)
            .with_body(body::to_json(&list));
        self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(())
    }
    /// UPDATE_COLD_DATA_FLOW_CTR_CONFIG to one broker: the body is `group=threshold` properties.
    pub async fn update_cold_data_flow_ctr_group_config(
        &self,
        broker_addr: &str,
        group: &str,
        threshold: &str,
    ) -> Result<(), ClientError> {
        let text = body::properties::format([(group, threshold)]);
        let cmd = self
            .client
            .request(request_code::UPDATE_COLD_DATA_FLOW_CTR_CONFIG)
            .with_body(text.into_bytes());
        self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(())
    }

    /// REMOVE_COLD_DATA_FLOW_CTR_CONFIG to one broker: the body is the group's name.
    pub async fn remove_cold_data_flow_ctr_group_config(
        &self,
        broker_addr: &str,
        group: &str,
    ) -> Result<(), ClientError> {
        let cmd = self
            .client
            .request(request_code::REMOVE_COLD_DATA_FLOW_CTR_CONFIG)
            .with_body(group.as_bytes().to_vec());
        self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(())
    }

    /// GET_COLD_DATA_FLOW_CTR_INFO of one broker: its JSON text, `None` for an empty body.
    pub async fn cold_data_flow_ctr_info(&self, broker_addr: &str) -> Result<Option<String>, ClientError> {
        let cmd = self.client.request(request_code::GET_COLD_DATA_FLOW_CTR_INFO);
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        if resp.body.is_empty() {
            return Ok(None);
        }
        Ok(Some(String::from_utf8_lossy(&resp.body).into_owned()))
    }
}
