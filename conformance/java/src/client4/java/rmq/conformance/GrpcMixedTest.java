package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.rocketmq.client.apis.ClientConfiguration;
import org.apache.rocketmq.client.apis.ClientServiceProvider;
import org.apache.rocketmq.client.apis.consumer.FilterExpression;
import org.apache.rocketmq.client.apis.consumer.SimpleConsumer;
import org.apache.rocketmq.client.apis.message.MessageView;
import org.apache.rocketmq.client.apis.producer.Producer;
import org.apache.rocketmq.client.apis.producer.SendReceipt;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.MQVersion;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import rmq.conformance.compat.ClientLine;
import rmq.conformance.harness.Standalone;

/**
 * Mixed use of one broker by the 4.x remoting client and the 5.x gRPC SDK (issue #14, must-show 3) with the
 * <b>4.9.8</b> remoting client, on topics created by the 4.9.8 admin (no {@code message.type} attribute, so NORMAL):
 * a 4.9.8 {@code DefaultMQProducer} to a gRPC {@code SimpleConsumer}, and a gRPC {@code Producer} to a 4.9.8
 * {@code DefaultMQPushConsumer} (CLUSTERING), every message delivered exactly once with its tag, keys, user
 * properties and message id. The 5.3.1 line covers the same pairs in GrpcConsumerTest / GrpcProducerTest.
 *
 * <p>Both clients share the test JVM: rocketmq-client-java 5.0.7 is shaded (its grpc/netty/protobuf relocated),
 * so it sits next to rocketmq-client 4.9.8 and its netty 4.1.65 (conformance/java/pom.xml). Only targets with a
 * gRPC endpoint ({@code rmq}); skipped on the Java oracles, like the other Grpc* tests. rmq's gRPC port is reached
 * in plaintext ({@code enableSsl(false)}), as GrpcProducerTest does.
 */
@Standalone
class GrpcMixedTest extends ConformanceBase {
    static final ClientServiceProvider PROVIDER = ClientServiceProvider.loadService();
    static final int N = 20;

    /** Per test (not @BeforeAll), so that surefire reports each test as skipped rather than none run. */
    @BeforeEach
    void needsGrpc() throws Exception {
        assumeTrue(servers().grpcEndpoint() != null, "target " + servers().targetName()
            + " serves no gRPC (the Java oracles need the 5.x Proxy, which is not on Maven Central)");
        // this class is about the 4.9.8 remoting client next to the SDK: make sure that is what runs
        assertEquals(4, ClientLine.LINE);
        assertEquals("V4_9_8", MQVersion.getVersionDesc(MQVersion.CURRENT_VERSION), "remoting client version");
    }

    private static ClientConfiguration clientConfiguration() throws Exception {
        return ClientConfiguration.newBuilder()
            .setEndpoints(servers().grpcEndpoint())
            .enableSsl(false)
            .setRequestTimeout(Duration.ofSeconds(5))
            .build();
    }

    private static String body(MessageView m) {
        return StandardCharsets.UTF_8.decode(m.getBody().duplicate()).toString();
    }

    private static String body(MessageExt m) {
        return new String(m.getBody(), StandardCharsets.UTF_8);
    }

    /**
     * 4.9.8 remoting producer to gRPC SimpleConsumer of a new group: each message received once (acked as soon as it
     * is received, within its 10 s invisible time), then a further long poll finds nothing.
     */
    @Test
    void remoting498ProducerToGrpcSimpleConsumerDeliversEachMessageOnce() throws Exception {
        String topic = "GrpcMixedRemotingToGrpcTopic";
        String group = "grpc_mixed_simple_group";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4);

        DefaultMQProducer producer = startProducer("grpc_mixed_remoting_producer");
        Map<String, String> idOf = new TreeMap<>();
        for (int i = 0; i < N; i++) {
            String b = "r2g-" + i;
            Message m = new Message(topic, "TagR", "r2g-key-" + i, b.getBytes(StandardCharsets.UTF_8));
            m.putUserProperty("seq", String.valueOf(i));
            SendResult r = producer.send(m);
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
            idOf.put(b, r.getMsgId());
        }
        assertEquals(N, idOf.size());

        Map<String, MessageView> got = new TreeMap<>();
        List<String> duplicates = new ArrayList<>();
        try (SimpleConsumer consumer = PROVIDER.newSimpleConsumerBuilder()
            .setClientConfiguration(clientConfiguration())
            .setConsumerGroup(group)
            .setSubscriptionExpressions(Collections.singletonMap(topic, FilterExpression.SUB_ALL))
            // the broker's shortest long poll (pollingTime is clamped to [5 s, 20 s], docs/protocol/grpc.md, "ReceiveMessage")
            .setAwaitDuration(Duration.ofSeconds(5))
            .build()) {
            long deadline = System.currentTimeMillis() + 60_000;
            while (got.size() < N && System.currentTimeMillis() < deadline) {
                for (MessageView m : consumer.receive(16, Duration.ofSeconds(10))) {
                    if (got.putIfAbsent(body(m), m) != null) {
                        duplicates.add(body(m));
                    }
                    consumer.ack(m); // throws unless the broker answers OK
                }
            }
            assertEquals(idOf.keySet(), got.keySet(), "bodies received over gRPC");
            // settle: one more long poll (5 s, the broker minimum) must find nothing: no duplicate is still visible
            List<MessageView> more = consumer.receive(16, Duration.ofSeconds(10));
            for (MessageView m : more) {
                duplicates.add(body(m));
                consumer.ack(m);
            }
        }
        assertTrue(duplicates.isEmpty(), "remoting producer to gRPC consumer: delivered more than once: " + duplicates);

        for (int i = 0; i < N; i++) {
            String b = "r2g-" + i;
            MessageView m = got.get(b);
            assertEquals(topic, m.getTopic(), b);
            assertEquals("TagR", m.getTag().orElse(null), b);
            assertEquals(List.of("r2g-key-" + i), new ArrayList<>(m.getKeys()), b);
            assertEquals(String.valueOf(i), m.getProperties().get("seq"), b);
            assertEquals(1, m.getDeliveryAttempt(), b);
            assertEquals(idOf.get(b), m.getMessageId().toString(),
                "gRPC message id of " + b + " is the 4.9.8 SendResult msgId (UNIQ_KEY)");
        }
    }

    /**
     * gRPC Producer to a 4.9.8 DefaultMQPushConsumer (CLUSTERING, new group): each message delivered once; settled
     * when the group's committed offsets reach the topic's max offsets and no message has arrived for 3 s.
     */
    @Test
    void grpcProducerToRemoting498PushConsumerDeliversEachMessageOnce() throws Exception {
        String topic = "GrpcMixedGrpcToRemotingTopic";
        String group = "grpc_mixed_push_group";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4);

        Map<String, AtomicInteger> deliveries = new ConcurrentHashMap<>();
        Map<String, MessageExt> got = new ConcurrentHashMap<>();
        AtomicLong lastArrival = new AtomicLong();
        DefaultMQPushConsumer consumer = newPushConsumer(group); // CONSUME_FROM_FIRST_OFFSET
        assertEquals("CLUSTERING", consumer.getMessageModel().name());
        consumer.setPersistConsumerOffsetInterval(1000);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                deliveries.computeIfAbsent(body(m), k -> new AtomicInteger()).incrementAndGet();
                got.putIfAbsent(body(m), m);
            }
            lastArrival.set(System.currentTimeMillis());
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();

        Map<String, String> idOf = new TreeMap<>();
        try (Producer producer = PROVIDER.newProducerBuilder()
            .setClientConfiguration(clientConfiguration())
            .setTopics(topic)
            .build()) {
            for (int i = 0; i < N; i++) {
                String b = "g2r-" + i;
                SendReceipt receipt = producer.send(PROVIDER.newMessageBuilder()
                    .setTopic(topic)
                    .setTag("TagG")
                    .setKeys("g2r-key-" + i)
                    .addProperty("seq", String.valueOf(i))
                    .setBody(b.getBytes(StandardCharsets.UTF_8))
                    .build());
                assertNotNull(receipt.getMessageId(), b);
                idOf.put(b, receipt.getMessageId().toString());
            }
        }

        ConsumeSupport.assertTrueWithin(60_000, "the " + N + " gRPC-sent messages consumed, got " + got.keySet(),
            () -> got.size() == N);
        // settle: the group has committed everything, and nothing more arrived for 3 s (bounded by the 60 s above)
        ConsumeSupport.awaitCaughtUp(admin, group, topic, N);
        ConsumeSupport.assertTrueWithin(10_000, "3 s without a new delivery",
            () -> System.currentTimeMillis() - lastArrival.get() >= 3_000);

        assertEquals(idOf.keySet(), new java.util.TreeSet<>(got.keySet()), "bodies received over remoting");
        Map<String, Integer> dup = new TreeMap<>();
        deliveries.forEach((b, n) -> {
            if (n.get() != 1) {
                dup.put(b, n.get());
            }
        });
        assertTrue(dup.isEmpty(), "gRPC producer to 4.9.8 push consumer: delivered more than once: " + dup);

        for (int i = 0; i < N; i++) {
            String b = "g2r-" + i;
            MessageExt m = got.get(b);
            assertEquals(topic, m.getTopic(), b);
            assertEquals("TagG", m.getTags(), b);
            assertEquals("g2r-key-" + i, m.getKeys(), b);
            assertEquals(String.valueOf(i), m.getUserProperty("seq"), b);
            assertEquals(0, m.getReconsumeTimes(), b);
            assertEquals(idOf.get(b), m.getMsgId(), "msgId (UNIQ_KEY) of " + b + " is the SendReceipt's message id");
            assertNull(m.getProperty("TRAN_MSG"), b);
        }
    }
}
