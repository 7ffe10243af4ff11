package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static rmq.conformance.ConsumeSupport.awaitCaughtUp;
import static rmq.conformance.ConsumeSupport.bodies;
import static rmq.conformance.ConsumeSupport.sendAll;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.consumer.store.ReadOffsetType;
import org.apache.rocketmq.client.impl.consumer.ProcessQueue;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;
import rmq.conformance.compat.ClientLine;

/** DefaultMQPushConsumer: quickstart, tag filter, clustering split, broadcasting, flow control (issue #3). */
class PushConsumerTest extends ConformanceBase {

    /**
     * The quickstart Consumer (subscribe "*", CONSUME_FROM_FIRST_OFFSET, MessageListenerConcurrently) gets every
     * one of the quickstart Producer's 1000 messages exactly once: one consumer, no rebalance, no failures, so
     * at-least-once has no reason to redeliver.
     */
    @Test
    void quickstartConsumerReceivesAll1000() throws Exception {
        String topic = "QuickstartConsumeTopic";
        String group = "please_rename_unique_group_name_quickstart_consume";
        DefaultMQProducer producer = startProducer("quickstart_consume_producer");
        List<String> sent = bodies("Hello RocketMQ ", 1000);
        sendAll(producer, topic, "TagA", sent);
        DefaultMQAdminExt admin = startAdmin();

        Received got = new Received();
        DefaultMQPushConsumer consumer = newPushConsumer(group);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(got.listener());
        consumer.start();

        ConsumeSupport.assertTrueWithin(60_000, "1000 distinct bodies", () -> got.distinctBodies().size() >= 1000);
        awaitCaughtUp(admin, group, topic, 1000);
        assertEquals(new TreeSet<>(sent), got.distinctBodies());
        assertEquals(Map.of(), got.duplicates(), "no duplicates");
        assertEquals(1000, got.total());
        for (Received.Delivery d : got.all()) {
            assertEquals("TagA", d.tags());
        }

        // GET_CONSUME_STATS: 4 queues of the topic, 1000 messages, nothing left, a consume TPS field present.
        var cs = admin.examineConsumeStats(group);
        long topicQueues = cs.getOffsetTable().keySet().stream().filter(mq -> mq.getTopic().equals(topic)).count();
        assertEquals(4, topicQueues, "queues of " + topic + " in " + cs.getOffsetTable());
        assertEquals(0L, cs.computeTotalDiff(), "diff over all the group's queues: " + cs.getOffsetTable());
    }

    /** subscribe(topic, "TagA || TagC") over TagA/TagB/TagC messages: exactly the TagA and TagC ones. */
    @Test
    void tagFilterTagAOrTagC() throws Exception {
        String topic = "TagFilterConsumeTopic";
        String group = "tag_filter_consume_group";
        DefaultMQProducer producer = startProducer("tag_filter_consume_producer");
        String[] tags = {"TagA", "TagB", "TagC"};
        Set<String> expected = new TreeSet<>();
        for (int i = 0; i < 60; i++) {
            String tag = tags[i % 3];
            String body = tag + " message " + i;
            SendResult r = producer.send(new Message(topic, tag, body.getBytes(StandardCharsets.UTF_8)));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus());
            if (!tag.equals("TagB")) {
                expected.add(body);
            }
        }
        DefaultMQAdminExt admin = startAdmin();

        Received got = new Received();
        DefaultMQPushConsumer consumer = newPushConsumer(group);
        consumer.subscribe(topic, "TagA || TagC");
        consumer.registerMessageListener(got.listener());
        consumer.start();

        ConsumeSupport.assertTrueWithin(60_000, "40 TagA/TagC bodies", () -> got.distinctBodies().size() >= 40);
        // The filtered-out TagB messages are skipped too: the committed offsets reach the end of every queue.
        awaitCaughtUp(admin, group, topic, 60);
        assertEquals(expected, got.distinctBodies());
        assertEquals(Map.of(), got.duplicates());
        for (Received.Delivery d : got.all()) {
            assertTrue(d.tags().equals("TagA") || d.tags().equals("TagC"), "tag of " + d);
        }
    }

    /**
     * Two push consumers of one group (clustering, AllocateMessageQueueAveragely) over a 4-queue topic: once the
     * second has joined, the first gives queues up (it learns about the second from NOTIFY_CONSUMER_IDS_CHANGED;
     * its periodic rebalance is 20 s away, so a split within 10 s shows the notification works); each owns a
     * non-empty, disjoint share; messages sent afterwards reach exactly one of them, each exactly once.
     */
    @Test
    void clusteringTwoConsumersSplitQueues() throws Exception {
        String topic = "ClusteringConsumeTopic";
        String group = "clustering_consume_group";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4);
        Set<Integer> all = Set.of(0, 1, 2, 3);

        Received got1 = new Received();
        DefaultMQPushConsumer c1 = newPushConsumer(group);
        c1.subscribe(topic, "*");
        c1.registerMessageListener(got1.listener());
        c1.start();
        ConsumeSupport.assertTrueWithin(30_000, "first consumer owns all 4 queues",
            () -> ownedQueueIds(c1, topic).equals(all));

        Received got2 = new Received();
        DefaultMQPushConsumer c2 = newPushConsumer(group);
        c2.subscribe(topic, "*");
        c2.registerMessageListener(got2.listener());
        long joined = System.currentTimeMillis();
        c2.start();
        eventually(10_000, () -> {
            Set<Integer> q1 = ownedQueueIds(c1, topic);
            Set<Integer> q2 = ownedQueueIds(c2, topic);
            String where = "c1=" + q1 + " c2=" + q2;
            assertFalse(q1.isEmpty(), "c1 owns queues: " + where);
            assertFalse(q2.isEmpty(), "c2 owns queues: " + where);
            Set<Integer> overlap = new HashSet<>(q1);
            overlap.retainAll(q2);
            assertEquals(Set.of(), overlap, "disjoint: " + where);
            Set<Integer> union = new TreeSet<>(q1);
            union.addAll(q2);
            assertEquals(all, union, "together all queues: " + where);
            return null;
        });
        Set<Integer> q1 = ownedQueueIds(c1, topic);
        Set<Integer> q2 = ownedQueueIds(c2, topic);
        System.out.println("clustering split after " + (System.currentTimeMillis() - joined) + " ms: c1=" + q1
            + " c2=" + q2);

        DefaultMQProducer producer = startProducer("clustering_consume_producer");
        List<String> sent = bodies("clustering ", 200);
        sendAll(producer, topic, "TagA", sent);

        ConsumeSupport.assertTrueWithin(60_000, "200 distinct bodies over both consumers", () -> {
            Set<String> u = new HashSet<>(got1.distinctBodies());
            u.addAll(got2.distinctBodies());
            return u.size() >= 200;
        });
        awaitCaughtUp(admin, group, topic, 200);
        assertEquals(q1, ownedQueueIds(c1, topic), "c1's share unchanged");
        assertEquals(q2, ownedQueueIds(c2, topic), "c2's share unchanged");

        Map<String, Integer> counts = new TreeMap<>();
        for (Received r : List.of(got1, got2)) {
            for (Received.Delivery d : r.all()) {
                counts.merge(d.body(), 1, Integer::sum);
            }
        }
        assertEquals(new TreeSet<>(sent), counts.keySet());
        counts.forEach((b, c) -> assertEquals(1, c, "deliveries of " + b));
        assertFalse(got1.all().isEmpty(), "c1 received messages");
        assertFalse(got2.all().isEmpty(), "c2 received messages");
        assertTrue(q1.containsAll(got1.queueIds()), "c1 only got its queues " + q1 + ": " + got1.queueIds());
        assertTrue(q2.containsAll(got2.queueIds()), "c2 only got its queues " + q2 + ": " + got2.queueIds());
    }

    /** Two BROADCASTING consumers of one group: each receives every message (offsets are local, per client). */
    @Test
    void broadcastingEachConsumerGetsAll() throws Exception {
        String topic = "BroadcastingConsumeTopic";
        String group = "broadcasting_consume_group";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4);

        List<Received> gots = new ArrayList<>();
        List<DefaultMQPushConsumer> consumers = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Received got = new Received();
            DefaultMQPushConsumer c = newPushConsumer(group);
            ClientLine.setBroadcasting(c);
            c.subscribe(topic, "*");
            c.registerMessageListener(got.listener());
            c.start();
            gots.add(got);
            consumers.add(c);
        }
        for (DefaultMQPushConsumer c : consumers) {
            ConsumeSupport.assertTrueWithin(30_000, "broadcasting consumer owns all 4 queues",
                () -> ownedQueueIds(c, topic).equals(Set.of(0, 1, 2, 3)));
        }

        DefaultMQProducer producer = startProducer("broadcasting_consume_producer");
        List<SendResult> results = sendAll(producer, topic, "TagA", bodies("broadcast ", 100));
        Map<Integer, Long> maxOffsets = new HashMap<>();
        for (SendResult r : results) {
            maxOffsets.merge(r.getMessageQueue().getQueueId(), r.getQueueOffset() + 1, Math::max);
        }

        for (int i = 0; i < 2; i++) {
            Received got = gots.get(i);
            DefaultMQPushConsumer c = consumers.get(i);
            ConsumeSupport.assertTrueWithin(60_000, "consumer " + i + " got 100 distinct bodies",
                () -> got.distinctBodies().size() >= 100);
            // Wait until the consumer's (local) offsets reach the end of each queue, then count deliveries.
            eventually(30_000, () -> {
                for (Map.Entry<Integer, Long> e : maxOffsets.entrySet()) {
                    MessageQueue mq = new MessageQueue(topic, servers().brokerName(), e.getKey());
                    assertEquals(e.getValue().longValue(), c.getDefaultMQPushConsumerImpl().getOffsetStore()
                        .readOffset(mq, ReadOffsetType.READ_FROM_MEMORY), "local offset of " + mq);
                }
                return null;
            });
            assertEquals(100, got.distinctBodies().size());
            assertEquals(Map.of(), got.duplicates(), "consumer " + i + " duplicates");
        }
    }

    /**
     * Flow control: pullThresholdForQueue = 50 and a listener that blocks. The client stops pulling a queue once
     * its ProcessQueue holds more than 50 messages ("> threshold → pull later"), so the cache can overshoot by at
     * most one pull batch (pullBatchSize 32): never more than 82 cached per queue, far fewer than the 200 stored.
     * Unblocked, the consumer receives everything.
     */
    @Test
    void slowListenerFlowControl() throws Exception {
        String topic = "FlowControlConsumeTopic";
        String group = "flow_control_consume_group";
        int threshold = 50;
        int batch = 32;
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4);
        DefaultMQProducer producer = startProducer("flow_control_consume_producer");
        List<String> sent = bodies("flow ", 800);
        sendAll(producer, topic, "TagA", sent);

        CountDownLatch gate = new CountDownLatch(1);
        Received got = new Received();
        MessageListenerConcurrently blocking = (msgs, ctx) -> {
            try {
                gate.await(120, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            msgs.forEach(got::add);
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        };
        DefaultMQPushConsumer consumer = newPushConsumer(group);
        consumer.setPullThresholdForQueue(threshold);
        consumer.setPullBatchSize(batch);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(blocking);
        consumer.start();

        // Sample every ProcessQueue's cached count until the caches have been stable for 3 s.
        Map<Integer, Long> maxSeen = new TreeMap<>();
        long deadline = System.currentTimeMillis() + 60_000;
        long stableSince = System.currentTimeMillis();
        Map<Integer, Long> last = Map.of();
        try {
            while (true) {
                Map<Integer, Long> now = new TreeMap<>();
                for (Map.Entry<MessageQueue, ProcessQueue> e
                    : consumer.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable().entrySet()) {
                    if (e.getKey().getTopic().equals(topic)) {
                        long n = e.getValue().getMsgCount().get();
                        now.put(e.getKey().getQueueId(), n);
                        maxSeen.merge(e.getKey().getQueueId(), n, Math::max);
                    }
                }
                if (!now.equals(last)) {
                    last = now;
                    stableSince = System.currentTimeMillis();
                }
                boolean allCached = now.size() == 4 && now.values().stream().allMatch(n -> n > threshold);
                if (allCached && System.currentTimeMillis() - stableSince > 3_000) {
                    break;
                }
                assertTrue(System.currentTimeMillis() < deadline,
                    "caches of all 4 queues above the threshold and stable; last " + now + ", max " + maxSeen);
                Thread.sleep(20);
            }
            System.out.println("flow control: cached msgCount per queue (max seen) " + maxSeen + ", stable " + last);
            for (Map.Entry<Integer, Long> e : maxSeen.entrySet()) {
                assertTrue(e.getValue() <= threshold + batch,
                    "queue " + e.getKey() + " cached " + e.getValue() + " > threshold + pullBatchSize; " + maxSeen);
            }
            assertEquals(0, got.total(), "nothing consumed while the listener blocks");
        } finally {
            gate.countDown();
        }

        ConsumeSupport.assertTrueWithin(60_000, "800 distinct bodies", () -> got.distinctBodies().size() >= 800);
        awaitCaughtUp(admin, group, topic, 800);
        assertEquals(new TreeSet<>(sent), got.distinctBodies());
        assertEquals(Map.of(), got.duplicates());
    }
}
