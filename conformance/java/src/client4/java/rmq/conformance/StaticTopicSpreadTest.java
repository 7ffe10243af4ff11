package rmq.conformance;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/**
 * Static topics (logic queue mappings) are a 5.x feature: the 4.9.8 client and tools know nothing of them. The
 * real test is src/client5/java/rmq/conformance/StaticTopicSpreadTest.java; on this line the class only reports itself
 * skipped.
 */
class StaticTopicSpreadTest {
    @Test
    void needsTheClient5Line() {
        assumeTrue(false, "StaticTopicSpreadTest runs on the 5.3.1 client line only: -Drmq.client=5 "
            + "(and -Poracle5 -Drmq.target=java5 for the oracle)");
    }
}
