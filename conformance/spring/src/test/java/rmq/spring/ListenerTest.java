package rmq.spring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.impl.consumer.ProcessQueue;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.spring.annotation.ConsumeMode;
import org.apache.rocketmq.spring.annotation.RocketMQMessageListener;
import org.apache.rocketmq.spring.core.RocketMQListener;
import org.apache.rocketmq.spring.core.RocketMQPushConsumerLifecycleListener;
import org.apache.rocketmq.spring.core.RocketMQTemplate;
import org.apache.rocketmq.spring.support.DefaultRocketMQListenerContainer;
import org.apache.rocketmq.spring.support.RocketMQHeaders;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.messaging.Message;
import org.springframework.messaging.support.MessageBuilder;
import org.springframework.test.annotation.DirtiesContext;

/**
 * {@code @RocketMQMessageListener} consumers: a CONCURRENTLY one with a tag selector (raw MessageExt: body,
 * tags, keys, Spring headers as user properties, exactly as sent, and nothing the selector excludes), and an
 * ORDERLY one taking a JSON payload (the starter's Jackson conversion both ways) that gets every order's steps
 * in send order.
 */
@ExtendWith(SpringServers.class) // before @SpringBootTest: servers first up, last down
@SpringBootTest(classes = ListenerTest.App.class, properties = {
    "rocketmq.producer.group=spring_listener_producer",
    "rocketmq.producer.send-message-timeout=10000",
})
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
class ListenerTest extends SpringConformanceBase {
    static final String TAGGED_TOPIC = "SpringTaggedTopic";
    static final String ORDER_TOPIC = "SpringOrderTopic";
    static final int QUEUES = 4; // auto-created topics get defaultTopicQueueNums = 4

    @Configuration
    @EnableAutoConfiguration
    @Import({TaggedListener.class, OrderListener.class})
    static class App {
        @Bean
        SentMessages sentMessages(RocketMQTemplate template) {
            SentMessages hook = new SentMessages();
            template.getProducer().getDefaultMQProducerImpl().registerSendMessageHook(hook);
            return hook;
        }
    }

    @RocketMQMessageListener(topic = TAGGED_TOPIC, consumerGroup = "spring_tagged_consumer",
        selectorExpression = "TagA || TagB", consumeThreadNumber = 4, consumeThreadMax = 4)
    static class TaggedListener extends RecordingListener {
    }

    /** One step of an order, sent and received as JSON. */
    public static class OrderStep {
        public String orderId;
        public int step;

        public OrderStep() {
        }

        OrderStep(String orderId, int step) {
            this.orderId = orderId;
            this.step = step;
        }
    }

    @RocketMQMessageListener(topic = ORDER_TOPIC, consumerGroup = "spring_order_consumer",
        consumeMode = ConsumeMode.ORDERLY, consumeThreadNumber = 4, consumeThreadMax = 4)
    static class OrderListener implements RocketMQListener<OrderStep>, RocketMQPushConsumerLifecycleListener {
        final Map<String, List<Integer>> stepsByOrder = new ConcurrentHashMap<>();
        final ConcurrentLinkedQueue<String> all = new ConcurrentLinkedQueue<>();

        @Override
        public void onMessage(OrderStep s) {
            stepsByOrder.computeIfAbsent(s.orderId, k -> java.util.Collections.synchronizedList(new ArrayList<>()))
                .add(s.step);
            all.add(s.orderId + "#" + s.step);
        }

        @Override
        public void prepareStart(DefaultMQPushConsumer consumer) {
            consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
            consumer.setPollNameServerInterval(1_000);
        }

        Map<String, List<Integer>> snapshot() {
            Map<String, List<Integer>> m = new TreeMap<>();
            stepsByOrder.forEach((k, v) -> {
                synchronized (v) {
                    m.put(k, new ArrayList<>(v));
                }
            });
            return m;
        }
    }

    @Autowired
    RocketMQTemplate template;
    @Autowired
    TaggedListener tagged;
    @Autowired
    OrderListener orders;
    @Autowired
    SentMessages sent;
    @Autowired
    ApplicationContext context;

    DefaultMQPushConsumer consumerOf(Object listener) {
        for (DefaultRocketMQListenerContainer c : context.getBeansOfType(DefaultRocketMQListenerContainer.class)
            .values()) {
            if (c.getRocketMQListener() == listener) {
                return c.getConsumer();
            }
        }
        throw new AssertionError("no listener container for " + listener);
    }

    /** A hash key that SelectMessageQueueByHash puts on {@code queueId}. */
    static String hashKeyForQueue(String prefix, int queueId) {
        for (int i = 0; ; i++) {
            String k = prefix + i;
            if (Math.abs(k.hashCode() % QUEUES) == queueId) {
                return k;
            }
        }
    }

    /**
     * 30 messages tagged TagA, TagB, TagC in turn, with keys and a Spring header; the listener selects
     * "TagA || TagB". Every A and B arrives exactly once, as sent; no C arrives: after the 30, a TagA marker is
     * sent to every queue, and once every marker is delivered and the consumer holds nothing unconsumed, every
     * C before them has been pulled and filtered out.
     */
    @Test
    void concurrentListenerWithTagSelector() throws Exception {
        List<String> tags = List.of("TagA", "TagB", "TagC");
        Map<String, SendResult> results = new TreeMap<>();
        for (int i = 0; i < 30; i++) {
            String tag = tags.get(i % 3);
            String body = "tagged-" + i + "-" + tag;
            Message<String> m = MessageBuilder.withPayload(body)
                .setHeader(RocketMQHeaders.KEYS, "key-" + i)
                .setHeader("orderNo", "no-" + i)
                .build();
            SendResult r = template.syncSend(TAGGED_TOPIC + ":" + tag, m);
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
            results.put(body, r);
        }
        List<String> markers = new ArrayList<>();
        for (int q = 0; q < QUEUES; q++) {
            String key = hashKeyForQueue("marker-", q);
            SendResult r = template.syncSendOrderly(TAGGED_TOPIC + ":TagA", "marker-" + q, key);
            assertEquals(q, r.getMessageQueue().getQueueId(), r.toString());
            markers.add("marker-" + q);
        }
        for (String m : markers) {
            Await.until(60_000, "delivery of " + m, () -> !tagged.withBody(m).isEmpty(), tagged::counts);
        }
        DefaultMQPushConsumer consumer = consumerOf(tagged);
        Await.until(30_000, "the tagged consumer has consumed everything it pulled", () -> {
            Map<MessageQueue, ProcessQueue> t =
                consumer.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable();
            return t.keySet().stream().filter(q -> q.getTopic().equals(TAGGED_TOPIC)).count() == QUEUES
                && t.values().stream().allMatch(pq -> pq.getMsgCount().get() == 0);
        }, () -> consumer.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable());

        Map<String, Integer> expectedCounts = new TreeMap<>();
        results.keySet().stream().filter(b -> !b.endsWith("TagC")).forEach(b -> expectedCounts.put(b, 1));
        markers.forEach(m -> expectedCounts.put(m, 1));
        assertEquals(expectedCounts, tagged.counts(), "deliveries per body (no TagC, each once)");

        for (Map.Entry<String, SendResult> e : results.entrySet()) {
            if (e.getKey().endsWith("TagC")) {
                continue;
            }
            SendResult r = e.getValue();
            MessageExt d = tagged.withBody(e.getKey()).get(0).msg();
            int i = Integer.parseInt(e.getKey().split("-")[1]);
            assertEquals(TAGGED_TOPIC, d.getTopic());
            assertEquals(tags.get(i % 3), d.getTags());
            assertEquals("key-" + i, d.getKeys());
            assertEquals("no-" + i, d.getUserProperty("orderNo"));
            assertEquals(r.getMsgId(), d.getMsgId());
            assertEquals(r.getOffsetMsgId(), offsetMsgIdOf(d));
            assertEquals(r.getMessageQueue().getQueueId(), d.getQueueId());
            assertEquals(r.getQueueOffset(), d.getQueueOffset());
            Map<String, String> expected = sentProperties(sent, d.getMsgId());
            expected.putAll(brokerAddedProperties());
            assertEquals(expected, wireProperties(d), "properties of " + e.getKey());
        }
    }

    /**
     * 10 orders x 5 steps, interleaved, sent with syncSendOrderly(hashKey = order id) as JSON objects: every
     * step arrives exactly once at the ORDERLY listener, converted back from JSON, and per order in step order.
     */
    @Test
    void orderlyListenerKeepsOrderPerHashKey() throws Exception {
        int orderCount = 10;
        int steps = 5;
        Map<String, Integer> queueOfOrder = new TreeMap<>();
        for (int s = 0; s < steps; s++) {
            for (int o = 0; o < orderCount; o++) {
                String orderId = "order-" + o;
                SendResult r = template.syncSendOrderly(ORDER_TOPIC + ":TagOrder", new OrderStep(orderId, s), orderId);
                assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
                Integer q = queueOfOrder.putIfAbsent(orderId, r.getMessageQueue().getQueueId());
                assertEquals(q == null ? r.getMessageQueue().getQueueId() : q, r.getMessageQueue().getQueueId(),
                    "one queue per hash key");
            }
        }
        Await.until(60_000, "all " + orderCount * steps + " steps delivered",
            () -> orders.all.size() >= orderCount * steps, orders::snapshot);
        Map<String, List<Integer>> expected = new TreeMap<>();
        for (int o = 0; o < orderCount; o++) {
            expected.put("order-" + o, List.of(0, 1, 2, 3, 4));
        }
        assertEquals(expected, orders.snapshot(), "steps per order, in arrival order");
        assertEquals(orderCount * steps, orders.all.size(), "no duplicates: " + orders.all);
        assertTrue(queueOfOrder.values().stream().distinct().count() > 1, "orders spread over queues: " + queueOfOrder);
    }
}
