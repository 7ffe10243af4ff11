package rmq.conformance;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/**
 * Controller-mode failover with Java 5.3.1 brokers is checked on the 5.3.1 client line (its controller protocol
 * classes and mqadmin verbs); the real test is src/client5/java/rmq/conformance/ControllerFailoverTest.java.
 */
class ControllerFailoverTest {
    @Test
    void needsTheClient5Line() {
        assumeTrue(false, "ControllerFailoverTest runs on the 5.3.1 client line only: -Drmq.client=5 "
            + "(and -Poracle5 -Drmq.target=java5 for the oracle)");
    }
}
