package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static rmq.conformance.MqadminTest.ok;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.remoting.protocol.statictopic.TopicConfigAndQueueMapping;
import org.apache.rocketmq.remoting.protocol.statictopic.TopicQueueMappingDetail;
import org.apache.rocketmq.remoting.protocol.statictopic.TopicQueueMappingUtils;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import rmq.conformance.harness.Servers;

/**
 * A static topic spread over two brokers through the official 5.3.1 tools and client: {@code updateStaticTopic
 * -qn 8} on a cluster of {@code broker-a} and {@code broker-b} gives each broker four logic queues whose ids are
 * not its physical ones (logic 0..7, physical 0..3 on each). The brokers translate: sends answer the logic queue
 * and offset, pulls read the physical queue and answer logic offsets ({@code offsetDelta}), GET_MAX_OFFSET /
 * GET_MIN_OFFSET answer logic offsets, and consumer offsets committed through logic queues are found again by a
 * second consumer of the group (no redelivery). Then {@code remappingStaticTopic -b broker-a} moves broker-b's
 * logic queues onto broker-a as second generations (logic offsets from 10000): sends go on at the new offsets,
 * and reads of the old generations (min offsets, the group's committed offsets, a new group's pulls from the
 * first offset) are forwarded by broker-a to broker-b. The same class runs against the 5.x oracle (two Java
 * brokers).
 */
class StaticTopicSpreadTest extends ConformanceBase {
    static final String TOPIC = "StaticSpreadT";
    static final String GROUP = "static_spread_group";
    static final int SENDS = 24;

    @BeforeAll
    static void toolsHome() throws Exception {
        MqadminTest.toolsHome();
    }

    @Test
    void logicQueuesOnTwoBrokers() throws Exception {
        String brokerB = servers().startSecondMaster()[0];
        String ns = servers().namesrvAddr();
        String out = ok("updateStaticTopic", "-n", ns, "-c", Servers.CLUSTER, "-t", TOPIC, "-qn", "8");
        assertTrue(out.contains("The new mapping data is written to file"), out);

        DefaultMQAdminExt admin = startAdmin();
        Map<Integer, Integer> logicToPhysical = new TreeMap<>();
        for (String addr : List.of(servers().brokerAddr(), brokerB)) {
            TopicQueueMappingDetail detail = ((TopicConfigAndQueueMapping) admin.examineTopicConfig(addr, TOPIC))
                .getMappingDetail();
            assertNotNull(detail, "GET_TOPIC_CONFIG with lo=true at " + addr);
            assertEquals(8, detail.getTotalQueues());
            assertEquals(4, detail.getHostedQueues().size(), addr + ": " + detail);
            detail.getHostedQueues().forEach((logic, items) -> logicToPhysical.put(logic, items.get(0).getQueueId()));
        }
        assertEquals(8, logicToPhysical.size(), logicToPhysical.toString());
        assertTrue(logicToPhysical.entrySet().stream().anyMatch(e -> !e.getKey().equals(e.getValue())),
            "some logic ids differ from their physical ones: " + logicToPhysical);

        eventually(20_000, () -> {
            var route = admin.examineTopicRouteInfo(TOPIC);
            assertNotNull(route.getTopicQueueMappingByBroker(), route.toString());
            assertEquals(2, route.getTopicQueueMappingByBroker().size(), route.toString());
            return null;
        });

        DefaultMQProducer producer = startProducer("static_spread_producer");
        List<String> bodies = new ArrayList<>();
        Map<Integer, Long> sentPerQueue = new TreeMap<>();
        for (int i = 0; i < SENDS; i++) {
            String body = "spread " + i;
            SendResult r = producer.send(new Message(TOPIC, body.getBytes(StandardCharsets.UTF_8)));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
            int queue = r.getMessageQueue().getQueueId();
            long before = sentPerQueue.getOrDefault(queue, 0L);
            assertEquals(before, r.getQueueOffset(), "the logic offset of send " + i + ": " + r);
            sentPerQueue.put(queue, before + 1);
            bodies.add(body);
        }
        assertTrue(sentPerQueue.keySet().stream().anyMatch(q -> q >= 4),
            "sends reach logic queues past 3: " + sentPerQueue);

        String mockBroker = TopicQueueMappingUtils.getMockBrokerName("__global__");
        long total = 0;
        for (int logic = 0; logic < 8; logic++) {
            MessageQueue mq = new MessageQueue(TOPIC, mockBroker, logic);
            long max = admin.maxOffset(mq);
            assertEquals(sentPerQueue.getOrDefault(logic, 0L), max, "max offset of logic queue " + logic);
            assertEquals(0L, admin.minOffset(mq), "min offset of logic queue " + logic);
            total += max;
        }
        assertEquals(SENDS, total);

        Received got = new Received();
        DefaultMQPushConsumer consumer = consumeFromFirst(GROUP, got);
        ConsumeSupport.assertTrueWithin(60_000, "the " + SENDS + " bodies", () -> got.distinctBodies().containsAll(bodies));
        assertEquals(sentPerQueue.keySet(), got.queueIds(), "messages carry their logic queue ids");
        Map<Integer, Set<Long>> offsets = new TreeMap<>();
        got.all().forEach(d -> offsets.computeIfAbsent(d.queueId(), q -> new TreeSet<>()).add(d.queueOffset()));
        sentPerQueue.forEach((queue, n) -> {
            Set<Long> expected = new TreeSet<>();
            for (long o = 0; o < n; o++) {
                expected.add(o);
            }
            assertEquals(expected, offsets.get(queue), "logic offsets delivered from logic queue " + queue);
        });
        consumer.shutdown(); // persists the group's offsets through UPDATE_CONSUMER_OFFSET

        // The group's offsets were stored through the logic queues: a new consumer of the group, from the first
        // offset where none is stored, gets only what is sent now.
        Received again = new Received();
        DefaultMQPushConsumer second = consumeFromFirst(GROUP, again);
        List<String> later = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            String body = "spread later " + i;
            assertEquals(SendStatus.SEND_OK, producer.send(new Message(TOPIC, body.getBytes(StandardCharsets.UTF_8)))
                .getSendStatus());
            later.add(body);
        }
        ConsumeSupport.assertTrueWithin(60_000, "the 8 later bodies", () -> again.distinctBodies().containsAll(later));
        assertEquals(new TreeSet<>(later), new TreeSet<>(again.distinctBodies()), "no earlier message again");
        second.shutdown();
        for (String body : later) {
            bodies.add(body);
        }

        // remappingStaticTopic onto broker-a alone: broker-b's four logic queues get a second generation on
        // broker-a, from logic offset 10000 (Java's block rounding); their first generations stay on broker-b.
        out = ok("remappingStaticTopic", "-n", ns, "-t", TOPIC, "-b", Servers.BROKER_NAME);
        assertTrue(out.contains("The old mapping data is written to file"), out);
        TopicQueueMappingDetail onA = ((TopicConfigAndQueueMapping) admin.examineTopicConfig(
            servers().brokerAddr(), TOPIC)).getMappingDetail();
        assertEquals(8, onA.getHostedQueues().size(), onA.toString());
        Set<Integer> moved = new TreeSet<>();
        onA.getHostedQueues().forEach((logic, items) -> {
            if (items.size() == 2) {
                moved.add(logic);
                assertEquals("broker-b", items.get(0).getBname(), items.toString());
                assertEquals(Servers.BROKER_NAME, items.get(1).getBname(), items.toString());
                assertEquals(10000L, items.get(1).getLogicOffset(), items.toString());
            }
        });
        assertEquals(4, moved.size(), onA.toString());
        eventually(20_000, () -> {
            var route = admin.examineTopicRouteInfo(TOPIC);
            var info = route.getTopicQueueMappingByBroker().get(Servers.BROKER_NAME);
            assertEquals(8, info.getCurrIdMap().size(), route.toString());
            return null;
        });

        DefaultMQProducer afterwards = startProducer("static_spread_producer_after");
        List<String> newer = new ArrayList<>();
        Map<Integer, Long> newerPerQueue = new TreeMap<>();
        for (int i = 0; i < 16; i++) {
            String body = "spread remapped " + i;
            SendResult r = afterwards.send(new Message(TOPIC, body.getBytes(StandardCharsets.UTF_8)));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
            int queue = r.getMessageQueue().getQueueId();
            if (moved.contains(queue)) {
                assertEquals(10000L + newerPerQueue.getOrDefault(queue, 0L), r.getQueueOffset(), r.toString());
            }
            newerPerQueue.merge(queue, 1L, Long::sum);
            newer.add(body);
        }
        assertTrue(newerPerQueue.keySet().stream().anyMatch(moved::contains), "sends reach a remapped queue");
        DefaultMQAdminExt adminAfter = startAdmin(); // the first one's cached route still points at broker-b
        for (int logic : moved) {
            MessageQueue mq = new MessageQueue(TOPIC, mockBroker, logic);
            assertEquals(0L, adminAfter.minOffset(mq), "min offset of remapped queue " + logic + " (broker-b's generation)");
            assertEquals(10000L + newerPerQueue.getOrDefault(logic, 0L), adminAfter.maxOffset(mq),
                "max offset of remapped queue " + logic);
        }

        // The group's offsets, committed on broker-b's generations, are found through broker-a: only the newer
        // messages come, the consumer moving from the old generations' ends to the new ones.
        Received third = new Received();
        DefaultMQPushConsumer resumed = consumeFromFirst(GROUP, third);
        ConsumeSupport.assertTrueWithin(60_000, "the 16 newer bodies", () -> third.distinctBodies().containsAll(newer));
        assertEquals(new TreeSet<>(newer), new TreeSet<>(third.distinctBodies()), "no earlier message after remapping");

        // A new group from the first offset reads broker-b's generations through broker-a, then broker-a's.
        bodies.addAll(newer);
        Received everything = new Received();
        DefaultMQPushConsumer fresh = consumeFromFirst("static_spread_all", everything);
        ConsumeSupport.assertTrueWithin(60_000, "all " + bodies.size() + " bodies",
            () -> everything.distinctBodies().containsAll(bodies));
        assertEquals(new TreeSet<>(bodies), new TreeSet<>(everything.distinctBodies()));
    }

    /** A started push consumer of {@code group} on the topic, from the first offset where none is stored. */
    private DefaultMQPushConsumer consumeFromFirst(String group, Received got) throws Exception {
        DefaultMQPushConsumer consumer = newPushConsumer(group);
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        consumer.subscribe(TOPIC, "*");
        consumer.registerMessageListener(got.listener());
        consumer.start();
        return consumer;
    }
}
