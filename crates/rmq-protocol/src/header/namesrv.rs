//! Name-server headers (docs/protocol/headers.md#name-server).

use super::command_header;

command_header! {
    /// GET_ROUTEINFO_BY_TOPIC (105).
    pub struct GetRouteInfoRequestHeader {
        req topic: String => "topic",
        /// 4.9.4+: `true` forces standard JSON in the reply.
        opt accept_standard_json_only: bool => "acceptStandardJsonOnly",
    }
}

command_header! {
    /// REGISTER_BROKER (103).
    pub struct RegisterBrokerRequestHeader {
        req broker_name: String => "brokerName",
        req broker_addr: String => "brokerAddr",
        req cluster_name: String => "clusterName",
        req ha_server_addr: String => "haServerAddr",
        req broker_id: i64 => "brokerId",
        prim compressed: bool => "compressed",
        /// `crc32(body)`; 0 = skip the check.
        prim body_crc32: i32 => "bodyCrc32",
        /// 5.x: the group may elect an acting master (false from rmq).
        opt enable_acting_master: bool => "enableActingMaster",
        /// 5.x: expire this broker after this long without a registration.
        opt heartbeat_timeout_millis: i64 => "heartbeatTimeoutMillis",
    }
}

command_header! {
    /// REGISTER_BROKER response: both fields only for slaves.
    pub struct RegisterBrokerResponseHeader {
        opt ha_server_addr: String => "haServerAddr",
        opt master_addr: String => "masterAddr",
    }
}

command_header! {
    /// UNREGISTER_BROKER (104).
    pub struct UnregisterBrokerRequestHeader {
        req broker_name: String => "brokerName",
        req broker_addr: String => "brokerAddr",
        req cluster_name: String => "clusterName",
        req broker_id: i64 => "brokerId",
    }
}

command_header! {
    /// QUERY_DATA_VERSION (322).
    pub struct QueryDataVersionRequestHeader {
        req broker_name: String => "brokerName",
        req broker_addr: String => "brokerAddr",
        req cluster_name: String => "clusterName",
        req broker_id: i64 => "brokerId",
    }
}

command_header! {
    pub struct QueryDataVersionResponseHeader {
        req changed: bool => "changed",
    }
}

command_header! {
    /// PUT_KV_CONFIG (100).
    pub struct PutKvConfigRequestHeader {
        req namespace: String => "namespace",
        req key: String => "key",
        req value: String => "value",
    }
}

command_header! {
    /// GET_KV_CONFIG (101).
    pub struct GetKvConfigRequestHeader {
        req namespace: String => "namespace",
        req key: String => "key",
    }
}

command_header! {
    pub struct GetKvConfigResponseHeader {
        opt value: String => "value",
    }
}

command_header! {
    /// DELETE_KV_CONFIG (102).
    pub struct DeleteKvConfigRequestHeader {
        req namespace: String => "namespace",
        req key: String => "key",
    }
}

command_header! {
    /// GET_KVLIST_BY_NAMESPACE (219).
    pub struct GetKvListByNamespaceRequestHeader {
        req namespace: String => "namespace",
    }
}

command_header! {
    /// GET_TOPICS_BY_CLUSTER (224).
    pub struct GetTopicsByClusterRequestHeader {
        req cluster: String => "cluster",
    }
}

command_header! {
    /// DELETE_TOPIC_IN_NAMESRV (216).
    pub struct DeleteTopicFromNamesrvRequestHeader {
        req topic: String => "topic",
        opt cluster_name: String => "clusterName",
    }
}

command_header! {
    /// WIPE_WRITE_PERM_OF_BROKER (205).
    pub struct WipeWritePermOfBrokerRequestHeader {
        req broker_name: String => "brokerName",
    }
}

command_header! {
    pub struct WipeWritePermOfBrokerResponseHeader {
        req wipe_topic_count: i32 => "wipeTopicCount",
    }
}

command_header! {
    /// ADD_WRITE_PERM_OF_BROKER (327).
    pub struct AddWritePermOfBrokerRequestHeader {
        req broker_name: String => "brokerName",
    }
}

command_header! {
    pub struct AddWritePermOfBrokerResponseHeader {
        req add_topic_count: i32 => "addTopicCount",
    }
}
