package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static rmq.conformance.ConsumeSupport.awaitCaughtUp;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.MessageSelector;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;
import rmq.conformance.harness.BrokerConfig;

/** SQL92 property filter (issue #5) with {@code enablePropertyFilter=true}. */
@BrokerConfig({"enablePropertyFilter=true"})
class Sql92FilterTest extends ConformanceBase {

    /** bySql("a BETWEEN 3 AND 7 AND color = 'red'") over a = 0..9 × {red, blue}: exactly the matching ones. */
    @Test
    void betweenAndEqualsReceivesExactlyTheMatches() throws Exception {
        String topic = "Sql92Topic";
        String group = "sql92_group";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4);
        Received got = new Received();
        DefaultMQPushConsumer consumer = newPushConsumer(group);
        consumer.subscribe(topic, MessageSelector.bySql("a BETWEEN 3 AND 7 AND color = 'red'"));
        consumer.registerMessageListener(got.listener());
        consumer.start();
        ConsumeSupport.assertTrueWithin(30_000, "consumer owns the 4 queues",
            () -> ownedQueueIds(consumer, topic).size() == 4);

        DefaultMQProducer producer = startProducer("sql92_producer");
        Set<String> expected = new TreeSet<>();
        String[] colors = {"red", "blue"};
        int sent = 0;
        for (int round = 0; round < 2; round++) {
            for (int a = 0; a < 10; a++) {
                for (String color : colors) {
                    String body = "a=" + a + " color=" + color + " round=" + round;
                    Message m = new Message(topic, "TagSql", body.getBytes(StandardCharsets.UTF_8));
                    m.putUserProperty("a", String.valueOf(a));
                    m.putUserProperty("color", color);
                    SendResult r = producer.send(m);
                    assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
                    sent++;
                    if (a >= 3 && a <= 7 && color.equals("red")) {
                        expected.add(body);
                    }
                }
            }
            // messages without the properties: NULL in SQL92 → not matched
            producer.send(new Message(topic, "TagSql", ("no properties " + round).getBytes(StandardCharsets.UTF_8)));
            sent++;
        }
        assertEquals(10, expected.size());

        long t0 = System.currentTimeMillis();
        ConsumeSupport.assertTrueWithin(60_000, "10 matching messages", () -> got.distinctBodies().size() >= 10);
        long t1 = System.currentTimeMillis();
        // filtered-out messages are skipped: the committed offsets reach the end of every queue
        awaitCaughtUp(admin, group, topic, sent);
        System.out.println("[Sql92FilterTest] matches delivered after " + (t1 - t0) + " ms, offsets caught up after "
            + (System.currentTimeMillis() - t0) + " ms");
        assertEquals(expected, got.distinctBodies());
        assertEquals(Map.of(), got.duplicates());
    }

    /** A syntax error in the expression: the broker refuses it (CHECK_CLIENT_CONFIG) and start() fails. */
    @Test
    void badExpressionFailsAtStart() throws Exception {
        String topic = "Sql92BadTopic";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4);
        DefaultMQPushConsumer consumer = newPushConsumer("sql92_bad_group");
        consumer.subscribe(topic, MessageSelector.bySql("a BETWEEN 3 AND AND color = 'red'"));
        consumer.registerMessageListener(new Received().listener());
        MQClientException e = assertThrows(MQClientException.class, consumer::start);
        System.out.println("[Sql92FilterTest] bad expression: " + e);
        // 4.9.7: "CODE: 23  DESC: org.apache.rocketmq.filter.parser.ParseException: Encountered ..."
        assertEquals(23, e.getResponseCode(), "SUBSCRIPTION_PARSE_FAILED expected; start() error: " + describe(e));
    }

    private static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            sb.append(c).append(" | ");
        }
        return sb.toString();
    }
}
