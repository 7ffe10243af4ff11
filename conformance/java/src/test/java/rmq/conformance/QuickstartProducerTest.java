package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageId;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;
import rmq.conformance.compat.ClientLine;

/** The quickstart Producer of the RocketMQ guide: 1000 sync sends of TopicTest / TagA. */
class QuickstartProducerTest extends ConformanceBase {

    /** Broker address as the broker wrote it into the offsetMsgId (storeHost). */
    static String addressOf(String offsetMsgId) throws Exception {
        MessageId id = MessageDecoder.decodeMessageId(offsetMsgId);
        return hostPort(id.getAddress());
    }

    /** "ip:port" as RemotingUtil (4.9) / NetworkUtil (5.x) socketAddress2String writes it. */
    static String hostPort(java.net.SocketAddress addr) {
        InetSocketAddress a = (InetSocketAddress) addr;
        return a.getAddress().getHostAddress() + ":" + a.getPort();
    }

    static long commitLogOffsetOf(String offsetMsgId) throws Exception {
        return MessageDecoder.decodeMessageId(offsetMsgId).getOffset();
    }

    @Test
    void quickstartProducer1000SyncSends() throws Exception {
        DefaultMQProducer producer = startProducer("please_rename_unique_group_name");
        List<SendResult> results = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            Message msg = new Message("TopicTest", "TagA",
                ("Hello RocketMQ " + i).getBytes(StandardCharsets.UTF_8));
            SendResult r = producer.send(msg);
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "send #" + i + ": " + r);
            results.add(r);
        }

        long lastCommitLogOffset = -1;
        Map<MessageQueue, List<Long>> queueOffsets = new TreeMap<>();
        for (int i = 0; i < results.size(); i++) {
            SendResult r = results.get(i);
            assertNotNull(r.getMsgId(), "msgId (UNIQ_KEY) of send #" + i);
            assertNotNull(r.getOffsetMsgId(), "offsetMsgId of send #" + i);
            assertEquals(32, r.getOffsetMsgId().length(), "offsetMsgId of an IPv4 broker is 32 hex chars: " + r);
            assertEquals(servers().brokerAddr(), addressOf(r.getOffsetMsgId()),
                "offsetMsgId must carry the broker's address: " + r);
            long off = commitLogOffsetOf(r.getOffsetMsgId());
            assertTrue(off > lastCommitLogOffset,
                "commitlog offsets must strictly increase: #" + i + " " + off + " after " + lastCommitLogOffset);
            lastCommitLogOffset = off;

            MessageQueue mq = r.getMessageQueue();
            assertEquals("TopicTest", mq.getTopic());
            assertEquals(servers().brokerName(), mq.getBrokerName());
            queueOffsets.computeIfAbsent(mq, k -> new ArrayList<>()).add(r.getQueueOffset());
        }
        assertTrue(commitLogOffsetOf(results.get(0).getOffsetMsgId()) >= 0, "commitlog offsets are non-negative");

        for (Map.Entry<MessageQueue, List<Long>> e : queueOffsets.entrySet()) {
            List<Long> offs = e.getValue();
            for (int i = 0; i < offs.size(); i++) {
                assertEquals(i, offs.get(i).longValue(), "queue offsets of " + e.getKey() + " must be 0,1,2,...: " + offs);
            }
            SendModesTest.assertMaxOffset(producer, e.getKey(), offs.size());
        }
        assertTrue(queueOffsets.size() > 1, "the producer round-robins over the queues: " + queueOffsets.keySet());
    }

    @Test
    void viewMessageByOffsetMsgId() throws Exception {
        String topic = "ViewMessageTopic";
        DefaultMQProducer producer = startProducer("view_message_group");
        List<SendResult> results = new ArrayList<>();
        List<byte[]> bodies = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            byte[] body = ("view me " + i).getBytes(StandardCharsets.UTF_8);
            Message msg = new Message(topic, "TagV", "key-" + i, body);
            msg.putUserProperty("conformance", "yes-" + i);
            SendResult r = producer.send(msg);
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
            results.add(r);
            bodies.add(body);
        }

        DefaultMQAdminExt admin = startAdmin();
        for (int i = 0; i < results.size(); i++) {
            SendResult r = results.get(i);
            MessageExt m = ClientLine.viewMessageByOffsetId(admin, topic, r.getOffsetMsgId());
            assertNotNull(m, "viewMessage(" + r.getOffsetMsgId() + ")");
            assertEquals(topic, m.getTopic());
            assertArrayEquals(bodies.get(i), m.getBody());
            assertEquals("TagV", m.getTags());
            assertEquals("key-" + i, m.getKeys());
            assertEquals("yes-" + i, m.getUserProperty("conformance"));
            assertEquals(r.getMessageQueue().getQueueId(), m.getQueueId());
            assertEquals(r.getQueueOffset(), m.getQueueOffset());
            assertEquals(commitLogOffsetOf(r.getOffsetMsgId()), m.getCommitLogOffset());
            assertEquals(r.getMsgId(), m.getMsgId(), "MessageExt.msgId is the UNIQ_KEY (client id)");
            assertEquals(r.getOffsetMsgId(), MessageDecoder.createMessageId(
                (InetSocketAddress) m.getStoreHost(), m.getCommitLogOffset()).toUpperCase());
            assertEquals(servers().brokerAddr(), hostPort(m.getStoreHost()));
            assertTrue(m.getStoreSize() > 0, "storeSize");
            assertTrue(m.getBornTimestamp() > 0 && m.getStoreTimestamp() >= m.getBornTimestamp() - 60_000,
                "born/store timestamps: " + m);
        }
    }
}
