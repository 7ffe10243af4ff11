//! Message lookup for [`Admin`]: QUERY_MESSAGE by key and by unique key (mqadmin `queryMsgByKey` /
//! `queryMsgByUniqueKey`, docs/protocol/headers.md#query), and resending a dead-lettered message.

use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::{QueryMessageRequestHeader, UNIQUE_KEY_QUERY};
use rmq_protocol::message::{self, property, MessageExt};

use super::Admin;
use crate::config::ClientConfig;
use crate::message::{Message, SendResult};
use crate::producer::Producer;
use crate::ClientError;

/// `maxNum` of a unique-key query (the broker uses its `defaultQueryMaxNum`, 32, anyway).
const UNIQUE_KEY_QUERY_MAX_NUM: i32 = 32;
/// Producer group of [`Admin::resend_from_dlq`].
const RESEND_PRODUCER_GROUP: &str = "CLIENT_INNER_PRODUCER";
/// Properties of a dead-lettered message that describe where it has been, not what it is.
const NOT_RESENT: &[&str] = &[
    property::RETRY_TOPIC,
    property::REAL_TOPIC,
    property::REAL_QID,
    property::DELAY,
    property::TRAN_MSG,
    property::PGROUP,
    property::RECONSUME_TIME,
    property::MAX_RECONSUME_TIMES,
    property::CONSUME_START_TIME,
    property::MIN_OFFSET,
    property::MAX_OFFSET,
    property::TRANSACTION_CHECK_TIMES,
];

impl Admin {
    /// QUERY_MESSAGE by `KEYS` to one address per broker of `topic`'s route (master preferred):
    /// the messages stored between `begin_ms` and `end_ms` whose keys contain `key`, at most
    /// `max_num` per broker, re-checked here for topic and key as the Java client does.
    pub async fn query_message_by_key(
        &self,
        topic: &str,
        key: &str,
        max_num: i32,
        begin_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<MessageExt>, ClientError> {
        let found = self.query(topic, key, max_num, begin_ms, end_ms, false).await?;
        Ok(found
            .into_iter()
            .filter(|m| m.topic == topic && m.keys().any(|k| k == key))
            .collect())
    }

    /// QUERY_MESSAGE with `_UNIQUE_KEY_QUERY=true`: the message whose client id (UNIQ_KEY) is
    /// `uniq_key`, the earliest stored if there are several (a retried send). The time window
    /// starts a second before the time encoded in the id.
    pub async fn query_message_by_unique_key(
        &self,
        topic: &str,
        uniq_key: &str,
    ) -> Result<MessageExt, ClientError> {
        let begin =
            message::uniq_id_timestamp(uniq_key, self.client.config.clock.now_ms()).map_or(0, |t| t - 1000);
        let found = self
            .query(topic, uniq_key, UNIQUE_KEY_QUERY_MAX_NUM, begin, i64::MAX, true)
            .await?;
        found
            .into_iter()
            .filter(|m| m.topic == topic && m.client_msg_id() == uniq_key)
            .min_by_key(|m| m.store_timestamp)
            .ok_or_else(|| not_found(topic, uniq_key))
    }

    /// The console's "resend" of a dead-lettered message: reads the message at `offset_msg_id`
    /// (normally in `%DLQ%<group>`) and sends a copy, with the same body, tags, keys and
    /// UNIQ_KEY, to its original topic (`RETRY_TOPIC`) through a short-lived producer.
    pub async fn resend_from_dlq(&self, offset_msg_id: &str) -> Result<SendResult, ClientError> {
        let dead = self.view_message(offset_msg_id).await?;
        let msg = resend_copy(&dead)?;
        let config = ClientConfig {
            instance_name: format!("resend-{}", std::process::id()),
            ..self.client.config.clone()
        };
        let producer = Producer::new(RESEND_PRODUCER_GROUP, config);
        producer.start().await?;
        let result = producer.send(msg).await;
        producer.shutdown().await;
        result
    }

    /// [`resend_from_dlq`](Self::resend_from_dlq) through a producer the caller keeps (the
    /// console resending many).
    pub async fn resend_from_dlq_via(
        &self,
        producer: &Producer,
        offset_msg_id: &str,
    ) -> Result<SendResult, ClientError> {
        let dead = self.view_message(offset_msg_id).await?;
        producer.send(resend_copy(&dead)?).await
    }

    /// QUERY_MESSAGE to every broker of the route; a broker answering QUERY_NOT_FOUND adds
    /// nothing. Fails only when no broker answered at all.
    async fn query(
        &self,
        topic: &str,
        key: &str,
        max_num: i32,
        begin_ms: i64,
        end_ms: i64,
        unique: bool,
    ) -> Result<Vec<MessageExt>, ClientError> {
        let route = self.topic_route(topic).await?;
        let mut found = Vec::new();
        let mut last_err = None;
        let mut answered = false;
        for bd in &route.broker_datas {
            let Some(addr) = bd
                .master_addr()
                .or_else(|| bd.broker_addrs.values().next().map(String::as_str))
            else {
                continue;
            };
            let header = QueryMessageRequestHeader {
                topic: topic.to_owned(),
                key: key.to_owned(),
                max_num,
                begin_timestamp: begin_ms,
                end_timestamp: end_ms,
            };
            let cmd = self
                .client
                .request(request_code::QUERY_MESSAGE)
                .with_header(&header)
                .with_ext(UNIQUE_KEY_QUERY, unique.to_string());
            match self.client.invoke(addr, cmd, self.timeout()).await {
                Ok(resp) if resp.code == response_code::SUCCESS => {
                    answered = true;
                    found.extend(message::decode_messages(&resp.body)?);
                }
                Ok(resp) if resp.code == response_code::QUERY_NOT_FOUND => answered = true,
                Ok(resp) => last_err = Some(crate::client::broker_error(&resp)),
                Err(e) => last_err = Some(e),
            }
        }
        match (answered, last_err) {
            (false, Some(e)) => Err(e),
            _ => Ok(found),
        }
    }
}

fn not_found(topic: &str, key: &str) -> ClientError {
    ClientError::Broker {
        code: response_code::QUERY_NOT_FOUND,
        remark: format!("query message by key finished, but no message: topic={topic} key={key}"),
    }
}

/// The message [`Admin::resend_from_dlq`] sends for `dead`.
fn resend_copy(dead: &MessageExt) -> Result<Message, ClientError> {
    let topic = dead.properties.get(property::RETRY_TOPIC).ok_or_else(|| {
        ClientError::InvalidArgument(format!(
            "message {} has no {} property: not a retried or dead-lettered message",
            dead.msg_id,
            property::RETRY_TOPIC
        ))
    })?;
    let mut msg = Message::new(topic.clone(), dead.body.clone()).with_flag(dead.flag);
    for (k, v) in &dead.properties {
        if !NOT_RESENT.contains(&k.as_str()) && k != property::WAIT {
            msg.properties.insert(k.clone(), v.clone());
        }
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::process_queue::tests::msg;

    #[test]
    fn resend_copy_goes_to_the_original_topic_and_keeps_the_id() {
        let mut dead = msg(0, 4);
        dead.topic = "%DLQ%CG".into();
        for (k, v) in [
            (property::RETRY_TOPIC, "Orig"),
            (property::UNIQ_KEY, "U1"),
            (property::TAGS, "TagA"),
            (property::DELAY, "0"),
            (property::REAL_TOPIC, "%RETRY%CG"),
            (property::WAIT, "false"),
        ] {
            dead.properties.insert(k.into(), v.into());
        }
        let m = resend_copy(&dead).unwrap();
        assert_eq!(m.topic, "Orig");
        assert_eq!(m.uniq_key(), Some("U1"));
        assert_eq!(m.tags(), Some("TagA"));
        assert!(m.wait_store_msg_ok());
        assert_eq!(m.property(property::DELAY), None);
        assert_eq!(m.property(property::RETRY_TOPIC), None);
        assert_eq!(m.property(property::REAL_TOPIC), None);

        dead.properties.remove(property::RETRY_TOPIC);
        assert!(resend_copy(&dead).is_err());
    }
}
