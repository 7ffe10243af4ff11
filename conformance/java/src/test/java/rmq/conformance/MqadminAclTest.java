package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static rmq.conformance.MqadminTest.mqadmin;
import static rmq.conformance.MqadminTest.ok;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.rocketmq.tools.command.MQAdminStartup;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import rmq.conformance.harness.BrokerConfig;
import rmq.conformance.harness.ConfFile;
import rmq.conformance.harness.Servers;

/**
 * The official {@code mqadmin}'s ACL 1.0 verbs ({@code updateAclConfig}, {@code updateGlobalWhiteAddr},
 * {@code clusterAclConfigVersion}, {@code deleteAclConfig}; the same in the 4.9.8 and 5.3.1 tools) against a
 * broker with {@code aclEnable=true}, signed with an admin account through mqadmin's own {@code conf/tools.yml};
 * the same class runs against the oracles. Each verb must succeed and its change reach {@code conf/plain_acl.yml};
 * unsigned, the broker refuses it. (Verbs left out: docs/broker/admin.md "mqadmin verbs".)
 */
@BrokerConfig({"aclEnable=true"})
@ConfFile(path = "plain_acl.yml", content = MqadminAclTest.PLAIN_ACL)
class MqadminAclTest extends ConformanceBase {
    static final String PLAIN_ACL = """
        globalWhiteRemoteAddresses:
          - 10.10.103.*
        accounts:
          - accessKey: mqadminAclAdmin
            secretKey: mqadminAclAdminSecret
            admin: true
        """;
    static final String TOOLS_YML = "accessKey: mqadminAclAdmin\nsecretKey: mqadminAclAdminSecret\n";

    @BeforeAll
    static void toolsHome() throws IOException {
        MqadminTest.toolsHome();
    }

    /**
     * Where mqadmin reads the account it signs with: {@code <rocketmq home>/conf/tools.yml}, the home as its
     * MQAdminStartup class read it when first loaded ({@code rocketmqHome} in 4.9.8, {@code ROCKETMQ_HOME} in
     * 5.3.1; the 4.9.8 tools ignore a hook passed to {@code main0}).
     */
    static Path toolsYml() throws ReflectiveOperationException {
        for (String name : new String[] {"rocketmqHome", "ROCKETMQ_HOME"}) {
            try {
                var field = MQAdminStartup.class.getDeclaredField(name);
                field.setAccessible(true);
                Object home = field.get(null);
                assertTrue(home != null, "mqadmin has no rocketmq home");
                return Path.of(home + "/conf/tools.yml");
            } catch (NoSuchFieldException e) {
                // the other line's name
            }
        }
        throw new NoSuchFieldException("MQAdminStartup's rocketmq home");
    }

    static String aclFile() throws IOException {
        return Files.readString(servers().rocketmqHome().resolve("conf/plain_acl.yml"));
    }

    @Test
    void accountsWhiteListAndVersions() throws Exception {
        String ns = servers().namesrvAddr();
        String broker = servers().brokerAddr();

        // unsigned (no tools.yml): the broker refuses the update
        Path tools = toolsYml();
        Files.deleteIfExists(tools);
        String refused = mqadmin("updateAclConfig", "-n", ns, "-c", Servers.CLUSTER, "-a", "sweepAcc", "-s",
            "sweepAccSecret1");
        assertFalse(refused.contains("success"), refused);

        // signed by the admin account, as an operator's tools.yml signs them
        Files.createDirectories(tools.getParent());
        Files.writeString(tools, TOOLS_YML);
        try {
            signedVerbs(ns, broker);
        } finally {
            Files.deleteIfExists(tools);
        }
    }

    private void signedVerbs(String ns, String broker) throws IOException {
        String up = ok("updateAclConfig", "-n", ns, "-c", Servers.CLUSTER, "-a", "sweepAcc", "-s",
            "sweepAccSecret1", "-i", "PUB", "-u", "SUB", "-t", "SweepAclTopic=PUB|SUB", "-g", "sweep_acl_group=SUB",
            "-m", "false");
        assertTrue(up.contains("create or update plain access config to " + broker + " success."), up);
        assertTrue(aclFile().contains("sweepAcc") && aclFile().contains("SweepAclTopic=PUB|SUB"), aclFile());

        String white = ok("updateGlobalWhiteAddr", "-n", ns, "-c", Servers.CLUSTER, "-g", "10.10.104.*");
        assertTrue(white.contains("update global white remote addresses to " + broker + " success."), white);
        assertTrue(aclFile().contains("10.10.104.*"), aclFile());

        // GET_BROKER_CLUSTER_ACL_INFO: a row per ACL file with its version. A Java 5.x broker no longer sends
        // allAclFileVersion and the 5.3.1 tools fail on it (NullPointerException); rmq answers as 4.9.7 does,
        // with the version as JSON, which both tool lines read.
        if (!Servers.target().equals("java5")) {
            String versions = ok("clusterAclConfigVersion", "-n", ns, "-c", Servers.CLUSTER);
            assertTrue(versions.contains("get cluster's plain access config version success."), versions);
            assertTrue(versions.lines().anyMatch(l -> l.startsWith(Servers.CLUSTER) && l.contains(Servers.BROKER_NAME)
                && l.contains(broker) && l.contains("plain_acl.yml")), versions);
        }

        String del = ok("deleteAclConfig", "-n", ns, "-c", Servers.CLUSTER, "-a", "sweepAcc");
        assertTrue(del.contains("delete plain access config account from " + broker + " success."), del);
        assertFalse(aclFile().contains("sweepAcc"), aclFile());
    }
}
