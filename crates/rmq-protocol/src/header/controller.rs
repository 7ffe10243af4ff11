//! Controller-mode headers (RocketMQ 5: `remoting/protocol/header/controller/*`,
//! `header/namesrv/BrokerHeartbeatRequestHeader`; docs/controller/java-reference.md, section 2.2).
//!
//! Java sends `null` fields by leaving them out, so nearly everything here is `opt`; the controller
//! checks what it needs and answers Java's codes.

use super::command_header;

command_header! {
    /// BROKER_HEARTBEAT (904), oneway, from a broker to every controller.
    pub struct BrokerHeartbeatRequestHeader {
        opt cluster_name: String => "clusterName",
        opt broker_addr: String => "brokerAddr",
        opt broker_name: String => "brokerName",
        opt broker_id: i64 => "brokerId",
        opt epoch: i32 => "epoch",
        opt max_offset: i64 => "maxOffset",
        opt confirm_offset: i64 => "confirmOffset",
        opt heartbeat_timeout_mills: i64 => "heartbeatTimeoutMills",
        opt election_priority: i32 => "electionPriority",
    }
}

command_header! {
    /// CONTROLLER_ALTER_SYNC_STATE_SET (1001); the body is a `SyncStateSet`.
    pub struct AlterSyncStateSetRequestHeader {
        opt broker_name: String => "brokerName",
        opt master_broker_id: i64 => "masterBrokerId",
        opt master_epoch: i32 => "masterEpoch",
        opt invoke_time: i64 => "invokeTime",
    }
}

command_header! {
    /// The answer to CONTROLLER_ALTER_SYNC_STATE_SET.
    pub struct AlterSyncStateSetResponseHeader {
        opt new_sync_state_set_epoch: i32 => "newSyncStateSetEpoch",
    }
}

command_header! {
    /// CONTROLLER_ELECT_MASTER (1002). `designateElect` marks an admin's election; a `brokerId` of
    /// -1 or none is the controller's own.
    pub struct ElectMasterRequestHeader {
        opt cluster_name: String => "clusterName",
        opt broker_name: String => "brokerName",
        opt broker_id: i64 => "brokerId",
        opt designate_elect: bool => "designateElect",
        opt invoke_time: i64 => "invokeTime",
    }
}

command_header! {
    /// The answer to CONTROLLER_ELECT_MASTER; the body is an `ElectMasterResponseBody`.
    pub struct ElectMasterResponseHeader {
        opt master_broker_id: i64 => "masterBrokerId",
        opt master_address: String => "masterAddress",
        opt master_epoch: i32 => "masterEpoch",
        opt sync_state_set_epoch: i32 => "syncStateSetEpoch",
    }
}

command_header! {
    /// CONTROLLER_REGISTER_BROKER (1003).
    pub struct RegisterBrokerToControllerRequestHeader {
        opt cluster_name: String => "clusterName",
        opt broker_name: String => "brokerName",
        opt broker_id: i64 => "brokerId",
        opt broker_address: String => "brokerAddress",
        opt invoke_time: i64 => "invokeTime",
    }
}

command_header! {
    /// The answer to CONTROLLER_REGISTER_BROKER; the master fields only when a live master
    /// exists. The body is a `SyncStateSet`.
    pub struct RegisterBrokerToControllerResponseHeader {
        opt cluster_name: String => "clusterName",
        opt broker_name: String => "brokerName",
        opt master_broker_id: i64 => "masterBrokerId",
        opt master_address: String => "masterAddress",
        opt master_epoch: i32 => "masterEpoch",
        opt sync_state_set_epoch: i32 => "syncStateSetEpoch",
    }
}

command_header! {
    /// CONTROLLER_GET_REPLICA_INFO (1004).
    pub struct GetReplicaInfoRequestHeader {
        opt broker_name: String => "brokerName",
    }
}

command_header! {
    /// The answer to CONTROLLER_GET_REPLICA_INFO; the body is a `SyncStateSet`.
    pub struct GetReplicaInfoResponseHeader {
        opt master_broker_id: i64 => "masterBrokerId",
        opt master_address: String => "masterAddress",
        opt master_epoch: i32 => "masterEpoch",
    }
}

command_header! {
    /// The answer to CONTROLLER_GET_METADATA_INFO (1005). `peers` is DLedger's
    /// `id:addr;id:addr;` (with the trailing `;`).
    pub struct GetMetaDataResponseHeader {
        opt group: String => "group",
        opt controller_leader_id: String => "controllerLeaderId",
        opt controller_leader_address: String => "controllerLeaderAddress",
        prim is_leader: bool => "isLeader",
        opt peers: String => "peers",
    }
}

command_header! {
    /// NOTIFY_BROKER_ROLE_CHANGED (1008), oneway, from the controller to each live member of a
    /// group after an election; the body is a `SyncStateSet`.
    pub struct NotifyBrokerRoleChangedRequestHeader {
        opt master_address: String => "masterAddress",
        opt master_epoch: i32 => "masterEpoch",
        opt sync_state_set_epoch: i32 => "syncStateSetEpoch",
        opt master_broker_id: i64 => "masterBrokerId",
    }
}

command_header! {
    /// CLEAN_BROKER_DATA (1011). `brokerControllerIdsToClean` is `1;2;3`.
    pub struct CleanControllerBrokerDataRequestHeader {
        opt cluster_name: String => "clusterName",
        opt broker_name: String => "brokerName",
        opt broker_controller_ids_to_clean: String => "brokerControllerIdsToClean",
        opt is_clean_living_broker: bool => "isCleanLivingBroker",
        opt invoke_time: i64 => "invokeTime",
    }
}

command_header! {
    /// CONTROLLER_GET_NEXT_BROKER_ID (1012).
    pub struct GetNextBrokerIdRequestHeader {
        opt cluster_name: String => "clusterName",
        opt broker_name: String => "brokerName",
    }
}

command_header! {
    /// The answer to CONTROLLER_GET_NEXT_BROKER_ID.
    pub struct GetNextBrokerIdResponseHeader {
        opt cluster_name: String => "clusterName",
        opt broker_name: String => "brokerName",
        opt next_broker_id: i64 => "nextBrokerId",
    }
}

command_header! {
    /// CONTROLLER_APPLY_BROKER_ID (1013). `registerCheckCode` is `<brokerAddr>;<millis>`.
    pub struct ApplyBrokerIdRequestHeader {
        opt cluster_name: String => "clusterName",
        opt broker_name: String => "brokerName",
        opt applied_broker_id: i64 => "appliedBrokerId",
        opt register_check_code: String => "registerCheckCode",
    }
}

command_header! {
    /// The answer to CONTROLLER_APPLY_BROKER_ID.
    pub struct ApplyBrokerIdResponseHeader {
        opt cluster_name: String => "clusterName",
        opt broker_name: String => "brokerName",
    }
}
