package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static rmq.conformance.ConsumeSupport.awaitCaughtUp;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.rocketmq.client.QueryResult;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.MixAll;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageClientExt;
import org.apache.rocketmq.common.message.MessageConst;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;
import rmq.conformance.compat.ClientLine;
import rmq.conformance.harness.BrokerConfig;

/**
 * CONSUMER_SEND_MSG_BACK → %RETRY%group (through the delay levels) → %DLQ%group after maxReconsumeTimes, and
 * a DLQ message re-sent to its original topic (issue #5). Retry n uses delay level 3 + n; levels 3, 4 and 5 are
 * 1 s, 2 s and 3 s here, so the intervals between deliveries grow while the test stays quick.
 */
@BrokerConfig({"messageDelayLevel=1s 1s 1s 2s 3s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s"})
class RetryDlqTest extends ConformanceBase {

    record Attempt(String topic, int reconsumeTimes, String body, String msgId, long at) {
    }

    @Test
    void alwaysReconsumeLaterEndsInDlqAndResendReachesHealthyConsumer() throws Exception {
        String topic = "RetryDlqTopic";
        String group = "retry_dlq_group";
        String key = "retry-dlq-key-" + System.nanoTime();
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 4);
        // The broker creates %RETRY%group on the consumer's first heartbeat, but the client only rebalances
        // the retry topic once its route is known: if the heartbeat-triggered rebalance runs before the
        // route lookup (seen with rmq, whose answers are faster), the retry queue waits for the periodic
        // 20 s rebalance. Creating the retry topic first keeps the test independent of that client race.
        createTopic(admin, MixAll.getRetryTopic(group), 1);

        ConcurrentLinkedQueue<Attempt> attempts = new ConcurrentLinkedQueue<>();
        DefaultMQPushConsumer failing = newPushConsumer(group);
        failing.setMaxReconsumeTimes(3);
        failing.subscribe(topic, "*");
        failing.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                attempts.add(new Attempt(m.getTopic(), m.getReconsumeTimes(),
                    new String(m.getBody(), StandardCharsets.UTF_8), m.getMsgId(), System.currentTimeMillis()));
            }
            return ConsumeConcurrentlyStatus.RECONSUME_LATER;
        });
        failing.start();
        ConsumeSupport.assertTrueWithin(30_000, "consumer owns the 4 queues",
            () -> ownedQueueIds(failing, topic).size() == 4);

        DefaultMQProducer producer = startProducer("retry_dlq_producer");
        Message m = new Message(topic, "TagA", key, "poison".getBytes(StandardCharsets.UTF_8));
        m.putUserProperty("origin", "conformance");
        SendResult sent = producer.send(m);
        assertEquals(SendStatus.SEND_OK, sent.getSendStatus(), sent.toString());

        // maxReconsumeTimes + 1 = 4 deliveries, reconsumeTimes 0, 1, 2, 3; then the message is in %DLQ%group.
        String dlq = MixAll.getDLQTopic(group);
        MessageExt inDlq = eventually(60_000, () -> {
            QueryResult qr = admin.queryMessage(dlq, key, 32, 0, Long.MAX_VALUE);
            assertEquals(1, qr.getMessageList().size(), "messages with key " + key + " in " + dlq + ": " + qr);
            return qr.getMessageList().get(0);
        });
        List<Attempt> seen = new ArrayList<>(attempts);
        long t0 = seen.isEmpty() ? 0 : seen.get(0).at();
        System.out.println("[RetryDlqTest] attempts (ms after the first): "
            + seen.stream().map(a -> a.reconsumeTimes() + "@" + (a.at() - t0)).toList()
            + ", in the DLQ " + (System.currentTimeMillis() - t0) + " ms after the first");
        List<Integer> times = new ArrayList<>();
        for (Attempt a : seen) {
            times.add(a.reconsumeTimes());
            assertEquals("poison", a.body());
            assertEquals(sent.getMsgId(), a.msgId(), "the client shows the original UNIQ_KEY on every attempt");
        }
        assertEquals(List.of(0, 1, 2, 3), times, "reconsumeTimes of the deliveries: " + seen);
        // Growing intervals: retry n is never delivered before its delay level (1 s, 2 s, 3 s) has passed.
        for (int i = 1; i < seen.size(); i++) {
            long gap = seen.get(i).at() - seen.get(i - 1).at();
            long delay = 1000L * i;
            assertTrue(gap >= delay - 50, "retry " + i + " came " + gap + " ms after the previous delivery, before its "
                + delay + " ms delay level: " + seen);
        }
        // the first delivery comes from the topic itself, the retries from %RETRY%group (the client restores
        // the topic from RETRY_TOPIC before the listener sees it)
        for (Attempt a : seen) {
            assertEquals(topic, a.topic(), "listener's view of the topic: " + seen);
        }

        assertEquals(dlq, inDlq.getTopic());
        assertEquals("poison", new String(inDlq.getBody(), StandardCharsets.UTF_8));
        assertEquals(topic, inDlq.getProperty(MessageConst.PROPERTY_RETRY_TOPIC), inDlq.toString());
        assertEquals("conformance", inDlq.getUserProperty("origin"));
        assertEquals(key, inDlq.getKeys());
        assertEquals(sent.getMsgId(), inDlq.getProperty(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX),
            inDlq.toString());

        // the DLQ topic has a route (1 queue) and can also be looked up by the unique key
        var route = admin.examineTopicRouteInfo(dlq);
        assertEquals(1, route.getQueueDatas().size(), route.toString());
        assertEquals(1, route.getQueueDatas().get(0).getWriteQueueNums(), route.toString());
        QueryResult byUniq = ClientLine.queryMessageByUniqKey(admin, dlq, sent.getMsgId(), 32, 0, Long.MAX_VALUE);
        assertTrue(byUniq.getMessageList().size() >= 1, byUniq.toString());
        // VIEW_MESSAGE_BY_ID with the DLQ copy's own offset msg id (getMsgId() of a queried message is UNIQ_KEY)
        MessageExt viewed = ClientLine.viewMessageByOffsetId(admin, dlq, ((MessageClientExt) inDlq).getOffsetMsgId());
        assertEquals(dlq, viewed.getTopic());
        int attemptsAtDlq = attempts.size();

        // stop the failing consumer (its offsets are committed on shutdown), re-send the DLQ message to its
        // original topic with a normal producer; the group, now with a healthy listener, gets exactly that one.
        failing.shutdown();
        Message resend = new Message(inDlq.getProperty(MessageConst.PROPERTY_RETRY_TOPIC), inDlq.getTags(),
            inDlq.getKeys(), inDlq.getBody());
        resend.putUserProperty("origin", inDlq.getUserProperty("origin"));
        resend.putUserProperty("resent", "true");
        SendResult resent = producer.send(resend);
        assertEquals(SendStatus.SEND_OK, resent.getSendStatus(), resent.toString());

        ConcurrentLinkedQueue<MessageExt> healthyGot = new ConcurrentLinkedQueue<>();
        DefaultMQPushConsumer healthy = newPushConsumer(group);
        healthy.setMaxReconsumeTimes(3);
        healthy.subscribe(topic, "*");
        healthy.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            healthyGot.addAll(msgs);
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        healthy.start();
        ConsumeSupport.assertTrueWithin(60_000, "healthy consumer got the re-sent message",
            () -> healthyGot.stream().anyMatch(x -> "true".equals(x.getUserProperty("resent"))));
        awaitCaughtUp(admin, group, topic, 2);
        List<MessageExt> hg = new ArrayList<>(healthyGot);
        assertEquals(1, hg.size(), "only the re-sent message (the original was consumed, its retries ended in the"
            + " DLQ): " + hg);
        MessageExt h = hg.get(0);
        assertEquals("poison", new String(h.getBody(), StandardCharsets.UTF_8));
        assertEquals(0, h.getReconsumeTimes());
        assertEquals(resent.getMsgId(), h.getMsgId());
        assertEquals(attemptsAtDlq, attempts.size(), "the failing consumer got nothing after the DLQ");
        assertNotNull(h.getKeys());
    }
}
