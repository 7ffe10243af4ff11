//! What the user sends and gets back: [`Message`], [`MessageQueue`], [`SendStatus`],
//! [`SendResult`].

use std::collections::HashMap;
use std::fmt;

use bytes::Bytes;
use rmq_protocol::message::property;

/// A message to send. `properties` travel as the properties string (docs/format/message.md#properties).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    /// User flag, stored verbatim by the broker.
    pub flag: i32,
    pub body: Bytes,
    pub properties: HashMap<String, String>,
}

impl Message {
    /// A message with `WAIT=true`, like the Java constructor.
    pub fn new(topic: impl Into<String>, body: impl Into<Bytes>) -> Self {
        let mut properties = HashMap::new();
        properties.insert(property::WAIT.to_owned(), "true".to_owned());
        Message {
            topic: topic.into(),
            flag: 0,
            body: body.into(),
            properties,
        }
    }

    /// Sets `TAGS` (one tag; the consumer filters on it).
    pub fn with_tags(self, tags: impl Into<String>) -> Self {
        self.with_property(property::TAGS, tags)
    }

    /// Sets `KEYS`; several keys are separated by a space.
    pub fn with_keys(self, keys: impl Into<String>) -> Self {
        self.with_property(property::KEYS, keys)
    }

    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    pub fn with_flag(mut self, flag: i32) -> Self {
        self.flag = flag;
        self
    }

    /// Sets `DELAY`: the broker parks the message on delay level `level` (1..=18 by default).
    pub fn with_delay_time_level(mut self, level: i32) -> Self {
        self.set_delay_time_level(level);
        self
    }

    pub fn set_delay_time_level(&mut self, level: i32) {
        self.properties
            .insert(property::DELAY.to_owned(), level.to_string());
    }

    /// Sets `TIMER_DELIVER_MS`: the broker holds the message until this time (ms since the
    /// epoch; 5.x brokers and rmq, to `timerPrecisionMs`, at most `timerMaxDelaySec` ahead).
    /// Java `Message.setDeliverTimeMs`.
    pub fn with_deliver_time_ms(self, epoch_ms: i64) -> Self {
        self.with_property(property::TIMER_DELIVER_MS, epoch_ms.to_string())
    }

    /// Sets `TIMER_DELAY_MS`: held for this long after the broker receives it (Java
    /// `Message.setDelayTimeMs`).
    pub fn with_delay_ms(self, ms: i64) -> Self {
        self.with_property(property::TIMER_DELAY_MS, ms.to_string())
    }

    /// Sets `TIMER_DELAY_SEC` (Java `Message.setDelayTimeSec`).
    pub fn with_delay_sec(self, secs: i64) -> Self {
        self.with_property(property::TIMER_DELAY_SEC, secs.to_string())
    }

    /// The deliver time asked with [`Message::with_deliver_time_ms`], if any.
    pub fn deliver_time_ms(&self) -> Option<i64> {
        self.property(property::TIMER_DELIVER_MS)
            .and_then(|v| v.trim().parse().ok())
    }

    /// Sets `WAIT`: whether the broker waits for flush/replication before answering.
    pub fn with_wait_store_msg_ok(self, wait: bool) -> Self {
        self.with_property(property::WAIT, wait.to_string())
    }

    pub fn tags(&self) -> Option<&str> {
        self.property(property::TAGS)
    }

    pub fn keys(&self) -> Option<&str> {
        self.property(property::KEYS)
    }

    pub fn delay_time_level(&self) -> Option<i32> {
        self.property(property::DELAY).and_then(|v| v.trim().parse().ok())
    }

    /// The client message id (`UNIQ_KEY`), set by the producer on the first send attempt.
    pub fn uniq_key(&self) -> Option<&str> {
        self.property(property::UNIQ_KEY)
    }

    /// `WAIT`; absent counts as `true` (Java `isWaitStoreMsgOK`).
    pub fn wait_store_msg_ok(&self) -> bool {
        self.property(property::WAIT) != Some("false")
    }

    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }
}

/// One queue of a topic on one broker.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageQueue {
    pub topic: String,
    pub broker_name: String,
    pub queue_id: i32,
}

impl MessageQueue {
    pub fn new(topic: impl Into<String>, broker_name: impl Into<String>, queue_id: i32) -> Self {
        MessageQueue {
            topic: topic.into(),
            broker_name: broker_name.into(),
            queue_id,
        }
    }
}

/// The wire form (fields in JSON order) used inside admin bodies.
impl From<rmq_protocol::body::MessageQueue> for MessageQueue {
    fn from(mq: rmq_protocol::body::MessageQueue) -> Self {
        MessageQueue {
            topic: mq.topic,
            broker_name: mq.broker_name,
            queue_id: mq.queue_id,
        }
    }
}

impl From<MessageQueue> for rmq_protocol::body::MessageQueue {
    fn from(mq: MessageQueue) -> Self {
        rmq_protocol::body::MessageQueue::new(mq.topic, mq.broker_name, mq.queue_id)
    }
}

impl fmt::Display for MessageQueue {
    /// Java `MessageQueue.toString()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MessageQueue [topic={}, brokerName={}, queueId={}]",
            self.topic, self.broker_name, self.queue_id
        )
    }
}

/// Outcome of a stored message (docs/protocol/codes.md#send-status). Anything else is a
/// [`crate::ClientError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SendStatus {
    SendOk,
    FlushDiskTimeout,
    FlushSlaveTimeout,
    SlaveNotAvailable,
}

impl SendStatus {
    /// The Java enum name.
    pub fn name(self) -> &'static str {
        match self {
            SendStatus::SendOk => "SEND_OK",
            SendStatus::FlushDiskTimeout => "FLUSH_DISK_TIMEOUT",
            SendStatus::FlushSlaveTimeout => "FLUSH_SLAVE_TIMEOUT",
            SendStatus::SlaveNotAvailable => "SLAVE_NOT_AVAILABLE",
        }
    }
}

impl fmt::Display for SendStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a successful send returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendResult {
    pub send_status: SendStatus,
    /// The client's UNIQ_KEY (comma-joined for a batch).
    pub msg_id: String,
    /// The broker's id: store host + commitlog offset (comma-joined for a batch).
    pub offset_msg_id: String,
    pub message_queue: MessageQueue,
    pub queue_offset: i64,
}

impl fmt::Display for SendResult {
    /// Java `SendResult.toString()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SendResult [sendStatus={}, msgId={}, offsetMsgId={}, messageQueue={}, queueOffset={}]",
            self.send_status, self.msg_id, self.offset_msg_id, self.message_queue, self.queue_offset
        )
    }
}

/// A received message printed like Java's `MessageExt.toString()` (what the quickstart consumer
/// prints), except that the body is shown as (lossy UTF-8) text, properties are sorted, and
/// there is no `brokerName`. `msgId` is the client id (UNIQ_KEY) when there is one.
pub struct MessageExtDisplay<'a>(pub &'a rmq_protocol::message::MessageExt);

impl fmt::Display for MessageExtDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        let mut props: Vec<(&String, &String)> = m.properties.iter().collect();
        props.sort();
        let props: Vec<String> = props.iter().map(|(k, v)| format!("{k}={v}")).collect();
        write!(
            f,
            "MessageExt [queueId={}, storeSize={}, queueOffset={}, sysFlag={}, bornTimestamp={}, \
             bornHost=/{}, storeTimestamp={}, storeHost=/{}, msgId={}, commitLogOffset={}, bodyCRC={}, \
             reconsumeTimes={}, preparedTransactionOffset={}, toString()=Message{{topic='{}', flag={}, \
             properties={{{}}}, body={}, transactionId='null'}}]",
            m.queue_id,
            m.store_size,
            m.queue_offset,
            m.sys_flag,
            m.born_timestamp,
            m.born_host,
            m.store_timestamp,
            m.store_host,
            m.client_msg_id(),
            m.commit_log_offset,
            m.body_crc,
            m.reconsume_times,
            m.prepared_transaction_offset,
            m.topic,
            m.flag,
            props.join(", "),
            String::from_utf8_lossy(&m.body),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_result_display_matches_java() {
        let result = SendResult {
            send_status: SendStatus::SendOk,
            msg_id: "7F00000100002A9F0000000000000000".into(),
            offset_msg_id: "C0A8000100002A9F0000000000001000".into(),
            message_queue: MessageQueue::new("TopicTest", "broker-a", 0),
            queue_offset: 0,
        };
        assert_eq!(
            result.to_string(),
            "SendResult [sendStatus=SEND_OK, msgId=7F00000100002A9F0000000000000000, \
             offsetMsgId=C0A8000100002A9F0000000000001000, messageQueue=MessageQueue \
             [topic=TopicTest, brokerName=broker-a, queueId=0], queueOffset=0]"
        );
        let flush = SendResult {
            send_status: SendStatus::FlushSlaveTimeout,
            ..result
        };
        assert!(flush
            .to_string()
            .starts_with("SendResult [sendStatus=FLUSH_SLAVE_TIMEOUT, "));
    }

    #[test]
    fn message_accessors() {
        let mut msg = Message::new("T", "hi").with_tags("TagA").with_keys("k1 k2");
        msg.set_delay_time_level(3);
        assert_eq!(msg.tags(), Some("TagA"));
        assert_eq!(msg.keys(), Some("k1 k2"));
        assert_eq!(msg.delay_time_level(), Some(3));
        assert!(msg.wait_store_msg_ok());
        assert!(!msg.with_wait_store_msg_ok(false).wait_store_msg_ok());
    }
}
