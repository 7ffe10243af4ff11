package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.rocketmq.client.apis.ClientConfiguration;
import org.apache.rocketmq.client.apis.ClientServiceProvider;
import org.apache.rocketmq.client.apis.consumer.ConsumeResult;
import org.apache.rocketmq.client.apis.consumer.FilterExpression;
import org.apache.rocketmq.client.apis.consumer.FilterExpressionType;
import org.apache.rocketmq.client.apis.consumer.PushConsumer;
import org.apache.rocketmq.client.apis.consumer.SimpleConsumer;
import org.apache.rocketmq.client.apis.message.MessageView;
import org.apache.rocketmq.client.apis.producer.Producer;
import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.PullResult;
import org.apache.rocketmq.client.consumer.PullStatus;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.constant.PermName;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.remoting.protocol.subscription.SubscriptionGroupConfig;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import rmq.conformance.harness.BrokerConfig;
import rmq.conformance.harness.Standalone;

/**
 * The official RocketMQ 5.x gRPC Java SDK ({@code rocketmq-client-java} 5.0.7) as a consumer against the broker's own
 * gRPC endpoint (issue #14, docs/protocol/grpc.md sections 8 and 9): SimpleConsumer receive / ack / change of the
 * invisible duration; PushConsumer (QueryAssignment, ReceiveMessage with auto-renew) with a tag and an SQL92 filter;
 * FIFO per message group; retries ending in the dead-letter queue. Messages come from the 4.x remoting producer of
 * the suite as well as from the gRPC producer: mixed use, each message delivered once.
 *
 * <p>Only targets with a gRPC endpoint ({@code rmq}); see GrpcProducerTest.
 */
@Standalone
@BrokerConfig({"enablePropertyFilter=true"})
class GrpcConsumerTest extends ConformanceBase {
    static final ClientServiceProvider PROVIDER = ClientServiceProvider.loadService();

    @BeforeEach
    void needsGrpc() throws Exception {
        assumeTrue(servers().grpcEndpoint() != null, "target " + servers().targetName()
            + " serves no gRPC (the Java oracles need the 5.x Proxy, which is not on Maven Central)");
    }

    private static ClientConfiguration clientConfiguration() throws Exception {
        return ClientConfiguration.newBuilder()
            .setEndpoints(servers().grpcEndpoint())
            .enableSsl(false)
            .setRequestTimeout(Duration.ofSeconds(5))
            .build();
    }

    private static void createTopic(DefaultMQAdminExt admin, String topic, int queues, String messageType)
        throws Exception {
        TopicConfig tc = new TopicConfig(topic, queues, queues, PermName.PERM_READ | PermName.PERM_WRITE);
        tc.setAttributes(Map.of("+message.type", messageType));
        admin.createAndUpdateTopicConfig(servers().brokerAddr(), tc);
        eventually(15_000, () -> {
            var r = admin.examineTopicRouteInfo(topic);
            if (r == null || r.getQueueDatas().isEmpty() || r.getQueueDatas().get(0).getReadQueueNums() != queues) {
                throw new AssertionError("route of " + topic + " not yet visible: " + r);
            }
            return null;
        });
    }

    private static String body(MessageView m) {
        return StandardCharsets.UTF_8.decode(m.getBody().duplicate()).toString();
    }

    private static PushConsumer pushConsumer(String group, String topic, FilterExpression filter,
                                             java.util.function.Function<MessageView, ConsumeResult> listener)
        throws Exception {
        return PROVIDER.newPushConsumerBuilder()
            .setClientConfiguration(clientConfiguration())
            .setConsumerGroup(group)
            .setSubscriptionExpressions(Collections.singletonMap(topic, filter))
            .setMessageListener(listener::apply)
            .build();
    }

    /**
     * The SDK's defaults: TLS on (trusting any certificate, as against the Proxy). The broker's gRPC port takes TLS
     * and plaintext alike (tls.server.mode permissive, its self-signed test-mode certificate).
     */
    @Test
    void theSdkDefaultTlsConnectionSendsAndReceives() throws Exception {
        String topic = "GrpcTlsTopic";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4, "NORMAL");
        ClientConfiguration tlsConfiguration = ClientConfiguration.newBuilder()
            .setEndpoints(servers().grpcEndpoint())
            .setRequestTimeout(Duration.ofSeconds(5))
            .build();
        try (Producer producer = PROVIDER.newProducerBuilder()
            .setClientConfiguration(tlsConfiguration).setTopics(topic).build();
             SimpleConsumer consumer = PROVIDER.newSimpleConsumerBuilder()
                 .setClientConfiguration(tlsConfiguration)
                 .setConsumerGroup("grpc_tls_group")
                 .setSubscriptionExpressions(Collections.singletonMap(topic, FilterExpression.SUB_ALL))
                 .setAwaitDuration(Duration.ofSeconds(5))
                 .build()) {
            producer.send(PROVIDER.newMessageBuilder()
                .setTopic(topic)
                .setBody("over-tls".getBytes(StandardCharsets.UTF_8))
                .build());
            List<MessageView> got = new ArrayList<>();
            for (int round = 0; round < 10 && got.isEmpty(); round++) {
                got.addAll(consumer.receive(16, Duration.ofSeconds(30)));
            }
            assertEquals(1, got.size(), "received " + got);
            assertEquals("over-tls", body(got.get(0)));
            consumer.ack(got.get(0));
        }
    }

    /**
     * Two brokers behind one name server: the SDK, given broker-a's endpoint only, sends to the queues of both
     * (each broker named in the route with its own gRPC port) and its push consumer receives every message once.
     */
    @Test
    void twoBrokersBehindOneNameServerServeOneTopic() throws Exception {
        String topic = "GrpcTwoBrokersTopic";
        String[] second = servers().startSecondMaster();
        DefaultMQAdminExt admin = startAdmin();
        for (String addr : new String[] {servers().brokerAddr(), second[0]}) {
            TopicConfig tc = new TopicConfig(topic, 2, 2, PermName.PERM_READ | PermName.PERM_WRITE);
            tc.setAttributes(Map.of("+message.type", "NORMAL"));
            admin.createAndUpdateTopicConfig(addr, tc);
        }
        eventually(30_000, () -> {
            var r = admin.examineTopicRouteInfo(topic);
            if (r == null || r.getQueueDatas().size() != 2) {
                throw new AssertionError("route of " + topic + " does not name both brokers yet: " + r);
            }
            return null;
        });
        Map<String, AtomicInteger> got = new ConcurrentHashMap<>();
        try (PushConsumer consumer = pushConsumer("grpc_two_brokers_group", topic, FilterExpression.SUB_ALL, m -> {
            got.computeIfAbsent(body(m), k -> new AtomicInteger()).incrementAndGet();
            return ConsumeResult.SUCCESS;
        });
             Producer producer = PROVIDER.newProducerBuilder()
                 .setClientConfiguration(clientConfiguration()).setTopics(topic).build()) {
            for (int i = 0; i < 20; i++) {
                producer.send(PROVIDER.newMessageBuilder()
                    .setTopic(topic)
                    .setBody(("two-" + i).getBytes(StandardCharsets.UTF_8))
                    .build());
            }
            ConsumeSupport.assertTrueWithin(30_000, "the 20 messages, got " + got.keySet(), () -> got.size() == 20);
        }
        for (int i = 0; i < 20; i++) {
            assertEquals(1, got.get("two-" + i).get(), "two-" + i + " delivered " + got.get("two-" + i) + " times");
        }
        long onA = 0;
        long onB = 0;
        for (var e : admin.examineTopicStats(topic).getOffsetTable().entrySet()) {
            if (e.getKey().getBrokerName().equals("broker-b")) {
                onB += e.getValue().getMaxOffset();
            } else {
                onA += e.getValue().getMaxOffset();
            }
        }
        assertEquals(20, onA + onB, "stored on the two brokers");
        assertTrue(onA > 0 && onB > 0, "both brokers got messages: broker-a " + onA + ", broker-b " + onB);
    }

    /** Mixed use, 4.x remoting producer to 5.x gRPC SimpleConsumer: receive, ack, change the invisible duration. */
    @Test
    void simpleConsumerReceivesAcksAndChangesTheInvisibleDuration() throws Exception {
        String topic = "GrpcSimpleTopic";
        String group = "grpc_simple_group";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4, "NORMAL");
        DefaultMQProducer producer = startProducer("grpc_simple_remoting_producer");
        for (int i = 0; i < 10; i++) {
            Message m = new Message(topic, "TagA", "key-" + i, ("simple-" + i).getBytes(StandardCharsets.UTF_8));
            m.putUserProperty("seq", String.valueOf(i));
            assertEquals(SendStatus.SEND_OK, producer.send(m).getSendStatus());
        }

        try (SimpleConsumer consumer = PROVIDER.newSimpleConsumerBuilder()
            .setClientConfiguration(clientConfiguration())
            .setConsumerGroup(group)
            .setSubscriptionExpressions(Collections.singletonMap(topic, FilterExpression.SUB_ALL))
            .setAwaitDuration(Duration.ofSeconds(5))
            .build()) {
            Map<String, MessageView> got = new HashMap<>();
            for (int round = 0; round < 20 && got.size() < 10; round++) {
                for (MessageView m : consumer.receive(16, Duration.ofSeconds(30))) {
                    assertTrue(got.put(body(m), m) == null, "received twice: " + body(m));
                }
            }
            assertEquals(10, got.size(), "received " + got.keySet());
            MessageView seven = got.get("simple-7");
            assertEquals("TagA", seven.getTag().orElse(null));
            assertEquals(List.of("key-7"), new ArrayList<>(seven.getKeys()));
            assertEquals("7", seven.getProperties().get("seq"));
            assertEquals(topic, seven.getTopic());
            assertEquals(1, seven.getDeliveryAttempt());

            for (MessageView m : got.values()) {
                if (m != seven) {
                    consumer.ack(m);
                }
            }
            consumer.changeInvisibleDuration(seven, Duration.ofSeconds(1));
            long changedAt = System.currentTimeMillis();

            List<MessageView> again = new ArrayList<>();
            for (int round = 0; round < 10 && again.isEmpty(); round++) {
                again.addAll(consumer.receive(16, Duration.ofSeconds(30)));
            }
            assertEquals(1, again.size(), "only the changed message comes back: " + again);
            assertEquals("simple-7", body(again.get(0)));
            assertEquals(2, again.get(0).getDeliveryAttempt());
            assertTrue(System.currentTimeMillis() - changedAt >= 900, "back no earlier than its new invisible time");
            consumer.ack(again.get(0));

            // acked: nothing comes back within a receive longer than the 1 s invisible time
            assertTrue(consumer.receive(16, Duration.ofSeconds(30)).isEmpty(), "nothing left after the acks");
        }
    }

    /** gRPC producer to gRPC PushConsumer with a tag filter: every TagA and TagB message once, no TagC. */
    @Test
    void pushConsumerWithATagFilterGetsEachMatchingMessageOnce() throws Exception {
        String topic = "GrpcPushTopic";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4, "NORMAL");
        Map<String, AtomicInteger> got = new ConcurrentHashMap<>();
        FilterExpression tags = new FilterExpression("TagA || TagB", FilterExpressionType.TAG);
        try (PushConsumer consumer = pushConsumer("grpc_push_group", topic, tags, m -> {
            got.computeIfAbsent(body(m), k -> new AtomicInteger()).incrementAndGet();
            return ConsumeResult.SUCCESS;
        });
             Producer producer = PROVIDER.newProducerBuilder()
                 .setClientConfiguration(clientConfiguration()).setTopics(topic).build()) {
            String[] tagOf = {"TagA", "TagB", "TagC"};
            for (int i = 0; i < 30; i++) {
                producer.send(PROVIDER.newMessageBuilder()
                    .setTopic(topic)
                    .setTag(tagOf[i % 3])
                    .setBody(("push-" + i).getBytes(StandardCharsets.UTF_8))
                    .build());
            }
            ConsumeSupport.assertTrueWithin(30_000, "the 20 TagA/TagB messages, got " + got.keySet(),
                () -> got.size() == 20);
        }
        for (int i = 0; i < 30; i++) {
            AtomicInteger n = got.get("push-" + i);
            if (i % 3 == 2) {
                assertTrue(n == null, "TagC message push-" + i + " delivered");
            } else {
                assertNotNull(n, "push-" + i + " not delivered");
                assertEquals(1, n.get(), "push-" + i + " delivered " + n + " times");
            }
        }
    }

    /** An SQL92 filter on a user property, evaluated by the broker. */
    @Test
    void pushConsumerWithAnSqlFilterGetsOnlyMatchingMessages() throws Exception {
        String topic = "GrpcSqlTopic";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4, "NORMAL");
        Map<String, Integer> got = new ConcurrentHashMap<>();
        FilterExpression sql = new FilterExpression("n >= 5 AND color = 'red'", FilterExpressionType.SQL92);
        DefaultMQProducer producer = startProducer("grpc_sql_remoting_producer");
        try (PushConsumer consumer = pushConsumer("grpc_sql_group", topic, sql, m -> {
            got.merge(body(m), 1, Integer::sum);
            return ConsumeResult.SUCCESS;
        })) {
            for (int i = 0; i < 10; i++) {
                Message m = new Message(topic, "t", ("sql-" + i).getBytes(StandardCharsets.UTF_8));
                m.putUserProperty("n", String.valueOf(i));
                m.putUserProperty("color", i % 2 == 0 ? "red" : "blue");
                producer.send(m);
            }
            ConsumeSupport.assertTrueWithin(30_000, "sql-6 and sql-8, got " + got.keySet(), () -> got.size() >= 2);
        }
        assertEquals(Map.of("sql-6", 1, "sql-8", 1), got, "only n >= 5 and red, each once");
    }

    /** FIFO: a group consuming orderly gets each message group in send order. */
    @Test
    void fifoPushConsumerGetsEachMessageGroupInOrder() throws Exception {
        String topic = "GrpcFifoConsumeTopic";
        String group = "grpc_fifo_group";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4, "FIFO");
        SubscriptionGroupConfig sg = new SubscriptionGroupConfig();
        sg.setGroupName(group);
        sg.setConsumeMessageOrderly(true);
        admin.createAndUpdateSubscriptionGroupConfig(servers().brokerAddr(), sg);

        Map<String, List<Integer>> seen = new ConcurrentHashMap<>();
        try (Producer producer = PROVIDER.newProducerBuilder()
            .setClientConfiguration(clientConfiguration()).setTopics(topic).build()) {
            for (int i = 0; i < 6; i++) {
                for (int g = 0; g < 3; g++) {
                    producer.send(PROVIDER.newMessageBuilder()
                        .setTopic(topic)
                        .setMessageGroup("g" + g)
                        .setBody(("g" + g + ":" + i).getBytes(StandardCharsets.UTF_8))
                        .build());
                }
            }
        }
        try (PushConsumer consumer = pushConsumer(group, topic, FilterExpression.SUB_ALL, m -> {
            String[] p = body(m).split(":");
            assertEquals(p[0], m.getMessageGroup().orElse(null));
            seen.computeIfAbsent(p[0], k -> new CopyOnWriteArrayList<>()).add(Integer.parseInt(p[1]));
            return ConsumeResult.SUCCESS;
        })) {
            ConsumeSupport.assertTrueWithin(30_000, "18 FIFO messages, got " + seen,
                () -> seen.values().stream().mapToInt(List::size).sum() >= 18);
        }
        for (int g = 0; g < 3; g++) {
            assertEquals(List.of(0, 1, 2, 3, 4, 5), seen.get("g" + g), "order of g" + g);
        }
    }

    /** A listener that always fails: the message is retried, then moved to %DLQ%{group} after its attempts. */
    @Test
    void failingMessagesEndInTheDeadLetterQueue() throws Exception {
        String topic = "GrpcRetryTopic";
        String group = "grpc_retry_group";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4, "NORMAL");
        SubscriptionGroupConfig sg = new SubscriptionGroupConfig();
        sg.setGroupName(group);
        sg.setRetryMaxTimes(1); // max attempts 2
        admin.createAndUpdateSubscriptionGroupConfig(servers().brokerAddr(), sg);

        List<Integer> attempts = new CopyOnWriteArrayList<>();
        try (PushConsumer consumer = pushConsumer(group, topic, FilterExpression.SUB_ALL, m -> {
            attempts.add(m.getDeliveryAttempt());
            return ConsumeResult.FAILURE;
        });
             Producer producer = PROVIDER.newProducerBuilder()
                 .setClientConfiguration(clientConfiguration()).setTopics(topic).build()) {
            producer.send(PROVIDER.newMessageBuilder()
                .setTopic(topic)
                .setBody("doomed".getBytes(StandardCharsets.UTF_8))
                .build());

            DefaultMQPullConsumer pull = startPullConsumer("grpc_dlq_reader");
            String dlq = "%DLQ%" + group;
            MessageExt dead = eventually(60_000, () -> {
                PullResult r = pull.pull(new MessageQueue(dlq, servers().brokerName(), 0), "*", 0, 32);
                if (r.getPullStatus() != PullStatus.FOUND) {
                    throw new AssertionError("nothing in " + dlq + " yet; attempts " + attempts);
                }
                return r.getMsgFoundList().get(0);
            });
            assertEquals("doomed", new String(dead.getBody(), StandardCharsets.UTF_8));
        }
        assertEquals(List.of(1, 2), attempts, "delivered twice (max attempts 2), then dead-lettered");
        assertFalse(attempts.contains(3));
    }
}
