package rmq.conformance.harness;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * Starts one {@link Servers} (namesrv + broker, or {@code rmq standalone} for a {@link Standalone} class) per test class and stops it after the class. When a
 * test fails it prints the tails of the servers' stdout/stderr.
 */
public final class ServersExtension implements BeforeAllCallback, AfterAllCallback, TestWatcher {
    private Servers servers;
    private Throwable startFailure;

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        servers = null;
        startFailure = null;
        try {
            Map<String, String> extra = new LinkedHashMap<>();
            BrokerConfig bc = context.getRequiredTestClass().getAnnotation(BrokerConfig.class);
            if (bc != null) {
                List<String> lines = new ArrayList<>(Arrays.asList(bc.value()));
                if (Servers.serverLine() == 5) {
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
            Map<String, String> confFiles = new LinkedHashMap<>();
            for (ConfFile f : context.getRequiredTestClass().getAnnotationsByType(ConfFile.class)) {
                confFiles.put(f.path(), f.content());
            }
            boolean standalone = context.getRequiredTestClass().isAnnotationPresent(Standalone.class);
            servers = Servers.start(context.getRequiredTestClass().getSimpleName(), extra, confFiles, standalone);
            System.out.println("[rmq-conformance] " + context.getRequiredTestClass().getSimpleName()
                + ": target=" + servers.targetName() + (servers.standalone() ? " (rmq standalone)" : "")
                + " namesrv=" + servers.namesrvAddr()
                + " broker=" + servers.brokerAddr() + " logs=" + servers.logDir());
        } catch (Throwable t) {
            startFailure = t;
            throw t;
        }
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (servers != null) {
            servers.close();
            servers = null;
        }
    }

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        if (servers != null) {
            System.err.println("[rmq-conformance] " + context.getDisplayName() + " failed; "
                + servers.describe());
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

    public Servers servers() {
        if (servers == null) {
            throw new IllegalStateException("servers are not running", startFailure);
        }
        return servers;
    }
}
