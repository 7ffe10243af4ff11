package rmq.spring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.spring.annotation.RocketMQMessageListener;
import org.apache.rocketmq.spring.core.RocketMQTemplate;
import org.apache.rocketmq.spring.support.RocketMQHeaders;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.messaging.Message;
import org.springframework.messaging.support.MessageBuilder;
import org.springframework.test.annotation.DirtiesContext;
import rmq.conformance.harness.BrokerConfig;

/**
 * RocketMQTemplate's send modes (syncSend, asyncSend with a SendCallback, sendOneWay, syncSendOrderly by hash
 * key, syncSend with a delay level), each message received by a {@code @RocketMQMessageListener} exactly once
 * and exactly as sent; every field of every SendResult checked against the delivered message.
 */
@ExtendWith(SpringServers.class) // before @SpringBootTest: servers first up, last down
@SpringBootTest(classes = TemplateSendTest.App.class, properties = {
    "rocketmq.producer.group=spring_template_producer",
    "rocketmq.producer.send-message-timeout=10000",
})
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
@BrokerConfig("messageDelayLevel=1s 2s 3s")
class TemplateSendTest extends SpringConformanceBase {
    static final String TOPIC = "SpringTemplateTopic";
    static final long DELIVERY_TIMEOUT_MS = 60_000;

    @Configuration
    @EnableAutoConfiguration
    @Import(Listener.class)
    static class App {
        @Bean
        SentMessages sentMessages(RocketMQTemplate template) {
            SentMessages hook = new SentMessages();
            template.getProducer().getDefaultMQProducerImpl().registerSendMessageHook(hook);
            return hook;
        }
    }

    @RocketMQMessageListener(topic = TOPIC, consumerGroup = "spring_template_consumer",
        consumeThreadNumber = 4, consumeThreadMax = 4)
    static class Listener extends RecordingListener {
    }

    @Autowired
    RocketMQTemplate template;
    @Autowired
    Listener listener;
    @Autowired
    SentMessages sent;

    static Message<String> message(String body, String keys) {
        return MessageBuilder.withPayload(body)
            .setHeader(RocketMQHeaders.KEYS, keys)
            .setHeader("color", "red")
            .build();
    }

    /** Waits for exactly one delivery of the message {@code msgId}; fails on none or more. */
    RecordingListener.Delivery deliveredOnce(String msgId) throws InterruptedException {
        Await.until(DELIVERY_TIMEOUT_MS, "delivery of " + msgId, () -> !listener.withMsgId(msgId).isEmpty(),
            listener::counts);
        List<RecordingListener.Delivery> ds = listener.withMsgId(msgId);
        assertEquals(1, ds.size(), "deliveries of " + msgId + ": " + ds);
        return ds.get(0);
    }

    /**
     * Every field of a SendResult for a message stored as sent (not delayed), against its delivery: status,
     * msgId (UNIQ_KEY), offsetMsgId (store host + commitlog offset), queue, queue offset, transactionId
     * (5.x: the UNIQ_KEY; 4.9: absent; checked after the test), regionId and traceOn (from the response's MSG_REGION / TRACE_ON ext
     * fields), recallHandle (not sent by 5.3.1).
     */
    void assertSendResultMatches(SendResult r, MessageExt d) throws Exception {
        assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
        assertUniqKey(r.getMsgId(), "msgId");
        assertEquals(r.getMsgId(), d.getMsgId(), "msgId vs delivered UNIQ_KEY");
        assertEquals(d.getCommitLogOffset(), commitLogOffsetOf(r.getOffsetMsgId()), "offsetMsgId's commitlog offset");
        assertEquals(offsetMsgIdOf(d), r.getOffsetMsgId(), "offsetMsgId vs the delivered message's");
        assertEquals(TOPIC, r.getMessageQueue().getTopic(), r.toString());
        assertEquals(servers().brokerName(), r.getMessageQueue().getBrokerName(), r.toString());
        assertEquals(d.getQueueId(), r.getMessageQueue().getQueueId(), "queue id vs delivered");
        assertEquals(d.getQueueOffset(), r.getQueueOffset(), "queue offset vs delivered");
        expectTransactionId("SendResult " + r.getMsgId(), r.getMsgId(), r.getTransactionId());
        assertEquals("DefaultRegion", r.getRegionId(), r.toString());
        assertTrue(r.isTraceOn(), r.toString());
        assertNull(r.getRecallHandle(), r.toString());
    }

    /** Delivered as sent: topic, body, tags, keys, and the sent properties plus those the broker adds. */
    void assertDeliveredAsSent(MessageExt d, String body, String tags, String keys) {
        assertEquals(TOPIC, d.getTopic());
        assertEquals(body, new String(d.getBody(), java.nio.charset.StandardCharsets.UTF_8));
        assertEquals(tags, d.getTags());
        assertEquals(keys, d.getKeys());
        assertEquals("red", d.getUserProperty("color"), "Spring header 'color' as a user property");
        Map<String, String> expected = sentProperties(sent, d.getMsgId());
        expected.putAll(brokerAddedProperties());
        assertEquals(expected, wireProperties(d), "properties of " + d.getMsgId());
    }

    @Test
    void syncSend() throws Exception {
        SendResult r = template.syncSend(TOPIC + ":TagSync", message("sync-1", "key-sync-1"));
        MessageExt d = deliveredOnce(r.getMsgId()).msg();
        assertSendResultMatches(r, d);
        assertDeliveredAsSent(d, "sync-1", "TagSync", "key-sync-1");
    }

    @Test
    void asyncSendWithCallback() throws Exception {
        int n = 20;
        CountDownLatch done = new CountDownLatch(n);
        Map<String, SendResult> results = new ConcurrentHashMap<>();
        List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
        for (int i = 0; i < n; i++) {
            String body = "async-" + i;
            template.asyncSend(TOPIC + ":TagAsync", message(body, "key-" + body), new SendCallback() {
                @Override
                public void onSuccess(SendResult sendResult) {
                    results.put(body, sendResult);
                    done.countDown();
                }

                @Override
                public void onException(Throwable e) {
                    failures.add(e);
                    done.countDown();
                }
            }, 10_000);
        }
        assertTrue(done.await(60, TimeUnit.SECONDS), "callbacks: " + results.size() + " of " + n);
        assertEquals(List.of(), failures);
        assertEquals(n, results.size());
        for (Map.Entry<String, SendResult> e : new TreeMap<>(results).entrySet()) {
            MessageExt d = deliveredOnce(e.getValue().getMsgId()).msg();
            assertSendResultMatches(e.getValue(), d);
            assertDeliveredAsSent(d, e.getKey(), "TagAsync", "key-" + e.getKey());
        }
    }

    @Test
    void sendOneWay() throws Exception {
        int n = 20;
        for (int i = 0; i < n; i++) {
            template.sendOneWay(TOPIC + ":TagOneway", message("oneway-" + i, "key-oneway-" + i));
        }
        for (int i = 0; i < n; i++) {
            String body = "oneway-" + i;
            Await.until(DELIVERY_TIMEOUT_MS, "delivery of " + body, () -> !listener.withBody(body).isEmpty(),
                listener::counts);
        }
        for (int i = 0; i < n; i++) {
            String body = "oneway-" + i;
            List<RecordingListener.Delivery> ds = listener.withBody(body);
            assertEquals(1, ds.size(), body + ": " + ds);
            assertDeliveredAsSent(ds.get(0).msg(), body, "TagOneway", "key-" + body);
        }
    }

    /**
     * syncSendOrderly: the starter's SelectMessageQueueByHash puts each hash key on queue
     * |hashKey.hashCode() % 4|; per key the queue offsets increase in send order.
     */
    @Test
    void syncSendOrderlyByHashKey() throws Exception {
        Map<String, List<SendResult>> byKey = new TreeMap<>();
        for (int i = 0; i < 5; i++) {
            for (String key : List.of("order-1", "order-2", "order-3")) {
                SendResult r = template.syncSendOrderly(TOPIC + ":TagOrderly",
                    message(key + "-step-" + i, key), key);
                byKey.computeIfAbsent(key, k -> new ArrayList<>()).add(r);
            }
        }
        for (Map.Entry<String, List<SendResult>> e : byKey.entrySet()) {
            int expectedQueue = Math.abs(e.getKey().hashCode() % 4);
            long previous = -1;
            for (int i = 0; i < e.getValue().size(); i++) {
                SendResult r = e.getValue().get(i);
                assertEquals(expectedQueue, r.getMessageQueue().getQueueId(), e.getKey() + " step " + i + ": " + r);
                assertTrue(r.getQueueOffset() > previous, "queue offsets increase: " + e.getValue());
                previous = r.getQueueOffset();
                MessageExt d = deliveredOnce(r.getMsgId()).msg();
                assertSendResultMatches(r, d);
                assertDeliveredAsSent(d, e.getKey() + "-step-" + i, "TagOrderly", e.getKey());
            }
        }
    }

    /**
     * syncSend with delay level 2 (2 s with this broker's messageDelayLevel=1s 2s 3s): the result names the
     * real topic and queue; the message reaches the listener on that queue, with the same UNIQ_KEY, no
     * earlier than 2 s after the send, and (re-put by the schedule service) at a new commitlog offset.
     */
    @Test
    void syncSendWithDelayLevel() throws Exception {
        long before = System.currentTimeMillis();
        SendResult r = template.syncSend(TOPIC + ":TagDelay", message("delayed-1", "key-delayed-1"), 10_000, 2);
        assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
        assertUniqKey(r.getMsgId(), "msgId");
        commitLogOffsetOf(r.getOffsetMsgId());
        assertEquals(TOPIC, r.getMessageQueue().getTopic());
        assertEquals(servers().brokerName(), r.getMessageQueue().getBrokerName());
        assertTrue(r.getQueueOffset() >= 0, r.toString()); // an offset in SCHEDULE_TOPIC_XXXX's queue 1
        expectTransactionId("SendResult " + r.getMsgId(), r.getMsgId(), r.getTransactionId());
        assertEquals("DefaultRegion", r.getRegionId());
        assertTrue(r.isTraceOn());
        assertNull(r.getRecallHandle());

        RecordingListener.Delivery delivery = deliveredOnce(r.getMsgId());
        MessageExt d = delivery.msg();
        long waited = delivery.atMillis() - before;
        assertTrue(waited >= 2_000, "delivered " + waited + " ms after the send, before its 2 s delay");
        assertEquals(r.getMessageQueue().getQueueId(), d.getQueueId(), "delivered on the queue the result names");
        assertNotEquals(r.getOffsetMsgId(), offsetMsgIdOf(d), "the delivered copy is a new commitlog entry");
        assertEquals("delayed-1", new String(d.getBody(), java.nio.charset.StandardCharsets.UTF_8));
        assertEquals("TagDelay", d.getTags());
        assertEquals("key-delayed-1", d.getKeys());
        // sent properties + the broker's + REAL_TOPIC/REAL_QID (where the schedule service put it back). DELAY is
        // not compared: 4.9.7 delivers it, 5.x clears it (ScheduleMessageService.messageTimeUp); rmq follows
        // 4.9.7 there (conformance/java DelayTest).
        Map<String, String> expected = sentProperties(sent, d.getMsgId());
        assertEquals("2", expected.remove("DELAY"), "the client sent DELAY=2");
        expected.putAll(brokerAddedProperties());
        expected.put("REAL_TOPIC", TOPIC);
        expected.put("REAL_QID", String.valueOf(d.getQueueId()));
        Map<String, String> got = wireProperties(d);
        got.remove("DELAY");
        assertEquals(expected, got, "properties of the delayed message");
    }
}
