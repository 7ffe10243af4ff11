package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.impl.MQClientAPIImpl;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;
import rmq.conformance.harness.BrokerConfig;

/**
 * Master/slave replication (issue #6): a SYNC_MASTER acknowledges SEND_OK only once a slave has the message;
 * after the master is killed (kill -9, store deleted) the official push consumer reads every acknowledged
 * message from the slave.
 */
// 5.x: PullMessageProcessor.rejectRequest() refuses every pull on a SLAVE unless slaveReadEnable=true (the
// remoting layer answers SYSTEM_BUSY "[REJECTREQUEST]system busy"); 4.9.7's slave serves the pull (its
// PULL_RETRY_IMMEDIATELY for a slave is overwritten by the FOUND -> SUCCESS switch), so the consumer reads
// from the slave once the master is gone. The key is also on the master; it only changes suggestWhichBrokerId.
@BrokerConfig(value = {"brokerRole=SYNC_MASTER"}, serverLine5 = {"slaveReadEnable=true"})
class HaTest extends ConformanceBase {
    private static final int QUEUES = 4;
    private static final int MESSAGES = 100;

    @Test
    void pushConsumerReadsFromTheSlaveAfterTheMasterIsKilled() throws Exception {
        String topic = "HaConsumeTopic";
        String master = servers().brokerAddr();
        DefaultMQAdminExt admin = startAdmin();
        // Created before the slave starts, so its first metadata sync (3 s after start) copies it.
        admin.createAndUpdateTopicConfig(master, new TopicConfig(topic, QUEUES, QUEUES, 6));
        String slave = servers().startSlave();

        DefaultMQProducer producer = startProducer("ha_producer");
        MQClientAPIImpl api = producer.getDefaultMQProducerImpl().getmQClientFactory().getMQClientAPIImpl();
        Set<String> acked = new TreeSet<>();
        long deadline = System.currentTimeMillis() + 90_000;
        int i = 0;
        while (acked.size() < MESSAGES) {
            assertTrue(System.currentTimeMillis() < deadline, "too few SEND_OK: " + acked.size());
            String body = "ha-" + i++;
            SendResult r = producer.send(new Message(topic, "TagA", body.getBytes(StandardCharsets.UTF_8)));
            if (r.getSendStatus() == SendStatus.SEND_OK) {
                acked.add(body);
            } else {
                // SLAVE_NOT_AVAILABLE / FLUSH_SLAVE_TIMEOUT until the slave is connected: stored, not acknowledged.
                Thread.sleep(100);
            }
        }

        ConsumeSupport.assertTrueWithin(60_000, "slave has the topic and every message", () -> {
            try {
                if (!api.getAllTopicConfig(slave, 3_000).getTopicConfigTable().containsKey(topic)) {
                    return false;
                }
                for (int q = 0; q < QUEUES; q++) {
                    MessageQueue mq = new MessageQueue(topic, servers().brokerName(), q);
                    if (api.getMaxOffset(slave, mq, 3_000) != api.getMaxOffset(master, mq, 3_000)) {
                        return false;
                    }
                }
                return true;
            } catch (Exception e) {
                return false;
            }
        });

        servers().killBroker();
        deleteTree(servers().brokerStoreDir());

        Received got = new Received();
        DefaultMQPushConsumer consumer = newPushConsumer("ha_consumer_group");
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(got.listener());
        consumer.start();
        ConsumeSupport.assertTrueWithin(90_000, "every acknowledged message from the slave",
            () -> got.distinctBodies().containsAll(acked));
        Set<String> missing = new TreeSet<>(acked);
        missing.removeAll(got.distinctBodies());
        assertEquals(Set.of(), missing);
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}
