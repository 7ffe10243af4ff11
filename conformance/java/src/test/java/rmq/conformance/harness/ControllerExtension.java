package rmq.conformance.harness;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * Starts one {@link ControllerServers} (name server + single-node controller) per test class and stops it after the
 * class; prints the servers' output tails when a test fails. The class is skipped (assumption) on targets without
 * a controller ({@code java}, the 4.9.7 oracle).
 */
public final class ControllerExtension implements BeforeAllCallback, AfterAllCallback, TestWatcher {
    private final Map<String, String> controllerConf;
    private ControllerServers servers;
    private Throwable startFailure;

    /** {@code controllerConf}: lines added to the controller's properties file. */
    public ControllerExtension(Map<String, String> controllerConf) {
        this.controllerConf = new LinkedHashMap<>(controllerConf);
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        servers = null;
        startFailure = null;
        assumeTrue(ControllerServers.targetSupported(),
            "controller mode needs -Drmq.target=java5 (with -Poracle5) or rmq; target is " + Servers.target());
        try {
            servers = ControllerServers.start(context.getRequiredTestClass().getSimpleName(), controllerConf);
            System.out.println("[rmq-conformance] " + context.getRequiredTestClass().getSimpleName()
                + ": target=" + servers.targetName() + " namesrv=" + servers.namesrvAddr()
                + " controller=" + servers.controllerAddr() + " logs=" + servers.logDir());
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
            System.err.println("[rmq-conformance] " + context.getDisplayName() + " failed; " + servers.describe());
        }
    }

    @Override
    public void testAborted(ExtensionContext context, Throwable cause) {
    }

    @Override
    public void testDisabled(ExtensionContext context, Optional<String> reason) {
    }

    @Override
    public void testSuccessful(ExtensionContext context) {
    }

    public ControllerServers servers() {
        if (servers == null) {
            throw new IllegalStateException("controller servers are not running", startFailure);
        }
        return servers;
    }
}
