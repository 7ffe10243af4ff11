package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.rocketmq.client.apis.ClientConfiguration;
import org.apache.rocketmq.client.apis.ClientException;
import org.apache.rocketmq.client.apis.ClientServiceProvider;
import org.apache.rocketmq.client.apis.message.Message;
import org.apache.rocketmq.client.apis.producer.Producer;
import org.apache.rocketmq.client.apis.producer.SendReceipt;
import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.PullResult;
import org.apache.rocketmq.client.consumer.PullStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.java.exception.BadRequestException;
import org.apache.rocketmq.client.java.exception.NotFoundException;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.constant.PermName;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.remoting.protocol.admin.TopicOffset;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import rmq.conformance.harness.Standalone;

/**
 * The official RocketMQ 5.x gRPC Java SDK ({@code rocketmq-client-java} 5.0.7) as a producer against the broker's
 * own gRPC endpoint (issue #14, docs/protocol/grpc.md): QueryRoute + Telemetry Settings at start, SendMessage of
 * normal, FIFO (message group) and delay (delivery timestamp) messages, the topic message-type check, and a start
 * against a missing topic. What was sent is read back with the remoting client of the suite.
 *
 * <p>Only targets with a gRPC endpoint ({@code rmq}); the Java oracles have no gRPC without the 5.x Proxy (not on
 * Maven Central), so the class is skipped there. rmq serves plaintext h2c only, hence {@code enableSsl(false)}.
 */
@Standalone
class GrpcProducerTest extends ConformanceBase {
    static final ClientServiceProvider PROVIDER = ClientServiceProvider.loadService();

    /** Per test (not @BeforeAll), so that surefire reports each test as skipped rather than none run. */
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

    /** A started gRPC producer of {@code topics}; the caller closes it (try-with-resources). */
    private static Producer grpcProducer(String... topics) throws Exception {
        return PROVIDER.newProducerBuilder()
            .setClientConfiguration(clientConfiguration())
            .setTopics(topics)
            .build();
    }

    /** UPDATE_AND_CREATE_TOPIC with 5.x attributes ({@code +message.type=FIFO}), then waits for the route. */
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

    private static String body(MessageExt m) {
        return new String(m.getBody(), StandardCharsets.UTF_8);
    }

    /** Deliveries by body, over every {@link #collect} of the test. */
    private final Map<String, Integer> deliveries = new ConcurrentHashMap<>();

    /** A started push consumer of every message of {@code topic}, collected by body (first arrival kept). */
    private DefaultMQPushConsumer collect(String group, String topic, Map<String, MessageExt> got,
                                          Map<String, Long> arrivedAt) throws Exception {
        DefaultMQPushConsumer consumer = newPushConsumer(group);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            long now = System.currentTimeMillis();
            for (MessageExt m : msgs) {
                deliveries.merge(body(m), 1, Integer::sum);
                got.putIfAbsent(body(m), m);
                arrivedAt.putIfAbsent(body(m), now);
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();
        return consumer;
    }

    private static long totalMaxOffset(DefaultMQAdminExt admin, String topic) throws Exception {
        long sum = 0;
        for (TopicOffset o : admin.examineTopicStats(topic).getOffsetTable().values()) {
            sum += o.getMaxOffset();
        }
        return sum;
    }

    @Test
    void normalMessagesSentOverGrpcAreConsumedWithTheirTagKeysPropertiesAndId() throws Exception {
        String topic = "GrpcNormalTopic";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4, "NORMAL");

        Map<String, String> ids = new TreeMap<>();
        try (Producer producer = grpcProducer(topic)) {
            for (int i = 0; i < 10; i++) {
                String b = "grpc-normal-" + i;
                Message msg = PROVIDER.newMessageBuilder()
                    .setTopic(topic)
                    .setTag("TagA")
                    .setKeys("key-" + i, "order-" + i)
                    .addProperty("color", "blue-" + i)
                    .setBody(b.getBytes(StandardCharsets.UTF_8))
                    .build();
                SendReceipt receipt = producer.send(msg);
                assertNotNull(receipt.getMessageId(), "message id of " + b);
                String id = receipt.getMessageId().toString();
                assertEquals(34, id.length(), "a V1 message id (version 01 + 32 hex) for " + b + ": " + id);
                ids.put(b, id);
            }
        }

        Map<String, MessageExt> got = new ConcurrentHashMap<>();
        collect("grpc_normal_consumer", topic, got, new ConcurrentHashMap<>());
        ConsumeSupport.assertTrueWithin(30_000, "the 10 gRPC-sent messages consumed, got " + got.keySet(),
            () -> got.size() == 10);
        for (int i = 0; i < 10; i++) {
            String b = "grpc-normal-" + i;
            MessageExt m = got.get(b);
            assertEquals(topic, m.getTopic(), b);
            assertEquals("TagA", m.getTags(), b);
            assertEquals("key-" + i + " order-" + i, m.getKeys(), b);
            assertEquals("blue-" + i, m.getUserProperty("color"), b);
            assertEquals(ids.get(b), m.getMsgId(), "msgId (UNIQ_KEY) of " + b + " is the SendReceipt's message id");
            assertEquals(ids.get(b), m.getProperty("UNIQ_KEY"), b);
            assertEquals(1, deliveries.get(b), "gRPC producer to remoting consumer: " + b + " delivered once");
        }
    }

    @Test
    void fifoMessagesOfOneGroupSitInOneQueueInSendOrder() throws Exception {
        String topic = "GrpcFifoTopic";
        int groups = 3;
        int perGroup = 5;
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4, "FIFO");

        try (Producer producer = grpcProducer(topic)) {
            // interleaved: g0#0 g1#0 g2#0 g0#1 ...
            for (int i = 0; i < perGroup; i++) {
                for (int g = 0; g < groups; g++) {
                    Message msg = PROVIDER.newMessageBuilder()
                        .setTopic(topic)
                        .setTag("fifo")
                        .setMessageGroup("group-" + g)
                        .setBody(("group-" + g + ":" + i).getBytes(StandardCharsets.UTF_8))
                        .build();
                    assertNotNull(producer.send(msg).getMessageId());
                }
            }
        }

        DefaultMQPullConsumer pull = startPullConsumer("grpc_fifo_reader");
        // group -> [(queueId, seq)] in queue-offset order, read queue by queue
        Map<String, List<int[]>> byGroup = eventually(15_000, () -> {
            Map<String, List<int[]>> seen = new TreeMap<>();
            int total = 0;
            for (int q = 0; q < 4; q++) {
                MessageQueue mq = new MessageQueue(topic, servers().brokerName(), q);
                long offset = 0;
                while (true) {
                    PullResult r = pull.pull(mq, "*", offset, 32);
                    if (r.getPullStatus() != PullStatus.FOUND) {
                        break;
                    }
                    for (MessageExt m : r.getMsgFoundList()) {
                        String[] parts = body(m).split(":");
                        assertEquals(parts[0], m.getProperty("__SHARDINGKEY"),
                            "message_group stored as __SHARDINGKEY for " + body(m));
                        seen.computeIfAbsent(parts[0], k -> new ArrayList<>())
                            .add(new int[] {m.getQueueId(), Integer.parseInt(parts[1])});
                        total++;
                    }
                    offset = r.getNextBeginOffset();
                }
            }
            if (total < groups * perGroup) {
                throw new AssertionError("only " + total + " of " + groups * perGroup + " FIFO messages readable yet");
            }
            return seen;
        });

        assertEquals(groups, byGroup.size(), "groups read back: " + byGroup.keySet());
        for (Map.Entry<String, List<int[]>> e : byGroup.entrySet()) {
            List<int[]> l = e.getValue();
            assertEquals(perGroup, l.size(), e.getKey() + " message count");
            for (int i = 0; i < l.size(); i++) {
                assertEquals(l.get(0)[0], l.get(i)[0], e.getKey() + " #" + l.get(i)[1] + " is in queue " + l.get(i)[0]
                    + ", #" + l.get(0)[1] + " in queue " + l.get(0)[0] + ": a group must sit in one queue");
                assertEquals(i, l.get(i)[1], e.getKey() + ": position " + i + " in its queue holds #" + l.get(i)[1]);
            }
        }
    }

    @Test
    void delayMessageArrivesNoEarlierThanItsDeliveryTimestamp() throws Exception {
        String topic = "GrpcDelayTopic";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4, "DELAY");
        Map<String, MessageExt> got = new ConcurrentHashMap<>();
        Map<String, Long> arrivedAt = new ConcurrentHashMap<>();
        DefaultMQPushConsumer consumer = collect("grpc_delay_consumer", topic, got, arrivedAt);
        ConsumeSupport.assertTrueWithin(30_000, "consumer owns the 4 queues of " + topic,
            () -> ownedQueueIds(consumer, topic).size() == 4);

        long deliverAt;
        try (Producer producer = grpcProducer(topic)) {
            deliverAt = System.currentTimeMillis() + 3_000;
            Message msg = PROVIDER.newMessageBuilder()
                .setTopic(topic)
                .setTag("later")
                .setDeliveryTimestamp(deliverAt)
                .setBody("grpc-delay".getBytes(StandardCharsets.UTF_8))
                .build();
            assertNotNull(producer.send(msg).getMessageId());
        }

        ConsumeSupport.assertTrueWithin(30_000, "the delay message consumed", () -> got.containsKey("grpc-delay"));
        long late = arrivedAt.get("grpc-delay") - deliverAt;
        assertTrue(late >= 0, "arrived " + (-late) + " ms before its delivery timestamp");
        assertEquals(String.valueOf(deliverAt), got.get("grpc-delay").getProperty("TIMER_DELIVER_MS"),
            "delivery_timestamp stored as TIMER_DELIVER_MS");
    }

    /**
     * A FIFO message (message group) to a NORMAL topic is refused and not stored. The Settings answer carries
     * {@code validate_message_type=true}, so the SDK refuses it itself from the route's accept_message_types
     * (IllegalArgumentException "Current message type not match with topic accept message types"); a server that
     * let it through would answer 40014 MESSAGE_PROPERTY_CONFLICT_WITH_TYPE. Either way the topic then holds only
     * the NORMAL message sent after it.
     */
    @Test
    void fifoMessageToNormalTopicIsRefusedAndNotStored() throws Exception {
        String topic = "GrpcTypeTopic";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4, "NORMAL");
        long before = totalMaxOffset(admin, topic);

        try (Producer producer = grpcProducer(topic)) {
            Message fifo = PROVIDER.newMessageBuilder()
                .setTopic(topic)
                .setMessageGroup("g")
                .setBody("grpc-type-fifo".getBytes(StandardCharsets.UTF_8))
                .build();
            Exception e = assertThrows(Exception.class, () -> producer.send(fifo));
            assertTrue(e instanceof IllegalArgumentException && e.getMessage().contains("FIFO")
                    || e instanceof BadRequestException && e.getMessage().contains("response-code=40014"),
                "expected the SDK's type check or 40014 MESSAGE_PROPERTY_CONFLICT_WITH_TYPE, got " + e);

            Message normal = PROVIDER.newMessageBuilder()
                .setTopic(topic)
                .setBody("grpc-type-normal".getBytes(StandardCharsets.UTF_8))
                .build();
            assertNotNull(producer.send(normal).getMessageId());
        }
        assertEquals(before + 1, totalMaxOffset(admin, topic), "only the NORMAL message is stored");
    }

    /**
     * The broker's own check (SendMessage → 40014): the producer starts while the topic is FIFO (its route accepts
     * FIFO, so the SDK's local check passes), then the topic becomes NORMAL through the remoting admin, and a FIFO
     * message is sent at once (the SDK refreshes its route 10 s after start, then every 30 s). (MIXED would be the
     * natural start, but the 5.3.1 broker refuses to create it: enableMixedMessageType=false, "MIXED message type is
     * not supported.", and rmq the same.)
     */
    @Test
    void brokerRefusesFifoMessageOnceTheTopicIsNormal() throws Exception {
        String topic = "GrpcRetypedTopic";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4, "FIFO");

        long before;
        try (Producer producer = grpcProducer(topic)) {
            TopicConfig tc = new TopicConfig(topic, 4, 4, PermName.PERM_READ | PermName.PERM_WRITE);
            tc.setAttributes(Map.of("+message.type", "NORMAL"));
            admin.createAndUpdateTopicConfig(servers().brokerAddr(), tc);
            before = totalMaxOffset(admin, topic);

            Message fifo = PROVIDER.newMessageBuilder()
                .setTopic(topic)
                .setMessageGroup("g")
                .setBody("grpc-retyped-fifo".getBytes(StandardCharsets.UTF_8))
                .build();
            BadRequestException e = assertThrows(BadRequestException.class, () -> producer.send(fifo));
            assertTrue(e.getMessage().contains("response-code=40014"),
                "expected 40014 MESSAGE_PROPERTY_CONFLICT_WITH_TYPE, got " + e);
            assertTrue(e.getMessage().contains("TopicMessageType validate failed"), "status message: " + e);
        }
        // a producer started now has the NORMAL route (the first one would refuse a NORMAL message locally)
        try (Producer producer = grpcProducer(topic)) {
            Message normal = PROVIDER.newMessageBuilder()
                .setTopic(topic)
                .setBody("grpc-retyped-normal".getBytes(StandardCharsets.UTF_8))
                .build();
            assertNotNull(producer.send(normal).getMessageId());
        }
        assertEquals(before + 1, totalMaxOffset(admin, topic), "only the NORMAL message is stored");
    }

    @Test
    void producerStartFailsForAMissingTopic() {
        String topic = "GrpcNoSuchTopic";
        Exception e = assertThrows(Exception.class, () -> {
            try (Producer p = grpcProducer(topic)) {
                // not reached
                assertNotNull(p);
            }
        });
        Throwable notFound = e;
        while (notFound != null && !(notFound instanceof NotFoundException)) {
            notFound = notFound.getCause();
        }
        assertNotNull(notFound, "expected a NotFoundException (TOPIC_NOT_FOUND from QueryRoute) in the causes of " + e);
        assertTrue(notFound.getMessage().contains("response-code=40402"), "TOPIC_NOT_FOUND: " + notFound);
        assertTrue(notFound.getMessage().contains(topic), "names the topic: " + notFound);
        assertTrue(e instanceof IllegalStateException || e instanceof ClientException, "thrown by build(): " + e);
    }
}
