package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.rocketmq.client.QueryResult;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;
import rmq.conformance.compat.ClientLine;

/**
 * QUERY_MESSAGE / VIEW_MESSAGE_BY_ID (issue #5): a message is found by offset msg id, by key and by unique key,
 * after a graceful broker restart (the index files and the commitlog are reloaded).
 */
class QueryMessageTest extends ConformanceBase {

    @Test
    void foundByOffsetIdKeyAndUniqKeyAfterRestart() throws Exception {
        String topic = "QueryTopic";
        String key = "order-key-" + System.nanoTime();
        DefaultMQProducer producer = startProducer("query_producer");
        long begin = System.currentTimeMillis();
        // some neighbours so that the index has more than one entry
        for (int i = 0; i < 20; i++) {
            producer.send(new Message(topic, "TagN", "other-" + i, ("neighbour " + i).getBytes(StandardCharsets.UTF_8)));
        }
        Message m = new Message(topic, "TagQ", key + " second-key", "find me".getBytes(StandardCharsets.UTF_8));
        m.putUserProperty("p", "v");
        SendResult r = producer.send(m);
        assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
        long end = System.currentTimeMillis() + 1;

        DefaultMQAdminExt admin = startAdmin();
        // the index is built asynchronously on the Java broker: wait until the key is queryable
        eventually(15_000, () -> {
            assertEquals(1, admin.queryMessage(topic, key, 32, begin, end).getMessageList().size());
            return null;
        });

        servers().restartBroker();

        MessageExt byOffsetId = eventually(30_000, () -> ClientLine.viewMessageByOffsetId(admin, topic, r.getOffsetMsgId()));
        check(byOffsetId, topic, key, r);

        QueryResult byKey = eventually(30_000, () -> {
            QueryResult q = admin.queryMessage(topic, key, 32, begin, end);
            assertEquals(1, q.getMessageList().size(), q.toString());
            return q;
        });
        check(byKey.getMessageList().get(0), topic, key, r);
        // the second key of the KEYS property is indexed too
        QueryResult bySecondKey = admin.queryMessage(topic, "second-key", 32, begin, end);
        assertEquals(1, bySecondKey.getMessageList().size(), bySecondKey.toString());
        check(bySecondKey.getMessageList().get(0), topic, key, r);
        // an unknown key is not found (MQClientException "query message by key finished, but no message.")
        QueryResult none = null;
        try {
            none = admin.queryMessage(topic, "no-such-key-" + System.nanoTime(), 32, begin, end);
        } catch (org.apache.rocketmq.client.exception.MQClientException expected) {
            // the Java client throws when every broker answered QUERY_NOT_FOUND
        }
        if (none != null) {
            assertEquals(List.of(), none.getMessageList());
        }

        QueryResult byUniq = ClientLine.queryMessageByUniqKey(admin, topic, r.getMsgId(), 32, begin, end);
        assertEquals(1, byUniq.getMessageList().size(), byUniq.toString());
        check(byUniq.getMessageList().get(0), topic, key, r);
        // mqadmin queryMsgById: viewMessage(topic, id) first tries the id as an offset msg id (a unique key
        // decodes to an invalid port there), then falls back to the unique-key query
        MessageExt viewed = admin.viewMessage(topic, r.getMsgId());
        check(viewed, topic, key, r);
    }

    private static void check(MessageExt got, String topic, String key, SendResult r) throws Exception {
        assertEquals(topic, got.getTopic());
        assertEquals("find me", new String(got.getBody(), StandardCharsets.UTF_8));
        assertEquals("TagQ", got.getTags());
        assertEquals(key + " second-key", got.getKeys());
        assertEquals("v", got.getUserProperty("p"));
        assertEquals(r.getMsgId(), got.getMsgId(), "UNIQ_KEY msg id");
        assertEquals(MessageDecoder.decodeMessageId(r.getOffsetMsgId()).getOffset(), got.getCommitLogOffset(),
            "commitlog offset of the offset msg id");
        assertEquals(r.getMessageQueue().getQueueId(), got.getQueueId());
        assertEquals(r.getQueueOffset(), got.getQueueOffset());
    }
}
