//! POP consumption's text formats (Java 5.3.1 `ExtraInfoUtil`, `KeyBuilder`;
//! docs/protocol/pop.md): the receipt handle a popped message carries in `POP_CK`, the offset
//! summaries of a POP_MESSAGE response, and the names of the pop retry topics.
//!
//! Pure and total: a parser answers `None` for text it cannot read, never panics.

use std::collections::HashMap;

/// `reviveQid` of an orderly pop (`KeyBuilder.POP_ORDER_REVIVE_QUEUE`).
pub const ORDER_REVIVE_QUEUE: i32 = 999;
/// The property that carries a popped message's receipt handle.
pub const POP_CK: &str = "POP_CK";
/// The first time a message was popped (set once).
pub const FIRST_POP_TIME: &str = "1ST_POP_TIME";

const RETRY_PREFIX: &str = "%RETRY%";

/// Where a popped message was read from: its topic, a V1 pop retry topic
/// (`%RETRY%{group}_{topic}`) or a V2 one (`%RETRY%{group}+{topic}`). On the wire "0", "1", "2".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicKind {
    Normal,
    RetryV1,
    RetryV2,
}

impl TopicKind {
    /// The kind of a topic name (`ExtraInfoUtil.getRetry`).
    pub fn of(topic: &str) -> TopicKind {
        if !topic.starts_with(RETRY_PREFIX) {
            TopicKind::Normal
        } else if topic.contains('+') {
            TopicKind::RetryV2
        } else {
            TopicKind::RetryV1
        }
    }

    pub fn flag(self) -> &'static str {
        match self {
            TopicKind::Normal => "0",
            TopicKind::RetryV1 => "1",
            TopicKind::RetryV2 => "2",
        }
    }

    pub fn from_flag(flag: &str) -> TopicKind {
        match flag {
            "1" => TopicKind::RetryV1,
            "2" => TopicKind::RetryV2,
            _ => TopicKind::Normal,
        }
    }

    /// The topic the message really sits in (`ExtraInfoUtil.getRealTopic`).
    pub fn real_topic(self, topic: &str, group: &str) -> String {
        match self {
            TopicKind::Normal => topic.to_string(),
            TopicKind::RetryV1 => retry_topic_v1(group, topic),
            TopicKind::RetryV2 => retry_topic_v2(group, topic),
        }
    }
}

/// `%RETRY%{group}_{topic}` (`KeyBuilder.buildPopRetryTopicV1`, the 5.3.1 default).
pub fn retry_topic_v1(group: &str, topic: &str) -> String {
    format!("{RETRY_PREFIX}{group}_{topic}")
}

/// `%RETRY%{group}+{topic}` (`KeyBuilder.buildPopRetryTopicV2`, `enableRetryTopicV2=true`).
pub fn retry_topic_v2(group: &str, topic: &str) -> String {
    format!("{RETRY_PREFIX}{group}+{topic}")
}

/// A popped message's receipt handle, `POP_CK` (`ExtraInfoUtil.buildExtraInfo`): eight
/// space-separated fields. ACK and CHANGE_MESSAGE_INVISIBLETIME read the first six (the topic,
/// queue and offset come from their headers), so six parse; the rest default to -1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptHandle {
    /// Queue offset where the pop's read started (the checkpoint's start offset).
    pub ck_offset: i64,
    pub pop_time: i64,
    pub invisible_time: i64,
    /// [`ORDER_REVIVE_QUEUE`] for an orderly pop.
    pub revive_qid: i32,
    pub kind: TopicKind,
    pub broker_name: String,
    pub queue_id: i32,
    /// The message's own queue offset.
    pub msg_offset: i64,
}

impl ReceiptHandle {
    pub fn encode(&self) -> String {
        format!(
            "{} {} {} {} {} {} {} {}",
            self.ck_offset,
            self.pop_time,
            self.invisible_time,
            self.revive_qid,
            self.kind.flag(),
            self.broker_name,
            self.queue_id,
            self.msg_offset
        )
    }

    pub fn parse(s: &str) -> Option<ReceiptHandle> {
        let f: Vec<&str> = s.split(' ').collect();
        if f.len() < 6 {
            return None;
        }
        let num = |i: usize| f.get(i).and_then(|v| v.trim().parse::<i64>().ok());
        Some(ReceiptHandle {
            ck_offset: num(0)?,
            pop_time: num(1)?,
            invisible_time: num(2)?,
            revive_qid: i32::try_from(num(3)?).ok()?,
            kind: TopicKind::from_flag(f.get(4)?),
            broker_name: (*f.get(5)?).to_string(),
            queue_id: num(6).and_then(|q| i32::try_from(q).ok()).unwrap_or(-1),
            msg_offset: num(7).unwrap_or(-1),
        })
    }

    pub fn is_order(&self) -> bool {
        self.revive_qid == ORDER_REVIVE_QUEUE
    }

    /// When the message becomes visible again.
    pub fn visible_at(&self) -> i64 {
        self.pop_time.saturating_add(self.invisible_time)
    }
}

/// Builds the `;`-separated offset summaries of a POP_MESSAGE response.
#[derive(Debug, Default, Clone)]
pub struct OffsetInfo {
    start: Vec<String>,
    msgs: Vec<String>,
}

impl OffsetInfo {
    /// One queue read: where it started and the offsets of the messages taken from it.
    pub fn add(&mut self, topic: &str, queue_id: i32, start_offset: i64, msg_offsets: &[i64]) {
        let flag = TopicKind::of(topic).flag();
        self.start.push(format!("{flag} {queue_id} {start_offset}"));
        if !msg_offsets.is_empty() {
            let list: Vec<String> = msg_offsets.iter().map(i64::to_string).collect();
            self.msgs.push(format!("{flag} {queue_id} {}", list.join(",")));
        }
    }

    /// `startOffsetInfo`
    pub fn start_offset_info(&self) -> String {
        self.start.join(";")
    }

    /// `msgOffsetInfo`
    pub fn msg_offset_info(&self) -> String {
        self.msgs.join(";")
    }
}

/// `startOffsetInfo` as the client reads it: `"{flag}@{queueId}"` → start offset.
pub fn parse_start_offset_info(s: &str) -> Option<HashMap<String, i64>> {
    let mut out = HashMap::new();
    for entry in s.split(';').filter(|e| !e.is_empty()) {
        let f: Vec<&str> = entry.split(' ').collect();
        let [flag, qid, off] = f.as_slice() else {
            return None;
        };
        let key = format!("{flag}@{qid}");
        if out.insert(key, off.trim().parse().ok()?).is_some() {
            return None;
        }
    }
    Some(out)
}

/// `msgOffsetInfo` as the client reads it: `"{flag}@{queueId}"` → message offsets.
pub fn parse_msg_offset_info(s: &str) -> Option<HashMap<String, Vec<i64>>> {
    let mut out = HashMap::new();
    for entry in s.split(';').filter(|e| !e.is_empty()) {
        let f: Vec<&str> = entry.split(' ').collect();
        let [flag, qid, offs] = f.as_slice() else {
            return None;
        };
        let list = offs
            .split(',')
            .map(|o| o.trim().parse::<i64>().ok())
            .collect::<Option<Vec<i64>>>()?;
        if out.insert(format!("{flag}@{qid}"), list).is_some() {
            return None;
        }
    }
    Some(out)
}

/// Gives the messages of one POP_MESSAGE response their receipt handles as
/// `MQClientAPIImpl.processPopResponse` does: a message's own `POP_CK` when it has one, else the
/// handle built from the response header, its checkpoint starting where `startOffsetInfo` says
/// for its queue (or, from a legacy broker without that summary, at the first message of its
/// queue in the body). Both 5.x front ends use it: the remoting client and the broker's gRPC
/// service.
#[derive(Debug)]
pub struct PopHandles {
    starts: Option<HashMap<String, i64>>,
    first_offsets: HashMap<String, i64>,
    pop_time: i64,
    invisible_time: i64,
    revive_qid: i32,
    broker_name: String,
}

/// A POP response field that does not read (`(field, text)`).
pub type BadPopField = (&'static str, String);

impl PopHandles {
    pub fn new(
        header: &crate::header::PopMessageResponseHeader,
        broker_name: &str,
    ) -> Result<PopHandles, BadPopField> {
        let starts = match header.start_offset_info.as_deref() {
            Some(s) => Some(parse_start_offset_info(s).ok_or(("startOffsetInfo", s.to_owned()))?),
            None => None,
        };
        Ok(PopHandles {
            starts,
            first_offsets: HashMap::new(),
            pop_time: header.pop_time,
            invisible_time: header.invisible_time,
            revive_qid: header.revive_qid,
            broker_name: broker_name.to_owned(),
        })
    }

    /// The receipt handle of `m`; a built one is also put into its `POP_CK`.
    pub fn handle(&mut self, m: &mut crate::message::MessageExt) -> Result<ReceiptHandle, BadPopField> {
        if let Some(ck) = m.properties.get(POP_CK) {
            return ReceiptHandle::parse(ck).ok_or_else(|| ("POP_CK", ck.clone()));
        }
        let kind = TopicKind::of(&m.topic);
        let key = format!("{}@{}", kind.flag(), m.queue_id);
        let ck_offset = match &self.starts {
            Some(starts) => *starts.get(&key).ok_or(("startOffsetInfo", key))?,
            None => *self.first_offsets.entry(key).or_insert(m.queue_offset),
        };
        let handle = ReceiptHandle {
            ck_offset,
            pop_time: self.pop_time,
            invisible_time: self.invisible_time,
            revive_qid: self.revive_qid,
            kind,
            broker_name: self.broker_name.clone(),
            queue_id: m.queue_id,
            msg_offset: m.queue_offset,
        };
        m.properties.insert(POP_CK.to_owned(), handle.encode());
        Ok(handle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn receipt_handle_round_trips_javas_layout() {
        let h = ReceiptHandle {
            ck_offset: 10,
            pop_time: 1_700_000_000_000,
            invisible_time: 60_000,
            revive_qid: 3,
            kind: TopicKind::Normal,
            broker_name: "broker-a".into(),
            queue_id: 1,
            msg_offset: 12,
        };
        assert_eq!(h.encode(), "10 1700000000000 60000 3 0 broker-a 1 12");
        assert_eq!(ReceiptHandle::parse(&h.encode()), Some(h.clone()));
        assert_eq!(h.visible_at(), 1_700_000_060_000);
        // Six fields are enough (ACK reads no more); the proxy's ninth is ignored.
        let six = ReceiptHandle::parse("10 1 2 999 1 b").unwrap();
        assert!(six.is_order());
        assert_eq!(
            (six.kind, six.queue_id, six.msg_offset),
            (TopicKind::RetryV1, -1, -1)
        );
        assert_eq!(
            ReceiptHandle::parse("10 1700000000000 60000 3 0 broker-a 1 12 4096").unwrap(),
            h
        );
        assert_eq!(ReceiptHandle::parse("10 1 2 3 0"), None);
        assert_eq!(ReceiptHandle::parse("x 1 2 3 0 b 1 1"), None);
    }

    #[test]
    fn retry_topics_and_kinds() {
        assert_eq!(retry_topic_v1("G", "T"), "%RETRY%G_T");
        assert_eq!(retry_topic_v2("G", "T"), "%RETRY%G+T");
        assert_eq!(TopicKind::of("T"), TopicKind::Normal);
        assert_eq!(TopicKind::of("%RETRY%G_T"), TopicKind::RetryV1);
        assert_eq!(TopicKind::of("%RETRY%G+T"), TopicKind::RetryV2);
        assert_eq!(TopicKind::RetryV1.real_topic("T", "G"), "%RETRY%G_T");
        assert_eq!(TopicKind::from_flag("2").real_topic("T", "G"), "%RETRY%G+T");
        assert_eq!(TopicKind::from_flag("0").real_topic("T", "G"), "T");
    }

    #[test]
    fn offset_infos_as_the_client_reads_them() {
        let mut i = OffsetInfo::default();
        i.add("T", 1, 10, &[10, 11, 12]);
        i.add("%RETRY%G_T", 0, 5, &[5]);
        i.add("T", 2, 7, &[]);
        assert_eq!(i.start_offset_info(), "0 1 10;1 0 5;0 2 7");
        assert_eq!(i.msg_offset_info(), "0 1 10,11,12;1 0 5");
        let start = parse_start_offset_info(&i.start_offset_info()).unwrap();
        assert_eq!(start["0@1"], 10);
        assert_eq!(start["1@0"], 5);
        let msgs = parse_msg_offset_info(&i.msg_offset_info()).unwrap();
        assert_eq!(msgs["0@1"], [10, 11, 12]);
        // Java refuses an entry without three fields, and a key twice.
        assert_eq!(parse_start_offset_info("0 1"), None);
        assert_eq!(parse_start_offset_info("0 1 2;0 1 3"), None);
        assert_eq!(parse_msg_offset_info("0 1 2,x"), None);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in ".{0,80}") {
            let _ = ReceiptHandle::parse(&s);
            let _ = parse_start_offset_info(&s);
            let _ = parse_msg_offset_info(&s);
        }

        #[test]
        fn handles_round_trip(ck in any::<i64>(), pt in any::<i64>(), it in any::<i64>(), rq in any::<i32>(),
                              flag in 0u8..3, broker in "[a-zA-Z0-9_-]{1,20}", q in any::<i32>(), off in any::<i64>()) {
            let h = ReceiptHandle {
                ck_offset: ck, pop_time: pt, invisible_time: it, revive_qid: rq,
                kind: TopicKind::from_flag(&flag.to_string()), broker_name: broker, queue_id: q, msg_offset: off,
            };
            prop_assert_eq!(ReceiptHandle::parse(&h.encode()), Some(h));
        }
    }
}
