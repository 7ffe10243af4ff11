package rmq.spring;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;
import rmq.conformance.harness.BrokerConfig;
import rmq.conformance.harness.Servers;

/**
 * One name server + broker (the ../java harness's {@link Servers}) per test class, with the class's
 * {@link BrokerConfig} lines (and its {@code serverLine5} lines when {@link ServerLine#major()} is 5). Declare it with {@code @ExtendWith(SpringServers.class)} <em>before</em>
 * {@code @SpringBootTest}: the servers start before the Spring context is built (its
 * {@code rocketmq.name-server} comes from {@link #current()} through a {@code @DynamicPropertySource}).
 *
 * <p>The servers are stopped by a class-level {@link ExtensionContext.Store.CloseableResource}, which JUnit
 * closes after every {@code afterAll} callback, i.e. after the SpringExtension has closed the context
 * ({@code @DirtiesContext(classMode = AFTER_CLASS)}): the RocketMQ clients shut down (unregister, persist
 * offsets) while the servers are still up, whatever the order of the extensions.
 */
public final class SpringServers implements BeforeAllCallback, TestWatcher {
    private static volatile Servers current;

    /** The servers of the test class that is running. */
    public static Servers current() {
        Servers s = current;
        if (s == null) {
            throw new IllegalStateException("no servers running (is the test class annotated with "
                + "@ExtendWith(SpringServers.class) before @SpringBootTest?)");
        }
        return s;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        Class<?> testClass = context.getRequiredTestClass();
        Map<String, String> extra = new LinkedHashMap<>();
        BrokerConfig bc = testClass.getAnnotation(BrokerConfig.class);
        if (bc != null) {
            List<String> lines = new ArrayList<>(Arrays.asList(bc.value()));
            if (ServerLine.major() == 5) {
                lines.addAll(Arrays.asList(bc.serverLine5()));
            }
            for (String line : lines) {
                int eq = line.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException("@BrokerConfig line is not key=value: " + line);
                }
                extra.put(line.substring(0, eq).trim(), line.substring(eq + 1).trim());
            }
        }
        Servers servers = startWithRetry(testClass.getSimpleName(), extra);
        current = servers;
        context.getStore(ExtensionContext.Namespace.create(SpringServers.class, testClass))
            .put("servers", (ExtensionContext.Store.CloseableResource) () -> {
                current = null;
                servers.close();
            });
        awaitRegistered(servers);
        System.out.println("[rmq-spring] " + testClass.getSimpleName() + ": target=" + servers.targetName()
            + " line=" + ServerLine.major() + " namesrv=" + servers.namesrvAddr() + " broker="
            + servers.brokerAddr() + " logs=" + servers.logDir());
    }

    /**
     * {@link Servers#start}, once more if a server did not print its boot line within the harness's 30 s: on
     * this shared 2-core machine the Java oracle broker sometimes needs longer (seen at load 12). Any other
     * failure, or a second timeout, fails the class.
     */
    static Servers startWithRetry(String label, Map<String, String> extra) throws Exception {
        try {
            return Servers.start(label, extra);
        } catch (IllegalStateException e) {
            if (e.getMessage() == null || !e.getMessage().contains("did not print a line matching")) {
                throw e;
            }
            System.err.println("[rmq-spring] " + label + ": a server did not boot in time, starting again: "
                + e.getMessage().lines().findFirst().orElse(""));
            return Servers.start(label + "-retry", extra);
        }
    }

    /**
     * Waits until the name server routes TBW102 to the broker, i.e. the broker has registered: the first send
     * to a new topic needs that route. The 4.9.7 and rmq brokers print their boot line after their synchronous
     * registration, and so does 5.3.1 as a rule (the route is there ~0.1 s after the line); once, on the loaded
     * machine, a 5.3.1 broker's TBW102 was not routed for the whole class (14 s; every send failed with "No
     * route info of this topic"; its name server found no live broker to remove at shutdown). This turns such
     * a start into a clear failure of the class (or waits out a late registration).
     */
    static void awaitRegistered(Servers servers) throws Exception {
        long start = System.currentTimeMillis();
        long deadline = start + 60_000;
        NameServerProbe.Answer last = null;
        while (System.currentTimeMillis() < deadline) {
            last = NameServerProbe.routeOf(servers.namesrvAddr(), "TBW102");
            // the broker's name, not its address: with -Drmq.wiretap=true the name server's answers carry the
            // proxy's address instead
            if (last.code() == 0 && last.body().contains("\"" + servers.brokerName() + "\"")) {
                System.out.println("[rmq-spring] TBW102 routed to " + servers.brokerName() + " "
                    + (System.currentTimeMillis() - start) + " ms after the broker's boot line");
                return;
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("the broker " + servers.brokerAddr() + " did not register TBW102 with the "
            + "name server within 60 s; last answer: " + last + "\n" + servers.describe());
    }

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        Servers s = current;
        if (s != null) {
            System.err.println("[rmq-spring] " + context.getDisplayName() + " failed; " + s.describe());
        }
    }

    @Override
    public void testAborted(ExtensionContext context, Throwable cause) {
        testFailed(context, cause);
    }

    @Override
    public void testDisabled(ExtensionContext context, Optional<String> reason) {
    }

    @Override
    public void testSuccessful(ExtensionContext context) {
    }
}
