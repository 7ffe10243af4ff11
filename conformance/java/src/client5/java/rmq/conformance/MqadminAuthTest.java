package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static rmq.conformance.MqadminTest.mqadmin;
import static rmq.conformance.MqadminTest.ok;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import rmq.conformance.harness.BrokerConfig;
import rmq.conformance.harness.Servers;

/**
 * The official 5.3.1 {@code mqadmin}'s ACL 2.0 verbs — {@code createUser}, {@code getUser}, {@code listUser},
 * {@code updateUser}, {@code deleteUser}, {@code createAcl}, {@code getAcl}, {@code listAcl}, {@code updateAcl},
 * {@code deleteAcl}, {@code copyUser}, {@code copyAcl} — against a broker with ACL 2.0 on (the broker config of
 * {@link AclV2Test}), signed as the super user through mqadmin's {@code conf/tools.yml}; the same class runs against
 * the 5.x oracle. Each verb must print Java's success line or table, and unsigned the broker refuses. With one
 * broker, the copy verbs copy onto the broker itself: the user and the ACL exist there, so each is updated (the
 * create path of a copy to another broker is tested with rmq's own verbs in crates/rmq-cli/tests/acl_cli.rs).
 */
@BrokerConfig({
    "authenticationEnabled=true",
    "authorizationEnabled=true",
    "authenticationProvider=org.apache.rocketmq.auth.authentication.provider.DefaultAuthenticationProvider",
    "authenticationMetadataProvider=org.apache.rocketmq.auth.authentication.provider.LocalAuthenticationMetadataProvider",
    "authorizationProvider=org.apache.rocketmq.auth.authorization.provider.DefaultAuthorizationProvider",
    "authorizationMetadataProvider=org.apache.rocketmq.auth.authorization.provider.LocalAuthorizationMetadataProvider",
    "initAuthenticationUser={\"username\":\"rocketmq\",\"password\":\"12345678\"}",
    "innerClientAuthenticationCredentials={\"accessKey\":\"rocketmq\",\"secretKey\":\"12345678\"}",
})
class MqadminAuthTest extends ConformanceBase {
    static final String TOOLS_YML = "accessKey: rocketmq\nsecretKey: 12345678\n";
    static final String USER = "sweepAuthUser";
    static final String SUBJECT = "User:" + USER;
    static final String TOPIC = "SweepAuthTopic";

    @BeforeAll
    static void toolsHome() throws Exception {
        MqadminTest.toolsHome();
    }

    /** The data rows of a Get/List table (after its {@code #...} header), split on blanks. */
    static List<List<String>> rows(String out) {
        return out.lines().filter(l -> !l.isBlank() && !l.startsWith("#") && !l.startsWith("["))
            .filter(l -> !l.contains(" success."))
            .map(l -> List.of(l.trim().split("\\s{2,}")))
            .toList();
    }

    @Test
    void usersAndAclsThroughMqadmin() throws Exception {
        String ns = servers().namesrvAddr();
        Path tools = MqadminAclTest.toolsYml();
        Files.deleteIfExists(tools);
        String refused = mqadmin("createUser", "-n", ns, "-c", Servers.CLUSTER, "-u", USER, "-p", "sweepPass1");
        assertFalse(refused.contains("success"), refused);

        Files.createDirectories(tools.getParent());
        Files.writeString(tools, TOOLS_YML);
        try {
            signedVerbs(ns, servers().brokerAddr());
        } finally {
            Files.deleteIfExists(tools);
        }
    }

    private void signedVerbs(String ns, String broker) {
        // users: create on the cluster, read back by broker and by cluster
        String out = ok("createUser", "-n", ns, "-c", Servers.CLUSTER, "-u", USER, "-p", "sweepPass1");
        assertTrue(out.contains("create user to " + broker + " success."), out);
        out = ok("getUser", "-n", ns, "-b", broker, "-u", USER);
        assertTrue(out.startsWith("#UserName"), out);
        assertEquals(List.of(List.of(USER, "sweepPass1", "Normal", "enable")), rows(out), out);
        out = ok("listUser", "-n", ns, "-c", Servers.CLUSTER);
        assertTrue(rows(out).contains(List.of(USER, "sweepPass1", "Normal", "enable")), out);
        assertTrue(out.contains("get user from " + broker + " success."), out);
        out = ok("updateUser", "-n", ns, "-b", broker, "-u", USER, "-p", "sweepPass2");
        assertTrue(out.contains("update user to " + broker + " success."), out);
        // (the 5.3.1 broker acknowledges AUTH_UPDATE_USER without applying it; rmq applies it)
        if (Servers.target().equals("rmq")) {
            out = ok("getUser", "-n", ns, "-b", broker, "-u", USER);
            assertEquals(USER + " sweepPass2", rows(out).get(0).get(0) + " " + rows(out).get(0).get(1), out);
        }

        // ACLs: create on the cluster, read, replace the entry, list
        out = ok("createAcl", "-n", ns, "-c", Servers.CLUSTER, "-s", SUBJECT, "-r", "Topic:" + TOPIC, "-a",
            "Pub,Sub", "-d", "Allow");
        assertTrue(out.contains("create acl to " + broker + " success."), out);
        out = ok("getAcl", "-n", ns, "-b", broker, "-s", SUBJECT);
        assertTrue(out.startsWith("#Subject"), out);
        List<String> row = rows(out).get(0);
        assertEquals(List.of(SUBJECT, "Custom", "Topic:" + TOPIC), row.subList(0, 3), out);
        assertTrue(row.get(3).contains("Pub") && row.get(3).contains("Sub"), out);
        assertEquals("Allow", row.get(row.size() - 1), out);
        out = ok("updateAcl", "-n", ns, "-b", broker, "-s", SUBJECT, "-r", "Topic:" + TOPIC, "-a", "Pub", "-d",
            "Deny");
        assertTrue(out.contains("update acl to " + broker + " success."), out);
        out = ok("listAcl", "-n", ns, "-b", broker, "-s", SUBJECT);
        row = rows(out).get(0);
        assertEquals(List.of(SUBJECT, "Custom", "Topic:" + TOPIC, "[Pub]"), row.subList(0, 4), out);
        assertEquals("Deny", row.get(row.size() - 1), out);

        // copies onto the broker itself (the user and the ACL are there: updated)
        out = ok("copyUser", "-n", ns, "-f", broker, "-t", broker, "-u", USER);
        assertTrue(out.contains("copy user of " + USER + " from " + broker + " to " + broker + " success."), out);
        out = ok("copyAcl", "-n", ns, "-f", broker, "-t", broker, "-s", SUBJECT);
        assertTrue(out.contains("copy acl of " + SUBJECT + " from " + broker + " to " + broker + " success."), out);

        // deletes: the entry, then the user; nothing to print afterwards
        out = ok("deleteAcl", "-n", ns, "-b", broker, "-s", SUBJECT, "-r", "Topic:" + TOPIC);
        assertTrue(out.contains("delete acl to " + broker + " success."), out);
        out = ok("deleteUser", "-n", ns, "-c", Servers.CLUSTER, "-u", USER);
        assertTrue(out.contains("delete user to " + broker + " success."), out);
        out = ok("getUser", "-n", ns, "-b", broker, "-u", USER);
        assertEquals(List.of(), rows(out), out);
    }
}
