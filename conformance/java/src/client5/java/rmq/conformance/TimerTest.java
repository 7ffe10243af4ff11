package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
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
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
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
 * Timer messages (issue #13) with the 5.x client's own API: {@code Message.setDeliverTimeMs},
 * {@code setDelayTimeSec}, {@code setDelayTimeMs}. Each arrives no earlier than asked and within the precision
 * (plus the consumer's pull path); timers pending across a graceful restart and across kill -9 all arrive.
 *
 * <p>{@code timerPrecisionMs=100} on every target (the 5.x broker's default is 1000; rmq's is 1).
 */
@BrokerConfig({"timerPrecisionMs=100"})
class TimerTest extends ConformanceBase {

    static final long PRECISION_MS = 100;
    /** How late an arrival may be beyond the precision: delivery pass, pull wake-up, a loaded CI machine. */
    static final long SLACK_MS = 1_500;

    static final class Arrivals {
        final Map<String, Long> first = new ConcurrentHashMap<>();
        final Map<String, MessageExt> msg = new ConcurrentHashMap<>();
        final Map<String, AtomicInteger> count = new ConcurrentHashMap<>();

        void add(MessageExt m) {
            long now = System.currentTimeMillis();
            String body = new String(m.getBody(), StandardCharsets.UTF_8);
            first.putIfAbsent(body, now);
            msg.putIfAbsent(body, m);
            count.computeIfAbsent(body, k -> new AtomicInteger()).incrementAndGet();
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
    }

    private void startConsumer(DefaultMQAdminExt admin, String topic, String group, Arrivals a) throws Exception {
        createTopic(admin, topic, 4);
        DefaultMQPushConsumer consumer = newPushConsumer(group);
        consumer.setHeartbeatBrokerInterval(1_000);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            msgs.forEach(a::add);
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();
        ConsumeSupport.assertTrueWithin(30_000, "consumer owns the 4 queues of " + topic,
            () -> ownedQueueIds(consumer, topic).size() == 4);
    }

    private static void warm(DefaultMQProducer producer, String topic, Arrivals got) throws Exception {
        producer.send(new Message(topic, "warm", "warm".getBytes(StandardCharsets.UTF_8)));
        ConsumeSupport.assertTrueWithin(30_000, "warm-up message consumed", () -> got.first.containsKey("warm"));
    }

    /** The three APIs, each a few hundred ms to 2 s out: on time, with the 5.x delivery properties. */
    @Test
    void eachApiArrivesNoEarlierThanAskedAndWithinThePrecision() throws Exception {
        String topic = "TimerApiTopic";
        DefaultMQAdminExt admin = startAdmin();
        Arrivals got = new Arrivals();
        startConsumer(admin, topic, "timer_api_group", got);
        DefaultMQProducer producer = startProducer("timer_api_producer");
        warm(producer, topic, got);

        Map<String, Long> earliest = new TreeMap<>();
        for (int i = 0; i < 10; i++) {
            String body = "at-" + i;
            Message m = new Message(topic, "TagT", body.getBytes(StandardCharsets.UTF_8));
            long at = System.currentTimeMillis() + 1_500 + 37L * i;
            m.setDeliverTimeMs(at);
            SendResult r = producer.send(m);
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
            earliest.put(body, at);
        }
        long before = System.currentTimeMillis();
        Message sec = new Message(topic, "TagT", "sec".getBytes(StandardCharsets.UTF_8));
        sec.setDelayTimeSec(2);
        assertEquals(SendStatus.SEND_OK, producer.send(sec).getSendStatus());
        earliest.put("sec", before + 2_000);
        before = System.currentTimeMillis();
        Message ms = new Message(topic, "TagT", "ms".getBytes(StandardCharsets.UTF_8));
        ms.setDelayTimeMs(1_200);
        SendResult msResult = producer.send(ms);
        assertEquals(SendStatus.SEND_OK, msResult.getSendStatus());
        earliest.put("ms", before + 1_200);
        assertEquals(Set.of("warm"), got.first.keySet(), "nothing delivered before its time");

        ConsumeSupport.assertTrueWithin(30_000, "all 12 timers consumed",
            () -> got.first.keySet().containsAll(earliest.keySet()));
        for (Map.Entry<String, Long> e : earliest.entrySet()) {
            long late = got.first.get(e.getKey()) - e.getValue();
            assertTrue(late >= 0, e.getKey() + " arrived " + (-late) + " ms early");
            assertTrue(late <= PRECISION_MS + SLACK_MS, e.getKey() + " arrived " + late + " ms late");
        }
        MessageExt m = got.msg.get("ms");
        assertEquals(topic, m.getTopic());
        assertEquals("TagT", m.getTags());
        assertEquals(msResult.getMsgId(), m.getMsgId(), "UNIQ_KEY survives the timer topic");
        assertEquals("1200", m.getProperty(MessageConst.PROPERTY_TIMER_DELAY_MS));
        assertNotNull(m.getProperty(MessageConst.PROPERTY_TIMER_OUT_MS), m.toString());
        assertNotNull(m.getProperty(MessageConst.PROPERTY_TIMER_ENQUEUE_MS), m.toString());
        assertNotNull(m.getProperty(MessageConst.PROPERTY_TIMER_DEQUEUE_MS), m.toString());
        // the 5.3.1 broker keeps REAL_TOPIC / REAL_QID on the delivered message
        assertEquals(topic, m.getProperty(MessageConst.PROPERTY_REAL_TOPIC), m.toString());
        assertEquals(String.valueOf(m.getQueueId()), m.getProperty(MessageConst.PROPERTY_REAL_QUEUE_ID), m.toString());
        assertEquals(Map.of(), got.duplicates());
    }

    /** A deliver time beyond timerMaxDelaySec (3 days) is refused with MESSAGE_ILLEGAL. */
    @Test
    void beyondTheMaximumDelayIsRefused() throws Exception {
        String topic = "TimerLimitTopic";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4);
        DefaultMQProducer producer = startProducer("timer_limit_producer");
        producer.setRetryTimesWhenSendFailed(0);
        Message m = new Message(topic, "TagT", "too-far".getBytes(StandardCharsets.UTF_8));
        m.setDeliverTimeMs(System.currentTimeMillis() + 3L * 86_400_000 + 60_000);
        try {
            producer.send(m);
            throw new AssertionError("a timer 3 days + 1 min out was accepted");
        } catch (org.apache.rocketmq.client.exception.MQBrokerException e) {
            assertEquals(13, e.getResponseCode(), e.toString());
            assertTrue(e.getErrorMessage().contains("the max delay 259200000ms"), e.getErrorMessage());
        }
    }

    private Map<String, Long> sendSpread(DefaultMQProducer producer, String topic, String prefix, int n, long from,
        long spread) throws Exception {
        Map<String, Long> due = new TreeMap<>();
        long t0 = System.currentTimeMillis();
        for (int i = 0; i < n; i++) {
            String body = prefix + i;
            Message m = new Message(topic, "TagT", body.getBytes(StandardCharsets.UTF_8));
            long at = t0 + from + spread * i / n;
            m.setDeliverTimeMs(at);
            assertEquals(SendStatus.SEND_OK, producer.send(m).getSendStatus());
            due.put(body, at);
        }
        return due;
    }

    /**
     * Timers due 20-25 s out, the broker stopped gracefully and started again on the same store: every one
     * arrives, none early. (Due after the 5.x broker's 6-12 s graceful shutdown, see DelayTest.) rmq delivers
     * each exactly once across a clean restart; the Java broker is at-least-once, so duplicates are only counted
     * there.
     */
    @Test
    void pendingAcrossAGracefulRestartAllArrive() throws Exception {
        String topic = "TimerRestartTopic";
        DefaultMQAdminExt admin = startAdmin();
        Arrivals got = new Arrivals();
        startConsumer(admin, topic, "timer_restart_group", got);
        DefaultMQProducer producer = startProducer("timer_restart_producer");
        warm(producer, topic, got);
        Map<String, Long> due = sendSpread(producer, topic, "graceful-", 30, 20_000, 5_000);
        servers().restartBroker();
        ConsumeSupport.assertTrueWithin(90_000, "all 30 timers consumed after the restart",
            () -> got.first.keySet().containsAll(due.keySet()));
        for (Map.Entry<String, Long> e : due.entrySet()) {
            assertTrue(got.first.get(e.getKey()) >= e.getValue(), e.getKey() + " early");
        }
        if (!Servers.target().startsWith("java")) {
            Thread.sleep(1_000); // a re-delivery would come in the same pass
            assertEquals(Map.of(), got.duplicates(), "no timer delivered twice across a clean restart");
        } else {
            System.out.println("TimerTest oracle duplicates across a graceful restart: " + got.duplicates());
        }
    }

    /** kill -9 with timers pending (due 10-15 s out), then a start on the same store: none lost. */
    @Test
    void pendingAcrossKillNineAllArrive() throws Exception {
        String topic = "TimerKillTopic";
        DefaultMQAdminExt admin = startAdmin();
        Arrivals got = new Arrivals();
        startConsumer(admin, topic, "timer_kill_group", got);
        DefaultMQProducer producer = startProducer("timer_kill_producer");
        warm(producer, topic, got);
        Map<String, Long> due = sendSpread(producer, topic, "killed-", 30, 10_000, 5_000);
        servers().killBroker();
        servers().restartBroker();
        ConsumeSupport.assertTrueWithin(90_000, "all 30 timers consumed after kill -9",
            () -> got.first.keySet().containsAll(due.keySet()));
        for (Map.Entry<String, Long> e : due.entrySet()) {
            assertTrue(got.first.get(e.getKey()) >= e.getValue(), e.getKey() + " early");
        }
        System.out.println("TimerTest duplicates after kill -9 (" + Servers.target() + "): " + got.duplicates());
        assertEquals(new TreeSet<>(due.keySet()),
            new TreeSet<>(got.first.keySet().stream().filter(k -> k.startsWith("killed-")).toList()));
    }
}
