package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static rmq.conformance.MqadminTest.ok;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.remoting.protocol.statictopic.TopicConfigAndQueueMapping;
import org.apache.rocketmq.remoting.protocol.statictopic.TopicQueueMappingDetail;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import rmq.conformance.harness.Servers;

/**
 * 5.x static topics through the official 5.3.1 tools and client: {@code updateStaticTopic} maps a new topic's
 * logic queues onto the broker (UPDATE_AND_CREATE_STATIC_TOPIC 513), the broker answers GET_TOPIC_CONFIG with
 * the mapping ({@code lo=true}) and registers it, routes carry {@code topicQueueMappingByBroker}, and a 5.3.1
 * producer and push consumer use the topic end to end;
 * {@code remappingStaticTopic} onto the same broker keeps it working. The same class runs against the 5.x oracle.
 */
class StaticTopicTest extends ConformanceBase {
    static final String TOPIC = "StaticTopicT";

    @BeforeAll
    static void toolsHome() throws Exception {
        MqadminTest.toolsHome();
    }

    @Test
    void updateStaticTopicThenProduceConsumeAndRemap() throws Exception {
        String ns = servers().namesrvAddr();
        String out = ok("updateStaticTopic", "-n", ns, "-c", Servers.CLUSTER, "-t", TOPIC, "-qn", "4");
        assertTrue(out.contains("The new mapping data is written to file"), out);

        DefaultMQAdminExt admin = startAdmin();
        TopicConfigAndQueueMapping config = (TopicConfigAndQueueMapping) admin.examineTopicConfig(
            servers().brokerAddr(), TOPIC);
        TopicQueueMappingDetail detail = config.getMappingDetail();
        assertNotNull(detail, "GET_TOPIC_CONFIG with lo=true carries the mapping");
        assertEquals(4, detail.getTotalQueues());
        assertEquals(Servers.BROKER_NAME, detail.getBname());
        assertEquals(4, detail.getHostedQueues().size());
        assertEquals(4, config.getWriteQueueNums());

        eventually(20_000, () -> {
            var route = admin.examineTopicRouteInfo(TOPIC);
            assertNotNull(route.getTopicQueueMappingByBroker(), "route of " + TOPIC + ": " + route);
            var info = route.getTopicQueueMappingByBroker().get(Servers.BROKER_NAME);
            assertNotNull(info, route.toString());
            assertEquals(4, info.getCurrIdMap().size(), route.toString());
            return null;
        });
        String routeText = ok("topicRoute", "-n", ns, "-t", TOPIC);
        assertTrue(routeText.contains("\"topicQueueMappingByBroker\""), routeText);

        roundTrip("before the remapping");

        out = ok("remappingStaticTopic", "-n", ns, "-c", Servers.CLUSTER, "-t", TOPIC);
        assertTrue(out.contains("The old mapping data is written to file"), out);
        TopicQueueMappingDetail after = ((TopicConfigAndQueueMapping) admin.examineTopicConfig(
            servers().brokerAddr(), TOPIC)).getMappingDetail();
        assertTrue(after.getEpoch() >= detail.getEpoch(), "epoch " + detail.getEpoch() + " -> " + after.getEpoch());
        assertEquals(4, after.getHostedQueues().size());
        roundTrip("after the remapping");
    }

    /** 12 sends over the logic queues (the mock broker name) and a push consumer of a new group gets them all. */
    private void roundTrip(String when) throws Exception {
        DefaultMQProducer producer = startProducer("static_topic_producer_" + when.length());
        List<String> bodies = new ArrayList<>();
        Set<Integer> queues = new TreeSet<>();
        for (int i = 0; i < 12; i++) {
            String body = "static " + when + " " + i;
            SendResult r = producer.send(new Message(TOPIC, body.getBytes(StandardCharsets.UTF_8)));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
            queues.add(r.getMessageQueue().getQueueId());
            bodies.add(body);
        }
        assertTrue(queues.size() > 1, "sends go round the logic queues: " + queues);

        Received got = new Received();
        DefaultMQPushConsumer consumer = newPushConsumer("static_topic_group_" + when.length());
        consumer.subscribe(TOPIC, "*");
        consumer.registerMessageListener(got.listener());
        consumer.start();
        ConsumeSupport.assertTrueWithin(60_000, "the 12 bodies " + when,
            () -> got.distinctBodies().containsAll(bodies));
    }
}
