package rmq.conformance;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
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

    private static String uniqueInstance() {
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
