package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static rmq.conformance.ConsumeSupport.awaitCaughtUp;
import static rmq.conformance.ConsumeSupport.bodies;
import static rmq.conformance.ConsumeSupport.sendAll;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;
import rmq.conformance.compat.ClientLine;
import rmq.conformance.harness.Servers;

/**
 * Resetting a group's offsets to a timestamp (issue #3): batch A, ≥ 3 s, timestamp T, ≥ 2 s, batch B. The
 * broker's search by time returns, per queue, the offset of the stored message nearest to T; with A at least
 * 3 s before and B about 2 s after, that is B's first message in every queue (each queue holds A and B messages).
 */
class ResetOffsetTest extends ConformanceBase {

    private record Batches(List<String> a, List<String> b, long t, Map<Integer, Long> firstOfB) {
    }

    private Batches sendAThenB(DefaultMQAdminExt admin, String topic, String producerGroup) throws Exception {
        createTopic(admin, topic, 4);
        DefaultMQProducer producer = startProducer(producerGroup);
        List<String> a = bodies("A ", 20);
        List<String> b = bodies("B ", 20);
        sendAll(producer, topic, "TagA", a);
        Thread.sleep(3_000);
        long t = System.currentTimeMillis();
        Thread.sleep(2_000);
        List<SendResult> rb = sendAll(producer, topic, "TagA", b);
        Map<Integer, Long> firstOfB = new TreeMap<>();
        for (SendResult r : rb) {
            firstOfB.merge(r.getMessageQueue().getQueueId(), r.getQueueOffset(), Math::min);
        }
        assertEquals(4, firstOfB.size(), "B reached every queue: " + firstOfB);
        SendModesTest.assertTotalMaxOffset(producer, topic, 40);
        return new Batches(a, b, t, firstOfB);
    }

    private DefaultMQPushConsumer startConsumer(String group, String topic, Received got) throws Exception {
        DefaultMQPushConsumer c = newPushConsumer(group);
        c.subscribe(topic, "*");
        c.registerMessageListener(got.listener());
        c.start();
        return c;
    }

    private static Map<Integer, Long> byQueueId(Map<MessageQueue, Long> table, String topic) {
        Map<Integer, Long> m = new TreeMap<>();
        table.forEach((mq, off) -> {
            if (mq.getTopic().equals(topic)) {
                m.put(mq.getQueueId(), off);
            }
        });
        return m;
    }

    /**
     * Consumer online: INVOKE_BROKER_TO_RESET_OFFSET (isForce) → the broker answers with the new offset table and
     * pushes RESET_CONSUMER_CLIENT_OFFSET to the consumer, which (after its fixed 10 s pause) drops its process
     * queues, commits the new offsets and, at the next rebalance, pulls again from them: exactly batch B again.
     */
    @Test
    void resetByTimestampConsumerOnline() throws Exception {
        String topic = "ResetOnlineTopic";
        String group = "reset_online_group";
        DefaultMQAdminExt admin = startAdmin();
        Batches x = sendAThenB(admin, topic, "reset_online_producer");

        Received got = new Received();
        DefaultMQPushConsumer consumer = startConsumer(group, topic, got);
        ConsumeSupport.assertTrueWithin(60_000, "40 distinct bodies", () -> got.distinctBodies().size() >= 40);
        awaitCaughtUp(admin, group, topic, 40);
        assertEquals(Map.of(), got.duplicates());
        got.clear();

        Map<MessageQueue, Long> table = admin.resetOffsetByTimestamp(topic, group, x.t(), true);
        assertEquals(x.firstOfB(), byQueueId(table, topic), "reset offsets = first offset of B per queue; " + table);

        // The client's handler pauses 10 s, commits the new offsets (oneway UPDATE_CONSUMER_OFFSET), then resume()
        // rebalances at once, which re-reads them (QUERY_CONSUMER_OFFSET). (No doRebalance nudging from here: a
        // second concurrent rebalance races with the handler's own.)
        List<String> expected = new ArrayList<>(x.b());
        eventually(60_000, () -> {
            assertEquals(new TreeSet<>(expected), got.distinctBodies(), "re-received after the reset");
            return null;
        });
        awaitCaughtUp(admin, group, topic, 40);
        assertEquals(new TreeSet<>(expected), got.distinctBodies(), "re-received exactly batch B");
        assertEquals(Map.of(), got.duplicates());
    }

    /**
     * Consumer offline: INVOKE_BROKER_TO_RESET_OFFSET answers CONSUMER_NOT_ONLINE (206); mqadmin
     * resetOffsetByTime then falls back to resetOffsetByTimestampOld (GET_CONSUME_STATS, SEARCH_OFFSET_BY_TIMESTAMP,
     * UPDATE_CONSUMER_OFFSET). A new consumer of the group then starts from B's first message.
     *
     * <p>5.x servers: BrokerConfig.useServerSideResetOffset is true by default, so AdminBrokerProcessor.resetOffset
     * goes to resetOffsetInner, which sets the offsets on the broker (ConsumerOffsetManager.assignResetOffset, handed
     * to the next pull as OFFSET_RESET) whether a consumer is online or not, and answers SUCCESS with the new offset
     * table. The fallback still runs; its UPDATE_CONSUMER_OFFSETs are answered SUCCESS "Offset has been previously
     * reset" and change nothing, and the outcome is the same.
     */
    @Test
    void resetByTimestampConsumerOffline() throws Exception {
        String topic = "ResetOfflineTopic";
        String group = "reset_offline_group";
        DefaultMQAdminExt admin = startAdmin();
        Batches x = sendAThenB(admin, topic, "reset_offline_producer");

        Received first = new Received();
        DefaultMQPushConsumer c1 = startConsumer(group, topic, first);
        ConsumeSupport.assertTrueWithin(60_000, "40 distinct bodies", () -> first.distinctBodies().size() >= 40);
        awaitCaughtUp(admin, group, topic, 40);
        c1.shutdown();

        if (Servers.serverLine() == 5) {
            Map<Integer, Long> reset = new TreeMap<>();
            admin.resetOffsetByTimestamp(topic, group, x.t(), true).forEach((mq, off) -> {
                assertEquals(topic, mq.getTopic());
                assertEquals(servers().brokerName(), mq.getBrokerName());
                reset.put(mq.getQueueId(), off);
            });
            assertEquals(x.firstOfB(), reset, "5.x server-side reset: the first offset of B per queue");
        } else {
            MQClientException e = assertThrows(MQClientException.class,
                () -> admin.resetOffsetByTimestamp(topic, group, x.t(), true));
            assertEquals(ClientLine.CONSUMER_NOT_ONLINE, e.getResponseCode(), e.toString());
            assertTrue(e.getErrorMessage().startsWith("Consumer not online, so can not reset offset"),
                e.getErrorMessage());
        }

        var stats = admin.resetOffsetByTimestampOld(group, topic, x.t(), true);
        Map<Integer, Long> rolledBack = new TreeMap<>();
        for (var s : stats) {
            rolledBack.put((int) s.getQueueId(), s.getRollbackOffset());
            assertEquals(servers().brokerName(), s.getBrokerName());
        }
        assertEquals(x.firstOfB(), rolledBack, "rollback offsets = first offset of B per queue; " + stats);
        eventually(15_000, () -> {
            Map<Integer, Long> committed = new TreeMap<>();
            admin.examineConsumeStats(group).getOffsetTable().forEach((mq, ow) -> {
                if (mq.getTopic().equals(topic)) {
                    committed.put(mq.getQueueId(), ow.getConsumerOffset());
                }
            });
            assertEquals(x.firstOfB(), committed, "committed offsets after the rollback");
            return null;
        });

        Received second = new Received();
        startConsumer(group, topic, second);
        ConsumeSupport.assertTrueWithin(60_000, "20 distinct bodies", () -> second.distinctBodies().size() >= 20);
        awaitCaughtUp(admin, group, topic, 40);
        assertEquals(new TreeSet<>(x.b()), second.distinctBodies(), "the new consumer starts from batch B");
        assertEquals(Map.of(), second.duplicates());
    }
}
