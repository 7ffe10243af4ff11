package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.rocketmq.client.apis.ClientConfiguration;
import org.apache.rocketmq.client.apis.ClientServiceProvider;
import org.apache.rocketmq.client.apis.consumer.ConsumeResult;
import org.apache.rocketmq.client.apis.consumer.FilterExpression;
import org.apache.rocketmq.client.apis.consumer.PushConsumer;
import org.apache.rocketmq.client.apis.message.Message;
import org.apache.rocketmq.client.apis.message.MessageView;
import org.apache.rocketmq.client.apis.producer.Producer;
import org.apache.rocketmq.client.apis.producer.Transaction;
import org.apache.rocketmq.client.apis.producer.TransactionResolution;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.constant.PermName;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import rmq.conformance.harness.BrokerConfig;
import rmq.conformance.harness.Standalone;

/**
 * Transactions of the official 5.x gRPC Java SDK ({@code rocketmq-client-java} 5.0.7) against the broker's own gRPC
 * endpoint (issue #14, docs/protocol/grpc.md section 10): commit and rollback by the application (EndTransaction),
 * and orphaned transactions resolved by the SDK's TransactionChecker when the broker checks back over the producer's
 * Telemetry stream. What is delivered is read with a gRPC PushConsumer.
 *
 * <p>Only targets with a gRPC endpoint ({@code rmq}); see GrpcProducerTest.
 */
@Standalone
@BrokerConfig({"transactionCheckInterval=1000", "transactionTimeOut=1000"})
class GrpcTransactionTest extends ConformanceBase {
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

    private void createTransactionTopic(String topic) throws Exception {
        DefaultMQAdminExt admin = startAdmin();
        TopicConfig tc = new TopicConfig(topic, 4, 4, PermName.PERM_READ | PermName.PERM_WRITE);
        tc.setAttributes(Map.of("+message.type", "TRANSACTION"));
        admin.createAndUpdateTopicConfig(servers().brokerAddr(), tc);
        eventually(15_000, () -> {
            var r = admin.examineTopicRouteInfo(topic);
            if (r == null || r.getQueueDatas().isEmpty()) {
                throw new AssertionError("route of " + topic + " not yet visible");
            }
            return null;
        });
    }

    private static String body(MessageView m) {
        return StandardCharsets.UTF_8.decode(m.getBody().duplicate()).toString();
    }

    private static Message message(String topic, String body) {
        return PROVIDER.newMessageBuilder()
            .setTopic(topic)
            .setTag("tx")
            .setBody(body.getBytes(StandardCharsets.UTF_8))
            .build();
    }

    private static PushConsumer collect(String group, String topic, Map<String, Integer> got) throws Exception {
        return PROVIDER.newPushConsumerBuilder()
            .setClientConfiguration(clientConfiguration())
            .setConsumerGroup(group)
            .setSubscriptionExpressions(Collections.singletonMap(topic, FilterExpression.SUB_ALL))
            .setMessageListener(m -> {
                got.merge(body(m), 1, Integer::sum);
                return ConsumeResult.SUCCESS;
            })
            .build();
    }

    @Test
    void commitDeliversAndRollbackDiscards() throws Exception {
        String topic = "GrpcTxTopic";
        createTransactionTopic(topic);
        Map<String, Integer> got = new ConcurrentHashMap<>();
        try (PushConsumer consumer = collect("grpc_tx_consumer", topic, got);
             Producer producer = PROVIDER.newProducerBuilder()
                 .setClientConfiguration(clientConfiguration())
                 .setTopics(topic)
                 .setTransactionChecker(m -> TransactionResolution.UNKNOWN)
                 .build()) {
            Transaction committed = producer.beginTransaction();
            producer.send(message(topic, "tx-commit"), committed);
            Transaction rolledBack = producer.beginTransaction();
            producer.send(message(topic, "tx-rollback"), rolledBack);
            rolledBack.rollback();
            committed.commit();
            // the committed one arrives after the rolled-back one was ended: had it been delivered, it would be too
            ConsumeSupport.assertTrueWithin(30_000, "tx-commit delivered, got " + got, () -> got.containsKey("tx-commit"));
        }
        assertEquals(Map.of("tx-commit", 1), got, "only the committed message, once");
    }

    @Test
    void orphanedTransactionsAreResolvedByTheCheckerOverTelemetry() throws Exception {
        String topic = "GrpcTxOrphanTopic";
        createTransactionTopic(topic);
        Map<String, Integer> got = new ConcurrentHashMap<>();
        Set<String> checked = ConcurrentHashMap.newKeySet();
        try (PushConsumer consumer = collect("grpc_tx_orphan_consumer", topic, got);
             Producer producer = PROVIDER.newProducerBuilder()
                 .setClientConfiguration(clientConfiguration())
                 .setTopics(topic)
                 .setTransactionChecker(m -> {
                     String b = body(m);
                     checked.add(b);
                     assertEquals(topic, m.getTopic(), "the check names the real topic");
                     return b.endsWith("commit") ? TransactionResolution.COMMIT : TransactionResolution.ROLLBACK;
                 })
                 .build()) {
            // begun and sent, never ended by the application
            producer.send(message(topic, "orphan-rollback"), producer.beginTransaction());
            producer.send(message(topic, "orphan-commit"), producer.beginTransaction());
            ConsumeSupport.assertTrueWithin(30_000, "orphan-commit delivered after the check-back, got " + got
                + ", checked " + checked, () -> got.containsKey("orphan-commit"));
            assertTrue(checked.containsAll(Set.of("orphan-commit", "orphan-rollback")), "checked " + checked);
        }
        assertFalse(got.containsKey("orphan-rollback"), "the rolled-back orphan was delivered");
        assertEquals(1, got.get("orphan-commit"), "delivered once");
    }
}
