//! POP consumption headers (5.x `PopMessageRequestHeader` and friends; docs/protocol/pop.md).

use super::command_header;

command_header! {
    /// POP_MESSAGE (200050). `queueId` < 0 means any queue.
    pub struct PopMessageRequestHeader {
        req consumer_group: String => "consumerGroup",
        req topic: String => "topic",
        req queue_id: i32 => "queueId",
        req max_msg_nums: i32 => "maxMsgNums",
        /// ms
        req invisible_time: i64 => "invisibleTime",
        /// ms; 0 or less: no long polling.
        req poll_time: i64 => "pollTime",
        /// ms; absent or 0: the broker's receipt time.
        prim born_time: i64 => "bornTime",
        /// 0: from the queue's first offset, 1: from its last (ConsumeInitMode).
        prim init_mode: i32 => "initMode",
        opt exp_type: String => "expType",
        opt exp: String => "exp",
        opt order: bool => "order",
        opt attempt_id: String => "attemptId",
        opt bname: String => "bname",
    }
}

command_header! {
    /// The POP_MESSAGE response (SUCCESS, POLLING_FULL and POLLING_TIMEOUT alike).
    pub struct PopMessageResponseHeader {
        req pop_time: i64 => "popTime",
        req invisible_time: i64 => "invisibleTime",
        req revive_qid: i32 => "reviveQid",
        req rest_num: i64 => "restNum",
        opt start_offset_info: String => "startOffsetInfo",
        opt msg_offset_info: String => "msgOffsetInfo",
        opt order_count_info: String => "orderCountInfo",
    }
}

command_header! {
    /// ACK_MESSAGE (200051): `topic` / `queueId` / `offset` are the message's own (a retry
    /// topic for a retried message); `extraInfo` its `POP_CK`.
    pub struct AckMessageRequestHeader {
        req consumer_group: String => "consumerGroup",
        req topic: String => "topic",
        req queue_id: i32 => "queueId",
        req extra_info: String => "extraInfo",
        req offset: i64 => "offset",
        opt bname: String => "bname",
    }
}

command_header! {
    /// CHANGE_MESSAGE_INVISIBLETIME (200053): the message's new invisible time (ms from now).
    pub struct ChangeInvisibleTimeRequestHeader {
        req consumer_group: String => "consumerGroup",
        req topic: String => "topic",
        req queue_id: i32 => "queueId",
        req extra_info: String => "extraInfo",
        req offset: i64 => "offset",
        req invisible_time: i64 => "invisibleTime",
        opt bname: String => "bname",
    }
}

command_header! {
    pub struct ChangeInvisibleTimeResponseHeader {
        req pop_time: i64 => "popTime",
        req invisible_time: i64 => "invisibleTime",
        req revive_qid: i32 => "reviveQid",
    }
}

command_header! {
    /// NOTIFICATION (200054): is there anything to pop (held up to `pollTime`)?
    pub struct NotificationRequestHeader {
        req consumer_group: String => "consumerGroup",
        req topic: String => "topic",
        req queue_id: i32 => "queueId",
        req poll_time: i64 => "pollTime",
        req born_time: i64 => "bornTime",
        opt order: bool => "order",
        opt attempt_id: String => "attemptId",
        opt bname: String => "bname",
    }
}

command_header! {
    pub struct NotificationResponseHeader {
        req has_msg: bool => "hasMsg",
    }
}

command_header! {
    /// POLLING_INFO (200055): POP requests held for a queue.
    pub struct PollingInfoRequestHeader {
        req consumer_group: String => "consumerGroup",
        req topic: String => "topic",
        req queue_id: i32 => "queueId",
        opt bname: String => "bname",
    }
}

command_header! {
    pub struct PollingInfoResponseHeader {
        req polling_num: i32 => "pollingNum",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::CommandHeader;
    use std::collections::HashMap;

    fn ext(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pop_request_as_the_5x_client_sends_it() {
        // The fields of a 5.3.1 DefaultMQPushConsumer's POP_MESSAGE (no bornTime: the broker fills it).
        let h = PopMessageRequestHeader::decode_ext(&ext(&[
            ("consumerGroup", "G"),
            ("topic", "T"),
            ("queueId", "-1"),
            ("maxMsgNums", "32"),
            ("invisibleTime", "60000"),
            ("pollTime", "15000"),
            ("initMode", "0"),
            ("expType", "TAG"),
            ("exp", "*"),
            ("order", "false"),
            ("bname", "broker-a"),
        ]))
        .unwrap();
        assert_eq!(
            (
                h.queue_id,
                h.max_msg_nums,
                h.invisible_time,
                h.poll_time,
                h.born_time
            ),
            (-1, 32, 60_000, 15_000, 0)
        );
        assert_eq!(h.order, Some(false));
        let mut out = HashMap::new();
        h.encode_ext(&mut out);
        assert_eq!(PopMessageRequestHeader::decode_ext(&out).unwrap(), h);
        assert!(PopMessageRequestHeader::decode_ext(&ext(&[("consumerGroup", "G")])).is_err());
    }

    #[test]
    fn ack_and_change_invisible_need_every_field() {
        let full = [
            ("consumerGroup", "G"),
            ("topic", "T"),
            ("queueId", "1"),
            ("extraInfo", "10 1 2 3 0 b 1 12"),
            ("offset", "12"),
        ];
        let a = AckMessageRequestHeader::decode_ext(&ext(&full)).unwrap();
        assert_eq!((a.queue_id, a.offset), (1, 12));
        for i in 0..full.len() {
            let mut less = full.to_vec();
            less.remove(i);
            assert!(
                AckMessageRequestHeader::decode_ext(&ext(&less)).is_err(),
                "without {}",
                full[i].0
            );
        }
        let mut with_time = full.to_vec();
        with_time.push(("invisibleTime", "30000"));
        let c = ChangeInvisibleTimeRequestHeader::decode_ext(&ext(&with_time)).unwrap();
        assert_eq!(c.invisible_time, 30_000);
        assert!(ChangeInvisibleTimeRequestHeader::decode_ext(&ext(&full)).is_err());
    }
}
