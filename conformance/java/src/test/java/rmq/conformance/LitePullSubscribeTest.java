package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;

/**
 * DefaultLitePullConsumer in subscribe mode on an empty topic: the client rebalances, is assigned every
 * queue, and keeps (long-)polling the broker while {@code poll(timeout)} waits, so messages sent during
 * the wait are returned by that same poll, from every queue.
 */
class LitePullSubscribeTest extends ConformanceBase {

    @Test
    void pollOnEmptyTopicReceivesMessagesSentDuringTheWait() throws Exception {
        String topic = "LitePullSubscribeTopic";
        String group = "lite_pull_subscribe_group";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4);
        DefaultMQProducer producer = startProducer("lite_pull_subscribe_producer");

        DefaultLitePullConsumer consumer = new DefaultLitePullConsumer(group);
        consumer.setNamesrvAddr(servers().namesrvAddr());
        consumer.setInstanceName("lite-subscribe-" + System.nanoTime());
        consumer.setPollTimeoutMillis(10_000);
        consumer.subscribe(topic, "*");
        consumer.start();
        try {
            // An empty topic: the first poll waits its whole timeout and returns nothing.
            long t0 = System.nanoTime();
            List<MessageExt> none = consumer.poll(3_000);
            long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(none.isEmpty(), "nothing to poll yet: " + none);
            assertTrue(waited >= 2_900, "poll returned early after " + waited + " ms");

            // The group is known to the broker through its heartbeat (consume type CONSUME_ACTIVELY).
            assertEquals(1, admin.examineConsumerConnectionInfo(group).getConnectionSet().size());

            // One message per queue, sent while a poll waits: that poll (and the next ones) return them.
            CompletableFuture<List<SendResult>> sends = CompletableFuture.supplyAsync(() -> {
                try {
                    Thread.sleep(500); // let the poll below start waiting first (not a correctness wait)
                    List<SendResult> results = new ArrayList<>();
                    for (int q = 0; q < 4; q++) {
                        results.add(producer.send(
                            new Message(topic, "TagA", ("lite " + q).getBytes(StandardCharsets.UTF_8)),
                            new MessageQueue(topic, servers().brokerName(), q)));
                    }
                    return results;
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            Set<Integer> queues = new TreeSet<>();
            List<String> bodies = new ArrayList<>();
            long start = System.nanoTime();
            long deadline = start + TimeUnit.SECONDS.toNanos(15);
            while (queues.size() < 4 && System.nanoTime() < deadline) {
                for (MessageExt m : consumer.poll(10_000)) {
                    queues.add(m.getQueueId());
                    bodies.add(new String(m.getBody(), StandardCharsets.UTF_8));
                }
            }
            for (SendResult r : sends.get(10, TimeUnit.SECONDS)) {
                assertEquals(SendStatus.SEND_OK, r.getSendStatus());
            }
            long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertEquals(Set.of(0, 1, 2, 3), queues, "every queue assigned and pulled; got " + bodies);
            assertEquals(4, bodies.size(), "each message once: " + bodies);
            // Held pulls are answered on arrival: far below one 10 s poll timeout.
            assertTrue(took < 8_000, "messages arrived " + took + " ms after the poll started");
        } finally {
            consumer.shutdown();
        }
    }
}
