//! Which resources a request touches and what it needs on each (Java 5.x
//! `PlainAccessResource.parse`, the 1.0 logic with 4.9's gaps closed; docs/broker/acl.md#decisions).
//!
//! A topic is needed as itself; a consumer group `G` as its retry topic `%RETRY%G`, so the rules
//! key groups by retry topic too. Codes not listed need no resource (only a valid signature), and
//! [`ADMIN_CODES`] need an admin account.

use std::borrow::Cow;
use std::collections::HashMap;

use rmq_protocol::body::{self, HeartbeatData};
use rmq_protocol::codes::request_code as rc;

use crate::perm::Perm;
use crate::Denied;

/// The retry-topic prefix that marks a group resource.
pub const RETRY_PREFIX: &str = "%RETRY%";
/// Message-trace topic: a PUB on it alone skips the resource check.
pub const TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";

/// Request codes only an admin account may send (Java 5.3.1 `Permission.ADMIN_CODE`).
pub const ADMIN_CODES: [i32; 9] = [
    rc::UPDATE_AND_CREATE_TOPIC,
    rc::UPDATE_BROKER_CONFIG,
    rc::DELETE_TOPIC_IN_BROKER,
    rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
    rc::DELETE_SUBSCRIPTIONGROUP,
    rc::UPDATE_AND_CREATE_STATIC_TOPIC,
    rc::UPDATE_AND_CREATE_ACL_CONFIG,
    rc::DELETE_ACL_CONFIG,
    rc::GET_BROKER_CLUSTER_ACL_INFO,
];

/// What the check reads of a request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub code: i32,
    pub version: i32,
    pub fields: &'a HashMap<String, String>,
    pub body: &'a [u8],
}

pub fn retry_topic(group: &str) -> String {
    format!("{RETRY_PREFIX}{group}")
}

/// What a request needs: a send or a pull names one or two resources, kept on the stack.
pub type Needed<'a> = smallvec::SmallVec<[(Cow<'a, str>, Perm); 2]>;

/// The resources `req` needs, in the order the request names them, a resource named twice
/// keeping its last need (Java's map). Names come from the request where they can (a topic), so
/// the send path allocates nothing here. A request whose body or header cannot be read is
/// refused, as Java's parse refuses it.
pub fn needed<'a>(req: &Request<'a>) -> Result<Needed<'a>, Denied> {
    let fields = req.fields;
    let f = |k: &str| fields.get(k).map(String::as_str);
    let need = |k: &str| f(k).ok_or_else(|| Denied::new(format!("the request header lacks {k}")));
    let mut out = Needed::new();
    let mut add = |res: Option<Cow<'a, str>>, perm: Perm| {
        if let Some(r) = res {
            match out.iter_mut().find(|(name, _)| *name == r) {
                Some(entry) => entry.1 = perm,
                None => out.push((r, perm)),
            }
        }
    };
    let topic_perm = |t: &str| {
        if t.starts_with(RETRY_PREFIX) {
            Perm::SUB
        } else {
            Perm::PUB
        }
    };
    let group = |g: &str| Cow::Owned(retry_topic(g));
    match req.code {
        rc::SEND_MESSAGE => {
            if let Some(t) = f("topic") {
                add(Some(Cow::Borrowed(t)), topic_perm(t));
            }
        }
        rc::SEND_MESSAGE_V2 | rc::SEND_BATCH_MESSAGE => {
            if let Some(t) = f("b") {
                add(Some(Cow::Borrowed(t)), topic_perm(t));
            }
        }
        rc::CONSUMER_SEND_MSG_BACK => add(f("group").map(group), Perm::SUB),
        rc::PULL_MESSAGE => {
            add(f("topic").map(Cow::Borrowed), Perm::SUB);
            add(f("consumerGroup").map(group), Perm::SUB);
        }
        rc::QUERY_MESSAGE => add(f("topic").map(Cow::Borrowed), Perm::SUB),
        rc::HEART_BEAT => {
            let hb: HeartbeatData = body::from_fastjson(req.body)
                .map_err(|e| Denied::new(format!("the heartbeat body does not decode: {e}")))?;
            for c in hb.consumer_data_set {
                add(Some(group(&c.group_name)), Perm::SUB);
                for s in c.subscription_data_set {
                    add(Some(Cow::Owned(s.topic)), Perm::SUB);
                }
            }
        }
        rc::UNREGISTER_CLIENT => add(f("consumerGroup").map(group), Perm::SUB),
        rc::GET_CONSUMER_LIST_BY_GROUP => add(Some(group(need("consumerGroup")?)), Perm::SUB),
        rc::UPDATE_CONSUMER_OFFSET => {
            add(Some(group(need("consumerGroup")?)), Perm::SUB);
            add(Some(Cow::Borrowed(need("topic")?)), Perm::SUB);
        }
        _ => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(code: i32, fields: &[(&str, &str)], body: &[u8]) -> Result<Vec<(String, Perm)>, Denied> {
        let fields: HashMap<String, String> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let needs = needed(&Request {
            code,
            version: 0,
            fields: &fields,
            body,
        })?;
        Ok(needs.into_iter().map(|(r, p)| (r.into_owned(), p)).collect())
    }

    #[test]
    fn sends_pulls_and_groups() {
        assert_eq!(
            req(rc::SEND_MESSAGE_V2, &[("a", "g"), ("b", "T")], b"").unwrap(),
            [("T".into(), Perm::PUB)]
        );
        assert_eq!(
            req(rc::SEND_BATCH_MESSAGE, &[("b", "T")], b"").unwrap(),
            [("T".into(), Perm::PUB)]
        );
        assert_eq!(
            req(rc::SEND_MESSAGE, &[("topic", "%RETRY%g")], b"").unwrap(),
            [("%RETRY%g".into(), Perm::SUB)]
        );
        assert_eq!(
            req(rc::PULL_MESSAGE, &[("topic", "T"), ("consumerGroup", "g")], b"").unwrap(),
            [("T".into(), Perm::SUB), ("%RETRY%g".into(), Perm::SUB)]
        );
        assert!(req(rc::UPDATE_CONSUMER_OFFSET, &[("consumerGroup", "g")], b"").is_err());
        assert!(req(rc::HEART_BEAT, &[], b"{").is_err());
        assert!(req(rc::GET_ALL_TOPIC_CONFIG, &[], b"").unwrap().is_empty());
    }

    #[test]
    fn a_resource_named_twice_keeps_its_last_need() {
        let body = br#"{"clientID":"c","consumerDataSet":[{"groupName":"g","subscriptionDataSet":[{"topic":"%RETRY%g","subString":"*"},{"topic":"T","subString":"*"}]},{"groupName":"h","subscriptionDataSet":[{"topic":"T","subString":"*"}]}],"producerDataSet":[]}"#;
        assert_eq!(
            req(rc::HEART_BEAT, &[], body).unwrap(),
            [
                ("%RETRY%g".into(), Perm::SUB),
                ("T".into(), Perm::SUB),
                ("%RETRY%h".into(), Perm::SUB)
            ]
        );
    }

    #[test]
    fn heartbeat_needs_each_group_and_topic() {
        let body = br#"{"clientID":"c","consumerDataSet":[{"groupName":"g","subscriptionDataSet":[{"topic":"T","subString":"*"}]}],"producerDataSet":[]}"#;
        assert_eq!(
            req(rc::HEART_BEAT, &[], body).unwrap(),
            [("%RETRY%g".into(), Perm::SUB), ("T".into(), Perm::SUB)]
        );
    }
}
