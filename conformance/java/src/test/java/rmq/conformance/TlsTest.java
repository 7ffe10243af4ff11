package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.TreeSet;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;
import rmq.conformance.harness.BrokerConfig;
import rmq.conformance.harness.Servers;

/**
 * Clients with {@code setUseTLS(true)} (test mode: the server's self-signed certificate is trusted) against
 * the default name server (tls.server.mode permissive) and a broker in enforcing mode. The Java broker reads
 * tls.server.mode only from a JVM system property, so on the oracle the broker stays permissive.
 */
@BrokerConfig({"tls.server.mode=enforcing"})
class TlsTest extends ConformanceBase {

    private DefaultMQProducer startTlsProducer(String group) throws Exception {
        DefaultMQProducer producer = new DefaultMQProducer(group);
        producer.setNamesrvAddr(servers().namesrvAddr());
        producer.setInstanceName(uniqueInstance());
        producer.setSendMsgTimeout(10_000);
        producer.setUseTLS(true);
        producer.start();
        afterTest(producer::shutdown);
        return producer;
    }

    @Test
    void producerAndPushConsumerOverTls() throws Exception {
        String topic = "TlsTopic";
        DefaultMQAdminExt admin = new DefaultMQAdminExt(10_000);
        admin.setNamesrvAddr(servers().namesrvAddr());
        admin.setInstanceName(uniqueInstance());
        admin.setUseTLS(true);
        admin.start();
        afterTest(admin::shutdown);
        createTopic(admin, topic, 2);

        DefaultMQProducer producer = startTlsProducer("tls_producer_group");
        Set<String> sent = new TreeSet<>();
        for (int i = 0; i < 20; i++) {
            String body = "tls " + i;
            SendResult r = producer.send(new Message(topic, "TagTls", body.getBytes(StandardCharsets.UTF_8)));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
            sent.add(body);
        }

        Received received = new Received();
        DefaultMQPushConsumer consumer = newPushConsumer("tls_consumer_group");
        consumer.setUseTLS(true);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(received.listener());
        consumer.start();
        eventually(30_000, () -> {
            assertEquals(sent, received.distinctBodies());
            return null;
        });
    }

    /** rmq's broker honours tls.server.mode=enforcing from broker.conf: a plain producer cannot send. */
    @Test
    void plainProducerIsRefusedByAnEnforcingBroker() throws Exception {
        assumeTrue("rmq".equals(Servers.target()), "the Java broker reads tls.server.mode only as a system property");
        DefaultMQProducer plain = startProducer("plain_producer_group");
        plain.setSendMsgTimeout(3_000);
        Message msg = new Message("TlsPlainTopic", "TagA", "plain".getBytes(StandardCharsets.UTF_8));
        assertThrows(Exception.class, () -> plain.send(msg));
    }
}
