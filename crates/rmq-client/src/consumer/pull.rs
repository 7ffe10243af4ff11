//! PULL_MESSAGE request building and response mapping (docs/protocol/headers.md#pull,
//! docs/protocol/codes.md#pull-status, docs/protocol/pull.md#sys-flag), and the client-side tag re-check.
//! Pure: no I/O.

use std::fmt;

use rmq_protocol::body::SubscriptionData;
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::{PullMessageRequestHeader, PullMessageResponseHeader};
use rmq_protocol::message::{self, property, pull_sys_flag, MessageExt};
use rmq_protocol::{LanguageCode, RemotingCommand};

use crate::client::broker_error;
use crate::message::MessageQueue;
use crate::ClientError;

/// Prefix of a group's retry topic.
pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";

/// `%RETRY%<group>`.
pub fn retry_topic(group: &str) -> String {
    format!("{RETRY_GROUP_TOPIC_PREFIX}{group}")
}

/// Outcome of a pull (docs/protocol/codes.md#pull-status). Any other response code is a [`ClientError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PullStatus {
    /// SUCCESS: `messages` holds what matched (possibly nothing after the tag re-check).
    Found,
    /// PULL_NOT_FOUND (19).
    NoNewMsg,
    /// PULL_RETRY_IMMEDIATELY (20).
    NoMatchedMsg,
    /// PULL_OFFSET_MOVED (21): continue from `next_begin_offset`.
    OffsetIllegal,
}

impl fmt::Display for PullStatus {
    /// The Java enum name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PullStatus::Found => "FOUND",
            PullStatus::NoNewMsg => "NO_NEW_MSG",
            PullStatus::NoMatchedMsg => "NO_MATCHED_MSG",
            PullStatus::OffsetIllegal => "OFFSET_ILLEGAL",
        })
    }
}

/// What one pull returned.
#[derive(Debug, Clone, PartialEq)]
pub struct PullResult {
    pub status: PullStatus,
    pub next_begin_offset: i64,
    pub min_offset: i64,
    pub max_offset: i64,
    pub messages: Vec<MessageExt>,
    /// The broker id the next pull of this queue should go to (0 = master).
    pub suggest_which_broker_id: i64,
}

/// The `sysFlag` of a pull request (`PullSysFlag.buildSysFlag`).
pub(crate) fn sys_flag(commit_offset: bool, suspend: bool, subscription: bool, lite: bool) -> i32 {
    let mut flag = 0;
    if commit_offset {
        flag |= pull_sys_flag::COMMIT_OFFSET;
    }
    if suspend {
        flag |= pull_sys_flag::SUSPEND;
    }
    if subscription {
        flag |= pull_sys_flag::SUBSCRIPTION;
    }
    if lite {
        flag |= pull_sys_flag::LITE_PULL_MESSAGE;
    }
    flag
}

/// One pull request's parameters.
#[derive(Debug, Clone)]
pub(crate) struct PullArgs<'a> {
    pub group: &'a str,
    pub mq: &'a MessageQueue,
    pub offset: i64,
    pub max_nums: i32,
    pub sys_flag: i32,
    pub commit_offset: i64,
    pub suspend_timeout_ms: i64,
    pub sub: &'a SubscriptionData,
}

pub(crate) fn build_request(args: &PullArgs<'_>, language: LanguageCode) -> RemotingCommand {
    let with_sub = args.sys_flag & pull_sys_flag::SUBSCRIPTION != 0;
    let header = PullMessageRequestHeader {
        consumer_group: args.group.to_owned(),
        topic: args.mq.topic.clone(),
        queue_id: args.mq.queue_id,
        queue_offset: args.offset,
        max_msg_nums: args.max_nums,
        sys_flag: args.sys_flag,
        commit_offset: args.commit_offset,
        suspend_timeout_millis: args.suspend_timeout_ms,
        subscription: with_sub.then(|| args.sub.sub_string.clone()),
        sub_version: args.sub.sub_version,
        expression_type: Some(args.sub.expression_type.clone()),
        bname: Some(args.mq.broker_name.clone()),
    };
    let mut cmd = RemotingCommand::request(request_code::PULL_MESSAGE).with_header(&header);
    cmd.language = language;
    cmd
}

/// `processPullResult`: maps the code, decodes the body, drops messages whose tag the
/// subscription does not list, and stamps `MIN_OFFSET` / `MAX_OFFSET` on each message.
pub(crate) fn read_response(
    resp: &RemotingCommand,
    sub: &SubscriptionData,
) -> Result<PullResult, ClientError> {
    let status = match resp.code {
        response_code::SUCCESS => PullStatus::Found,
        response_code::PULL_NOT_FOUND => PullStatus::NoNewMsg,
        response_code::PULL_RETRY_IMMEDIATELY => PullStatus::NoMatchedMsg,
        response_code::PULL_OFFSET_MOVED => PullStatus::OffsetIllegal,
        _ => return Err(broker_error(resp)),
    };
    let header: PullMessageResponseHeader = resp.header()?;
    let mut messages = Vec::new();
    if status == PullStatus::Found {
        messages = message::decode_messages(&resp.body)?;
        messages.retain(|m| tag_matches(sub, m.tags()));
        for m in &mut messages {
            m.properties
                .insert(property::MIN_OFFSET.to_owned(), header.min_offset.to_string());
            m.properties
                .insert(property::MAX_OFFSET.to_owned(), header.max_offset.to_string());
        }
    }
    Ok(PullResult {
        status,
        next_begin_offset: header.next_begin_offset,
        min_offset: header.min_offset,
        max_offset: header.max_offset,
        suggest_which_broker_id: header.suggest_which_broker_id,
        messages,
    })
}

/// The client-side re-check of a TAG subscription: the broker filters on tag hash codes only,
/// so a colliding tag gets through. An empty tag set (`*`) matches everything; otherwise a
/// message needs a tag that is in the set exactly.
pub(crate) fn tag_matches(sub: &SubscriptionData, tags: Option<&str>) -> bool {
    if sub.tags_set.is_empty() || sub.class_filter_mode || !sub.is_tag_type() {
        return true;
    }
    tags.is_some_and(|t| sub.tags_set.iter().any(|s| s == t))
}

/// `resetRetryAndNamespace`: a message pulled from `%RETRY%<group>` shows its original topic.
pub(crate) fn reset_retry_topic(msg: &mut MessageExt, group_retry_topic: &str) {
    if msg.topic == group_retry_topic {
        if let Some(original) = msg.properties.get(property::RETRY_TOPIC) {
            msg.topic = original.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::consumer::process_queue::tests::msg;

    fn sub(expr: &str) -> SubscriptionData {
        SubscriptionData::from_tag_expression("T", expr, 42)
    }

    #[test]
    fn tags_are_rechecked_exactly() {
        let s = sub("TagA || TagC");
        assert!(tag_matches(&s, Some("TagA")));
        assert!(tag_matches(&s, Some("TagC")));
        assert!(!tag_matches(&s, Some("TagB")));
        assert!(!tag_matches(&s, Some("taga")));
        assert!(!tag_matches(&s, None));
        let all = sub("*");
        assert!(tag_matches(&all, None));
        assert!(tag_matches(&all, Some("Anything")));
    }

    #[test]
    fn sys_flags_like_java() {
        assert_eq!(sys_flag(false, true, false, false), 0x2);
        assert_eq!(sys_flag(true, true, false, false), 0x3);
        assert_eq!(sys_flag(false, false, true, false), 0x4);
        assert_eq!(sys_flag(false, true, true, true), 0x16);
    }

    #[test]
    fn request_header() {
        let mq = MessageQueue::new("T", "broker-a", 3);
        let s = sub("TagA");
        let args = PullArgs {
            group: "CG",
            mq: &mq,
            offset: 7,
            max_nums: 32,
            sys_flag: sys_flag(true, true, false, false),
            commit_offset: 5,
            suspend_timeout_ms: 15000,
            sub: &s,
        };
        let req = build_request(&args, LanguageCode::Rust);
        assert_eq!(req.code, request_code::PULL_MESSAGE);
        for (k, v) in [
            ("consumerGroup", "CG"),
            ("topic", "T"),
            ("queueId", "3"),
            ("queueOffset", "7"),
            ("maxMsgNums", "32"),
            ("sysFlag", "3"),
            ("commitOffset", "5"),
            ("suspendTimeoutMillis", "15000"),
            ("subVersion", "42"),
            ("expressionType", "TAG"),
        ] {
            assert_eq!(req.ext(k), Some(v), "{k}");
        }
        assert_eq!(req.ext("subscription"), None, "only with the SUBSCRIPTION flag");
        let args = PullArgs {
            sys_flag: sys_flag(false, false, true, false),
            ..args
        };
        assert_eq!(
            build_request(&args, LanguageCode::Rust).ext("subscription"),
            Some("TagA")
        );
    }

    fn response(code: i32) -> RemotingCommand {
        RemotingCommand::response(code)
            .with_ext("suggestWhichBrokerId", "0")
            .with_ext("nextBeginOffset", "12")
            .with_ext("minOffset", "0")
            .with_ext("maxOffset", "20")
    }

    #[test]
    fn found_body_is_decoded_and_filtered() {
        let mut body = BytesMut::new();
        for (offset, tag) in [(10, "TagA"), (11, "TagB")] {
            let mut m = msg(offset, 3);
            m.properties.insert(property::TAGS.into(), tag.into());
            message::encode_message(&m, &mut body);
        }
        let resp = response(response_code::SUCCESS).with_body(body.freeze());
        let r = read_response(&resp, &sub("TagA")).unwrap();
        assert_eq!(
            (r.status, r.next_begin_offset, r.max_offset),
            (PullStatus::Found, 12, 20)
        );
        assert_eq!(r.messages.len(), 1);
        assert_eq!(r.messages[0].queue_offset, 10);
        assert_eq!(
            r.messages[0]
                .properties
                .get(property::MAX_OFFSET)
                .map(String::as_str),
            Some("20")
        );
    }

    #[test]
    fn status_codes() {
        let s = sub("*");
        for (code, status) in [
            (response_code::PULL_NOT_FOUND, PullStatus::NoNewMsg),
            (response_code::PULL_RETRY_IMMEDIATELY, PullStatus::NoMatchedMsg),
            (response_code::PULL_OFFSET_MOVED, PullStatus::OffsetIllegal),
        ] {
            let r = read_response(&response(code), &s).unwrap();
            assert_eq!((r.status, r.next_begin_offset), (status, 12));
            assert!(r.messages.is_empty());
        }
        let err = read_response(&response(response_code::FLOW_CONTROL), &s).unwrap_err();
        assert_eq!(err.broker_code(), Some(response_code::FLOW_CONTROL));
        // A handled status without the four header fields is a wire error.
        assert!(matches!(
            read_response(&RemotingCommand::response(response_code::PULL_NOT_FOUND), &s),
            Err(ClientError::Wire(_))
        ));
    }

    #[test]
    fn retry_topic_is_reset() {
        let mut m = msg(1, 1);
        m.topic = retry_topic("CG");
        m.properties
            .insert(property::RETRY_TOPIC.into(), "TopicTest".into());
        reset_retry_topic(&mut m, "%RETRY%CG");
        assert_eq!(m.topic, "TopicTest");
    }
}
