//! QUERY_MESSAGE (12): messages by key (`KEYS` token) or unique key (`UNIQ_KEY`) and store-time
//! range, from the store's IndexFile (docs/protocol/headers.md#query, docs/format/index-file.md#query).
//!
//! The index is keyed by the *stored* topic, so a delayed message is found under its real topic
//! only once it has been delivered. Hash collisions are not filtered here; the Java client
//! re-checks keys and topic (mqadmin `queryMsgByKey` / `queryMsgByUniqueKey` send this request
//! to one address per broker name found in the topic route).

use bytes::BytesMut;
use rmq_protocol::codes::response_code as code;
use rmq_protocol::header::{QueryMessageRequestHeader, QueryMessageResponseHeader, UNIQUE_KEY_QUERY};
use rmq_protocol::RemotingCommand;

use super::header;
use crate::BrokerState;

/// `defaultQueryMaxNum`: the hit limit of a unique-key query.
pub const DEFAULT_QUERY_MAX_NUM: i32 = 32;

pub(super) fn query_message(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let mut h = header!(req, QueryMessageRequestHeader);
    if req.ext(UNIQUE_KEY_QUERY) == Some("true") {
        h.max_num = DEFAULT_QUERY_MAX_NUM;
    }
    let r = s.store.query_message(
        &h.topic,
        &h.key,
        h.max_num.max(0) as usize,
        h.begin_timestamp,
        h.end_timestamp,
    );
    let header = QueryMessageResponseHeader {
        index_last_update_timestamp: r.index_last_update_timestamp,
        index_last_update_phyoffset: r.index_last_update_phyoffset,
    };
    if r.messages.is_empty() {
        return RemotingCommand::response_to(req, code::QUERY_NOT_FOUND)
            .with_header(&header)
            .with_remark("can not find message, maybe time range not correct");
    }
    let mut body = BytesMut::with_capacity(r.messages.iter().map(|m| m.len()).sum());
    for m in &r.messages {
        body.extend_from_slice(m);
    }
    RemotingCommand::response_to(req, code::SUCCESS)
        .with_header(&header)
        .with_body(body.freeze())
}
