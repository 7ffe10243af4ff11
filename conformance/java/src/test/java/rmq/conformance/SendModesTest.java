package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.MessageQueueSelector;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageQueue;
import org.junit.jupiter.api.Test;

/** Async, oneway, batch and ordered (selector) sends. */
class SendModesTest extends ConformanceBase {

    private static Message msg(String topic, String tag, String body) {
        return new Message(topic, tag, body.getBytes(StandardCharsets.UTF_8));
    }

    /** Sum of GET_MAX_OFFSET over the topic's publish queues (needs only routes and GET_MAX_OFFSET). */
    private static long totalMaxOffset(DefaultMQProducer producer, String topic) throws Exception {
        long sum = 0;
        for (MessageQueue mq : producer.fetchPublishMessageQueues(topic)) {
            sum += producer.maxOffset(mq);
        }
        return sum;
    }

    /**
     * GET_MAX_OFFSET reads the consume queue, which the Java broker builds asynchronously after the
     * commitlog append (ReputMessageService); a send result may arrive before it. So poll.
     */
    static void assertTotalMaxOffset(DefaultMQProducer producer, String topic, long expected) throws Exception {
        eventually(15_000, () -> {
            assertEquals(expected, totalMaxOffset(producer, topic), "sum of maxOffset over the queues of " + topic);
            return null;
        });
    }

    static void assertMaxOffset(DefaultMQProducer producer, MessageQueue mq, long expected) throws Exception {
        eventually(15_000, () -> {
            assertEquals(expected, producer.maxOffset(mq), "maxOffset of " + mq);
            return null;
        });
    }

    @Test
    void asyncSend100() throws Exception {
        String topic = "AsyncSendTopic";
        DefaultMQProducer producer = startProducer("async_send_group");
        int n = 100;
        CountDownLatch latch = new CountDownLatch(n);
        Queue<SendResult> ok = new ConcurrentLinkedQueue<>();
        Queue<Throwable> errors = new ConcurrentLinkedQueue<>();
        for (int i = 0; i < n; i++) {
            producer.send(msg(topic, "TagAsync", "async " + i), new SendCallback() {
                @Override
                public void onSuccess(SendResult sendResult) {
                    ok.add(sendResult);
                    latch.countDown();
                }

                @Override
                public void onException(Throwable e) {
                    errors.add(e);
                    latch.countDown();
                }
            });
        }
        assertTrue(latch.await(60, TimeUnit.SECONDS), "all callbacks within 60 s; got " + ok.size() + " ok, "
            + errors.size() + " errors");
        assertTrue(errors.isEmpty(), "async send errors: " + errors);
        assertEquals(n, ok.size());

        Set<String> msgIds = new HashSet<>();
        Set<String> offsetMsgIds = new HashSet<>();
        Map<MessageQueue, TreeSet<Long>> perQueue = new TreeMap<>();
        for (SendResult r : ok) {
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
            assertEquals(topic, r.getMessageQueue().getTopic());
            assertEquals(servers().brokerAddr(), QuickstartProducerTest.addressOf(r.getOffsetMsgId()));
            msgIds.add(r.getMsgId());
            offsetMsgIds.add(r.getOffsetMsgId());
            assertTrue(perQueue.computeIfAbsent(r.getMessageQueue(), k -> new TreeSet<>()).add(r.getQueueOffset()),
                "duplicate queue offset " + r);
        }
        assertEquals(n, msgIds.size(), "distinct msgIds");
        assertEquals(n, offsetMsgIds.size(), "distinct offsetMsgIds");
        for (Map.Entry<MessageQueue, TreeSet<Long>> e : perQueue.entrySet()) {
            TreeSet<Long> offs = e.getValue();
            assertEquals(0L, offs.first().longValue(), "queue offsets of " + e.getKey() + " start at 0: " + offs);
            assertEquals(offs.size() - 1L, offs.last().longValue(), "queue offsets of " + e.getKey() + " have no gaps: " + offs);
        }
        assertTotalMaxOffset(producer, topic, n);
    }

    @Test
    void onewaySend() throws Exception {
        String topic = "OnewaySendTopic";
        DefaultMQProducer producer = startProducer("oneway_send_group");
        int n = 50;
        for (int i = 0; i < n; i++) {
            producer.sendOneway(msg(topic, "TagOneway", "oneway " + i));
        }
        assertTotalMaxOffset(producer, topic, n);
    }

    @Test
    void batchSend() throws Exception {
        String topic = "BatchSendTopic";
        DefaultMQProducer producer = startProducer("batch_send_group");
        List<Message> batch = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            batch.add(msg(topic, "TagBatch", "batch " + i));
        }
        SendResult r = producer.send(batch);
        assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
        MessageQueue mq = r.getMessageQueue();
        assertEquals(topic, mq.getTopic());
        assertEquals(0L, r.getQueueOffset(), "first batch on a fresh topic starts at queue offset 0");

        // One result for the batch: msgId and offsetMsgId list all 10 ids, comma separated.
        String[] msgIds = r.getMsgId().split(",");
        String[] offsetMsgIds = r.getOffsetMsgId().split(",");
        assertEquals(10, msgIds.length, "UNIQ_KEYs in " + r.getMsgId());
        assertEquals(10, offsetMsgIds.length, "offsetMsgIds in " + r.getOffsetMsgId());
        assertEquals(10, new HashSet<>(List.of(msgIds)).size());
        long last = -1;
        for (String id : offsetMsgIds) {
            assertEquals(servers().brokerAddr(), QuickstartProducerTest.addressOf(id));
            long off = QuickstartProducerTest.commitLogOffsetOf(id);
            assertTrue(off > last, "commitlog offsets inside a batch increase: " + r.getOffsetMsgId());
            last = off;
        }
        assertMaxOffset(producer, mq, 10L);

        // A second batch to the same queue continues right after the first.
        List<Message> batch2 = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            batch2.add(msg(topic, "TagBatch", "batch2 " + i));
        }
        SendResult r2 = producer.send(batch2, mq);
        assertEquals(SendStatus.SEND_OK, r2.getSendStatus(), r2.toString());
        assertEquals(mq, r2.getMessageQueue());
        assertEquals(10L, r2.getQueueOffset());
        assertMaxOffset(producer, mq, 20L);
        assertTotalMaxOffset(producer, topic, 20L);
    }

    @Test
    void orderedSendWithSelector() throws Exception {
        String topic = "OrderedSendTopic";
        DefaultMQProducer producer = startProducer("ordered_send_group");
        MessageQueueSelector selector = (mqs, m, arg) -> mqs.get((Integer) arg % mqs.size());
        int orders = 5;
        int perOrder = 10;
        Map<Integer, List<SendResult>> byOrder = new HashMap<>();
        for (int i = 0; i < perOrder; i++) {
            for (int orderId = 0; orderId < orders; orderId++) {
                Message m = msg(topic, "TagOrder", "order " + orderId + " step " + i);
                m.setKeys("order-" + orderId);
                SendResult r = producer.send(m, selector, orderId);
                assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
                byOrder.computeIfAbsent(orderId, k -> new ArrayList<>()).add(r);
            }
        }
        List<MessageQueue> mqs = producer.fetchPublishMessageQueues(topic);
        assertFalse(mqs.isEmpty());
        for (Map.Entry<Integer, List<SendResult>> e : byOrder.entrySet()) {
            List<SendResult> rs = e.getValue();
            MessageQueue first = rs.get(0).getMessageQueue();
            assertNotNull(first);
            long last = -1;
            for (SendResult r : rs) {
                assertEquals(first, r.getMessageQueue(), "all messages of order " + e.getKey() + " in one queue");
                assertTrue(r.getQueueOffset() > last, "queue offsets of order " + e.getKey() + " increase");
                last = r.getQueueOffset();
            }
        }
        assertTotalMaxOffset(producer, topic, (long) orders * perOrder);
    }
}
