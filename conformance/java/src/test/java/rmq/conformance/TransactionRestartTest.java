package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static rmq.conformance.ConsumeSupport.awaitCaughtUp;
import static rmq.conformance.TransactionTest.sendTx;
import static rmq.conformance.TransactionTest.startCountingConsumer;
import static rmq.conformance.TransactionTest.startTxProducer;

import java.util.Map;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.producer.LocalTransactionState;
import org.apache.rocketmq.client.producer.TransactionMQProducer;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;
import rmq.conformance.TransactionTest.Counts;
import rmq.conformance.TransactionTest.Decisions;
import rmq.conformance.harness.BrokerConfig;

/**
 * A transaction left open (UNKNOW, and UNKNOW on check-back) across a graceful broker restart (issue #5).
 * transactionCheckMax stays at its default (15) so that the open half message survives the check rounds
 * that run while the producer re-registers with the restarted broker.
 */
// serverLine5: see TransactionTest (5.x batches the op records of committed half messages)
@BrokerConfig(value = {"transactionCheckInterval=1000", "transactionTimeOut=1000"},
    serverLine5 = {"transactionOpMsgMaxSize=1"})
class TransactionRestartTest extends ConformanceBase {

    /**
     * A committed, a rolled back and an open (UNKNOW) transaction; the broker restarts; then the check-back
     * commits the open one. Each committed message is delivered exactly once, the rolled back one never.
     */
    @Test
    void brokerRestartWithOpenTransactionChangesNothing() throws Exception {
        String topic = "TxRestartTopic";
        String group = "tx_restart_consumer_group";
        DefaultMQAdminExt admin = startAdmin();
        DefaultMQPushConsumer consumer = newPushConsumer(group);
        // re-registers quickly with the restarted broker (pulls are refused until the group's next heartbeat)
        consumer.setHeartbeatBrokerInterval(1_000);
        Counts got = startCountingConsumer(admin, consumer, topic);
        Decisions d = new Decisions();
        d.onExecute.put("r-committed", LocalTransactionState.COMMIT_MESSAGE);
        d.onExecute.put("r-rolled-back", LocalTransactionState.ROLLBACK_MESSAGE);
        d.onExecute.put("r-open", LocalTransactionState.UNKNOW);
        // d.onCheck stays UNKNOW for "r-open" until after the restart
        TransactionMQProducer p = startTxProducer("tx_restart_producer_group", d);
        try {
            sendTx(p, topic, "r-committed", "k-r-committed");
            sendTx(p, topic, "r-rolled-back", "k-r-rolled-back");
            ConsumeSupport.assertTrueWithin(30_000, "committed message delivered", () -> got.of("r-committed") >= 1);
            awaitCaughtUp(admin, group, topic, 1);
            // opened last, so that only a few of its 15 allowed check rounds pass before the restart
            sendTx(p, topic, "r-open", "k-r-open");
            // at least one check-back answered UNKNOW before the restart (fewer than transactionCheckMax)
            ConsumeSupport.assertTrueWithin(30_000, "the open transaction was checked back",
                () -> d.checksOf("r-open") >= 1);

            servers().restartBroker();
            d.onCheck.put("r-open", LocalTransactionState.COMMIT_MESSAGE);

            ConsumeSupport.assertTrueWithin(60_000, "the open transaction committed after the restart",
                () -> got.of("r-open") >= 1);
            awaitCaughtUp(admin, group, topic, 2);
            long until = System.currentTimeMillis() + 3_000;
            while (System.currentTimeMillis() < until) {
                assertEquals(0, got.of("r-rolled-back"), "rolled back message delivered: " + got.snapshot());
                Thread.sleep(200);
            }
            assertEquals(Map.of("r-committed", 1, "r-open", 1), got.snapshot());
            assertEquals(0, d.checksOf("r-committed"), d.checks.toString());
            assertEquals(0, d.checksOf("r-rolled-back"), d.checks.toString());
        } finally {
            p.shutdown();
        }
    }
}
