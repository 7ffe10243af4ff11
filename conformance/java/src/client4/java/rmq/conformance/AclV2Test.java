package rmq.conformance;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/**
 * ACL 2.0 (users and policies) exists from RocketMQ 5.3 on: the 4.9.8 client has no UserInfo / AclInfo and no
 * DefaultMQAdminExt.createUser / createAcl. The real test is src/client5/java/rmq/conformance/AclV2Test.java; on
 * this line the class only reports itself skipped.
 */
class AclV2Test {
    @Test
    void needsTheClient5Line() {
        assumeTrue(false, "AclV2Test (ACL 2.0 users and policies) runs on the 5.3.1 client line only: "
            + "-Drmq.client=5 (and -Poracle5 -Drmq.target=java5 for the oracle)");
    }
}
