//! Client ↔ broker headers: offsets, client management, send-back, query, transactions
//! (docs/protocol/headers.md).

use super::command_header;

command_header! {
    /// QUERY_CONSUMER_OFFSET (14).
    pub struct QueryConsumerOffsetRequestHeader {
        req consumer_group: String => "consumerGroup",
        req topic: String => "topic",
        req queue_id: i32 => "queueId",
        opt bname: String => "bname",
    }
}

command_header! {
    pub struct QueryConsumerOffsetResponseHeader {
        req offset: i64 => "offset",
    }
}

command_header! {
    /// UPDATE_CONSUMER_OFFSET (15); usually oneway.
    pub struct UpdateConsumerOffsetRequestHeader {
        req consumer_group: String => "consumerGroup",
        req topic: String => "topic",
        req queue_id: i32 => "queueId",
        req commit_offset: i64 => "commitOffset",
        opt bname: String => "bname",
    }
}

command_header! {
    /// GET_MAX_OFFSET (30).
    pub struct GetMaxOffsetRequestHeader {
        req topic: String => "topic",
        req queue_id: i32 => "queueId",
        opt bname: String => "bname",
    }
}

command_header! {
    pub struct GetMaxOffsetResponseHeader {
        req offset: i64 => "offset",
    }
}

command_header! {
    /// GET_MIN_OFFSET (31).
    pub struct GetMinOffsetRequestHeader {
        req topic: String => "topic",
        req queue_id: i32 => "queueId",
        opt bname: String => "bname",
    }
}

command_header! {
    pub struct GetMinOffsetResponseHeader {
        req offset: i64 => "offset",
    }
}

command_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP (29).
    pub struct SearchOffsetRequestHeader {
        req topic: String => "topic",
        req queue_id: i32 => "queueId",
        req timestamp: i64 => "timestamp",
        opt bname: String => "bname",
    }
}

command_header! {
    pub struct SearchOffsetResponseHeader {
        req offset: i64 => "offset",
    }
}

command_header! {
    /// GET_EARLIEST_MSG_STORETIME (32).
    pub struct GetEarliestMsgStoretimeRequestHeader {
        req topic: String => "topic",
        req queue_id: i32 => "queueId",
        opt bname: String => "bname",
    }
}

command_header! {
    pub struct GetEarliestMsgStoretimeResponseHeader {
        req timestamp: i64 => "timestamp",
    }
}

command_header! {
    /// UNREGISTER_CLIENT (35). Note the wire key `clientID`.
    pub struct UnregisterClientRequestHeader {
        req client_id: String => "clientID",
        opt producer_group: String => "producerGroup",
        opt consumer_group: String => "consumerGroup",
    }
}

command_header! {
    /// GET_CONSUMER_LIST_BY_GROUP (38).
    pub struct GetConsumerListByGroupRequestHeader {
        req consumer_group: String => "consumerGroup",
    }
}

command_header! {
    /// NOTIFY_CONSUMER_IDS_CHANGED (40), broker → client, oneway.
    pub struct NotifyConsumerIdsChangedRequestHeader {
        req consumer_group: String => "consumerGroup",
    }
}

command_header! {
    /// CONSUMER_SEND_MSG_BACK (36).
    pub struct ConsumerSendMsgBackRequestHeader {
        /// Commitlog offset of the message being returned.
        req offset: i64 => "offset",
        req group: String => "group",
        req delay_level: i32 => "delayLevel",
        opt origin_msg_id: String => "originMsgId",
        opt origin_topic: String => "originTopic",
        prim unit_mode: bool => "unitMode",
        opt max_reconsume_times: i32 => "maxReconsumeTimes",
        opt bname: String => "bname",
    }
}

command_header! {
    /// QUERY_MESSAGE (12). `_UNIQUE_KEY_QUERY` is an extra ext key (see [`UNIQUE_KEY_QUERY`]).
    pub struct QueryMessageRequestHeader {
        req topic: String => "topic",
        req key: String => "key",
        req max_num: i32 => "maxNum",
        req begin_timestamp: i64 => "beginTimestamp",
        req end_timestamp: i64 => "endTimestamp",
    }
}

/// Extra ext key of QUERY_MESSAGE: `"true"` when `key` is a UNIQ_KEY.
pub const UNIQUE_KEY_QUERY: &str = "_UNIQUE_KEY_QUERY";

command_header! {
    pub struct QueryMessageResponseHeader {
        req index_last_update_timestamp: i64 => "indexLastUpdateTimestamp",
        req index_last_update_phyoffset: i64 => "indexLastUpdatePhyoffset",
    }
}

command_header! {
    /// VIEW_MESSAGE_BY_ID (33): `offset` is the commitlog offset.
    pub struct ViewMessageRequestHeader {
        req offset: i64 => "offset",
    }
}

command_header! {
    /// END_TRANSACTION (37), oneway.
    pub struct EndTransactionRequestHeader {
        req producer_group: String => "producerGroup",
        req tran_state_table_offset: i64 => "tranStateTableOffset",
        req commit_log_offset: i64 => "commitLogOffset",
        /// 0 = unknown, 8 = commit, 12 = rollback.
        req commit_or_rollback: i32 => "commitOrRollback",
        opt from_transaction_check: bool => "fromTransactionCheck",
        req msg_id: String => "msgId",
        opt transaction_id: String => "transactionId",
        opt bname: String => "bname",
    }
}

command_header! {
    /// CHECK_TRANSACTION_STATE (39), broker → client, oneway.
    pub struct CheckTransactionStateRequestHeader {
        req tran_state_table_offset: i64 => "tranStateTableOffset",
        req commit_log_offset: i64 => "commitLogOffset",
        opt msg_id: String => "msgId",
        opt transaction_id: String => "transactionId",
        opt offset_msg_id: String => "offsetMsgId",
        opt bname: String => "bname",
    }
}
