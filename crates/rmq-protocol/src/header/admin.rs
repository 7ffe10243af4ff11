//! Admin headers served by the broker (docs/protocol/headers.md#admin).

use super::command_header;

command_header! {
    /// UPDATE_AND_CREATE_TOPIC (17).
    pub struct CreateTopicRequestHeader {
        req topic: String => "topic",
        req default_topic: String => "defaultTopic",
        req read_queue_nums: i32 => "readQueueNums",
        req write_queue_nums: i32 => "writeQueueNums",
        req perm: i32 => "perm",
        /// `"SINGLE_TAG"` or `"MULTI_TAG"`.
        req topic_filter_type: String => "topicFilterType",
        opt topic_sys_flag: i32 => "topicSysFlag",
        req order: bool => "order",
        /// 5.x: `+message.type=FIFO,-key,...` (`AttributeParser`).
        opt attributes: String => "attributes",
        /// 5.x UPDATE_AND_CREATE_STATIC_TOPIC: take the mapping whatever its epoch.
        opt force: bool => "force",
    }
}

command_header! {
    /// DELETE_TOPIC_IN_BROKER (215).
    pub struct DeleteTopicRequestHeader {
        req topic: String => "topic",
    }
}

command_header! {
    /// GET_TOPIC_STATS_INFO (202).
    pub struct GetTopicStatsInfoRequestHeader {
        req topic: String => "topic",
    }
}

command_header! {
    /// GET_CONSUME_STATS (208); no topic = every topic the group has offsets for.
    pub struct GetConsumeStatsRequestHeader {
        req consumer_group: String => "consumerGroup",
        opt topic: String => "topic",
    }
}

command_header! {
    /// GET_CONSUMER_CONNECTION_LIST (203).
    pub struct GetConsumerConnectionListRequestHeader {
        req consumer_group: String => "consumerGroup",
    }
}

command_header! {
    /// GET_PRODUCER_CONNECTION_LIST (204).
    pub struct GetProducerConnectionListRequestHeader {
        req producer_group: String => "producerGroup",
    }
}

command_header! {
    /// QUERY_TOPIC_CONSUME_BY_WHO (300).
    pub struct QueryTopicConsumeByWhoRequestHeader {
        req topic: String => "topic",
    }
}

command_header! {
    /// INVOKE_BROKER_TO_RESET_OFFSET (222) and RESET_CONSUMER_CLIENT_OFFSET (220).
    pub struct ResetOffsetRequestHeader {
        req topic: String => "topic",
        req group: String => "group",
        /// −1 = reset to the max offset.
        req timestamp: i64 => "timestamp",
        req is_force: bool => "isForce",
    }
}

command_header! {
    /// GET_CONSUMER_STATUS_FROM_CLIENT (221) / INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223).
    pub struct GetConsumerStatusRequestHeader {
        req topic: String => "topic",
        req group: String => "group",
        opt client_addr: String => "clientAddr",
    }
}

command_header! {
    /// GET_CONSUMER_RUNNING_INFO (307).
    pub struct GetConsumerRunningInfoRequestHeader {
        req consumer_group: String => "consumerGroup",
        req client_id: String => "clientId",
        prim jstack_enable: bool => "jstackEnable",
    }
}

command_header! {
    /// CONSUME_MESSAGE_DIRECTLY (309).
    pub struct ConsumeMessageDirectlyResultRequestHeader {
        req consumer_group: String => "consumerGroup",
        opt client_id: String => "clientId",
        /// An offsetMsgId.
        opt msg_id: String => "msgId",
        opt broker_name: String => "brokerName",
        /// 5.x: the message's topic (the broker adds `topicSysFlag` / `groupSysFlag`).
        opt topic: String => "topic",
    }
}

command_header! {
    /// DELETE_SUBSCRIPTIONGROUP (207).
    pub struct DeleteSubscriptionGroupRequestHeader {
        req group_name: String => "groupName",
        prim remove_offset: bool => "removeOffset",
    }
}

command_header! {
    /// QUERY_CONSUME_TIME_SPAN (303).
    pub struct QueryConsumeTimeSpanRequestHeader {
        req topic: String => "topic",
        req group: String => "group",
    }
}

command_header! {
    /// QUERY_CORRECTION_OFFSET (308).
    pub struct QueryCorrectionOffsetHeader {
        /// Comma-separated.
        opt filter_groups: String => "filterGroups",
        req compare_group: String => "compareGroup",
        req topic: String => "topic",
    }
}

command_header! {
    /// CLONE_GROUP_OFFSET (314).
    pub struct CloneGroupOffsetRequestHeader {
        req src_group: String => "srcGroup",
        req dest_group: String => "destGroup",
        opt topic: String => "topic",
        prim offline: bool => "offline",
    }
}

command_header! {
    /// VIEW_BROKER_STATS_DATA (315).
    pub struct ViewBrokerStatsDataRequestHeader {
        req stats_name: String => "statsName",
        req stats_key: String => "statsKey",
    }
}

command_header! {
    /// GET_BROKER_CONSUME_STATS (317).
    pub struct GetConsumeStatsInBrokerHeader {
        req is_order: bool => "isOrder",
    }
}

command_header! {
    /// QUERY_CONSUME_QUEUE (321).
    pub struct QueryConsumeQueueRequestHeader {
        req topic: String => "topic",
        prim queue_id: i32 => "queueId",
        prim index: i64 => "index",
        prim count: i32 => "count",
        opt consumer_group: String => "consumerGroup",
    }
}

command_header! {
    /// RESUME_CHECK_HALF_MESSAGE (323).
    pub struct ResumeCheckHalfMessageRequestHeader {
        opt msg_id: String => "msgId",
    }
}

command_header! {
    /// GET_BROKER_CONFIG (26) response: `version` is a DataVersion JSON.
    pub struct GetBrokerConfigResponseHeader {
        req version: String => "version",
    }
}

command_header! {
    /// GET_SUBSCRIPTIONGROUP_CONFIG (352, 5.x).
    pub struct GetSubscriptionGroupConfigRequestHeader {
        req group: String => "group",
    }
}

command_header! {
    /// GET_TOPIC_CONFIG (351, 5.x); `lo` asks for the static-topic mapping too.
    pub struct GetTopicConfigRequestHeader {
        req topic: String => "topic",
        opt lo: bool => "lo",
    }
}

command_header! {
    /// QUERY_TOPICS_BY_CONSUMER (343, 5.x).
    pub struct QueryTopicsByConsumerRequestHeader {
        req group: String => "group",
    }
}

command_header! {
    /// QUERY_SUBSCRIPTION_BY_CONSUMER (345, 5.x).
    pub struct QuerySubscriptionByConsumerRequestHeader {
        req group: String => "group",
        req topic: String => "topic",
    }
}

command_header! {
    /// ADD_BROKER (902, 5.x broker containers): start a broker from a config file there.
    pub struct AddBrokerRequestHeader {
        req config_path: String => "configPath",
    }
}

command_header! {
    /// REMOVE_BROKER (903, 5.x broker containers).
    pub struct RemoveBrokerRequestHeader {
        req broker_cluster_name: String => "brokerClusterName",
        req broker_name: String => "brokerName",
        req broker_id: i64 => "brokerId",
    }
}

command_header! {
    /// CHECK_ROCKSDB_CQ_WRITE_PROGRESS (354, 5.x).
    pub struct CheckRocksdbCqWriteProgressRequestHeader {
        req topic: String => "topic",
    }
}
