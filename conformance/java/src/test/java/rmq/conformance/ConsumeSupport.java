package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

/** Helpers shared by the consume-path tests. */
final class ConsumeSupport {
    private ConsumeSupport() {
    }

    /** Sends {@code bodies} (tag {@code tag}) synchronously, asserting SEND_OK; returns the results in order. */
    static List<SendResult> sendAll(DefaultMQProducer producer, String topic, String tag, List<String> bodies)
        throws Exception {
        List<SendResult> results = new ArrayList<>();
        for (String b : bodies) {
            SendResult r = producer.send(new Message(topic, tag, b.getBytes(StandardCharsets.UTF_8)));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
            results.add(r);
        }
        return results;
    }

    static List<String> bodies(String prefix, int n) {
        List<String> l = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            l.add(prefix + i);
        }
        return l;
    }

    /**
     * GET_CONSUME_STATS (via the %RETRY%group route, as mqadmin consumerProgress does) until every queue of
     * {@code topic} has consumerOffset == brokerOffset and the broker offsets add up to {@code totalMessages}:
     * the group has pulled, consumed and committed everything (the test's push consumers are asked to commit
     * before each look: {@link ConformanceBase#persistOffsetsNow}). Returns {queue -> {brokerOffset, consumerOffset}}
     * of the topic (ConsumeStats / OffsetWrapper live in different packages in 4.9 and 5.x).
     */
    static Map<MessageQueue, long[]> awaitCaughtUp(DefaultMQAdminExt admin, String group, String topic,
        long totalMessages) throws Exception {
        return ConformanceBase.eventually(60_000, () -> {
            ConformanceBase.persistOffsetsNow();
            var cs = admin.examineConsumeStats(group);
            Map<MessageQueue, long[]> mine = new TreeMap<>();
            cs.getOffsetTable().forEach((mq, ow) -> {
                if (mq.getTopic().equals(topic)) {
                    mine.put(mq, new long[] {ow.getBrokerOffset(), ow.getConsumerOffset()});
                }
            });
            long brokerTotal = 0;
            for (Map.Entry<MessageQueue, long[]> e : mine.entrySet()) {
                brokerTotal += e.getValue()[0];
                assertEquals(e.getValue()[0], e.getValue()[1],
                    "consumerOffset == brokerOffset for " + e.getKey() + " in " + describe(mine));
            }
            assertEquals(totalMessages, brokerTotal, "sum of brokerOffset of " + topic + " in " + describe(mine));
            return mine;
        });
    }

    static String describe(Map<MessageQueue, long[]> table) {
        StringBuilder sb = new StringBuilder("{");
        table.forEach((mq, o) -> sb.append(" q").append(mq.getQueueId()).append(": broker=")
            .append(o[0]).append(" consumer=").append(o[1]));
        return sb.append(" }").toString();
    }

    static void assertTrueWithin(long millis, String what, java.util.function.BooleanSupplier cond) throws Exception {
        ConformanceBase.eventually(millis, () -> {
            assertTrue(cond.getAsBoolean(), what);
            return null;
        });
    }
}
