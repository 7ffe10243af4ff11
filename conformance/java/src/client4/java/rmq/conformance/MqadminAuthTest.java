package rmq.conformance;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/**
 * The ACL 2.0 verbs (createUser, createAcl, ...) are verbs of the 5.x tools only. The real test is
 * src/client5/java/rmq/conformance/MqadminAuthTest.java; on this line the class only reports itself skipped.
 */
class MqadminAuthTest {
    @Test
    void needsTheClient5Line() {
        assumeTrue(false, "MqadminAuthTest (the ACL 2.0 mqadmin verbs) runs on the 5.3.1 client line only: "
            + "-Drmq.client=5 (and -Poracle5 -Drmq.target=java5 for the oracle)");
    }
}
