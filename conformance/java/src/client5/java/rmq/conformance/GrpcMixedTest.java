package rmq.conformance;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/**
 * Mixed use of the 4.9.8 remoting client and the 5.x gRPC SDK on one broker is tested on the 4.x client line: the
 * real test is src/client4/java/rmq/conformance/GrpcMixedTest.java. On this line the same pairs with the 5.3.1
 * remoting client are covered by GrpcConsumerTest and GrpcProducerTest, so the class only reports itself skipped.
 */
class GrpcMixedTest {
    @Test
    void needsTheClient4Line() {
        assumeTrue(false, "GrpcMixedTest runs on the 4.9.8 client line only: -Drmq.client=4 (target rmq; the Java "
            + "oracles serve no gRPC); the 5.3.1 line's mixed use is in GrpcConsumerTest and GrpcProducerTest");
    }
}
