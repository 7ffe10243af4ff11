package rmq.conformance;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/**
 * RocketMQ 5 controller mode needs the 5.x protocol classes (org.apache.rocketmq.remoting.protocol.header.controller)
 * and mqadmin verbs, which the 4.9.8 client line does not have. The real test is
 * src/client5/java/rmq/conformance/ControllerTest.java; on this line the class only reports itself skipped.
 */
class ControllerTest {
    @Test
    void needsTheClient5Line() {
        assumeTrue(false, "ControllerTest runs on the 5.3.1 client line only: -Drmq.client=5 "
            + "(and -Poracle5 -Drmq.target=java5 for the oracle)");
    }
}
