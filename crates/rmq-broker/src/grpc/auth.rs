//! Access control on the gRPC port (docs/broker/acl.md#grpc): the rules of the remoting port,
//! applied to the 5.x SDKs' `authorization` / `x-mq-date-time` headers.
//!
//! - ACL 1.0 (`aclEnable=true`; the Proxy's `enableACL`): every message is checked as Java's
//!   `AuthenticationInterceptor` with `PlainAccessValidator` does; a refusal ends the call with
//!   gRPC PERMISSION_DENIED.
//! - ACL 2.0 (`authenticationEnabled` / `authorizationEnabled`): as the Proxy's
//!   `AuthenticationPipeline` and `AuthorizationPipeline`; a refusal is `UNAUTHORIZED` (40100) in
//!   the response's status (on Telemetry: one command with that status, then the stream ends).
//!
//! What each request needs is Java 5.3.1's `DefaultAuthorizationContextBuilder.build(Metadata,
//! GeneratedMessageV3)` (and `PlainAccessResource.parse` for 1.0, which differs only where noted).

use std::borrow::Cow;
use std::net::IpAddr;

use rmq_acl::grpc::Signed;
use rmq_acl::v2::authz::Need;
use rmq_acl::v2::model::{Action, Resource};
use rmq_acl::{Denied, Perm};
use rmq_grpc_proto::tonic::{self, metadata::MetadataMap};
use rmq_grpc_proto::v2::{self, telemetry_command, ClientType, Code};

use crate::BrokerState;

/// Why a request is refused, in the form its front end answers.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// A status in the response body (ACL 2.0, and the Proxy's own request checks).
    Body(v2::Status),
    /// The call fails (ACL 1.0).
    Call(tonic::Status),
}

/// What a request asks to do with one topic or group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Pub,
    Sub,
    /// Publish or subscribe, either will do (a route query).
    Either,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Want {
    group: bool,
    name: String,
    access: Access,
    /// Checked by ACL 1.0 only (2.0 leaves it out: ChangeInvisibleDuration's topic).
    v1_only: bool,
}

fn topic(name: &str, access: Access) -> Want {
    Want {
        group: false,
        name: name.to_string(),
        access,
        v1_only: false,
    }
}

fn group(name: &str) -> Want {
    Want {
        group: true,
        name: name.to_string(),
        access: Access::Sub,
        v1_only: false,
    }
}

fn name(r: Option<&v2::Resource>) -> &str {
    r.map_or("", |r| r.name.as_str())
}

fn required<'a>(r: Option<&'a v2::Resource>, what: &str) -> Result<&'a str, Denied> {
    Some(name(r))
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| Denied::new(format!("{what} is null.")))
}

/// A request message the checks know.
pub(crate) trait Guarded {
    /// The full protobuf name (what `authenticationWhitelist` lists).
    const RPC: &'static str;
    /// What it asks for; `Err` when it is too incomplete to tell.
    fn wants(&self) -> Result<Vec<Want>, Denied>;
}

macro_rules! guarded {
    ($ty:ty, $rpc:literal, |$m:ident| $body:expr) => {
        impl Guarded for $ty {
            const RPC: &'static str = concat!("apache.rocketmq.v2.", $rpc);
            fn wants(&self) -> Result<Vec<Want>, Denied> {
                let $m = self;
                $body
            }
        }
    };
}

/// The group and the queue's topic of a consuming request.
fn consuming(g: Option<&v2::Resource>, t: Option<&v2::Resource>) -> Result<Vec<Want>, Denied> {
    Ok(vec![
        group(required(g, "group")?),
        topic(required(t, "topic")?, Access::Sub),
    ])
}

fn queue_topic(q: Option<&v2::MessageQueue>) -> Result<Option<&v2::Resource>, Denied> {
    q.map(|q| q.topic.as_ref())
        .ok_or_else(|| Denied::new("messageQueue is null."))
}

guarded!(v2::QueryRouteRequest, "QueryRouteRequest", |m| Ok(vec![topic(
    required(m.topic.as_ref(), "topic")?,
    Access::Either
)]));
guarded!(v2::HeartbeatRequest, "HeartbeatRequest", |m| {
    let consumer = [
        ClientType::PushConsumer,
        ClientType::SimpleConsumer,
        ClientType::PullConsumer,
    ]
    .iter()
    .any(|t| *t as i32 == m.client_type);
    Ok(if consumer {
        vec![group(required(m.group.as_ref(), "group")?)]
    } else {
        Vec::new()
    })
});
guarded!(v2::SendMessageRequest, "SendMessageRequest", |m| {
    if m.messages.is_empty() {
        return Err(Denied::new("message is null."));
    }
    let mut out: Vec<Want> = Vec::new();
    for msg in &m.messages {
        let t = topic(required(msg.topic.as_ref(), "topic")?, Access::Pub);
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
});
guarded!(v2::EndTransactionRequest, "EndTransactionRequest", |m| Ok(vec![
    topic(required(m.topic.as_ref(), "topic")?, Access::Pub)
]));
guarded!(v2::QueryAssignmentRequest, "QueryAssignmentRequest", |m| {
    consuming(m.group.as_ref(), m.topic.as_ref())
});
guarded!(v2::ReceiveMessageRequest, "ReceiveMessageRequest", |m| consuming(
    m.group.as_ref(),
    queue_topic(m.message_queue.as_ref())?
));
guarded!(v2::AckMessageRequest, "AckMessageRequest", |m| consuming(
    m.group.as_ref(),
    m.topic.as_ref()
));
guarded!(
    v2::ForwardMessageToDeadLetterQueueRequest,
    "ForwardMessageToDeadLetterQueueRequest",
    |m| consuming(m.group.as_ref(), m.topic.as_ref())
);
guarded!(
    v2::ChangeInvisibleDurationRequest,
    "ChangeInvisibleDurationRequest",
    |m| {
        let mut out = vec![group(required(m.group.as_ref(), "group")?)];
        if let Some(t) = m.topic.as_ref().filter(|t| !t.name.trim().is_empty()) {
            out.push(Want {
                v1_only: true,
                ..topic(&t.name, Access::Sub)
            });
        }
        Ok(out)
    }
);
guarded!(
    v2::NotifyClientTerminationRequest,
    "NotifyClientTerminationRequest",
    |m| Ok(match m.group.as_ref().filter(|g| !g.name.trim().is_empty()) {
        Some(g) => vec![group(&g.name)],
        None => Vec::new(),
    })
);
guarded!(v2::PullMessageRequest, "PullMessageRequest", |m| consuming(
    m.group.as_ref(),
    queue_topic(m.message_queue.as_ref())?
));
guarded!(v2::UpdateOffsetRequest, "UpdateOffsetRequest", |m| consuming(
    m.group.as_ref(),
    queue_topic(m.message_queue.as_ref())?
));
guarded!(v2::GetOffsetRequest, "GetOffsetRequest", |m| consuming(
    m.group.as_ref(),
    queue_topic(m.message_queue.as_ref())?
));
guarded!(v2::QueryOffsetRequest, "QueryOffsetRequest", |m| Ok(vec![topic(
    required(queue_topic(m.message_queue.as_ref())?, "topic")?,
    Access::Sub
)]));
guarded!(v2::TelemetryCommand, "TelemetryCommand", |m| {
    use v2::settings::PubSub;
    let Some(telemetry_command::Command::Settings(s)) = &m.command else {
        return Ok(Vec::new());
    };
    match &s.pub_sub {
        Some(PubSub::Publishing(p)) => Ok(p.topics.iter().map(|t| topic(&t.name, Access::Pub)).collect()),
        Some(PubSub::Subscription(sub)) => {
            let mut out = vec![group(name(sub.group.as_ref()))];
            out.extend(
                sub.subscriptions
                    .iter()
                    .map(|e| topic(name(e.topic.as_ref()), Access::Sub)),
            );
            Ok(out)
        }
        None => Err(Denied::new(
            "settings command doesn't have publishing or subscription",
        )),
    }
});

/// The credentials of one call (or of a Telemetry stream, read when it opens: the SDKs sign
/// it once) and where it comes from.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    signed: Result<Option<Signed>, Denied>,
    ip: IpAddr,
}

impl Caller {
    pub(crate) fn of(meta: &MetadataMap, ip: IpAddr) -> Caller {
        let header = |k: &str| meta.get(k).and_then(|v| v.to_str().ok());
        Caller {
            signed: rmq_acl::grpc::parse(header("authorization"), header("x-mq-date-time")),
            ip,
        }
    }

    /// Whether `s` lets this caller make the request `m`.
    pub(crate) fn check<T: Guarded>(&self, s: &BrokerState, m: &T) -> Result<(), Refusal> {
        if s.acl.is_none() && s.auth.is_none() {
            return Ok(());
        }
        let wants = m.wants();
        if let Some(acl) = &s.acl {
            let refused = |d: Denied| {
                acl.record_refusal(0, self.ip, &d);
                Refusal::Call(tonic::Status::permission_denied(d.reason))
            };
            let signed = self.signed.as_ref().map_err(|d| refused(d.clone()))?;
            let wants = wants.as_ref().map_err(|d| refused(d.clone()))?;
            let needed: Vec<(Cow<'_, str>, Perm)> = wants
                .iter()
                .map(|w| {
                    let resource = if w.group {
                        Cow::Owned(rmq_acl::resource::retry_topic(&w.name))
                    } else {
                        Cow::Borrowed(w.name.as_str())
                    };
                    let perm = match w.access {
                        Access::Pub => Perm::PUB,
                        Access::Sub => Perm::SUB,
                        Access::Either => Perm::ANY,
                    };
                    (resource, perm)
                })
                .collect();
            acl.rules()
                .check_grpc(signed.as_ref(), &needed, self.ip)
                .map_err(refused)?;
        }
        if let Some(auth) = &s.auth {
            let refused = |d: Denied| Refusal::Body(super::status(Code::Unauthorized, d.reason));
            let signed = self.signed.as_ref().map_err(|d| refused(d.clone()))?;
            let needs: Vec<Need> = match &wants {
                Ok(w) => w
                    .iter()
                    .filter(|w| !w.v1_only)
                    .map(|w| Need {
                        resource: if w.group {
                            Resource::group(&w.name)
                        } else {
                            Resource::topic(&w.name)
                        },
                        actions: match w.access {
                            Access::Pub => vec![Action::Pub],
                            Access::Sub => vec![Action::Sub],
                            Access::Either => vec![Action::Pub, Action::Sub],
                        },
                    })
                    .collect(),
                Err(d) if auth.authorizes(T::RPC) => return Err(refused(d.clone())),
                Err(_) => Vec::new(),
            };
            auth.check_grpc(T::RPC, signed.as_ref(), &needs, self.ip)
                .map_err(refused)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(n: &str) -> Option<v2::Resource> {
        Some(v2::Resource {
            resource_namespace: String::new(),
            name: n.into(),
        })
    }

    #[test]
    fn wants_follow_javas_context_builder() {
        let route = v2::QueryRouteRequest {
            topic: res("T"),
            endpoints: None,
        };
        assert_eq!(route.wants().unwrap(), [topic("T", Access::Either)]);
        let change = v2::ChangeInvisibleDurationRequest {
            group: res("%RETRY%G"),
            topic: res("T"),
            ..Default::default()
        };
        let w = change.wants().unwrap();
        assert_eq!(w.len(), 2);
        assert!(w[1].v1_only);
        assert_eq!(
            v2::SendMessageRequest { messages: vec![] }
                .wants()
                .unwrap_err()
                .reason,
            "message is null."
        );
        let hb = v2::HeartbeatRequest {
            group: None,
            client_type: ClientType::Producer as i32,
        };
        assert!(hb.wants().unwrap().is_empty());
        let hb = v2::HeartbeatRequest {
            group: None,
            client_type: ClientType::SimpleConsumer as i32,
        };
        assert_eq!(hb.wants().unwrap_err().reason, "group is null.");
        let receive = v2::ReceiveMessageRequest::default();
        assert_eq!(receive.wants().unwrap_err().reason, "messageQueue is null.");
    }
}
