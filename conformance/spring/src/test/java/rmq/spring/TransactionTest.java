package rmq.spring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.impl.MQClientAPIImpl;
import org.apache.rocketmq.client.producer.LocalTransactionState;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.client.producer.TransactionSendResult;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.common.constant.PermName;
import org.apache.rocketmq.common.topic.TopicValidator;
import org.apache.rocketmq.remoting.protocol.route.QueueData;
import org.apache.rocketmq.remoting.protocol.route.TopicRouteData;
import org.apache.rocketmq.spring.annotation.RocketMQMessageListener;
import org.apache.rocketmq.spring.annotation.RocketMQTransactionListener;
import org.apache.rocketmq.spring.core.RocketMQLocalTransactionListener;
import org.apache.rocketmq.spring.core.RocketMQLocalTransactionState;
import org.apache.rocketmq.spring.core.RocketMQTemplate;
import org.apache.rocketmq.spring.support.DefaultRocketMQListenerContainer;
import org.apache.rocketmq.spring.support.RocketMQHeaders;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.messaging.Message;
import org.springframework.messaging.MessageHeaders;
import org.springframework.messaging.support.MessageBuilder;
import org.springframework.test.annotation.DirtiesContext;
import rmq.conformance.harness.BrokerConfig;

/**
 * {@code RocketMQTemplate.sendMessageInTransaction} with a {@code @RocketMQTransactionListener}: COMMIT is
 * delivered once, ROLLBACK never, UNKNOWN then COMMIT from the broker's check-back (CHECK_TRANSACTION_STATE)
 * once. Every field of each TransactionSendResult is checked; so are the Spring messages the listener is
 * given on execute and on check-back. The check service runs every second over half messages older than one
 * second (as conformance/java's TransactionTest).
 */
@ExtendWith(SpringServers.class) // before @SpringBootTest: servers first up, last down
@SpringBootTest(classes = TransactionTest.App.class, properties = {
    "rocketmq.producer.group=spring_tx_producer",
    "rocketmq.producer.send-message-timeout=10000",
})
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
// 5.x: TransactionalMessageServiceImpl.deletePrepareMessage only queues the op record of a commit/rollback for
// TransactionalOpBatchService, which writes it every transactionOpBatchInterval (3 s) or once the queued records
// exceed transactionOpMsgMaxSize (4096 bytes). With a 1 s check interval and timeout the check service gets to a
// committed half message first, re-puts it (TRANSACTION_CHECK_TIMES + 1) and asks the producer; the op record
// written later names the original half offset, so the copy is asked about again and again, up to
// transactionCheckMax (seen on 5.3.1: the committed one checked 15 times). transactionOpMsgMaxSize=1 writes
// each op record at once, as 4.9.7 does. Not 0: getOpMessage stops appending records once the body reaches
// transactionOpMsgMaxSize, so with 0 it builds an empty body, returns null, and no op record is ever written.
@BrokerConfig(value = {"transactionCheckInterval=1000", "transactionTimeOut=1000"},
    serverLine5 = {"transactionOpMsgMaxSize=1"})
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TransactionTest extends SpringConformanceBase {
    static final String TOPIC = "SpringTxTopic";
    static final String TAG = "TagTx";

    @Configuration
    @EnableAutoConfiguration
    @Import({TxListener.class, Listener.class})
    static class App {
        @Bean
        SentMessages sentMessages(RocketMQTemplate template) {
            SentMessages hook = new SentMessages();
            template.getProducer().getDefaultMQProducerImpl().registerSendMessageHook(hook);
            return hook;
        }
    }

    /**
     * The local transaction returns the state passed as the send's {@code arg}; the check-back answers from
     * {@link #onCheck} by body (UNKNOWN if absent). Records the Spring messages of both.
     */
    @RocketMQTransactionListener(corePoolSize = 1, maximumPoolSize = 1)
    static class TxListener implements RocketMQLocalTransactionListener {
        final Map<String, Message<?>> executed = new ConcurrentHashMap<>();
        final Map<String, List<Message<?>>> checked = new ConcurrentHashMap<>();
        final Map<String, RocketMQLocalTransactionState> onCheck = new ConcurrentHashMap<>();

        @Override
        public RocketMQLocalTransactionState executeLocalTransaction(Message msg, Object arg) {
            executed.put(body(msg), msg);
            return (RocketMQLocalTransactionState) arg;
        }

        @Override
        public RocketMQLocalTransactionState checkLocalTransaction(Message msg) {
            String b = body(msg);
            checked.computeIfAbsent(b, k -> Collections.synchronizedList(new ArrayList<>())).add(msg);
            return onCheck.getOrDefault(b, RocketMQLocalTransactionState.UNKNOWN);
        }

        int checksOf(String body) {
            List<Message<?>> l = checked.get(body);
            return l == null ? 0 : l.size();
        }

        static String body(Message<?> m) {
            return new String((byte[]) m.getPayload(), StandardCharsets.UTF_8);
        }
    }

    @RocketMQMessageListener(topic = TOPIC, consumerGroup = "spring_tx_consumer",
        consumeThreadNumber = 2, consumeThreadMax = 2)
    static class Listener extends RecordingListener {
    }

    @Autowired
    RocketMQTemplate template;
    @Autowired
    TxListener tx;
    @Autowired
    Listener listener;
    @Autowired
    SentMessages sent;
    @Autowired
    ApplicationContext context;

    static String h(String rocketHeader) {
        return RocketMQHeaders.PREFIX + rocketHeader;
    }

    MessageQueue halfQueue() {
        return new MessageQueue(TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC, servers().brokerName(), 0);
    }

    MQClientAPIImpl api() {
        return template.getProducer().getDefaultMQProducerImpl().getMqClientFactory().getMQClientAPIImpl();
    }

    /**
     * Whether the producer's client has the broker's address from a route. Before that, a request of our own
     * would open the client's connection to the broker as an unknown address, and the 5.x client sends its
     * HEART_BEAT on a new connection only to known broker addresses (MQClientInstance onChannelActive); the
     * sends that follow reuse the connection, so the broker would learn the producer group only from the
     * 30 s periodic heartbeat and could not check back before. (Seen on rmq, where the route look-up of the
     * half topic fails: see {@link #halfTopicIsRouted}.)
     */
    boolean producerKnowsBroker() {
        return knownBrokerAddr() != null;
    }

    /** The broker's address as the producer's client has it from a route (the wiretap's with -Drmq.wiretap). */
    String knownBrokerAddr() {
        return template.getProducer().getDefaultMQProducerImpl().getMqClientFactory()
            .findBrokerAddressInPublish(servers().brokerName());
    }

    /**
     * GET_MAX_OFFSET straight to the broker address the producer knows (no route look-up of the queue's topic:
     * see {@link #halfTopicIsRouted}).
     */
    long maxOffset(MessageQueue mq) throws Exception {
        String addr = knownBrokerAddr();
        if (addr == null) {
            throw new IllegalStateException("the producer has no route to " + servers().brokerName() + " yet");
        }
        return api().getMaxOffset(addr, mq, 10_000);
    }

    /**
     * The name server routes RMQ_SYS_TRANS_HALF_TOPIC (1 read / 1 write queue on the broker, perm RW = 6): a
     * 5.x broker creates it at start (TopicConfigManager), 4.9.7 at its first check round (selectTopicConfig →
     * createTopicInSendMessageBackMethod, here within a second); either registers it. So a client can ask
     * for the half queue's offsets through the usual route look-up (MQAdminImpl.maxOffset), as
     * {@code template.getProducer().maxOffset(halfQueue)} does.
     */
    @Test
    @Order(0)
    void halfTopicIsRouted() throws Exception {
        Await.until(15_000, "a name server route for " + TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC, () -> {
            try {
                return api().getTopicRouteInfoFromNameServer(TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC, 5_000) != null;
            } catch (Exception e) {
                return false;
            }
        }, () -> {
            try {
                return api().getTopicRouteInfoFromNameServer(TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC, 5_000);
            } catch (Exception e) {
                return e.toString();
            }
        });
        TopicRouteData route = api().getTopicRouteInfoFromNameServer(TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC, 5_000);
        assertEquals(1, route.getQueueDatas().size(), route.toString());
        QueueData q = route.getQueueDatas().get(0);
        assertEquals(servers().brokerName(), q.getBrokerName(), route.toString());
        assertEquals(1, q.getReadQueueNums(), route.toString());
        assertEquals(1, q.getWriteQueueNums(), route.toString());
        assertEquals(PermName.PERM_READ | PermName.PERM_WRITE, q.getPerm(), route.toString());
        assertEquals(servers().brokerAddr(), route.getBrokerDatas().get(0).getBrokerAddrs().get(0L),
            route.toString());
        @SuppressWarnings("deprecation")
        long viaRoute = template.getProducer().maxOffset(halfQueue()); // GET_MAX_OFFSET through the route
        assertTrue(viaRoute >= 0, "half queue max offset " + viaRoute);
    }

    /**
     * sendMessageInTransaction of body with key "key-" + body and a Spring header; checks every field of the
     * result and the Spring message the local transaction was given.
     */
    TransactionSendResult sendTx(String body, RocketMQLocalTransactionState decision,
                                 LocalTransactionState expectedState) throws Exception {
        // SEND_MESSAGE's queue offset for a half message is its offset in RMQ_SYS_TRANS_HALF_TOPIC queue 0
        // (GET_MAX_OFFSET is eventually consistent: before may lag, after is polled)
        long halfBefore = producerKnowsBroker() ? maxOffset(halfQueue()) : 0;
        Message<String> m = MessageBuilder.withPayload(body)
            .setHeader(RocketMQHeaders.KEYS, "key-" + body)
            .setHeader("color", "blue")
            .build();
        TransactionSendResult r = template.sendMessageInTransaction(TOPIC + ":" + TAG, m, decision);

        assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
        assertEquals(expectedState, r.getLocalTransactionState(), r.toString());
        assertUniqKey(r.getMsgId(), "msgId");
        // DefaultMQProducerImpl.sendMessageInTransaction copies status, queue, msgId, queueOffset and
        // transactionId of the half message's SendResult into a new TransactionSendResult: offsetMsgId and
        // regionId stay null, traceOn keeps its default
        assertNull(r.getOffsetMsgId(), r.toString());
        assertNull(r.getRegionId(), r.toString());
        assertTrue(r.isTraceOn(), r.toString());
        assertNull(r.getRecallHandle(), r.toString());
        assertEquals(TOPIC, r.getMessageQueue().getTopic(), r.toString());
        assertEquals(servers().brokerName(), r.getMessageQueue().getBrokerName(), r.toString());
        assertTrue(r.getMessageQueue().getQueueId() >= 0 && r.getMessageQueue().getQueueId() < 4, r.toString());
        assertTrue(r.getQueueOffset() >= halfBefore, "queueOffset " + r.getQueueOffset()
            + " is the half queue's (max offset before the send: " + halfBefore + ")");
        Await.until(15_000, "half queue max offset passes " + r.getQueueOffset(), () -> {
            try {
                return maxOffset(halfQueue()) > r.getQueueOffset();
            } catch (Exception e) {
                return false;
            }
        });
        // 5.x: SendMessageProcessor puts transactionId = UNIQ_KEY in the half message's SEND_MESSAGE response
        // header, the client copies it into the TransactionSendResult; 4.9.7 leaves it out (checked after the test)
        expectTransactionId("TransactionSendResult " + body, r.getMsgId(), r.getTransactionId());

        Message<?> e = tx.executed.get(body);
        assertTrue(e != null, "executeLocalTransaction was not called for " + body);
        MessageHeaders eh = e.getHeaders();
        assertEquals(TOPIC, eh.get(h(RocketMQHeaders.TOPIC)), eh.toString());
        assertEquals(TAG, eh.get(h(RocketMQHeaders.TAGS)), eh.toString());
        assertEquals("key-" + body, eh.get(h(RocketMQHeaders.KEYS)), eh.toString());
        assertEquals(r.getMsgId(), eh.get(h(RocketMQHeaders.TRANSACTION_ID)), eh.toString());
        assertEquals("blue", eh.get("color"), eh.toString());
        // the client adds the response's transactionId as user property __transactionId__ before executing
        expectTransactionId("__transactionId__ header on executeLocalTransaction of " + body, r.getMsgId(),
            (String) eh.get("__transactionId__"));
        return r;
    }

    /**
     * Delivered once, as sent, on the result's queue. Properties: those sent, plus what the broker adds to any
     * message, plus the half message's REAL_TOPIC / REAL_QID (both lines keep them in the committed message)
     * and, on 5.x, its __transactionId__.
     */
    MessageExt assertDeliveredOnce(TransactionSendResult r, String body) throws Exception {
        return assertDeliveredOnce(r, body, Map.of());
    }

    /** As {@link #assertDeliveredOnce(TransactionSendResult, String)}, with properties the broker adds. */
    MessageExt assertDeliveredOnce(TransactionSendResult r, String body, Map<String, String> added)
        throws Exception {
        Await.until(60_000, "delivery of " + body, () -> !listener.withBody(body).isEmpty(), listener::counts);
        List<RecordingListener.Delivery> ds = listener.withBody(body);
        assertEquals(1, ds.size(), "deliveries of " + body + ": " + ds);
        MessageExt d = ds.get(0).msg();
        assertEquals(TOPIC, d.getTopic());
        assertEquals(TAG, d.getTags());
        assertEquals("key-" + body, d.getKeys());
        assertEquals("blue", d.getUserProperty("color"));
        assertEquals(r.getMsgId(), d.getMsgId(), "UNIQ_KEY kept from the half message");
        assertEquals(r.getMessageQueue().getQueueId(), d.getQueueId(), "delivered on the queue the result names");
        commitLogOffsetOf(offsetMsgIdOf(d));
        Map<String, String> expected = sentProperties(sent, d.getMsgId());
        assertEquals("true", expected.get("TRAN_MSG"), "sent as a half message: " + expected);
        assertEquals("spring_tx_producer", expected.get("PGROUP"), expected.toString());
        expected.putAll(brokerAddedProperties());
        if (ServerLine.storesHalfTransactionIdProperty()) {
            expected.put("__transactionId__", d.getMsgId());
        }
        expected.put("REAL_TOPIC", TOPIC);
        expected.put("REAL_QID", String.valueOf(d.getQueueId()));
        expected.putAll(added);
        assertEquals(expected, wireProperties(d), "properties of the committed message " + body);
        return d;
    }

    /** Waits until the listener's consumer holds nothing unconsumed and the topic holds exactly what it got. */
    void assertTopicHoldsOnlyDelivered() throws Exception {
        DefaultMQPushConsumer consumer = null;
        for (DefaultRocketMQListenerContainer c : context.getBeansOfType(DefaultRocketMQListenerContainer.class)
            .values()) {
            if (c.getRocketMQListener() == listener) {
                consumer = c.getConsumer();
            }
        }
        DefaultMQPushConsumer cons = consumer;
        List<MessageQueue> queues = new ArrayList<>(template.getProducer().fetchPublishMessageQueues(TOPIC));
        Await.until(30_000, "every message in " + TOPIC + " consumed, and only those", () -> {
            long inTopic = 0;
            try {
                for (MessageQueue q : queues) {
                    inTopic += maxOffset(q);
                }
            } catch (Exception e) {
                return false;
            }
            boolean drained = cons.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable()
                .values().stream().allMatch(pq -> pq.getMsgCount().get() == 0);
            return drained && inTopic == listener.all().size();
        }, () -> "deliveries " + listener.counts());
    }

    @Test
    @Order(1)
    void commitIsDeliveredOnce() throws Exception {
        TransactionSendResult r = sendTx("tx-commit", RocketMQLocalTransactionState.COMMIT,
            LocalTransactionState.COMMIT_MESSAGE);
        assertDeliveredOnce(r, "tx-commit");
        assertEquals(0, tx.checksOf("tx-commit"), "a committed transaction is not checked back");
    }

    /**
     * ROLLBACK: never delivered. Proof without sleeping: a committed marker sent after it is delivered, the
     * consumer has nothing left to consume, and the sum of the topic's max offsets equals what it got.
     */
    @Test
    @Order(2)
    void rollbackIsNeverDelivered() throws Exception {
        sendTx("tx-rollback", RocketMQLocalTransactionState.ROLLBACK, LocalTransactionState.ROLLBACK_MESSAGE);
        TransactionSendResult marker = sendTx("tx-after-rollback", RocketMQLocalTransactionState.COMMIT,
            LocalTransactionState.COMMIT_MESSAGE);
        assertDeliveredOnce(marker, "tx-after-rollback");
        assertTopicHoldsOnlyDelivered();
        assertEquals(List.of(), listener.withBody("tx-rollback"), "rolled back message delivered");
        assertEquals(0, tx.checksOf("tx-rollback"), "a rolled back transaction is not checked back");
    }

    /**
     * UNKNOWN: the broker checks back (CHECK_TRANSACTION_STATE, about a second later), the listener answers
     * COMMIT, the message is delivered exactly once. The check-back message carries the half message as sent
     * (real topic and queue, tags, keys, user header, UNIQ_KEY as the transaction id, its offset message id).
     * By then the check service has passed the older, resolved transactions: none of them was checked.
     */
    @Test
    @Order(3)
    void unknownThenCheckBackCommit() throws Exception {
        tx.onCheck.put("tx-unknown", RocketMQLocalTransactionState.COMMIT);
        TransactionSendResult r = sendTx("tx-unknown", RocketMQLocalTransactionState.UNKNOWN,
            LocalTransactionState.UNKNOW);
        assertFalse(listener.withBody("tx-unknown").size() > 0, "delivered before any check-back");
        Await.until(60_000, "check-back of tx-unknown", () -> tx.checksOf("tx-unknown") >= 1, () -> tx.checked);
        Await.until(60_000, "delivery of tx-unknown", () -> !listener.withBody("tx-unknown").isEmpty(),
            listener::counts);
        assertEquals(1, tx.checksOf("tx-unknown"), "checked back once (the first check is answered COMMIT)");
        // the check service counts its checks in the half message (TRANSACTION_CHECK_TIMES, incremented before
        // each CHECK_TRANSACTION_STATE), which the committed message inherits
        MessageExt d = assertDeliveredOnce(r, "tx-unknown", Map.of("TRANSACTION_CHECK_TIMES", "1"));

        Message<?> c = tx.checked.get("tx-unknown").get(0);
        MessageHeaders ch = c.getHeaders();
        assertEquals(TOPIC, ch.get(h(RocketMQHeaders.TOPIC)), ch.toString());
        assertEquals(r.getMessageQueue().getQueueId(), ch.get(h(RocketMQHeaders.QUEUE_ID)), ch.toString());
        assertEquals(TAG, ch.get(h(RocketMQHeaders.TAGS)), ch.toString());
        assertEquals("key-tx-unknown", ch.get(h(RocketMQHeaders.KEYS)), ch.toString());
        assertEquals(r.getMsgId(), ch.get(h(RocketMQHeaders.TRANSACTION_ID)), ch.toString());
        commitLogOffsetOf((String) ch.get(h(RocketMQHeaders.MESSAGE_ID)));
        assertEquals("blue", ch.get("color"), ch.toString());
        assertEquals(d.getBornTimestamp(), ch.get(h(RocketMQHeaders.BORN_TIMESTAMP)), ch.toString());

        assertTopicHoldsOnlyDelivered();
        Map<String, Integer> checks = new TreeMap<>();
        tx.checked.forEach((k, v) -> checks.put(k, v.size()));
        assertEquals(List.of("tx-unknown"), new ArrayList<>(checks.keySet()), "checked back: " + checks);
    }
}
