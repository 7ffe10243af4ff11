//! Building send requests and reading send responses (docs/protocol/headers.md#send,
//! docs/protocol/headers.md#send-response, docs/protocol/codes.md#send-status,
//! docs/format/message.md#send-body, docs/format/message.md#batch-body). Pure: no I/O, so every rule here is
//! unit-tested.

use bytes::{Bytes, BytesMut};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::{SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader};
use rmq_protocol::message::{
    self, encode_batch, encode_properties, encode_property_map, property, sys_flag, BatchEntry,
    UniqIdGenerator,
};
use rmq_protocol::RemotingCommand;

use crate::client::broker_error;
use crate::config::ClientConfig;
use crate::message::{Message, MessageQueue, SendResult, SendStatus};
use crate::ClientError;

/// Template topic for auto-creation (`TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC`).
pub const AUTO_CREATE_TOPIC: &str = "TBW102";
/// Prefix of retry topics.
const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";
/// zlib level of the Java producer (`rocketmq.message.compressLevel`).
const COMPRESS_LEVEL: u32 = 5;
/// Topics the Java client refuses to send to (`TopicValidator.NOT_ALLOWED_SEND_TOPIC_SET`).
const NOT_ALLOWED_SEND_TOPICS: &[&str] = &[
    "SCHEDULE_TOPIC_XXXX",
    "RMQ_SYS_TRANS_HALF_TOPIC",
    "RMQ_SYS_TRANS_OP_HALF_TOPIC",
    "TRANS_CHECK_MAX_TIME_TOPIC",
    "SELF_TEST_TOPIC",
    "OFFSET_MOVED_EVENT",
];

/// A message (or batch) ready to go to any queue of its topic: validated, UNIQ_KEY assigned,
/// properties encoded, body compressed or batch-encoded. Retries reuse it unchanged.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub topic: String,
    pub code: i32,
    pub body: Bytes,
    pub properties: String,
    pub sys_flag: i32,
    pub flag: i32,
    pub batch: bool,
    pub reconsume_times: i32,
    pub max_reconsume_times: Option<i32>,
    /// `SendResult::msg_id`: the UNIQ_KEY, or the comma-joined UNIQ_KEYs of a batch.
    pub msg_id: String,
}

/// Client-side checks of `Validators.checkMessage` (topic, forbidden topics, body size).
fn validate(msg: &Message, config: &ClientConfig) -> Result<(), ClientError> {
    message::validate_topic(&msg.topic).map_err(ClientError::InvalidMessage)?;
    if NOT_ALLOWED_SEND_TOPICS.contains(&msg.topic.as_str()) {
        return Err(ClientError::InvalidMessage(format!(
            "Sending message to topic[{}] is forbidden.",
            msg.topic
        )));
    }
    if msg.body.is_empty() {
        return Err(ClientError::InvalidMessage("the message body is empty".into()));
    }
    if msg.body.len() > config.max_message_size {
        return Err(ClientError::InvalidMessage(format!(
            "the message body size over max value, MAX: {}",
            config.max_message_size
        )));
    }
    Ok(())
}

/// Sets `UNIQ_KEY` unless the message already has one; returns it.
fn assign_uniq_key(msg: &mut Message, ids: &UniqIdGenerator) -> String {
    msg.properties
        .entry(property::UNIQ_KEY.to_owned())
        .or_insert_with(|| ids.next_id())
        .clone()
}

/// A single message (SEND_MESSAGE_V2).
pub(crate) fn prepare_single(
    mut msg: Message,
    config: &ClientConfig,
    ids: &UniqIdGenerator,
) -> Result<Prepared, ClientError> {
    validate(&msg, config)?;
    let msg_id = assign_uniq_key(&mut msg, ids);
    let mut sys = 0;
    let mut body = msg.body.clone();
    if body.len() >= config.compress_over_bytes {
        let compressed = message::zlib_compress(&body, COMPRESS_LEVEL);
        if !compressed.is_empty() {
            body = Bytes::from(compressed);
            sys |= sys_flag::COMPRESSED | sys_flag::COMPRESSION_ZLIB;
        }
    }
    if msg.property(property::TRAN_MSG) == Some("true") {
        sys |= sys_flag::TRANSACTION_PREPARED_TYPE;
    }
    let mut reconsume_times = 0;
    let mut max_reconsume_times = None;
    if msg.topic.starts_with(RETRY_GROUP_TOPIC_PREFIX) {
        if let Some(v) = msg.properties.remove(property::RECONSUME_TIME) {
            reconsume_times = v.trim().parse().unwrap_or(0);
        }
        if let Some(v) = msg.properties.remove(property::MAX_RECONSUME_TIMES) {
            max_reconsume_times = v.trim().parse().ok();
        }
    }
    Ok(Prepared {
        properties: encode_property_map(&msg.properties),
        topic: msg.topic,
        code: request_code::SEND_MESSAGE_V2,
        body,
        sys_flag: sys,
        flag: msg.flag,
        batch: false,
        reconsume_times,
        max_reconsume_times,
        msg_id,
    })
}

/// A batch (SEND_BATCH_MESSAGE): one topic, no delay, no retry topic, one `WAIT` value; each
/// message gets its own UNIQ_KEY; the batch itself only carries `WAIT` (docs/format/message.md#batch-body).
pub(crate) fn prepare_batch(
    msgs: Vec<Message>,
    config: &ClientConfig,
    ids: &UniqIdGenerator,
) -> Result<Prepared, ClientError> {
    let Some(first) = msgs.first() else {
        return Err(ClientError::InvalidMessage("the batch is empty".into()));
    };
    let topic = first.topic.clone();
    let wait = first.wait_store_msg_ok();
    let mut entries = Vec::with_capacity(msgs.len());
    let mut uniq_keys = Vec::with_capacity(msgs.len());
    for mut msg in msgs {
        validate(&msg, config)?;
        if msg.topic != topic {
            return Err(ClientError::InvalidMessage(
                "the topic of the messages in one batch should be the same".into(),
            ));
        }
        if msg.delay_time_level().is_some_and(|l| l > 0) {
            return Err(ClientError::InvalidMessage(
                "TimeDelayLevel is not supported for batching".into(),
            ));
        }
        if msg.topic.starts_with(RETRY_GROUP_TOPIC_PREFIX) {
            return Err(ClientError::InvalidMessage(
                "Retry Group is not supported for batching".into(),
            ));
        }
        if msg.wait_store_msg_ok() != wait {
            return Err(ClientError::InvalidMessage(
                "The waitStoreMsgOK of the messages in one batch should the same".into(),
            ));
        }
        uniq_keys.push(assign_uniq_key(&mut msg, ids));
        entries.push(BatchEntry {
            flag: msg.flag,
            body: msg.body,
            properties: encode_property_map(&msg.properties),
        });
    }
    let mut body = BytesMut::new();
    encode_batch(&entries, &mut body);
    if body.len() > config.max_message_size {
        return Err(ClientError::InvalidMessage(format!(
            "the batch body size {} is over max value {}",
            body.len(),
            config.max_message_size
        )));
    }
    Ok(Prepared {
        topic,
        code: request_code::SEND_BATCH_MESSAGE,
        body: body.freeze(),
        properties: encode_properties(&[(property::WAIT, wait.to_string())]),
        sys_flag: 0,
        flag: 0,
        batch: true,
        reconsume_times: 0,
        max_reconsume_times: None,
        msg_id: uniq_keys.join(","),
    })
}

/// The request for `prepared` to queue `mq` (V2 header, docs/protocol/headers.md#send).
pub(crate) fn build_request(
    prepared: &Prepared,
    mq: &MessageQueue,
    group: &str,
    config: &ClientConfig,
) -> RemotingCommand {
    let header = SendMessageRequestHeader {
        producer_group: group.to_owned(),
        topic: prepared.topic.clone(),
        default_topic: AUTO_CREATE_TOPIC.to_owned(),
        default_topic_queue_nums: config.default_topic_queue_nums,
        queue_id: mq.queue_id,
        sys_flag: prepared.sys_flag,
        born_timestamp: config.clock.now_ms(),
        flag: prepared.flag,
        properties: Some(prepared.properties.clone()),
        reconsume_times: Some(prepared.reconsume_times),
        unit_mode: false,
        max_reconsume_times: prepared.max_reconsume_times,
        batch: prepared.batch,
        bname: Some(mq.broker_name.clone()),
    };
    let mut cmd = RemotingCommand::request(prepared.code)
        .with_header(&SendMessageRequestHeaderV2(header))
        .with_body(prepared.body.clone());
    cmd.language = config.language;
    cmd
}

/// `processSendResponse`: the four storing codes are results, anything else an error.
pub(crate) fn read_response(
    resp: &RemotingCommand,
    prepared: &Prepared,
    broker_name: &str,
) -> Result<SendResult, ClientError> {
    let send_status = match resp.code {
        response_code::SUCCESS => SendStatus::SendOk,
        response_code::FLUSH_DISK_TIMEOUT => SendStatus::FlushDiskTimeout,
        response_code::FLUSH_SLAVE_TIMEOUT => SendStatus::FlushSlaveTimeout,
        response_code::SLAVE_NOT_AVAILABLE => SendStatus::SlaveNotAvailable,
        _ => return Err(broker_error(resp)),
    };
    let header: SendMessageResponseHeader = resp.header()?;
    Ok(SendResult {
        send_status,
        msg_id: prepared.msg_id.clone(),
        offset_msg_id: header.msg_id,
        message_queue: MessageQueue::new(&prepared.topic, broker_name, header.queue_id),
        queue_offset: header.queue_offset,
    })
}

/// Broker codes after which a synchronous send tries another broker (docs/protocol/codes.md#send-status),
/// plus SYSTEM_BUSY (a broker under flow control; the 5.x client retries it, 4.9 does not).
const RETRY_RESPONSE_CODES: &[i32] = &[
    response_code::TOPIC_NOT_EXIST,
    response_code::SERVICE_NOT_AVAILABLE,
    response_code::SYSTEM_ERROR,
    response_code::SYSTEM_BUSY,
    response_code::NO_PERMISSION,
    response_code::NO_BUYER_ID,
    response_code::NOT_IN_CURRENT_UNIT,
];

/// Which failures are worth another attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryPolicy {
    /// `sendDefaultImpl`: transport and client errors, and the broker codes above.
    Sync,
    /// `onExceptionImpl`: transport errors only.
    Async,
}

impl RetryPolicy {
    pub fn should_retry(self, err: &ClientError) -> bool {
        match (self, err) {
            (_, ClientError::Remoting { .. }) => true,
            (RetryPolicy::Sync, ClientError::Wire(_) | ClientError::NoBrokerAddr(_)) => true,
            (RetryPolicy::Sync, ClientError::Broker { code, .. }) => RETRY_RESPONSE_CODES.contains(code),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use rmq_protocol::message::{decode_batch, decode_properties};

    use super::*;

    fn config() -> ClientConfig {
        ClientConfig {
            namesrv_addr: vec![],
            client_ip: "10.0.0.1".into(),
            ..Default::default()
        }
    }

    fn ids() -> UniqIdGenerator {
        UniqIdGenerator::with_ip("10.0.0.1".parse().unwrap())
    }

    #[test]
    fn single_message_gets_uniq_key_and_v2_header() {
        let cfg = config();
        let msg = Message::new("TopicTest", "Hello")
            .with_tags("TagA")
            .with_keys("K1");
        let p = prepare_single(msg, &cfg, &ids()).unwrap();
        assert_eq!(p.msg_id.len(), 32);
        assert!(p.msg_id.starts_with("0A000001"));
        let props = decode_properties(&p.properties);
        assert_eq!(props.get(property::UNIQ_KEY), Some(&p.msg_id));
        assert_eq!(props.get(property::TAGS).map(String::as_str), Some("TagA"));
        assert_eq!(props.get(property::WAIT).map(String::as_str), Some("true"));

        let req = build_request(&p, &MessageQueue::new("TopicTest", "broker-a", 3), "PG", &cfg);
        assert_eq!(req.code, request_code::SEND_MESSAGE_V2);
        for (k, v) in [
            ("a", "PG"),
            ("b", "TopicTest"),
            ("c", "TBW102"),
            ("d", "4"),
            ("e", "3"),
            ("f", "0"),
            ("h", "0"),
            ("j", "0"),
            ("k", "false"),
            ("m", "false"),
            ("n", "broker-a"),
        ] {
            assert_eq!(req.ext(k), Some(v), "key {k}");
        }
        assert_eq!(req.ext("i"), Some(p.properties.as_str()));
        assert_eq!(&req.body[..], b"Hello");
    }

    #[test]
    fn existing_uniq_key_is_kept() {
        let msg = Message::new("T", "x").with_property(property::UNIQ_KEY, "ABC");
        assert_eq!(prepare_single(msg, &config(), &ids()).unwrap().msg_id, "ABC");
    }

    #[test]
    fn large_bodies_are_zlib_compressed() {
        let body = vec![b'a'; 5000];
        let p = prepare_single(Message::new("T", body.clone()), &config(), &ids()).unwrap();
        assert_eq!(p.sys_flag, 0x301);
        assert!(p.body.len() < body.len());
        assert_eq!(message::zlib_decompress(&p.body, 1 << 20).unwrap(), body);
    }

    #[test]
    fn invalid_messages_are_refused() {
        let cfg = config();
        for msg in [
            Message::new("bad topic", "x"),
            Message::new("T", ""),
            Message::new("SCHEDULE_TOPIC_XXXX", "x"),
            Message::new("T", vec![0u8; cfg.max_message_size + 1]),
        ] {
            assert!(matches!(
                prepare_single(msg, &cfg, &ids()),
                Err(ClientError::InvalidMessage(_))
            ));
        }
    }

    #[test]
    fn batch_encoding_and_ids() {
        let cfg = config();
        let msgs = vec![
            Message::new("T", "Hi").with_keys("K1"),
            Message::new("T", "Yo").with_flag(7),
        ];
        let p = prepare_batch(msgs, &cfg, &ids()).unwrap();
        assert_eq!(p.code, request_code::SEND_BATCH_MESSAGE);
        assert!(p.batch);
        assert_eq!(p.properties, "WAIT\u{1}true");
        let entries = decode_batch(&p.body).unwrap();
        assert_eq!(entries.len(), 2);
        let keys: Vec<String> = entries
            .iter()
            .map(|e| {
                decode_properties(&e.properties)
                    .get(property::UNIQ_KEY)
                    .cloned()
                    .unwrap()
            })
            .collect();
        assert_ne!(keys[0], keys[1]);
        assert_eq!(p.msg_id, keys.join(","));
        assert_eq!((&entries[0].body[..], entries[0].flag), (&b"Hi"[..], 0));
        assert_eq!((&entries[1].body[..], entries[1].flag), (&b"Yo"[..], 7));
        // Record layout of the first entry: TOTALSIZE, MAGIC 0, CRC 0, FLAG, BODYLEN, body, PROPLEN.
        let props_len = entries[0].properties.len();
        let total = 20 + 2 + 2 + props_len;
        assert_eq!(&p.body[..4], &(total as i32).to_be_bytes());
        assert_eq!(&p.body[4..20], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(&p.body[20..22], b"Hi");
        assert_eq!(&p.body[22..24], &(props_len as i16).to_be_bytes());

        let req = build_request(&p, &MessageQueue::new("T", "broker-a", 0), "PG", &cfg);
        assert_eq!(
            (req.ext("m"), req.ext("f"), req.ext("h")),
            (Some("true"), Some("0"), Some("0"))
        );
    }

    #[test]
    fn batch_rules() {
        let cfg = config();
        let mixed = vec![Message::new("A", "x"), Message::new("B", "x")];
        let delayed = vec![Message::new("A", "x").with_delay_time_level(2)];
        let retry = vec![Message::new("%RETRY%G", "x")];
        let waits = vec![
            Message::new("A", "x"),
            Message::new("A", "x").with_wait_store_msg_ok(false),
        ];
        for batch in [vec![], mixed, delayed, retry, waits] {
            assert!(matches!(
                prepare_batch(batch, &cfg, &ids()),
                Err(ClientError::InvalidMessage(_))
            ));
        }
    }

    #[test]
    fn retry_topic_moves_reconsume_properties_into_header() {
        let msg = Message::new("%RETRY%G", "x")
            .with_property(property::RECONSUME_TIME, "3")
            .with_property(property::MAX_RECONSUME_TIMES, "16");
        let p = prepare_single(msg, &config(), &ids()).unwrap();
        assert_eq!((p.reconsume_times, p.max_reconsume_times), (3, Some(16)));
        assert!(!p.properties.contains(property::RECONSUME_TIME));
    }

    #[test]
    fn response_codes_map_to_status_or_error() {
        let p = prepare_single(Message::new("T", "x"), &config(), &ids()).unwrap();
        let ok = RemotingCommand::response(response_code::FLUSH_DISK_TIMEOUT)
            .with_ext("msgId", "C0A8000100002A9F0000000000001000")
            .with_ext("queueId", "2")
            .with_ext("queueOffset", "42");
        let r = read_response(&ok, &p, "broker-a").unwrap();
        assert_eq!(r.send_status, SendStatus::FlushDiskTimeout);
        assert_eq!(r.message_queue, MessageQueue::new("T", "broker-a", 2));
        assert_eq!((r.queue_offset, r.msg_id.as_str()), (42, p.msg_id.as_str()));
        let err = RemotingCommand::response(response_code::MESSAGE_ILLEGAL).with_remark("too big");
        let e = read_response(&err, &p, "broker-a").unwrap_err();
        assert!(matches!(&e, ClientError::Broker { code: 13, remark } if remark == "too big"));
        assert!(!RetryPolicy::Sync.should_retry(&e));
        assert!(RetryPolicy::Sync.should_retry(&ClientError::Broker {
            code: 1,
            remark: String::new()
        }));
        assert!(!RetryPolicy::Async.should_retry(&ClientError::Broker {
            code: 1,
            remark: String::new()
        }));
    }
}
