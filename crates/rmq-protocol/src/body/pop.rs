//! POP bodies (docs/protocol/pop.md): the revive log's checkpoint and ack records
//! (`PopCheckPoint`, `AckMsg`, `BatchAckMsg`), BATCH_ACK_MESSAGE's body, QUERY_ASSIGNMENT and
//! SET_MESSAGE_REQUEST_MODE bodies and `messageRequestMode.json`.
//!
//! The revive-log records use the short names fastjson writes for the 5.3.1 classes (`so`, `pt`,
//! ...), so a revive log written by either broker reads the same.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{de_lenient_i64, MessageQueue};

/// A pop's checkpoint (`PopCheckPoint`): the messages one pop took from one queue, and which
/// of them are acknowledged (`bm`, bit i = the i-th message).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PopCheckPoint {
    #[serde(rename = "bm")]
    pub bit_map: i32,
    #[serde(rename = "bn", skip_serializing_if = "Option::is_none")]
    pub broker_name: Option<String>,
    /// The consumer group.
    #[serde(rename = "c")]
    pub cid: String,
    /// Queue offset of each message minus `start_offset`.
    #[serde(rename = "d", skip_serializing_if = "Vec::is_empty")]
    pub queue_offset_diff: Vec<i32>,
    #[serde(rename = "it")]
    pub invisible_time: i64,
    #[serde(rename = "n")]
    pub num: i32,
    #[serde(rename = "pt")]
    pub pop_time: i64,
    #[serde(rename = "q")]
    pub queue_id: i32,
    /// fastjson writes the getter `getReviveTime` (= pt + it); read and ignored.
    #[serde(rename = "reviveTime", skip_deserializing)]
    pub revive_time: i64,
    /// Queue offset of the checkpoint record itself in the revive queue.
    #[serde(rename = "ro")]
    pub revive_offset: i64,
    #[serde(rename = "rp", skip_serializing_if = "Option::is_none")]
    pub re_put_times: Option<String>,
    #[serde(rename = "so")]
    pub start_offset: i64,
    /// The real topic (the pop retry topic for a retried message).
    #[serde(rename = "t")]
    pub topic: String,
}

impl PopCheckPoint {
    /// Queue offset of the i-th message.
    pub fn offset_at(&self, i: usize) -> Option<i64> {
        if self.queue_offset_diff.is_empty() {
            return (i < self.num.max(0) as usize).then(|| self.start_offset + i as i64);
        }
        self.queue_offset_diff
            .get(i)
            .map(|d| self.start_offset + i64::from(*d))
    }

    /// Index of the message at `offset` (`indexOfAck`).
    pub fn index_of(&self, offset: i64) -> Option<usize> {
        let diff = offset.checked_sub(self.start_offset)?;
        if self.queue_offset_diff.is_empty() {
            return (diff >= 0 && diff < i64::from(self.num)).then_some(diff as usize);
        }
        let diff = i32::try_from(diff).ok()?;
        self.queue_offset_diff.iter().position(|d| *d == diff)
    }

    /// Messages in the checkpoint.
    pub fn len(&self) -> usize {
        if self.queue_offset_diff.is_empty() {
            self.num.max(0) as usize
        } else {
            self.queue_offset_diff.len()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When the un-acked messages come back.
    pub fn visible_at(&self) -> i64 {
        self.pop_time.saturating_add(self.invisible_time)
    }

    /// Sets `revive_time` from `pt + it` (what fastjson's getter writes).
    pub fn with_revive_time(mut self) -> Self {
        self.revive_time = self.visible_at();
        self
    }
}

/// An acknowledgement in the revive log (`AckMsg`, tag "ack"; `BatchAckMsg` with `aol` and
/// `ao` = -1, tag "bAck").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AckMsg {
    #[serde(rename = "ao")]
    pub ack_offset: i64,
    #[serde(rename = "aol", skip_serializing_if = "Vec::is_empty")]
    pub ack_offset_list: Vec<i64>,
    #[serde(rename = "bn", skip_serializing_if = "Option::is_none")]
    pub broker_name: Option<String>,
    #[serde(rename = "c")]
    pub consumer_group: String,
    #[serde(rename = "pt")]
    pub pop_time: i64,
    #[serde(rename = "q")]
    pub queue_id: i32,
    #[serde(rename = "so")]
    pub start_offset: i64,
    #[serde(rename = "t")]
    pub topic: String,
}

impl AckMsg {
    /// The acknowledged queue offsets.
    pub fn offsets(&self) -> Vec<i64> {
        if self.ack_offset_list.is_empty() {
            vec![self.ack_offset]
        } else {
            self.ack_offset_list.clone()
        }
    }
}

/// One entry of BATCH_ACK_MESSAGE (`BatchAck`): bit i of `bit_set` acknowledges queue offset
/// `start_offset + i` of the queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchAck {
    #[serde(rename = "b", alias = "bitSet", with = "java_bit_set")]
    pub bit_set: Vec<u64>,
    #[serde(rename = "c", alias = "consumerGroup")]
    pub consumer_group: String,
    #[serde(rename = "it", alias = "invisibleTime", deserialize_with = "de_lenient_i64")]
    pub invisible_time: i64,
    #[serde(rename = "pt", alias = "popTime", deserialize_with = "de_lenient_i64")]
    pub pop_time: i64,
    #[serde(rename = "q", alias = "queueId")]
    pub queue_id: i32,
    /// "0" normal topic, "1" pop retry topic V1, "2" V2.
    #[serde(rename = "r", alias = "retry")]
    pub retry: String,
    #[serde(rename = "rq", alias = "reviveQueueId")]
    pub revive_queue_id: i32,
    #[serde(rename = "so", alias = "startOffset", deserialize_with = "de_lenient_i64")]
    pub start_offset: i64,
    /// The original topic (not the retry topic).
    #[serde(rename = "t", alias = "topic")]
    pub topic: String,
}

impl BatchAck {
    /// The acknowledged queue offsets, ascending.
    pub fn offsets(&self) -> Vec<i64> {
        let mut out = Vec::new();
        for (w, word) in self.bit_set.iter().enumerate() {
            for b in 0..64 {
                if word & (1u64 << b) != 0 {
                    out.push(self.start_offset + (w as i64) * 64 + b);
                }
            }
        }
        out
    }

    /// Sets the bit of queue offset `offset` (ignored before `start_offset`).
    pub fn set(&mut self, offset: i64) {
        let Ok(i) = usize::try_from(offset - self.start_offset) else {
            return;
        };
        let (w, b) = (i / 64, i % 64);
        if self.bit_set.len() <= w {
            self.bit_set.resize(w + 1, 0);
        }
        if let Some(word) = self.bit_set.get_mut(w) {
            *word |= 1u64 << b;
        }
    }
}

/// BATCH_ACK_MESSAGE's body (`BatchAckMessageRequestBody`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BatchAckMessageRequestBody {
    pub acks: Vec<BatchAck>,
    pub broker_name: Option<String>,
}

/// Java's `BitSet` as `BitSetSerializerDeserializer` writes it: the base64 of
/// `BitSet.toByteArray()` (little-endian bytes, trailing zero bytes dropped).
mod java_bit_set {
    use super::*;

    pub fn serialize<S: Serializer>(words: &[u64], s: S) -> Result<S::Ok, S::Error> {
        let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        while bytes.last() == Some(&0) {
            bytes.pop();
        }
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        use serde::de::Error;
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(Vec::new());
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| D::Error::custom(format!("bit set: {e}")))?;
        Ok(bytes
            .chunks(8)
            .map(|c| {
                let mut w = [0u8; 8];
                w.iter_mut().zip(c).for_each(|(d, s)| *d = *s);
                u64::from_le_bytes(w)
            })
            .collect())
    }
}

/// QUERY_ASSIGNMENT's body (`QueryAssignmentRequestBody`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueryAssignmentRequestBody {
    pub client_id: String,
    pub consumer_group: String,
    #[serde(deserialize_with = "super::de_message_model")]
    pub message_model: String,
    pub strategy_name: String,
    pub topic: String,
}

/// `MessageRequestMode`: PULL or POP (an ordinal is read as its name).
pub fn de_request_mode<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    super::enum_or_ordinal(d, &["PULL", "POP"])
}

/// One queue of a QUERY_ASSIGNMENT answer (`MessageQueueAssignment`).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageQueueAssignment {
    pub attachments: BTreeMap<String, String>,
    pub message_queue: MessageQueue,
    #[serde(deserialize_with = "de_request_mode")]
    pub mode: String,
}

/// QUERY_ASSIGNMENT's answer (`QueryAssignmentResponseBody`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueryAssignmentResponseBody {
    pub message_queue_assignments: BTreeSet<MessageQueueAssignment>,
}

/// SET_MESSAGE_REQUEST_MODE's body, and the value of `messageRequestMode.json`
/// (`SetMessageRequestModeRequestBody`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SetMessageRequestModeRequestBody {
    pub consumer_group: String,
    #[serde(deserialize_with = "de_request_mode")]
    pub mode: String,
    pub pop_share_queue_num: i32,
    pub topic: String,
}

impl Default for SetMessageRequestModeRequestBody {
    fn default() -> Self {
        SetMessageRequestModeRequestBody {
            consumer_group: String::new(),
            mode: "PULL".into(),
            pop_share_queue_num: 0,
            topic: String::new(),
        }
    }
}

/// `messageRequestMode.json` (`MessageRequestModeSerializeWrapper`): topic → group → mode, also
/// the GET_ALL_MESSAGE_REQUEST_MODE body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageRequestModeSerializeWrapper {
    pub message_request_mode_map: BTreeMap<String, BTreeMap<String, SetMessageRequestModeRequestBody>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::from_fastjson;

    #[test]
    fn checkpoint_and_ack_as_fastjson_writes_them() {
        // docs/protocol/pop.md (checkpoints): fastjson 1.2.83 on the 5.3.1 classes.
        let java = br#"{"bm":0,"bn":"b0","c":"G","d":[0,3],"it":60000,"n":2,"pt":1700000000000,"q":1,"reviveTime":1700000060000,"ro":0,"so":10,"t":"T"}"#;
        let ck: PopCheckPoint = from_fastjson(java).unwrap();
        assert_eq!((ck.start_offset, ck.len(), ck.offset_at(1)), (10, 2, Some(13)));
        assert_eq!((ck.index_of(13), ck.index_of(11)), (Some(1), None));
        assert_eq!(ck.visible_at(), 1_700_000_060_000);
        let out = serde_json::to_vec(&ck.clone().with_revive_time()).unwrap();
        assert_eq!(out, java.to_vec(), "written byte for byte as fastjson does");

        let batch = br#"{"ao":-1,"aol":[10,13],"bn":"b0","c":"G","pt":1,"q":1,"so":10,"t":"T"}"#;
        let ack: AckMsg = from_fastjson(batch).unwrap();
        assert_eq!(ack.offsets(), vec![10, 13]);
        assert_eq!(serde_json::to_vec(&ack).unwrap(), batch.to_vec());
        let single: AckMsg = from_fastjson(br#"{"ao":12,"c":"G","pt":1,"q":0,"so":10,"t":"T"}"#).unwrap();
        assert_eq!(single.offsets(), vec![12]);
    }

    #[test]
    fn batch_ack_bit_set_is_javas_bitset_bytes() {
        let java = br#"{"acks":[{"b":"CQ==","c":"G","it":60000,"pt":1,"q":1,"r":"0","rq":3,"so":10,"t":"T"}],"brokerName":"b"}"#;
        let body: BatchAckMessageRequestBody = from_fastjson(java).unwrap();
        let ack = &body.acks[0];
        assert_eq!(ack.offsets(), vec![10, 13], "bits 0 and 3");
        let mut again = BatchAck {
            start_offset: 10,
            ..ack.clone()
        };
        again.bit_set.clear();
        again.set(10);
        again.set(13);
        assert_eq!(again.bit_set, ack.bit_set);
        let mut wide = again.clone();
        wide.set(10 + 70);
        let round: BatchAck = serde_json::from_slice(&serde_json::to_vec(&wide).unwrap()).unwrap();
        assert_eq!(round.offsets(), vec![10, 13, 80]);
    }

    #[test]
    fn assignment_and_mode_bodies() {
        let q: QueryAssignmentRequestBody = from_fastjson(
            br#"{"clientId":"c1","consumerGroup":"G","messageModel":"CLUSTERING","strategyName":"AVG","topic":"T"}"#,
        )
        .unwrap();
        assert_eq!(q.message_model, "CLUSTERING");
        let m: SetMessageRequestModeRequestBody =
            from_fastjson(br#"{"consumerGroup":"G","mode":"POP","popShareQueueNum":1,"topic":"T"}"#).unwrap();
        assert_eq!((m.mode.as_str(), m.pop_share_queue_num), ("POP", 1));
        let by_ordinal: SetMessageRequestModeRequestBody =
            from_fastjson(br#"{"consumerGroup":"G","mode":1,"topic":"T"}"#).unwrap();
        assert_eq!(by_ordinal.mode, "POP");
        let mut resp = QueryAssignmentResponseBody::default();
        resp.message_queue_assignments.insert(MessageQueueAssignment {
            message_queue: MessageQueue::new("T", "b", -1),
            mode: "POP".into(),
            attachments: BTreeMap::new(),
        });
        let text = String::from_utf8(serde_json::to_vec(&resp).unwrap()).unwrap();
        assert_eq!(
            text,
            r#"{"messageQueueAssignments":[{"attachments":{},"messageQueue":{"brokerName":"b","queueId":-1,"topic":"T"},"mode":"POP"}]}"#
        );
    }
}
