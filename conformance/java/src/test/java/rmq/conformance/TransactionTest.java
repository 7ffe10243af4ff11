package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static rmq.conformance.ConsumeSupport.awaitCaughtUp;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.rocketmq.client.QueryResult;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.LocalTransactionState;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.client.producer.TransactionListener;
import org.apache.rocketmq.client.producer.TransactionMQProducer;
import org.apache.rocketmq.client.producer.TransactionSendResult;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.topic.TopicValidator;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;
import rmq.conformance.harness.BrokerConfig;

/**
 * Transactional messages (issue #5) with TransactionMQProducer + TransactionListener: half messages,
 * END_TRANSACTION commit/rollback, CHECK_TRANSACTION_STATE check-back, discard after transactionCheckMax,
 * (a broker restart with a transaction still open: {@link TransactionRestartTest}). The check-back service runs every second and checks
 * half messages older than one second.
 */
// 5.x: TransactionalMessageServiceImpl.deletePrepareMessage only queues the op record ("this half message is
// done") for TransactionalOpBatchService, which writes it every transactionOpBatchInterval (3 s) or once the
// queued records exceed transactionOpMsgMaxSize (4096 bytes). With the 1 s check interval of these tests the
// check service checks a half message again before its op record is written, the producer answers COMMIT
// again and the message is delivered twice (seen: 2 and 4 copies). transactionOpMsgMaxSize=1 makes every
// commit/rollback wake the batch service and write its op record at once, as 4.9.7's deletePrepareMessage
// does. (0 does not work: getOpMessage stops appending records once the text is >= the max size, so with 0
// it never writes an op record at all.)
@BrokerConfig(value = {"transactionCheckInterval=1000", "transactionTimeOut=1000", "transactionCheckMax=2"},
    serverLine5 = {"transactionOpMsgMaxSize=1"})
class TransactionTest extends ConformanceBase {

    /** What the producer's local transactions decide, per body; and how often the broker asked back. */
    static final class Decisions implements TransactionListener {
        final Map<String, LocalTransactionState> onExecute = new ConcurrentHashMap<>();
        final Map<String, LocalTransactionState> onCheck = new ConcurrentHashMap<>();
        final Map<String, AtomicInteger> checks = new ConcurrentHashMap<>();

        @Override
        public LocalTransactionState executeLocalTransaction(Message msg, Object arg) {
            return onExecute.getOrDefault(body(msg), LocalTransactionState.UNKNOW);
        }

        @Override
        public LocalTransactionState checkLocalTransaction(MessageExt msg) {
            String b = body(msg);
            checks.computeIfAbsent(b, k -> new AtomicInteger()).incrementAndGet();
            return onCheck.getOrDefault(b, LocalTransactionState.UNKNOW);
        }

        int checksOf(String body) {
            AtomicInteger n = checks.get(body);
            return n == null ? 0 : n.get();
        }
    }

    /** Counts deliveries per body. */
    static final class Counts {
        final Map<String, AtomicInteger> byBody = new ConcurrentHashMap<>();

        MessageListenerConcurrently listener() {
            return (msgs, ctx) -> {
                for (MessageExt m : msgs) {
                    byBody.computeIfAbsent(body(m), k -> new AtomicInteger()).incrementAndGet();
                }
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            };
        }

        int of(String body) {
            AtomicInteger n = byBody.get(body);
            return n == null ? 0 : n.get();
        }

        Map<String, Integer> snapshot() {
            Map<String, Integer> m = new TreeMap<>();
            byBody.forEach((k, v) -> m.put(k, v.get()));
            return m;
        }
    }

    static String body(Message m) {
        return new String(m.getBody(), StandardCharsets.UTF_8);
    }

    static TransactionMQProducer startTxProducer(String group, TransactionListener listener) throws Exception {
        TransactionMQProducer p = new TransactionMQProducer(group);
        p.setNamesrvAddr(servers().namesrvAddr());
        p.setInstanceName(uniqueInstance());
        p.setSendMsgTimeout(10_000);
        // re-register with a restarted broker quickly (the check-back needs the producer group's channel)
        p.setHeartbeatBrokerInterval(1_000);
        p.setTransactionListener(listener);
        p.start();
        return p;
    }

    private Counts startConsumer(DefaultMQAdminExt admin, String topic, String group) throws Exception {
        return startCountingConsumer(admin, newPushConsumer(group), topic);
    }

    static Counts startCountingConsumer(DefaultMQAdminExt admin, DefaultMQPushConsumer c, String topic)
        throws Exception {
        createTopic(admin, topic, 4);
        Counts counts = new Counts();
        c.subscribe(topic, "*");
        c.registerMessageListener(counts.listener());
        c.start();
        return counts;
    }

    static TransactionSendResult sendTx(TransactionMQProducer p, String topic, String body, String key)
        throws Exception {
        TransactionSendResult r = p.sendMessageInTransaction(
            new Message(topic, "TagTx", key, body.getBytes(StandardCharsets.UTF_8)), null);
        assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
        return r;
    }

    /**
     * COMMIT_MESSAGE → delivered exactly once; ROLLBACK_MESSAGE → never delivered (and never checked back);
     * UNKNOW, then COMMIT_MESSAGE from the check-back → delivered exactly once.
     */
    @Test
    void commitRollbackAndCheckBackCommit() throws Exception {
        String topic = "TxTopic";
        DefaultMQAdminExt admin = startAdmin();
        Counts got = startConsumer(admin, topic, "tx_consumer_group");
        Decisions d = new Decisions();
        d.onExecute.put("committed", LocalTransactionState.COMMIT_MESSAGE);
        d.onExecute.put("rolled-back", LocalTransactionState.ROLLBACK_MESSAGE);
        d.onExecute.put("unknown-then-commit", LocalTransactionState.UNKNOW);
        d.onCheck.put("unknown-then-commit", LocalTransactionState.COMMIT_MESSAGE);
        TransactionMQProducer p = startTxProducer("tx_producer_group", d);
        try {
            TransactionSendResult c = sendTx(p, topic, "committed", "k-committed");
            assertEquals(LocalTransactionState.COMMIT_MESSAGE, c.getLocalTransactionState());
            TransactionSendResult r = sendTx(p, topic, "rolled-back", "k-rolled-back");
            assertEquals(LocalTransactionState.ROLLBACK_MESSAGE, r.getLocalTransactionState());
            TransactionSendResult u = sendTx(p, topic, "unknown-then-commit", "k-unknown");
            assertEquals(LocalTransactionState.UNKNOW, u.getLocalTransactionState());

            ConsumeSupport.assertTrueWithin(30_000, "committed message delivered", () -> got.of("committed") >= 1);
            ConsumeSupport.assertTrueWithin(60_000, "check-back committed message delivered",
                () -> got.of("unknown-then-commit") >= 1);
            assertTrue(d.checksOf("unknown-then-commit") >= 1, "the broker asked back: " + d.checks);
            // the committed and check-committed messages are the only ones in the topic
            awaitCaughtUp(admin, "tx_consumer_group", topic, 2);
            // a few more check rounds: nothing else turns up, the resolved ones are not checked any more
            int checksAfterCommit = d.checksOf("unknown-then-commit");
            long until = System.currentTimeMillis() + 4_000;
            while (System.currentTimeMillis() < until) {
                assertEquals(0, got.of("rolled-back"), "rolled back message delivered: " + got.snapshot());
                Thread.sleep(200);
            }
            assertEquals(Map.of("committed", 1, "unknown-then-commit", 1), got.snapshot());
            assertEquals(0, d.checksOf("committed"), "committed one checked back: " + d.checks);
            assertEquals(0, d.checksOf("rolled-back"), "rolled back one checked back: " + d.checks);
            assertEquals(checksAfterCommit, d.checksOf("unknown-then-commit"),
                "checked back again after its commit: " + d.checks);
        } finally {
            p.shutdown();
        }
    }

    /**
     * UNKNOW and the producer group gone (no channel to ask): after transactionCheckMax (2) rounds the half
     * message is discarded to TRANS_CHECK_MAX_TIME_TOPIC and never reaches the topic's consumers.
     */
    @Test
    void producerGoneHalfMessageDiscardedAfterCheckMax() throws Exception {
        String topic = "TxGoneTopic";
        String key = "k-gone-" + System.nanoTime();
        DefaultMQAdminExt admin = startAdmin();
        Counts got = startConsumer(admin, topic, "tx_gone_consumer_group");
        Decisions d = new Decisions();
        TransactionMQProducer p = startTxProducer("tx_gone_producer_group", d);
        TransactionSendResult u = sendTx(p, topic, "abandoned", key);
        assertEquals(LocalTransactionState.UNKNOW, u.getLocalTransactionState());
        p.shutdown(); // UNREGISTER_CLIENT: the broker has no channel of the group left

        MessageExt discarded = eventually(60_000, () -> {
            QueryResult qr = admin.queryMessage(TopicValidator.RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC, key, 32, 0,
                Long.MAX_VALUE);
            assertEquals(1, qr.getMessageList().size(), "discarded copies: " + qr);
            return qr.getMessageList().get(0);
        });
        assertEquals("abandoned", body(discarded));
        assertEquals(topic, discarded.getProperty("REAL_TOPIC"), discarded.toString());
        assertEquals(0, d.checksOf("abandoned"), "nobody was there to be asked");
        // a consumer of the topic sees nothing, then or later
        long until = System.currentTimeMillis() + 3_000;
        while (System.currentTimeMillis() < until) {
            assertEquals(Map.of(), got.snapshot());
            Thread.sleep(200);
        }
        assertEquals(0L, admin.examineTopicStats(topic).getOffsetTable().values().stream()
            .mapToLong(o -> o.getMaxOffset()).sum(), "nothing was written to " + topic);
    }
}
