package rmq.conformance;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/**
 * The 5.x gRPC SDK (rocketmq-client-java 5.0.7) against the broker's gRPC endpoint is tested on the 5.x client line
 * only, whose profile puts the SDK on the classpath. The real test is src/client5/java/rmq/conformance/
 * GrpcTransactionTest.java; on this line the class only reports itself skipped.
 */
class GrpcTransactionTest {
    @Test
    void needsTheClient5Line() {
        assumeTrue(false, "GrpcTransactionTest runs on the 5.x client line only: -Drmq.client=5 (target rmq; the Java "
            + "oracles serve no gRPC)");
    }
}
