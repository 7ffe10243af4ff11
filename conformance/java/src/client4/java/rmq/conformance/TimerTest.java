package rmq.conformance;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/**
 * Timer messages (any deliver time) are a 5.x feature: the 4.9.8 client has no Message.setDeliverTimeMs /
 * setDelayTimeSec / setDelayTimeMs. The real test is src/client5/java/rmq/conformance/TimerTest.java; on this line
 * the class only reports itself skipped.
 */
class TimerTest {
    @Test
    void needsTheClient5Line() {
        assumeTrue(false, "TimerTest runs on the 5.3.1 client line only: -Drmq.client=5 "
            + "(and -Poracle5 -Drmq.target=java5 for the oracle)");
    }
}
