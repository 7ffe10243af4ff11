package rmq.conformance;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/**
 * POP consumption (POP_MESSAGE / ACK_MESSAGE / CHANGE_MESSAGE_INVISIBLETIME, QUERY_ASSIGNMENT and
 * SET_MESSAGE_REQUEST_MODE) is a 5.x feature: the 4.9.8 client has no pop API and its push consumer always pulls.
 * The real test is src/client5/java/rmq/conformance/PopTest.java; on this line the class only reports itself
 * skipped.
 */
class PopTest {
    @Test
    void needsTheClient5Line() {
        assumeTrue(false, "PopTest runs on the 5.3.1 client line only: -Drmq.client=5 "
            + "(and -Poracle5 -Drmq.target=java5 for the oracle)");
    }
}
