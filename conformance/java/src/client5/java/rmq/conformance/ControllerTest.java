package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.RemotingSerializable;
import org.apache.rocketmq.remoting.protocol.RequestCode;
import org.apache.rocketmq.remoting.protocol.body.BrokerMemberGroup;
import org.apache.rocketmq.remoting.protocol.body.BrokerReplicasInfo;
import org.apache.rocketmq.remoting.protocol.body.ElectMasterResponseBody;
import org.apache.rocketmq.remoting.protocol.body.SyncStateSet;
import org.apache.rocketmq.remoting.protocol.header.controller.AlterSyncStateSetRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.controller.ElectMasterRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.controller.GetMetaDataResponseHeader;
import org.apache.rocketmq.remoting.protocol.header.controller.GetReplicaInfoRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.controller.admin.CleanControllerBrokerDataRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.controller.register.ApplyBrokerIdRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.controller.register.GetNextBrokerIdRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.controller.register.RegisterBrokerToControllerRequestHeader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;
import rmq.conformance.harness.ControllerExtension;
import rmq.conformance.harness.ControllerServers;
import rmq.conformance.harness.Servers;

/**
 * RocketMQ 5 controller mode, the controller alone (5.3.1 client line only): one single-node controller (the Java
 * 5.1.4 {@code ControllerStartup} on {@code java5}, {@code rmq controller} on {@code rmq}) and three <em>fake
 * brokers</em> of group {@code broker-a}, each played with raw remoting ({@link FakeBroker}: its own client channel
 * to the controller and its own small server, whose address is the broker's address, recording the controller's
 * NOTIFY_BROKER_ROLE_CHANGED).
 *
 * <p>One ordered scenario, one step per test; the state carries over, so once a step fails the steps that build on
 * it are skipped (assumption) instead of failing for the same reason. Expected codes and fields are what the Java
 * controller answers (see docs/controller/java-reference.md); every header field is checked on the wire
 * ({@code extFields}), so a field under another name fails.
 *
 * <p>Fake brokers: 1 heartbeats with timeout 10 s (epoch 1, maxOffset 100), 2 with 3 s (maxOffset 300), 3 with
 * 60 s (maxOffset 200), every 500 ms; the controller scans for expired brokers every 500 ms
 * ({@code scanNotActiveBrokerInterval}). So broker 2 can only go inactive by heartbeat expiry and broker 3 only by
 * its channel closing, within the test's deadlines.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ControllerTest {
    static <T> T eventually(long millis, ConformanceBase.ThrowingSupplier<T> check) throws Exception {
        return ConformanceBase.eventually(millis, check);
    }

    static final String CLUSTER = Servers.CLUSTER;
    static final String GROUP = Servers.BROKER_NAME;
    static final String OTHER_GROUP = "broker-z";
    static final long HEARTBEAT_PERIOD_MS = 500;

    /**
     * Expired brokers are scanned for every 500 ms; the leader's periodic inactive-master scan (default every 5 s) is
     * pushed out of the test's way: it would re-run a failed election that the channel close already ran, a race
     * that makes masterEpoch advance twice.
     */
    @RegisterExtension
    static final ControllerExtension CTL = new ControllerExtension(Map.of("scanNotActiveBrokerInterval", "500",
        "scanInactiveMasterInterval", "3600000"));

    /** The first failed step; the steps after it that depend on its state are skipped. */
    private static volatile String failedStep;

    /** Steps that only read: their failure does not make the later steps' state unknown. */
    private static final Set<String> READ_ONLY_STEPS = Set.of("metadataNamesTheLeader", "unknownGroup",
        "mqadminGetControllerMetaData", "mqadminGetControllerConfig", "mqadminUpdateControllerConfigBlackList",
        "mqadminGetSyncStateSet", "notifyHistory");

    @RegisterExtension
    static final TestWatcher STEPS = new TestWatcher() {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
            String method = context.getTestMethod().map(java.lang.reflect.Method::getName).orElse("");
            if (failedStep == null && !READ_ONLY_STEPS.contains(method)) {
                failedStep = context.getDisplayName();
            }
        }
    };

    static FakeBroker b1;
    static FakeBroker b2;
    static FakeBroker b3;
    static String ctl;
    /** registerCheckCode of each fake broker: {@code <addr>;<millis>} as a broker writes it. */
    static String code1;
    static String code2;
    static String code3;

    @BeforeAll
    static void fakeBrokers() throws Exception {
        ctl = CTL.servers().controllerAddr();
        b1 = new FakeBroker("fake-broker-1", ctl);
        b2 = new FakeBroker("fake-broker-2", ctl);
        b3 = new FakeBroker("fake-broker-3", ctl);
        long now = System.currentTimeMillis();
        code1 = b1.addr + ";" + now;
        code2 = b2.addr + ";" + (now + 1);
        code3 = b3.addr + ";" + (now + 2);
        // isLeader can be true a moment before the leader serves state-machine requests (Java: it first commits an
        // empty entry, answering CONTROLLER_NOT_LEADER 2007 until then)
        eventually(60_000, () -> {
            RemotingCommand r = b1.call(RequestCode.CONTROLLER_GET_REPLICA_INFO, new GetReplicaInfoRequestHeader(GROUP),
                null);
            assertTrue(r.getCode() != 2007, "the controller leader does not serve requests yet: " + describe(r));
            return null;
        });
    }

    @AfterAll
    static void stopFakeBrokers() {
        for (FakeBroker b : new FakeBroker[] {b1, b2, b3}) {
            if (b != null) {
                System.out.println("[ControllerTest] " + b.describeReceived());
                b.close();
            }
        }
    }

    private static void requireEarlierSteps() {
        assumeTrue(failedStep == null, "skipped: an earlier step failed (" + failedStep
            + "), so the controller's state is not what this step builds on");
    }

    // ------------------------------------------------------------------ steps

    @Test
    @Order(1)
    void metadataNamesTheLeader() throws Exception {
        RemotingCommand r = b1.call(RequestCode.CONTROLLER_GET_METADATA_INFO, null, null);
        expectCode(r, 0, "SUCCESS");
        Map<String, String> ext = ext(r);
        assertEquals(ControllerServers.DLEDGER_GROUP, ext.get("group"), "group: " + ext);
        assertEquals(ControllerServers.SELF_ID, ext.get("controllerLeaderId"), "controllerLeaderId: " + ext);
        assertEquals(ctl, ext.get("controllerLeaderAddress"), "controllerLeaderAddress: " + ext);
        // the boolean field isLeader travels under its field name
        assertEquals("true", ext.get("isLeader"), "isLeader: " + ext);
        // DLedger's peer map, id:addr with a trailing ';'
        assertEquals(ControllerServers.SELF_ID + ":" + ctl + ";", ext.get("peers"), "peers: " + ext);
        GetMetaDataResponseHeader h = (GetMetaDataResponseHeader) r.decodeCommandCustomHeader(
            GetMetaDataResponseHeader.class);
        assertTrue(h.isLeader(), "decoded isLeader: " + h);
    }

    @Test
    @Order(2)
    void unknownGroup() throws Exception {
        expectCode(b1.call(RequestCode.CONTROLLER_GET_REPLICA_INFO, new GetReplicaInfoRequestHeader(GROUP), null),
            2008, "CONTROLLER_BROKER_METADATA_NOT_EXIST (GET_REPLICA_INFO of a group nobody registered)");

        RemotingCommand next = b1.call(RequestCode.CONTROLLER_GET_NEXT_BROKER_ID,
            new GetNextBrokerIdRequestHeader(CLUSTER, GROUP), null);
        expectCode(next, 0, "SUCCESS");
        assertEquals("1", ext(next).get("nextBrokerId"), "first id of a new group: " + describe(next));
        assertEquals(CLUSTER, ext(next).get("clusterName"), describe(next));
        assertEquals(GROUP, ext(next).get("brokerName"), describe(next));

        expectCode(b1.call(RequestCode.CONTROLLER_ELECT_MASTER,
                ElectMasterRequestHeader.ofBrokerTrigger(CLUSTER, GROUP, 1L), null),
            2010, "CONTROLLER_BROKER_NEED_TO_BE_REGISTERED (elect in an unknown group)");
        expectCode(b1.call(RequestCode.CONTROLLER_REGISTER_BROKER,
                new RegisterBrokerToControllerRequestHeader(CLUSTER, GROUP, 1L, b1.addr), null),
            2010, "CONTROLLER_BROKER_NEED_TO_BE_REGISTERED (register in an unknown group)");
        // a new group's first applied id must be 1
        expectCode(b1.call(RequestCode.CONTROLLER_APPLY_BROKER_ID,
                new ApplyBrokerIdRequestHeader(CLUSTER, OTHER_GROUP, 2L, b1.addr + ";1"), null),
            2014, "CONTROLLER_BROKER_ID_INVALID (id 2 as the first id of a new group)");
        RemotingCommand otherNext = b1.call(RequestCode.CONTROLLER_GET_NEXT_BROKER_ID,
            new GetNextBrokerIdRequestHeader(CLUSTER, OTHER_GROUP), null);
        assertEquals("1", ext(otherNext).get("nextBrokerId"), "the refused apply created nothing: " + describe(otherNext));

        // GET_SYNC_STATE_DATA skips unknown names
        RemotingCommand data = syncStateData(GROUP);
        expectCode(data, 0, "SUCCESS");
        BrokerReplicasInfo info = RemotingSerializable.decode(data.getBody(), BrokerReplicasInfo.class);
        assertTrue(info.getReplicasInfoTable() == null || info.getReplicasInfoTable().isEmpty(),
            "unknown group listed: " + body(data));
        // and answers an absent body with the remoting layer's "no response code set" (SYSTEM_ERROR)
        expectCode(b1.call(RequestCode.CONTROLLER_GET_SYNC_STATE_DATA, null, null), 1,
            "SYSTEM_ERROR (GET_SYNC_STATE_DATA without a body)");
    }

    @Test
    @Order(3)
    void brokerIdAllocation() throws Exception {
        requireEarlierSteps();
        assertEquals("1", nextId(b1), "next id of the new group");
        expectApplyOk(b1, 1, code1);
        assertEquals("2", nextId(b2), "next id after 1 was applied");
        // id 1 is taken by another check code
        expectCode(b2.call(RequestCode.CONTROLLER_APPLY_BROKER_ID,
                new ApplyBrokerIdRequestHeader(CLUSTER, GROUP, 1L, code2), null),
            2014, "CONTROLLER_BROKER_ID_INVALID (id 1 applied by another broker)");
        // the same check code again is an idempotent retry
        expectApplyOk(b1, 1, code1);
        assertEquals("2", nextId(b2), "a retried apply does not advance the next id");
        expectApplyOk(b2, 2, code2);
        assertEquals("3", nextId(b3), "next id after 2 was applied");
        expectApplyOk(b3, 3, code3);
        assertEquals("4", nextId(b1), "next id after 3 was applied");
    }

    @Test
    @Order(4)
    void registerAndHeartbeat() throws Exception {
        requireEarlierSteps();
        long id = 1;
        for (FakeBroker b : List.of(b1, b2, b3)) {
            RemotingCommand r = b.call(RequestCode.CONTROLLER_REGISTER_BROKER,
                new RegisterBrokerToControllerRequestHeader(CLUSTER, GROUP, id, b.addr), null);
            expectCode(r, 0, "SUCCESS (register id " + id + ")");
            Map<String, String> ext = ext(r);
            assertEquals(CLUSTER, ext.get("clusterName"), describe(r));
            assertEquals(GROUP, ext.get("brokerName"), describe(r));
            for (String absent : List.of("masterBrokerId", "masterAddress", "masterEpoch", "syncStateSetEpoch")) {
                assertFalse(ext.containsKey(absent), "no master yet, yet the register answer has " + absent + ": "
                    + describe(r));
            }
            assertSyncStateSet(r, Set.of(), 0, "register before any election");
            id++;
        }
        expectCode(b1.call(RequestCode.CONTROLLER_REGISTER_BROKER,
                new RegisterBrokerToControllerRequestHeader(CLUSTER, GROUP, 9L, b1.addr), null),
            2010, "CONTROLLER_BROKER_NEED_TO_BE_REGISTERED (register an id never applied)");

        // heartbeats: without brokerId refused; a good one answered SUCCESS when sent two-way
        expectCode(b1.call(RequestCode.BROKER_HEARTBEAT,
                FakeBroker.heartbeat(CLUSTER, GROUP, b1.addr, null, 10_000, 1, 100), null),
            2005, "CONTROLLER_INVALID_REQUEST (heartbeat without brokerId)");
        expectCode(b1.call(RequestCode.BROKER_HEARTBEAT,
                FakeBroker.heartbeat(CLUSTER, GROUP, b1.addr, 1L, 10_000, 1, 100), null),
            0, "SUCCESS (heartbeat)");
        b1.startHeartbeats(CLUSTER, GROUP, 1, 10_000, 1, 100, HEARTBEAT_PERIOD_MS);
        b2.startHeartbeats(CLUSTER, GROUP, 2, 3_000, 1, 300, HEARTBEAT_PERIOD_MS);
        b3.startHeartbeats(CLUSTER, GROUP, 3, 60_000, 1, 200, HEARTBEAT_PERIOD_MS);

        BrokerReplicasInfo.ReplicasInfo info = eventually(10_000, () -> {
            BrokerReplicasInfo.ReplicasInfo ri = replicasInfo();
            assertEquals(3, ri.getNotInSyncReplicas().size(), "replicas: " + ri.getNotInSyncReplicas());
            for (BrokerReplicasInfo.ReplicaIdentity r : ri.getNotInSyncReplicas()) {
                assertEquals(Boolean.TRUE, r.getAlive(), "heartbeating broker not alive: " + r);
            }
            return ri;
        });
        assertNull(info.getMasterBrokerId(), "master before any election");
        assertNull(info.getMasterAddress(), "master address before any election");
        assertEquals(0, info.getMasterEpoch(), "masterEpoch before any election");
        assertEquals(0, info.getSyncStateSetEpoch(), "syncStateSetEpoch before any election");
        assertTrue(info.getInSyncReplicas().isEmpty(), "in-sync replicas before any election: " + info.getInSyncReplicas());
        assertEquals(Map.of(1L, b1.addr, 2L, b2.addr, 3L, b3.addr), addresses(info.getNotInSyncReplicas()));
    }

    @Test
    @Order(5)
    void firstElectionByBrokerTrigger() throws Exception {
        requireEarlierSteps();
        RemotingCommand r = b1.call(RequestCode.CONTROLLER_ELECT_MASTER,
            ElectMasterRequestHeader.ofBrokerTrigger(CLUSTER, GROUP, 1L), null);
        expectCode(r, 0, "SUCCESS (first election, broker 1 elects itself)");
        assertMasterHeader(r, 1, b1.addr, 1, 1);
        ElectMasterResponseBody body = RemotingSerializable.decode(r.getBody(), ElectMasterResponseBody.class);
        assertEquals(Set.of(1L), body.getSyncStateSet(), "syncStateSet of the elect answer: " + body(r));
        BrokerMemberGroup group = body.getBrokerMemberGroup();
        assertNotNull(group, "a new master's answer carries brokerMemberGroup: " + body(r));
        assertEquals(CLUSTER, group.getCluster(), body(r));
        assertEquals(GROUP, group.getBrokerName(), body(r));
        assertEquals(Map.of(1L, b1.addr, 2L, b2.addr, 3L, b3.addr), new TreeMap<>(group.getBrokerAddrs()), body(r));

        // every alive member of the group is told, the new master included
        for (FakeBroker b : List.of(b1, b2, b3)) {
            assertNotify(b, 1, b1.addr, 1, 1, Set.of(1L));
        }
    }

    @Test
    @Order(6)
    void electAgainWhileMasterAlive() throws Exception {
        requireEarlierSteps();
        RemotingCommand r = b2.call(RequestCode.CONTROLLER_ELECT_MASTER,
            ElectMasterRequestHeader.ofBrokerTrigger(CLUSTER, GROUP, 2L), null);
        expectCode(r, 2011, "CONTROLLER_MASTER_STILL_EXIST (broker 2 triggers an election while 1 is alive)");
        // the answer still names the master, with the current epochs
        assertMasterHeader(r, 1, b1.addr, 1, 1);
        ElectMasterResponseBody body = RemotingSerializable.decode(r.getBody(), ElectMasterResponseBody.class);
        assertEquals(Set.of(1L), body.getSyncStateSet(), body(r));
        assertNull(body.getBrokerMemberGroup(), "no member group when the master stays: " + body(r));

        // a register now learns the master
        RemotingCommand reg = b2.call(RequestCode.CONTROLLER_REGISTER_BROKER,
            new RegisterBrokerToControllerRequestHeader(CLUSTER, GROUP, 2L, b2.addr), null);
        expectCode(reg, 0, "SUCCESS (register again)");
        assertMasterHeader(reg, 1, b1.addr, 1, 1);
        assertSyncStateSet(reg, Set.of(1L), 1, "register after the election");

        RemotingCommand info = replicaInfo();
        expectCode(info, 0, "SUCCESS (GET_REPLICA_INFO)");
        assertReplicaInfo(info, 1L, b1.addr, 1, Set.of(1L), 1);
    }

    @Test
    @Order(7)
    void alterSyncStateSetAndFencing() throws Exception {
        requireEarlierSteps();
        RemotingCommand r = alter(b1, 1, 1, Set.of(1L, 2L, 3L), 1);
        expectCode(r, 0, "SUCCESS (master 1 expands the SyncStateSet to {1,2,3})");
        assertEquals("2", ext(r).get("newSyncStateSetEpoch"), describe(r));
        assertSyncStateSet(r, Set.of(1L, 2L, 3L), 2, "alter answer");

        expectCode(alter(b1, 1, 1, Set.of(1L, 2L, 3L), 2), 2013,
            "CONTROLLER_ALTER_SYNC_STATE_SET_FAILED (the same set again)");
        expectCode(alter(b1, 1, 0, Set.of(1L, 2L), 2), 2000,
            "CONTROLLER_FENCED_MASTER_EPOCH (stale masterEpoch 0)");
        expectCode(alter(b1, 1, 1, Set.of(1L, 2L), 1), 2001,
            "CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH (stale syncStateSetEpoch 1)");
        expectCode(alter(b2, 2, 1, Set.of(1L, 2L), 2), 2002,
            "CONTROLLER_INVALID_MASTER (broker 2 is not the master)");
        expectCode(alter(b1, 1, 1, Set.of(1L, 2L, 9L), 2), 2003,
            "CONTROLLER_INVALID_REPLICAS (id 9 was never applied)");
        expectCode(alter(b1, 1, 1, Set.of(2L, 3L), 2), 2013,
            "CONTROLLER_ALTER_SYNC_STATE_SET_FAILED (the new set lacks the master)");
        RemotingCommand unknown = b1.call(RequestCode.CONTROLLER_ALTER_SYNC_STATE_SET,
            new AlterSyncStateSetRequestHeader(OTHER_GROUP, 1L, 1), new SyncStateSet(Set.of(1L), 0).encode());
        expectCode(unknown, 2013, "CONTROLLER_ALTER_SYNC_STATE_SET_FAILED (unknown group)");

        // none of the refused ones changed anything
        assertReplicaInfo(replicaInfo(), 1L, b1.addr, 1, Set.of(1L, 2L, 3L), 2);
        BrokerReplicasInfo.ReplicasInfo info = replicasInfo();
        assertEquals(1L, info.getMasterBrokerId());
        assertEquals(b1.addr, info.getMasterAddress());
        assertEquals(1, info.getMasterEpoch());
        assertEquals(2, info.getSyncStateSetEpoch());
        assertEquals(Map.of(1L, b1.addr, 2L, b2.addr, 3L, b3.addr), addresses(info.getInSyncReplicas()));
        assertTrue(info.getNotInSyncReplicas().isEmpty(), "not in sync: " + info.getNotInSyncReplicas());
        for (BrokerReplicasInfo.ReplicaIdentity id : info.getInSyncReplicas()) {
            assertEquals(Boolean.TRUE, id.getAlive(), "alive: " + id);
            assertEquals(GROUP, id.getBrokerName(), "brokerName: " + id);
        }
    }

    @Test
    @Order(8)
    void designatedElectionOutsideThePool() throws Exception {
        requireEarlierSteps();
        // admin trigger (designateElect=true) of an id outside the alive SyncStateSet: no fallback to others
        expectCode(b1.call(RequestCode.CONTROLLER_ELECT_MASTER,
                ElectMasterRequestHeader.ofAdminTrigger(CLUSTER, GROUP, 9L), null),
            2012, "CONTROLLER_ELECT_MASTER_FAILED (designated id 9 is not in the SyncStateSet)");
        // designating the current master keeps it
        RemotingCommand same = b1.call(RequestCode.CONTROLLER_ELECT_MASTER,
            ElectMasterRequestHeader.ofAdminTrigger(CLUSTER, GROUP, 1L), null);
        expectCode(same, 2011, "CONTROLLER_MASTER_STILL_EXIST (designated id 1 is the master)");
        assertMasterHeader(same, 1, b1.addr, 1, 2);
        assertReplicaInfo(replicaInfo(), 1L, b1.addr, 1, Set.of(1L, 2L, 3L), 2);
    }

    @Test
    @Order(9)
    void mqadminGetControllerMetaData() {
        String meta = MqadminTest.ok("getControllerMetaData", "-n", ns(), "-a", ctl);
        assertTrue(meta.contains("#ControllerGroup\t" + ControllerServers.DLEDGER_GROUP + "\n"), meta);
        assertTrue(meta.contains("#ControllerLeaderId\t" + ControllerServers.SELF_ID + "\n"), meta);
        assertTrue(meta.contains("#ControllerLeaderAddress\t" + ctl + "\n"), meta);
        assertTrue(meta.contains("#Peer:\t" + ControllerServers.SELF_ID + ":" + ctl + "\n"), meta);
        assertEquals(1, meta.split("#Peer:", -1).length - 1, "one peer: " + meta);
    }

    @Test
    @Order(10)
    void mqadminGetControllerConfig() {
        Map<String, String> conf = controllerConfig();
        String port = ctl.substring(ctl.lastIndexOf(':') + 1);
        List<org.junit.jupiter.api.function.Executable> checks = new java.util.ArrayList<>();
        // the file's keys
        Map<String, String> expected = new LinkedHashMap<>();
        expected.put("controllerDLegerGroup", ControllerServers.DLEDGER_GROUP);
        expected.put("controllerDLegerPeers", CTL.servers().controllerPeers());
        expected.put("controllerDLegerSelfId", ControllerServers.SELF_ID);
        expected.put("scanNotActiveBrokerInterval", "500");
        expected.put("scanInactiveMasterInterval", "3600000");
        expected.put("enableElectUncleanMaster", "false");
        expected.put("notifyBrokerRoleChanged", "true");
        // defaults of keys the file does not set (ControllerConfig 5.1.4 and 5.3.1 alike)
        expected.put("controllerThreadPoolNums", "16");
        expected.put("controllerRequestThreadPoolQueueCapacity", "50000");
        expected.put("isProcessReadEvent", "false");
        expected.put("metricsExporterType", "DISABLE");
        // the netty server config is part of it, with the port the controller serves on
        expected.put("listenPort", port);
        expected.forEach((k, v) -> checks.add(() -> assertEquals(v, conf.get(k), "getControllerConfig " + k)));
        for (String key : List.of("controllerStorePath", "configStorePath", "rocketmqHome", "mappedFileSize")) {
            checks.add(() -> assertTrue(conf.containsKey(key), key + " missing from getControllerConfig"));
        }
        org.junit.jupiter.api.Assertions.assertAll("getControllerConfig " + conf, checks);
    }

    @Test
    @Order(11)
    void mqadminUpdateControllerConfigBlackList() {
        // the config store path may not be changed remotely: NO_PERMISSION
        String refused = MqadminTest.mqadmin("updateControllerConfig", "-n", ns(), "-a", ctl, "-k", "configStorePath",
            "-v", "/tmp/elsewhere");
        assertTrue(refused.contains("CODE: 16"), "NO_PERMISSION expected:\n" + refused);
        assertFalse("/tmp/elsewhere".equals(controllerConfig().get("configStorePath")), "configStorePath changed");
    }

    @Test
    @Order(12)
    void mqadminGetSyncStateSet() {
        requireEarlierSteps();
        String out = MqadminTest.ok("getSyncStateSet", "-n", ns(), "-a", ctl, "-b", GROUP);
        for (String line : List.of("#brokerName\t" + GROUP, "#MasterBrokerId\t1", "#MasterAddr\t" + b1.addr,
            "#MasterEpoch\t1", "#SyncStateSetEpoch\t2", "#SyncStateSetNums\t3")) {
            assertTrue(out.contains(line + "\n"), "missing line " + line + ":\n" + out);
        }
        for (FakeBroker b : List.of(b1, b2, b3)) {
            String replica = "InSyncReplica:\tReplicaIdentity{brokerName='" + GROUP + "', brokerId=" + idOf(b)
                + ", brokerAddress='" + b.addr + "', alive=true}";
            assertTrue(out.contains(replica), "missing " + replica + ":\n" + out);
        }
        assertFalse(out.contains("NotInSyncReplica:"), out);
    }

    @Test
    @Order(13)
    void mqadminElectMaster() throws Exception {
        requireEarlierSteps();
        String out = MqadminTest.ok("electMaster", "-n", ns(), "-a", ctl, "-c", CLUSTER, "-bn", GROUP, "-b", "2");
        for (String line : List.of("#ClusterName\t" + CLUSTER, "#BrokerName\t" + GROUP, "#BrokerMasterAddr\t" + b2.addr,
            "#MasterEpoch\t2", "#SyncStateSetEpoch\t3")) {
            assertTrue(out.contains(line + "\n"), "missing line " + line + ":\n" + out);
        }
        for (FakeBroker b : List.of(b1, b2, b3)) {
            assertNotify(b, 2, b2.addr, 2, 3, Set.of(2L));
        }
        assertReplicaInfo(replicaInfo(), 2L, b2.addr, 2, Set.of(2L), 3);

        // the deposed master is fenced; the new one expands its set
        expectCode(alter(b1, 1, 1, Set.of(1L, 2L), 3), 2002, "CONTROLLER_INVALID_MASTER (old master 1 after the change)");
        RemotingCommand r = alter(b2, 2, 2, Set.of(1L, 2L, 3L), 3);
        expectCode(r, 0, "SUCCESS (master 2 expands the SyncStateSet to {1,2,3})");
        assertEquals("4", ext(r).get("newSyncStateSetEpoch"), describe(r));
        assertReplicaInfo(replicaInfo(), 2L, b2.addr, 2, Set.of(1L, 2L, 3L), 4);
    }

    @Test
    @Order(14)
    void heartbeatExpiryElectsTheBestReplica() throws Exception {
        requireEarlierSteps();
        long t0 = System.currentTimeMillis();
        b2.stopHeartbeats(); // the channel stays open: only the 3 s heartbeat timeout can expire broker 2
        RemotingCommand info = eventually(20_000, () -> {
            RemotingCommand r = replicaInfo();
            expectCode(r, 0, "SUCCESS (GET_REPLICA_INFO)");
            assertEquals("3", ext(r).get("masterBrokerId"), "no new master yet after master 2 stopped heartbeating "
                + "(timeout 3 s, scan every 500 ms): " + describe(r));
            return r;
        });
        System.out.println("[ControllerTest] master 2 replaced by 3 " + (System.currentTimeMillis() - t0)
            + " ms after its last heartbeat");
        // 3 (maxOffset 200) beats 1 (maxOffset 100) at equal epoch; the set shrinks to the new master
        assertReplicaInfo(info, 3L, b3.addr, 3, Set.of(3L), 5);
        assertNotify(b3, 3, b3.addr, 3, 5, Set.of(3L));
        assertNotify(b1, 3, b3.addr, 3, 5, Set.of(3L));
        // the expired broker is not told
        assertTrue(b2.notifies().stream().noneMatch(n -> "3".equals(n.command().getExtFields().get("masterEpoch"))),
            "the expired broker 2 was notified: " + b2.describeReceived());

        BrokerReplicasInfo.ReplicasInfo ri = replicasInfo();
        Map<Long, Boolean> alive = new TreeMap<>();
        for (BrokerReplicasInfo.ReplicaIdentity id : ri.getInSyncReplicas()) {
            alive.put(id.getBrokerId(), id.getAlive());
        }
        for (BrokerReplicasInfo.ReplicaIdentity id : ri.getNotInSyncReplicas()) {
            alive.put(id.getBrokerId(), id.getAlive());
        }
        assertEquals(Map.of(1L, true, 2L, false, 3L, true), alive, "alive flags after the expiry");
    }

    @Test
    @Order(15)
    void channelCloseWithNoCandidate() throws Exception {
        requireEarlierSteps();
        // broker 3 (master, SyncStateSet {3}, heartbeat timeout 60 s) loses its connection: inactive at once
        b3.closeChannel();
        RemotingCommand info = eventually(20_000, () -> {
            RemotingCommand r = replicaInfo();
            expectCode(r, 0, "SUCCESS (GET_REPLICA_INFO)");
            assertFalse(ext(r).containsKey("masterBrokerId"), "master 3 still listed after its channel closed "
                + "(its heartbeat timeout is 60 s): " + describe(r));
            return r;
        });
        // no alive member of the SyncStateSet and no unclean election: the failed controller election still
        // advances masterEpoch and keeps the set
        Map<String, String> ext = ext(info);
        assertEquals("4", ext.get("masterEpoch"), "masterEpoch after a failed election: " + describe(info));
        assertFalse(ext.containsKey("masterAddress"), describe(info));
        assertSyncStateSet(info, Set.of(3L), 5, "replica info after a failed election");
        assertTrue(b1.notifies().stream().noneMatch(n -> "4".equals(n.command().getExtFields().get("masterEpoch"))),
            "a failed election was notified: " + b1.describeReceived());
    }

    @Test
    @Order(16)
    void brokerTriggerWithNoCandidate() throws Exception {
        requireEarlierSteps();
        expectCode(b1.call(RequestCode.CONTROLLER_ELECT_MASTER,
                ElectMasterRequestHeader.ofBrokerTrigger(CLUSTER, GROUP, 1L), null),
            2012, "CONTROLLER_ELECT_MASTER_FAILED (broker 1 is outside the SyncStateSet {3}, unclean elections off)");
        RemotingCommand info = replicaInfo();
        assertEquals("4", ext(info).get("masterEpoch"), "a refused broker-triggered election changes nothing: "
            + describe(info));
        assertFalse(ext(info).containsKey("masterBrokerId"), describe(info));
    }

    @Test
    @Order(17)
    void uncleanElectionAfterUpdateControllerConfig() throws Exception {
        requireEarlierSteps();
        String out = MqadminTest.ok("updateControllerConfig", "-n", ns(), "-a", ctl, "-k", "enableElectUncleanMaster",
            "-v", "true");
        assertTrue(out.contains("update controller config success![" + ctl + "]\nenableElectUncleanMaster : true"), out);
        assertEquals("true", controllerConfig().get("enableElectUncleanMaster"));
        // nothing elects on its own: Java's periodic inactive-master scan re-elects only a group whose master is set
        // (and dead), and the config update triggers nothing
        RemotingCommand before = replicaInfo();
        assertFalse(ext(before).containsKey("masterBrokerId"), "a master was elected without any trigger (no "
            + "election request; the group has no master, so no inactive-master scan applies): " + describe(before));
        assertEquals("4", ext(before).get("masterEpoch"), describe(before));

        RemotingCommand r = b1.call(RequestCode.CONTROLLER_ELECT_MASTER,
            ElectMasterRequestHeader.ofBrokerTrigger(CLUSTER, GROUP, 1L), null);
        expectCode(r, 0, "SUCCESS (unclean election of broker 1, the only alive replica)");
        assertMasterHeader(r, 1, b1.addr, 5, 6);
        ElectMasterResponseBody body = RemotingSerializable.decode(r.getBody(), ElectMasterResponseBody.class);
        assertEquals(Set.of(1L), body.getSyncStateSet(), body(r));
        assertEquals(Map.of(1L, b1.addr, 2L, b2.addr, 3L, b3.addr),
            new TreeMap<>(body.getBrokerMemberGroup().getBrokerAddrs()), body(r));
        assertNotify(b1, 5, b1.addr, 1, 6, Set.of(1L));
        for (FakeBroker dead : List.of(b2, b3)) {
            assertTrue(dead.notifies().stream().noneMatch(n -> "5".equals(n.command().getExtFields().get("masterEpoch"))),
                "inactive broker notified: " + dead.describeReceived());
        }
        assertReplicaInfo(replicaInfo(), 1L, b1.addr, 5, Set.of(1L), 6);
    }

    @Test
    @Order(18)
    void cleanBrokerMetadata() throws Exception {
        requireEarlierSteps();
        expectCode(b1.call(RequestCode.CLEAN_BROKER_DATA,
                new CleanControllerBrokerDataRequestHeader(CLUSTER, GROUP, "1", false), null),
            2009, "CONTROLLER_INVALID_CLEAN_BROKER_METADATA (id 1 is alive)");
        expectCode(b1.call(RequestCode.CLEAN_BROKER_DATA,
                new CleanControllerBrokerDataRequestHeader(CLUSTER, GROUP, null, false), null),
            2009, "CONTROLLER_INVALID_CLEAN_BROKER_METADATA (whole group while it has a master)");
        expectCode(b1.call(RequestCode.CLEAN_BROKER_DATA,
                new CleanControllerBrokerDataRequestHeader(CLUSTER, OTHER_GROUP, "1", false), null),
            2009, "CONTROLLER_INVALID_CLEAN_BROKER_METADATA (unknown group)");

        String out = MqadminTest.ok("cleanBrokerMetadata", "-n", ns(), "-a", ctl, "-c", CLUSTER, "-bn", GROUP, "-b", "2");
        assertTrue(out.contains("clear broker " + GROUP + " metadata from controller success!"), out);

        BrokerReplicasInfo.ReplicasInfo info = replicasInfo();
        assertEquals(Map.of(1L, b1.addr), addresses(info.getInSyncReplicas()), "in sync after cleaning 2");
        assertEquals(Map.of(3L, b3.addr), addresses(info.getNotInSyncReplicas()), "not in sync after cleaning 2");
        assertEquals(1L, info.getMasterBrokerId());
        assertEquals(5, info.getMasterEpoch());
        assertEquals("4", nextId(b1), "ids are not reused after a clean");
        String sss = MqadminTest.ok("getSyncStateSet", "-n", ns(), "-a", ctl, "-b", GROUP);
        assertTrue(sss.contains("#SyncStateSetNums\t1\n"), sss);
        assertTrue(sss.contains("NotInSyncReplica:\tReplicaIdentity{brokerName='" + GROUP + "', brokerId=3, brokerAddress='"
            + b3.addr + "', alive=false}"), sss);
        assertFalse(sss.contains("brokerId=2,"), sss);
    }

    @Test
    @Order(19)
    void notifyHistory() {
        requireEarlierSteps();
        // one NOTIFY_BROKER_ROLE_CHANGED per successful election to each member alive at that moment: none for
        // CONTROLLER_MASTER_STILL_EXIST, none for failed elections, none to expired or disconnected brokers
        assertEquals(List.of(1, 2, 3, 5), notifiedEpochs(b1), b1.describeReceived());
        assertEquals(List.of(1, 2), notifiedEpochs(b2), b2.describeReceived());
        assertEquals(List.of(1, 2, 3), notifiedEpochs(b3), b3.describeReceived());
    }

    // ------------------------------------------------------------------ helpers

    static List<Integer> notifiedEpochs(FakeBroker b) {
        return b.notifies().stream().map(n -> Integer.valueOf(n.command().getExtFields().get("masterEpoch"))).sorted()
            .collect(java.util.stream.Collectors.toList());
    }

    static String ns() {
        return CTL.servers().namesrvAddr();
    }

    static long idOf(FakeBroker b) {
        return b == b1 ? 1 : b == b2 ? 2 : 3;
    }

    static Map<String, String> ext(RemotingCommand r) {
        return r.getExtFields() == null ? Map.of() : r.getExtFields();
    }

    static String body(RemotingCommand r) {
        return r.getBody() == null ? "<no body>" : new String(r.getBody(), StandardCharsets.UTF_8);
    }

    static String describe(RemotingCommand r) {
        return "code=" + r.getCode() + " remark=" + r.getRemark() + " ext=" + ext(r) + " body=" + body(r);
    }

    static void expectCode(RemotingCommand r, int code, String what) {
        assertEquals(code, r.getCode(), "expected " + code + " " + what + ", got " + describe(r));
    }

    static String nextId(FakeBroker b) throws Exception {
        RemotingCommand r = b.call(RequestCode.CONTROLLER_GET_NEXT_BROKER_ID, new GetNextBrokerIdRequestHeader(CLUSTER,
            GROUP), null);
        expectCode(r, 0, "SUCCESS (GET_NEXT_BROKER_ID)");
        return ext(r).get("nextBrokerId");
    }

    static void expectApplyOk(FakeBroker b, long id, String checkCode) throws Exception {
        RemotingCommand r = b.call(RequestCode.CONTROLLER_APPLY_BROKER_ID,
            new ApplyBrokerIdRequestHeader(CLUSTER, GROUP, id, checkCode), null);
        expectCode(r, 0, "SUCCESS (apply id " + id + " with " + checkCode + ")");
        assertEquals(CLUSTER, ext(r).get("clusterName"), describe(r));
        assertEquals(GROUP, ext(r).get("brokerName"), describe(r));
    }

    static RemotingCommand alter(FakeBroker b, long masterId, int masterEpoch, Set<Long> set, int sseEpoch)
        throws Exception {
        return b.call(RequestCode.CONTROLLER_ALTER_SYNC_STATE_SET,
            new AlterSyncStateSetRequestHeader(GROUP, masterId, masterEpoch), new SyncStateSet(set, sseEpoch).encode());
    }

    static RemotingCommand replicaInfo() throws Exception {
        return b1.call(RequestCode.CONTROLLER_GET_REPLICA_INFO, new GetReplicaInfoRequestHeader(GROUP), null);
    }

    static RemotingCommand syncStateData(String... names) throws Exception {
        return b1.call(RequestCode.CONTROLLER_GET_SYNC_STATE_DATA, null, RemotingSerializable.encode(List.of(names)));
    }

    /** GET_SYNC_STATE_DATA for broker-a: its entry (the call must succeed and list it). */
    static BrokerReplicasInfo.ReplicasInfo replicasInfo() throws Exception {
        RemotingCommand r = syncStateData(GROUP);
        expectCode(r, 0, "SUCCESS (GET_SYNC_STATE_DATA)");
        BrokerReplicasInfo info = RemotingSerializable.decode(r.getBody(), BrokerReplicasInfo.class);
        assertNotNull(info.getReplicasInfoTable(), body(r));
        BrokerReplicasInfo.ReplicasInfo ri = info.getReplicasInfoTable().get(GROUP);
        assertNotNull(ri, GROUP + " missing: " + body(r));
        assertNotNull(ri.getInSyncReplicas(), "inSyncReplicas: " + body(r));
        assertNotNull(ri.getNotInSyncReplicas(), "notInSyncReplicas: " + body(r));
        return ri;
    }

    static Map<Long, String> addresses(List<BrokerReplicasInfo.ReplicaIdentity> ids) {
        Map<Long, String> m = new TreeMap<>();
        for (BrokerReplicasInfo.ReplicaIdentity id : ids) {
            m.put(id.getBrokerId(), id.getBrokerAddress());
        }
        return m;
    }

    static void assertMasterHeader(RemotingCommand r, long masterId, String masterAddr, int masterEpoch, int sseEpoch) {
        Map<String, String> ext = ext(r);
        assertEquals(String.valueOf(masterId), ext.get("masterBrokerId"), "masterBrokerId: " + describe(r));
        assertEquals(masterAddr, ext.get("masterAddress"), "masterAddress: " + describe(r));
        assertEquals(String.valueOf(masterEpoch), ext.get("masterEpoch"), "masterEpoch: " + describe(r));
        assertEquals(String.valueOf(sseEpoch), ext.get("syncStateSetEpoch"), "syncStateSetEpoch: " + describe(r));
    }

    static void assertSyncStateSet(RemotingCommand r, Set<Long> set, int epoch, String what) {
        assertNotNull(r.getBody(), what + ": no SyncStateSet body: " + describe(r));
        SyncStateSet s = RemotingSerializable.decode(r.getBody(), SyncStateSet.class);
        assertEquals(new TreeSet<>(set), s.getSyncStateSet() == null ? null : new TreeSet<>(s.getSyncStateSet()),
            what + ": syncStateSet: " + body(r));
        assertEquals(epoch, s.getSyncStateSetEpoch(), what + ": syncStateSetEpoch: " + body(r));
    }

    /** GET_REPLICA_INFO answer: header masterBrokerId / masterAddress / masterEpoch, body SyncStateSet. */
    static void assertReplicaInfo(RemotingCommand r, Long masterId, String masterAddr, int masterEpoch, Set<Long> set,
                                  int sseEpoch) {
        expectCode(r, 0, "SUCCESS (GET_REPLICA_INFO)");
        Map<String, String> ext = ext(r);
        assertEquals(masterId == null ? null : String.valueOf(masterId), ext.get("masterBrokerId"), describe(r));
        assertEquals(masterAddr, ext.get("masterAddress"), describe(r));
        assertEquals(String.valueOf(masterEpoch), ext.get("masterEpoch"), describe(r));
        assertSyncStateSet(r, set, sseEpoch, "GET_REPLICA_INFO");
    }

    /** Waits (≤ 10 s) for a NOTIFY_BROKER_ROLE_CHANGED with this masterEpoch at {@code b}; checks its fields. */
    static void assertNotify(FakeBroker b, int masterEpoch, String masterAddr, long masterId, int sseEpoch,
                             Set<Long> set) throws Exception {
        RemotingCommand n = eventually(10_000, () -> {
            Optional<FakeBroker.Received> hit = b.notifies().stream()
                .filter(x -> String.valueOf(masterEpoch).equals(x.command().getExtFields().get("masterEpoch")))
                .findFirst();
            assertTrue(hit.isPresent(), "no NOTIFY_BROKER_ROLE_CHANGED with masterEpoch " + masterEpoch + " at "
                + b.describeReceived());
            return hit.get().command();
        });
        assertTrue(n.isOnewayRPC(), "the notify is oneway: " + b.describeReceived());
        Map<String, String> ext = n.getExtFields();
        assertEquals(String.valueOf(masterId), ext.get("masterBrokerId"), "notify masterBrokerId: " + ext);
        assertEquals(masterAddr, ext.get("masterAddress"), "notify masterAddress: " + ext);
        assertEquals(String.valueOf(sseEpoch), ext.get("syncStateSetEpoch"), "notify syncStateSetEpoch: " + ext);
        assertSyncStateSet(n, set, sseEpoch, "notify body at " + b.label);
    }

    /** getControllerConfig -a: the {@code key=  value} lines under the controller's banner. */
    static Map<String, String> controllerConfig() {
        String out = MqadminTest.ok("getControllerConfig", "-n", ns(), "-a", ctl);
        assertTrue(out.contains("============" + ctl + "============\n"), out);
        Map<String, String> conf = new LinkedHashMap<>();
        Matcher m = Pattern.compile("(?m)^(\\S+)\\s*=  (.*)$").matcher(out);
        while (m.find()) {
            conf.put(m.group(1), m.group(2));
        }
        return conf;
    }
}
