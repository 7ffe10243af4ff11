package rmq.conformance;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.impl.consumer.ProcessQueue;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.constant.PermName;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import rmq.conformance.harness.Servers;
import rmq.conformance.harness.ServersExtension;

/** Base of every conformance test class: one namesrv + broker per class, clients shut down after each test. */
public abstract class ConformanceBase {
    @RegisterExtension
    static final ServersExtension SERVERS = new ServersExtension();

    private static final AtomicInteger INSTANCE_SEQ = new AtomicInteger();
    /** The current test's push consumers from {@link #newPushConsumer} (test classes run one at a time). */
    private static final List<DefaultMQPushConsumer> PUSH_CONSUMERS = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final List<Runnable> cleanups = new ArrayList<>();

    protected static Servers servers() {
        return SERVERS.servers();
    }

    /** A started producer with its own client instance, pointed at the test namesrv. */
    protected DefaultMQProducer startProducer(String group) throws Exception {
        DefaultMQProducer producer = new DefaultMQProducer(group);
        producer.setNamesrvAddr(servers().namesrvAddr());
        producer.setInstanceName(uniqueInstance());
        producer.setSendMsgTimeout(10_000);
        producer.start();
        cleanups.add(producer::shutdown);
        return producer;
    }

    /** A started admin client with its own client instance. */
    protected DefaultMQAdminExt startAdmin() throws Exception {
        DefaultMQAdminExt admin = new DefaultMQAdminExt(10_000);
        admin.setNamesrvAddr(servers().namesrvAddr());
        admin.setInstanceName(uniqueInstance());
        admin.start();
        cleanups.add(admin::shutdown);
        return admin;
    }

    /**
     * A push consumer with its own client instance (so two consumers of one group get two client ids),
     * pointed at the test namesrv, CONSUME_FROM_FIRST_OFFSET; not started (subscribe, register a listener,
     * then {@code start()}). Shut down after the test.
     */
    protected DefaultMQPushConsumer newPushConsumer(String group) {
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(group);
        consumer.setNamesrvAddr(servers().namesrvAddr());
        consumer.setInstanceName(uniqueInstance());
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        PUSH_CONSUMERS.add(consumer);
        cleanups.add(() -> {
            PUSH_CONSUMERS.remove(consumer);
            consumer.shutdown();
        });
        return consumer;
    }

    /** A started DefaultLitePullConsumer with its own client instance. */
    protected DefaultLitePullConsumer startLitePullConsumer(String group) throws Exception {
        DefaultLitePullConsumer consumer = new DefaultLitePullConsumer(group);
        consumer.setNamesrvAddr(servers().namesrvAddr());
        consumer.setInstanceName(uniqueInstance());
        consumer.start();
        cleanups.add(consumer::shutdown);
        return consumer;
    }

    /** A started (deprecated) DefaultMQPullConsumer with its own client instance. */
    @SuppressWarnings("deprecation")
    protected DefaultMQPullConsumer startPullConsumer(String group) throws Exception {
        DefaultMQPullConsumer consumer = new DefaultMQPullConsumer(group);
        consumer.setNamesrvAddr(servers().namesrvAddr());
        consumer.setInstanceName(uniqueInstance());
        consumer.start();
        cleanups.add(consumer::shutdown);
        return consumer;
    }

    /** UPDATE_AND_CREATE_TOPIC with {@code queues} read/write queues, then waits for the namesrv route. */
    protected static void createTopic(DefaultMQAdminExt admin, String topic, int queues) throws Exception {
        admin.createAndUpdateTopicConfig(servers().brokerAddr(),
            new TopicConfig(topic, queues, queues, PermName.PERM_READ | PermName.PERM_WRITE));
        eventually(15_000, () -> {
            var r = admin.examineTopicRouteInfo(topic);
            if (r == null || r.getQueueDatas().isEmpty() || r.getQueueDatas().get(0).getReadQueueNums() != queues) {
                throw new AssertionError("route of " + topic + " not yet visible: " + r);
            }
            return null;
        });
    }

    /** Queue ids of {@code topic} the push consumer currently owns (live, not dropped, process queues). */
    protected static Set<Integer> ownedQueueIds(DefaultMQPushConsumer consumer, String topic) {
        Set<Integer> ids = new TreeSet<>();
        for (Map.Entry<MessageQueue, ProcessQueue> e
            : consumer.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable().entrySet()) {
            if (e.getKey().getTopic().equals(topic) && !e.getValue().isDropped()) {
                ids.add(e.getKey().getQueueId());
            }
        }
        return ids;
    }

    /**
     * Has the current test's running push consumers commit their offsets now (UPDATE_CONSUMER_OFFSET from
     * each), as the client's own timer does every persistConsumerOffsetInterval, first 10 s after it starts:
     * a test waiting for committed offsets then waits for the broker, not for that timer. A consumer shut
     * down already logs that it is not running and commits nothing.
     */
    static void persistOffsetsNow() {
        for (DefaultMQPushConsumer c : PUSH_CONSUMERS) {
            c.getDefaultMQPushConsumerImpl().persistConsumerOffset();
        }
    }

    /** Runs {@code cleanup} after the current test (clients a test builds itself). */
    protected void afterTest(Runnable cleanup) {
        cleanups.add(cleanup);
    }

    protected static String uniqueInstance() {
        return "conformance-" + ProcessHandle.current().pid() + "-" + INSTANCE_SEQ.incrementAndGet();
    }

    @AfterEach
    void shutdownClients() {
        for (int i = cleanups.size() - 1; i >= 0; i--) {
            try {
                cleanups.get(i).run();
            } catch (RuntimeException e) {
                System.err.println("warning: client shutdown failed: " + e);
            }
        }
        cleanups.clear();
    }

    /** Polls {@code check} until it returns without throwing, or rethrows its last failure after {@code millis}. */
    protected static <T> T eventually(long millis, ThrowingSupplier<T> check) throws Exception {
        long deadline = System.currentTimeMillis() + millis;
        while (true) {
            try {
                return check.get();
            } catch (Exception | AssertionError e) {
                if (System.currentTimeMillis() > deadline) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
    }

    @FunctionalInterface
    protected interface ThrowingSupplier<T> {
        T get() throws Exception;
    }
}
