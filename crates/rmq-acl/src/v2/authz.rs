//! ACL 2.0 decisions (Java 5.3.1 `DefaultAuthenticationHandler`, `DefaultAuthorizationContextBuilder`,
//! `UserAuthorizationHandler`, `AclAuthorizationHandler`; docs/broker/acl.md#acl-20).

use std::net::IpAddr;

use rmq_protocol::body::{self, HeartbeatData, LockBatchRequestBody};
use rmq_protocol::codes::request_code as rc;

use super::model::{
    user_subject, Acl, Action, Decision, Pattern, PolicyEntry, PolicyType, Resource, ResourceType,
};
use super::model::{User, UserStatus, UserType};
use super::AuthData;
use crate::resource::Request;
use crate::sign::{self, ACCESS_KEY};
use crate::Denied;

/// One thing a request needs: any of `actions` on `resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub resource: Resource,
    pub actions: Vec<Action>,
}

/// A request code whose header declares what it needs (Java's `@RocketMQAction` on the header
/// class and `@RocketMQResource` on its own fields).
struct Rule {
    code: i32,
    /// Class-level resource type Cluster: the broker's cluster when no field names one.
    cluster: bool,
    actions: &'static [Action],
    fields: &'static [(&'static str, ResourceType, Option<char>)],
}

use Action as A;
use ResourceType as R;

const G: ResourceType = R::Group;
const T: ResourceType = R::Topic;
const C: ResourceType = R::Cluster;

const fn rule(
    code: i32,
    cluster: bool,
    actions: &'static [Action],
    fields: &'static [(&'static str, ResourceType, Option<char>)],
) -> Rule {
    Rule {
        code,
        cluster,
        actions,
        fields,
    }
}

/// Java 5.3.1's annotations, for the codes without an explicit case in
/// `DefaultAuthorizationContextBuilder.build`. A code in neither needs nothing.
#[rustfmt::skip]
const RULES: &[Rule] = &[
    rule(rc::ACK_MESSAGE, false, &[A::Sub], &[("consumerGroup", G, None), ("topic", T, None)]),
    rule(rc::ADD_WRITE_PERM_OF_BROKER, true, &[A::Update], &[]),
    rule(rc::AUTH_CREATE_ACL, true, &[A::Update], &[]),
    rule(rc::AUTH_CREATE_USER, true, &[A::Update], &[]),
    rule(rc::AUTH_DELETE_ACL, true, &[A::Update], &[]),
    rule(rc::AUTH_DELETE_USER, true, &[A::Update], &[]),
    rule(rc::AUTH_GET_ACL, true, &[A::Get], &[]),
    rule(rc::AUTH_GET_USER, true, &[A::Get], &[]),
    rule(rc::AUTH_LIST_ACL, true, &[A::Get], &[]),
    rule(rc::AUTH_LIST_USER, true, &[A::Get], &[]),
    rule(rc::AUTH_UPDATE_ACL, true, &[A::Update], &[]),
    rule(rc::AUTH_UPDATE_USER, true, &[A::Update], &[]),
    rule(rc::BROKER_HEARTBEAT, true, &[A::Update], &[("clusterName", C, None)]),
    rule(rc::CHANGE_MESSAGE_INVISIBLETIME, false, &[A::Sub], &[("consumerGroup", G, None), ("topic", T, None)]),
    rule(rc::CHECK_TRANSACTION_STATE, false, &[A::Pub], &[("topic", T, None)]),
    rule(rc::CLONE_GROUP_OFFSET, false, &[A::Update], &[("destGroup", G, None), ("topic", T, None)]),
    rule(rc::CONSUME_MESSAGE_DIRECTLY, false, &[A::Sub], &[("consumerGroup", G, None), ("topic", T, None)]),
    rule(rc::DELETE_ACL_CONFIG, true, &[A::Update], &[]),
    rule(rc::DELETE_KV_CONFIG, true, &[A::Update], &[]),
    rule(rc::DELETE_SUBSCRIPTIONGROUP, false, &[A::Delete], &[("groupName", G, None)]),
    rule(rc::DELETE_TOPIC_IN_BROKER, false, &[A::Delete], &[("topic", T, None)]),
    rule(rc::DELETE_TOPIC_IN_NAMESRV, true, &[A::Update], &[("clusterName", C, None)]),
    rule(rc::GET_ALL_PRODUCER_INFO, true, &[A::Get], &[]),
    rule(rc::GET_BROKER_CLUSTER_ACL_INFO, true, &[A::Get], &[("clusterName", C, None)]),
    rule(rc::GET_BROKER_CONSUME_STATS, true, &[A::Get], &[]),
    rule(rc::GET_BROKER_MEMBER_GROUP, false, &[A::Get], &[("clusterName", C, None)]),
    rule(rc::GET_CONSUMER_CONNECTION_LIST, false, &[A::Get], &[("consumerGroup", G, None)]),
    rule(rc::GET_CONSUMER_RUNNING_INFO, false, &[A::Get], &[("consumerGroup", G, None)]),
    rule(rc::GET_CONSUME_STATS, false, &[A::Get], &[("consumerGroup", G, None), ("topic", T, None)]),
    rule(rc::GET_EARLIEST_MSG_STORETIME, false, &[A::Get], &[("topic", T, None)]),
    rule(rc::GET_KVLIST_BY_NAMESPACE, true, &[A::Get], &[]),
    rule(rc::GET_KV_CONFIG, true, &[A::Get], &[]),
    rule(rc::GET_MAX_OFFSET, false, &[A::Get], &[("topic", T, None)]),
    rule(rc::GET_MIN_OFFSET, false, &[A::Get], &[("topic", T, None)]),
    rule(rc::GET_PRODUCER_CONNECTION_LIST, true, &[A::Get], &[]),
    rule(rc::GET_SUBSCRIPTIONGROUP_CONFIG, false, &[A::Get], &[("group", G, None)]),
    rule(rc::GET_TOPIC_CONFIG, false, &[A::Get], &[("topic", T, None)]),
    rule(rc::GET_TOPIC_STATS_INFO, false, &[A::Get], &[("topic", T, None)]),
    rule(rc::INVOKE_BROKER_TO_GET_CONSUMER_STATUS, false, &[A::Get], &[("topic", T, None), ("group", G, None)]),
    // Java's annotations swap the two types here; kept, so the decisions stay Java's.
    rule(rc::INVOKE_BROKER_TO_RESET_OFFSET, false, &[A::Update], &[("topic", G, None), ("group", T, None)]),
    rule(rc::NOTIFICATION, false, &[A::Sub], &[("consumerGroup", G, None), ("topic", T, None)]),
    rule(rc::NOTIFY_CONSUMER_IDS_CHANGED, false, &[A::Sub], &[("consumerGroup", G, None)]),
    rule(rc::PEEK_MESSAGE, false, &[A::Sub], &[("topic", T, None), ("consumerGroup", G, None)]),
    rule(rc::POLLING_INFO, false, &[A::Get], &[("consumerGroup", G, None), ("topic", T, None)]),
    rule(rc::POP_MESSAGE, false, &[A::Sub], &[("consumerGroup", G, None), ("topic", T, None)]),
    rule(rc::PUSH_REPLY_MESSAGE_TO_CLIENT, false, &[A::Sub], &[("producerGroup", G, None), ("topic", T, None)]),
    rule(rc::PUT_KV_CONFIG, true, &[A::Update], &[]),
    rule(rc::QUERY_CONSUME_QUEUE, false, &[A::Get], &[("topic", T, None), ("consumerGroup", G, None)]),
    rule(rc::QUERY_CONSUME_TIME_SPAN, false, &[A::Get], &[("topic", T, None), ("group", G, None)]),
    rule(rc::QUERY_CORRECTION_OFFSET, false, &[A::Get], &[("filterGroups", G, Some(',')), ("compareGroup", G, None), ("topic", T, None)]),
    rule(rc::QUERY_DATA_VERSION, true, &[A::Get], &[("clusterName", C, None)]),
    rule(rc::QUERY_SUBSCRIPTION_BY_CONSUMER, false, &[A::Get], &[("group", G, None), ("topic", T, None)]),
    rule(rc::QUERY_TOPICS_BY_CONSUMER, false, &[A::Get], &[("group", G, None)]),
    rule(rc::QUERY_TOPIC_CONSUME_BY_WHO, false, &[A::Get], &[("topic", T, None)]),
    rule(rc::REGISTER_BROKER, true, &[A::Update], &[("clusterName", C, None)]),
    rule(rc::REGISTER_TOPIC_IN_NAMESRV, true, &[A::Update], &[]),
    rule(rc::RESUME_CHECK_HALF_MESSAGE, false, &[A::Update], &[("topic", T, None)]),
    rule(rc::SEARCH_OFFSET_BY_TIMESTAMP, false, &[A::Get], &[("topic", T, None)]),
    rule(rc::UNREGISTER_BROKER, true, &[A::Update], &[("clusterName", C, None)]),
    rule(rc::UPDATE_AND_CREATE_ACL_CONFIG, true, &[A::Update], &[]),
    rule(rc::UPDATE_AND_CREATE_TOPIC, false, &[A::Create], &[("topic", T, None)]),
    rule(rc::UPDATE_AND_GET_GROUP_FORBIDDEN, false, &[A::Update], &[("group", G, None), ("topic", T, None)]),
    rule(rc::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG, true, &[A::Update], &[]),
    rule(rc::VIEW_BROKER_STATS_DATA, true, &[A::Get], &[]),
    rule(rc::VIEW_MESSAGE_BY_ID, false, &[A::Get], &[("topic", T, None)]),
    rule(rc::WIPE_WRITE_PERM_OF_BROKER, true, &[A::Update], &[]),
];

fn is_retry(t: &str) -> bool {
    t.starts_with("%RETRY%")
}

/// What `req` needs (`DefaultAuthorizationContextBuilder.build`). `cluster` is the broker's
/// cluster name. A request without ext fields needs nothing.
pub fn needs(req: &Request<'_>, cluster: &str) -> Result<Vec<Need>, Denied> {
    if req.fields.is_empty() {
        return Ok(Vec::new());
    }
    let f = |k: &str| req.fields.get(k).map(String::as_str).unwrap_or("");
    let parse_error = |what: String| Denied::new(format!("parse authorization context error: {what}"));
    let mut out = Vec::new();
    let mut add = |resource: Resource, actions: &[Action]| {
        out.push(Need {
            resource,
            actions: actions.to_vec(),
        })
    };
    match req.code {
        rc::GET_ROUTEINFO_BY_TOPIC => add(Resource::topic(f("topic")), &[A::Pub, A::Sub, A::Get]),
        rc::SEND_MESSAGE | rc::SEND_MESSAGE_V2 | rc::SEND_BATCH_MESSAGE => {
            let (topic, group) = if req.code == rc::SEND_MESSAGE {
                (f("topic"), f("group"))
            } else {
                (f("b"), f("a"))
            };
            if is_retry(topic) {
                add(
                    Resource::group(if group.trim().is_empty() { topic } else { group }),
                    &[A::Sub],
                );
            } else {
                add(Resource::topic(topic), &[A::Pub]);
            }
        }
        rc::END_TRANSACTION => {
            if !f("topic").trim().is_empty() {
                add(Resource::topic(f("topic")), &[A::Pub]);
            }
        }
        rc::CONSUMER_SEND_MSG_BACK => add(Resource::group(f("group")), &[A::Sub]),
        rc::PULL_MESSAGE => {
            if !is_retry(f("topic")) {
                add(Resource::topic(f("topic")), &[A::Sub]);
            }
            add(Resource::group(f("consumerGroup")), &[A::Sub]);
        }
        rc::QUERY_MESSAGE => add(Resource::topic(f("topic")), &[A::Sub, A::Get]),
        rc::HEART_BEAT => {
            let hb: HeartbeatData = body::from_fastjson(req.body).map_err(|e| parse_error(e.to_string()))?;
            for c in hb.consumer_data_set {
                add(Resource::group(&c.group_name), &[A::Sub]);
                for s in c.subscription_data_set.iter().filter(|s| !is_retry(&s.topic)) {
                    add(Resource::topic(&s.topic), &[A::Sub]);
                }
            }
        }
        rc::UNREGISTER_CLIENT => {
            if !f("consumerGroup").trim().is_empty() {
                add(Resource::group(f("consumerGroup")), &[A::Sub]);
            }
        }
        rc::GET_CONSUMER_LIST_BY_GROUP => add(Resource::group(f("consumerGroup")), &[A::Sub, A::Get]),
        rc::QUERY_CONSUMER_OFFSET | rc::UPDATE_CONSUMER_OFFSET => {
            let second = if req.code == rc::QUERY_CONSUMER_OFFSET {
                A::Get
            } else {
                A::Update
            };
            if !is_retry(f("topic")) {
                add(Resource::topic(f("topic")), &[A::Sub, second]);
            }
            add(Resource::group(f("consumerGroup")), &[A::Sub, second]);
        }
        rc::LOCK_BATCH_MQ | rc::UNLOCK_BATCH_MQ => {
            let b: LockBatchRequestBody =
                body::from_fastjson(req.body).map_err(|e| parse_error(e.to_string()))?;
            add(Resource::group(&b.consumer_group), &[A::Sub]);
            for mq in b.mq_set.iter().filter(|mq| !is_retry(&mq.topic)) {
                add(Resource::topic(&mq.topic), &[A::Sub]);
            }
        }
        code => {
            let Some(rule) = RULES.iter().find(|r| r.code == code) else {
                return Ok(Vec::new());
            };
            let mut any = false;
            for (field, kind, splitter) in rule.fields {
                let Some(value) = req.fields.get(*field) else {
                    continue;
                };
                let values: Vec<&str> = match splitter {
                    Some(c) => value.split(*c).filter(|s| !s.is_empty()).collect(),
                    None => vec![value.as_str()],
                };
                for v in values {
                    let resource = if *kind == T && is_retry(v) {
                        Resource::group(v)
                    } else {
                        Resource::literal(*kind, v)
                    };
                    add(resource, rule.actions);
                    any = true;
                }
            }
            if !any && rule.cluster {
                add(Resource::literal(C, cluster), rule.actions);
            }
        }
    }
    Ok(out)
}

/// Authentication (`DefaultAuthenticationHandler`): the user who signed the request.
pub fn authenticate<'a>(data: &'a AuthData, req: &Request<'_>) -> Result<&'a User, Denied> {
    authenticate_as(data, req.fields.get(ACCESS_KEY).map(String::as_str), |user| {
        sign::verify_request(req, &user.password)
    })
}

/// Authentication of `username` whose signature `verify` checks with the user's password.
pub fn authenticate_as<'a>(
    data: &'a AuthData,
    username: Option<&str>,
    verify: impl FnOnce(&User) -> bool,
) -> Result<&'a User, Denied> {
    let username = username
        .filter(|u| !u.is_empty())
        .ok_or_else(|| Denied::new("username cannot be null."))?;
    let user = data
        .users
        .get(username)
        .ok_or_else(|| Denied::new(format!("User:{username} is not found.")))?;
    if user.user_status == UserStatus::Disable {
        return Err(Denied::new(format!("User:{username} is disabled.")));
    }
    if !verify(user) {
        return Err(Denied::new("check signature failed."));
    }
    Ok(user)
}

/// Authorization of every need (`UserAuthorizationHandler`, then `AclAuthorizationHandler`).
pub fn authorize(data: &AuthData, req: &Request<'_>, cluster: &str, ip: IpAddr) -> Result<(), Denied> {
    let needs = needs(req, cluster)?;
    authorize_needs(data, req.fields.get(ACCESS_KEY).map(String::as_str), &needs, ip)
}

/// Authorization of `needs` for `username` (the signer; `None` when the request is unsigned).
pub fn authorize_needs(
    data: &AuthData,
    username: Option<&str>,
    needs: &[Need],
    ip: IpAddr,
) -> Result<(), Denied> {
    if needs.is_empty() {
        return Ok(());
    }
    let Some(username) = username.filter(|u| !u.is_empty()) else {
        return Err(Denied::new(
            "Authorization failed. Please verify your access rights and try again.",
        ));
    };
    let user = data
        .users
        .get(username)
        .ok_or_else(|| Denied::new(format!("User:{username} not found.")))?;
    if user.user_status == UserStatus::Disable {
        return Err(Denied::new(format!("User:{username} is disabled.")));
    }
    if user.user_type == UserType::Super {
        return Ok(());
    }
    let subject = user_subject(username);
    let acl = data.acls.get(&subject);
    for need in needs {
        let deny = |detail: &str| {
            Denied::new(format!(
                "{subject} has no permission to access {} from {ip}, {detail}",
                need.resource.key()
            ))
        };
        match acl.and_then(|acl| best_entry(acl, need, ip)) {
            None => return Err(deny("no matched policies.")),
            Some(e) if e.decision == Decision::Deny => return Err(deny("the decision is deny.")),
            Some(_) => {}
        }
    }
    Ok(())
}

fn entry_matches(e: &PolicyEntry, need: &Need, ip: IpAddr) -> bool {
    e.resource.covers(&need.resource)
        && !e.actions.is_empty()
        && (need.actions.contains(&A::Any)
            || need
                .actions
                .iter()
                .any(|a| e.actions.contains(a) || e.actions.contains(&A::All)))
        && (e.source_ips.is_empty() || e.source_ips.iter().any(|s| s.matches(ip)))
}

/// Specificity of an entry's resource: a literal name beats a longer prefix beats a shorter one
/// beats `Type:*` beats `*` (Java 5.x as fixed by apache/rocketmq#9539).
fn specificity(r: &Resource) -> (u8, usize) {
    match (r.kind, r.pattern) {
        (ResourceType::Any, _) => (0, 0),
        (_, Pattern::Any) => (1, 0),
        (_, Pattern::Prefixed) => (2, r.name.len()),
        (_, Pattern::Literal) => (3, 0),
    }
}

/// The entry that decides: among the custom policy's matching entries (else the default
/// policy's), the most specific; among equally specific ones a Deny wins.
pub fn best_entry<'a>(acl: &'a Acl, need: &Need, ip: IpAddr) -> Option<&'a PolicyEntry> {
    let matching = |t: PolicyType| -> Vec<&'a PolicyEntry> {
        acl.policies
            .iter()
            .filter(|p| p.policy_type == t)
            .flat_map(|p| p.entries.iter())
            .filter(|e| entry_matches(e, need, ip))
            .collect()
    };
    let mut entries = matching(PolicyType::Custom);
    if entries.is_empty() {
        entries = matching(PolicyType::Default);
    }
    entries
        .into_iter()
        .max_by_key(|e| (specificity(&e.resource), e.decision == Decision::Deny))
}
