package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageConst;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;
import rmq.conformance.harness.BrokerConfig;
import rmq.conformance.harness.Servers;

/**
 * Delay levels (issue #5): SCHEDULE_TOPIC_XXXX, the schedule service, delayOffset.json across a restart.
 * The broker runs with the first three default levels ({@code 1s 5s 10s}), set explicitly through the
 * {@code messageDelayLevel} key.
 */
// serverLine5: two long levels for restartWhileParkedLosesAndDuplicatesNone, see there
@BrokerConfig(value = {"messageDelayLevel=1s 5s 10s"}, serverLine5 = {"messageDelayLevel=1s 5s 10s 30s 35s"})
class DelayTest extends ConformanceBase {

    /** Arrival times (ms since epoch) per body, and how often each body arrived. */
    static final class Arrivals {
        final Map<String, Long> first = new ConcurrentHashMap<>();
        final Map<String, AtomicInteger> count = new ConcurrentHashMap<>();
        final Map<String, MessageExt> msg = new ConcurrentHashMap<>();
        /** body -> "q<queueId>@<queueOffset>" of every delivery (tells a stored twice from a pulled twice). */
        final Map<String, java.util.Queue<String>> where = new ConcurrentHashMap<>();

        void add(MessageExt m) {
            long now = System.currentTimeMillis();
            String body = new String(m.getBody(), StandardCharsets.UTF_8);
            first.putIfAbsent(body, now);
            msg.putIfAbsent(body, m);
            count.computeIfAbsent(body, k -> new AtomicInteger()).incrementAndGet();
            where.computeIfAbsent(body, k -> new java.util.concurrent.ConcurrentLinkedQueue<>())
                .add("q" + m.getQueueId() + "@" + m.getQueueOffset());
        }

        Map<String, Integer> duplicates() {
            Map<String, Integer> d = new TreeMap<>();
            count.forEach((b, c) -> {
                if (c.get() > 1) {
                    d.put(b, c.get());
                }
            });
            return d;
        }

        /** Where each duplicated body was delivered from. */
        String describeDuplicates() {
            Map<String, Object> d = new TreeMap<>();
            duplicates().keySet().forEach(b -> d.put(b, where.get(b)));
            return d.toString();
        }
    }

    private DefaultMQPushConsumer startConsumer(DefaultMQAdminExt admin, String topic, String group, Arrivals a)
        throws Exception {
        createTopic(admin, topic, 4);
        DefaultMQPushConsumer consumer = newPushConsumer(group);
        // after a broker restart the consumer's pulls are refused until its next heartbeat re-registers the
        // group (30 s by default, on both targets)
        consumer.setHeartbeatBrokerInterval(1_000);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently)
            (msgs, ctx) -> {
                msgs.forEach(a::add);
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            });
        consumer.start();
        // subscribed before the send: the consumer owns all 4 queues
        ConsumeSupport.assertTrueWithin(30_000, "consumer owns the 4 queues of " + topic,
            () -> ownedQueueIds(consumer, topic).size() == 4);
        return consumer;
    }

    /** A level-2 (5 s) message reaches a subscribed consumer no earlier than 5 s and within 6 s after the send. */
    @Test
    void level2ArrivesAfterFiveSeconds() throws Exception {
        String topic = "DelayLevel2Topic";
        DefaultMQAdminExt admin = startAdmin();
        Arrivals got = new Arrivals();
        startConsumer(admin, topic, "delay_level2_group", got);
        DefaultMQProducer producer = startProducer("delay_level2_producer");
        // warm the route so that the measured send is a plain SEND_MESSAGE_V2
        producer.send(new Message(topic, "warm", "warm".getBytes(StandardCharsets.UTF_8)));
        ConsumeSupport.assertTrueWithin(30_000, "warm-up message consumed", () -> got.first.containsKey("warm"));

        Message m = new Message(topic, "TagA", "delayed-5s".getBytes(StandardCharsets.UTF_8));
        m.setDelayTimeLevel(2);
        long before = System.currentTimeMillis();
        SendResult r = producer.send(m);
        long after = System.currentTimeMillis();
        assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());

        ConsumeSupport.assertTrueWithin(30_000, "delayed message consumed", () -> got.first.containsKey("delayed-5s"));
        long arrived = got.first.get("delayed-5s");
        assertTrue(arrived - before >= 5_000, "arrived " + (arrived - before) + " ms after the send started (< 5000)");
        assertTrue(arrived - after <= 6_000, "arrived " + (arrived - after) + " ms after the send returned (> 6000)");
        MessageExt got1 = got.msg.get("delayed-5s");
        assertEquals(topic, got1.getTopic());
        assertEquals("TagA", got1.getTags());
        // the real topic/queue were restored from REAL_TOPIC/REAL_QID, which stay, and so does DELAY (4.9.7)
        assertEquals("2", got1.getProperty(MessageConst.PROPERTY_DELAY_TIME_LEVEL), got1.toString());
        assertEquals(topic, got1.getProperty(MessageConst.PROPERTY_REAL_TOPIC), got1.toString());
        assertEquals(r.getMsgId(), got1.getMsgId(), "UNIQ_KEY survives the schedule topic");
        Thread.sleep(1_000); // a duplicate would come from the same schedule tick
        assertEquals(Map.of(), got.duplicates());
    }

    /**
     * Messages parked in SCHEDULE_TOPIC_XXXX (levels 2 and 3: 5 s and 10 s) while the broker is stopped gracefully
     * and started again on the same store: after the restart each arrives exactly once, none before its delay.
     *
     * <p>5.x servers: levels 4 and 5 (30 s and 35 s). A 5.x broker keeps its ScheduleMessageService delivering
     * until the end of its (here 6-12 s long) graceful shutdown: BrokerController.shutdownBasicService shuts the
     * message store down first and persists/stops the schedule service after it (4.9.7 stops it first, in
     * DefaultMessageStore.shutdown). Messages falling due around the store's shutdown were seen delivered once
     * before and once again after the restart (6 of 20 level-3 messages in one run).
     * With delays longer than the shutdown the messages are still parked while the broker stops and come due
     * while it is down or booting, which is what this test checks.
     */
    @Test
    void restartWhileParkedLosesAndDuplicatesNone() throws Exception {
        String topic = "DelayRestartTopic";
        DefaultMQAdminExt admin = startAdmin();
        Arrivals got = new Arrivals();
        startConsumer(admin, topic, "delay_restart_group", got);
        DefaultMQProducer producer = startProducer("delay_restart_producer");
        boolean line5 = Servers.serverLine() == 5;

        Map<String, Long> due = new TreeMap<>();
        for (int i = 0; i < 40; i++) {
            int level = (i % 2 == 0 ? 2 : 3) + (line5 ? 2 : 0);
            String body = "parked-L" + level + "-" + i;
            Message m = new Message(topic, "TagA", body.getBytes(StandardCharsets.UTF_8));
            m.setDelayTimeLevel(level);
            long before = System.currentTimeMillis();
            SendResult r = producer.send(m);
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
            due.put(body, before + (line5 ? (level == 4 ? 30_000 : 35_000) : (level == 2 ? 5_000 : 10_000)));
        }
        assertEquals(Set.of(), got.first.keySet(), "nothing delivered before its delay");
        servers().restartBroker();

        ConsumeSupport.assertTrueWithin(90_000, "all 40 parked messages consumed after the restart",
            () -> got.first.size() >= 40);
        assertEquals(new TreeSet<>(due.keySet()), new TreeSet<>(got.first.keySet()));
        for (Map.Entry<String, Long> e : due.entrySet()) {
            long arrived = got.first.get(e.getKey());
            assertTrue(arrived >= e.getValue(), e.getKey() + " arrived " + (e.getValue() - arrived) + " ms early");
        }
        Thread.sleep(2_000); // give a re-delivery from a stale delayOffset a chance to show up
        assertEquals(Map.of(), got.duplicates(), "no message delivered twice: " + got.describeDuplicates());
    }
}
