//! CONSUMER_SEND_MSG_BACK (docs/protocol/headers.md#send-back, docs/broker/retry-dlq.md#send-back): hands a
//! message the listener could not consume back to its broker, which stores a delayed copy in `%RETRY%<group>`
//! (or, once the reconsume times are used up, in `%DLQ%<group>`).

use rmq_protocol::codes::request_code;
use rmq_protocol::header::ConsumerSendMsgBackRequestHeader;
use rmq_protocol::message::MessageExt;

use super::push::Inner;
use crate::client::DEFAULT_TIMEOUT;
use crate::message::MessageQueue;
use crate::ClientError;

/// `delayLevel` asking the broker to pick `3 + reconsumeTimes`.
pub(crate) const DELAY_LEVEL_BROKER_DECIDES: i32 = 0;
/// `delayLevel` sending the message straight to the DLQ.
pub(crate) const DELAY_LEVEL_DLQ: i32 = -1;

/// The request for `msg`, pulled from `mq`. `originMsgId` is the client id (UNIQ_KEY when
/// present) and `originTopic` the topic the listener saw, as in Java's `sendMessageBack`.
pub(crate) fn header(
    group: &str,
    msg: &MessageExt,
    delay_level: i32,
    max_reconsume_times: i32,
) -> ConsumerSendMsgBackRequestHeader {
    ConsumerSendMsgBackRequestHeader {
        offset: msg.commit_log_offset,
        group: group.to_owned(),
        delay_level,
        origin_msg_id: Some(msg.client_msg_id().to_owned()),
        origin_topic: Some(msg.topic.clone()),
        unit_mode: false,
        max_reconsume_times: Some(max_reconsume_times),
        bname: None,
    }
}

/// Sends `msg` back to the master of `mq`'s broker. `Ok` means the broker stored the copy, so
/// the original counts as consumed.
pub(crate) async fn send_back(
    inner: &Inner,
    mq: &MessageQueue,
    msg: &MessageExt,
    delay_level: i32,
) -> Result<(), ClientError> {
    let client = &inner.client;
    let addr = client.master_addr_or_fetch(mq).await?;
    let max = match inner.config.max_reconsume_times {
        t if t < 0 => DEFAULT_MAX_RECONSUME_TIMES,
        t => t,
    };
    let cmd = client
        .request(request_code::CONSUMER_SEND_MSG_BACK)
        .with_header(&header(&inner.group, msg, delay_level, max));
    client.invoke_ok(&addr, cmd, DEFAULT_TIMEOUT).await?;
    tracing::debug!(group = %inner.group, %mq, offset = msg.queue_offset, reconsume_times = msg.reconsume_times, "message sent back");
    Ok(())
}

/// What Java uses when `maxReconsumeTimes` is −1.
pub(crate) const DEFAULT_MAX_RECONSUME_TIMES: i32 = 16;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::process_queue::tests::msg;

    #[test]
    fn header_carries_the_client_id_and_the_listener_topic() {
        let mut m = msg(3, 1);
        m.topic = "Orig".into();
        m.properties
            .insert(rmq_protocol::message::property::UNIQ_KEY.into(), "UNIQ".into());
        let h = header("CG", &m, DELAY_LEVEL_BROKER_DECIDES, 16);
        assert_eq!(h.offset, 300);
        assert_eq!(h.origin_msg_id.as_deref(), Some("UNIQ"));
        assert_eq!(h.origin_topic.as_deref(), Some("Orig"));
        assert_eq!(h.delay_level, 0);
        assert_eq!(h.max_reconsume_times, Some(16));
    }
}
