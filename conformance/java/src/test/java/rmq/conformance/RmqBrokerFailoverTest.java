package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.constant.PermName;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;
import rmq.conformance.harness.ControllerExtension;
import rmq.conformance.harness.ControllerServers;
import rmq.conformance.harness.Servers;

/**
 * Automatic failover of rmq's own brokers, seen by the official Java client (both lines: this class is shared, it
 * compiles against 4.9.8 and 5.3.1). Servers: {@code rmq namesrv} + {@code rmq controller} ({@link ControllerExtension})
 * and three {@code rmq broker} processes of {@code broker-a} in controller mode ({@link ControllerServers#startRmqBroker},
 * {@code allAckInSyncStateSet=true}). Target {@code rmq} only: the oracle targets have no rmq broker (Java's own
 * brokers in controller mode are covered by {@code ControllerFailoverTest}).
 *
 * <p>One ordered scenario (a failed step skips the later ones): the three brokers get controller ids 1..3, one is
 * master (route brokerId 0), the other two are slaves (route brokerId = controller id), have the topic (created on
 * the master) and are in the SyncStateSet. A producer ({@code pollNameServerInterval=1000}, nothing else tuned) sends
 * from a background thread without pause (10 ms apart) while a push consumer (CLUSTERING, CONSUME_FROM_FIRST_OFFSET,
 * route poll and heartbeat every second: see {@link #startConsumer}) reads. The master is killed with SIGKILL; the same
 * producer must get SEND_OK from another broker within {@link #FAILOVER_DEADLINE_MS}, the controller names that broker
 * master with masterEpoch + 1 and the route lists it as brokerId 0; the killed broker, restarted from its own
 * directory, comes back as a slave under its controller id and both slaves are back in the SyncStateSet; the sender
 * stops and every SEND_OK message is consumed (by key; duplicates allowed) by the consumer that ran throughout, and
 * by a new group reading from the first offset. Neither client is restarted.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RmqBrokerFailoverTest {
    static final String GROUP = Servers.BROKER_NAME;
    static final String TOPIC = "RmqBrokerFailoverTopic";
    static final int QUEUES = 4;
    static final long FAILOVER_DEADLINE_MS = 60_000;

    /** Before the controller servers start: the rmq brokers need target rmq. */
    @RegisterExtension
    @Order(1)
    static final BeforeAllCallback ONLY_RMQ = context -> assumeTrue(Servers.target().equals("rmq"),
        "RmqBrokerFailoverTest runs rmq brokers and needs -Drmq.target=rmq (target is " + Servers.target()
            + "); Java's own brokers in controller mode are covered by ControllerFailoverTest");

    @RegisterExtension
    @Order(2)
    static final ControllerExtension CTL = new ControllerExtension(Map.of("scanNotActiveBrokerInterval", "1000"));

    private static volatile String failedStep;

    @RegisterExtension
    @Order(3)
    static final TestWatcher STEPS = new TestWatcher() {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
            if (failedStep == null) {
                failedStep = context.getDisplayName();
            }
            System.err.println("[RmqBrokerFailoverTest] " + context.getDisplayName() + " failed; sender: "
                + senderState());
        }
    };

    static final List<ControllerServers.RmqBroker> brokers = new ArrayList<>();
    static ControllerServers.RmqBroker master;
    /** broker address -> controller id. */
    static Map<String, Long> ids;
    static DefaultMQAdminExt admin;
    static DefaultMQProducer producer;
    static DefaultMQPushConsumer consumer;
    static DefaultMQPushConsumer lateConsumer;
    static Sender sender;
    /** key of every SEND_OK message -> the store port of its offsetMsgId. */
    static final Map<String, Integer> acked = new ConcurrentHashMap<>();
    /** key -> times consumed by the consumer that runs throughout. */
    static final Map<String, Integer> received = new ConcurrentHashMap<>();
    /** key -> times consumed by the group started after the failover. */
    static final Map<String, Integer> lateReceived = new ConcurrentHashMap<>();

    @BeforeAll
    static void admin() throws Exception {
        admin = new DefaultMQAdminExt(10_000);
        admin.setNamesrvAddr(CTL.servers().namesrvAddr());
        admin.setInstanceName("rmq-failover-admin-" + ProcessHandle.current().pid());
        admin.start();
    }

    @AfterAll
    static void stopClients() throws Exception {
        if (sender != null) {
            sender.stopAndJoin();
        }
        for (DefaultMQPushConsumer c : new DefaultMQPushConsumer[] {lateConsumer, consumer}) {
            if (c != null) {
                c.shutdown();
            }
        }
        if (producer != null) {
            producer.shutdown();
        }
        if (admin != null) {
            admin.shutdown();
        }
    }

    static Map<String, String> brokerConf() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("allAckInSyncStateSet", "true");
        c.put("syncBrokerMetadataPeriod", "1000");
        c.put("checkSyncStateSetPeriod", "1000");
        c.put("brokerHeartbeatInterval", "500");
        c.put("controllerHeartBeatTimeoutMills", "3000");
        c.put("haSendHeartbeatInterval", "1000");
        c.put("haMaxTimeSlaveNotCatchup", "5000");
        c.put("registerNameServerPeriod", "10000");
        return c;
    }

    private static void requireEarlierSteps() {
        assumeTrue(failedStep == null, "skipped: an earlier step failed (" + failedStep + ")");
    }

    @Test
    @Order(1)
    void threeBrokersOneMasterTwoSlavesInTheSyncStateSet() throws Exception {
        for (int i = 0; i < 3; i++) {
            brokers.add(CTL.servers().startRmqBroker(brokerConf()));
        }
        // every broker has a controller id; the name server lists one of them as brokerId 0
        ids = ConformanceBase.eventually(60_000, () -> {
            Map<String, Long> m = new TreeMap<>();
            for (ControllerServers.RmqBroker b : brokers) {
                Long id = b.controllerId();
                assertNotNull(id, b.name() + " has no brokerIdentity yet");
                m.put(b.addr(), id);
            }
            return m;
        });
        assertEquals(Set.of(1L, 2L, 3L), new TreeSet<>(ids.values()), "controller ids " + ids);
        Map<Long, String> cluster = ConformanceBase.eventually(60_000, () -> {
            Map<Long, String> a = clusterAddrs();
            assertEquals(3, a.size(), "broker-a in the name server: " + a);
            assertNotNull(a.get(0L), "no master (brokerId 0) in the name server: " + a);
            return a;
        });
        String masterAddr = cluster.get(0L);
        master = brokers.stream().filter(b -> b.addr().equals(masterAddr)).findFirst()
            .orElseThrow(() -> new AssertionError("brokerId 0 " + masterAddr + " is none of " + ids));
        ControllerServers.ReplicaInfo info = CTL.servers().replicaInfo(GROUP);
        assertEquals(0, info.code(), "GET_REPLICA_INFO: " + info);
        assertEquals(masterAddr, info.masterAddress(), "controller vs name server: " + info + " / " + cluster);
        assertEquals(String.valueOf(ids.get(masterAddr)), info.masterBrokerId(), info.toString());

        // the topic on the master: an rmq slave refuses UPDATE_AND_CREATE_TOPIC (as Java 4.9.4+, apache/rocketmq#4175;
        // 5.3.1 keeps AdminBrokerProcessor.validateSlave but never calls it); slaves copy the master's topics
        admin.createAndUpdateTopicConfig(masterAddr,
            new TopicConfig(TOPIC, QUEUES, QUEUES, PermName.PERM_READ | PermName.PERM_WRITE));
        // the route: the master as brokerId 0, each slave under its controller id
        Map<Long, String> expected = new TreeMap<>();
        for (Map.Entry<String, Long> e : ids.entrySet()) {
            expected.put(e.getKey().equals(masterAddr) ? 0L : e.getValue(), e.getKey());
        }
        ConformanceBase.eventually(60_000, () -> {
            assertEquals(expected, routeAddrs(), "route of " + TOPIC);
            return null;
        });
        // the slaves copied the topic from the master (their first metadata sync is 3 s after they start, then every
        // 10 s, as Java's): a slave elected before it has the topic would serve it auto-created, or not at all
        for (ControllerServers.RmqBroker b : brokers) {
            ConformanceBase.eventually(30_000, () -> {
                TopicConfig t = admin.examineTopicConfig(b.addr(), TOPIC);
                assertNotNull(t, TOPIC + " on " + b.addr());
                assertEquals(QUEUES, t.getReadQueueNums(), TOPIC + " on " + b.addr() + ": " + t);
                assertEquals(QUEUES, t.getWriteQueueNums(), TOPIC + " on " + b.addr() + ": " + t);
                return null;
            });
        }
        // both slaves caught up and joined the SyncStateSet: every later SEND_OK is on all three
        ConformanceBase.eventually(60_000, () -> {
            ControllerServers.ReplicaInfo r = CTL.servers().replicaInfo(GROUP);
            assertEquals(0, r.code(), r.toString());
            assertEquals(Set.of(1L, 2L, 3L), r.syncStateSet(), "SyncStateSet: " + r);
            assertEquals(masterAddr, r.masterAddress(), r.toString());
            return null;
        });
        // settled: the route still names the master brokerId 0
        assertEquals(expected, routeAddrs(), "route of " + TOPIC + " once the group has settled");
        System.out.println("[RmqBrokerFailoverTest] controller ids " + ids + ", master " + masterAddr);
    }

    @Test
    @Order(2)
    void producerAndPushConsumerRun() throws Exception {
        requireEarlierSteps();
        String ns = CTL.servers().namesrvAddr();
        producer = new DefaultMQProducer("RmqBrokerFailoverProducer");
        producer.setNamesrvAddr(ns);
        producer.setInstanceName("rmq-failover-producer-" + ProcessHandle.current().pid());
        producer.setPollNameServerInterval(1_000);
        producer.start();

        consumer = startConsumer("RmqBrokerFailoverConsumer", received);

        sender = new Sender();
        sender.start();
        // the pair works before anything fails: SEND_OKs from the master, and they are consumed
        ConformanceBase.eventually(60_000, () -> {
            assertTrue(acked.size() >= 50, "SEND_OK so far: " + senderState() + "; route " + routeAddrs());
            return null;
        });
        Set<String> first = new TreeSet<>(acked.keySet());
        ConformanceBase.eventually(60_000, () -> {
            assertTrue(received.keySet().containsAll(first), "consumed before the failover: " + missing(first));
            return null;
        });
        int masterPort = port(master.addr());
        for (String k : first) {
            assertEquals(masterPort, acked.get(k), k + " stored by another broker than the master " + master.addr());
        }
    }

    @Test
    @Order(3)
    void killMasterWhileSendingProducerRecovers() throws Exception {
        requireEarlierSteps();
        int killedPort = port(master.addr());
        int before = acked.size();
        String epochBefore = CTL.servers().replicaInfo(GROUP).masterEpoch();
        long t0 = System.currentTimeMillis();
        sender.killedAt(t0, killedPort);
        master.kill();
        assertFalse(master.isAlive(), "kill -9 of " + master.name());

        // the same producer gets SEND_OK again, now from another broker
        long firstOk = ConformanceBase.eventually(FAILOVER_DEADLINE_MS, () -> {
            long t = sender.firstOkAfterKill.get();
            assertTrue(t > 0, "no SEND_OK from a broker other than the killed " + master.addr() + " "
                + (System.currentTimeMillis() - t0) + " ms after kill -9; " + senderState());
            return t;
        });
        ControllerServers.ReplicaInfo info = CTL.servers().replicaInfo(GROUP);
        assertEquals(0, info.code(), info.toString());
        String newMaster = info.masterAddress();
        assertNotNull(newMaster, "no master at the controller: " + info);
        assertNotEquals(master.addr(), newMaster, "the killed broker is still master: " + info);
        assertEquals(String.valueOf(Long.parseLong(epochBefore) + 1), info.masterEpoch(),
            "masterEpoch was " + epochBefore + ": " + info);
        ConformanceBase.eventually(30_000, () -> {
            Map<Long, String> a = routeAddrs();
            assertEquals(newMaster, a.get(0L), "route of " + TOPIC + " after the failover: " + a);
            assertFalse(a.containsValue(master.addr()), "the killed broker is still in the route: " + a);
            return null;
        });
        System.out.println("[RmqBrokerFailoverTest] kill -9 of " + master.addr() + ": first SEND_OK from "
            + newMaster + " after " + (firstOk - t0) + " ms (" + (acked.size() - before) + " SEND_OK since the kill; "
            + senderState() + ")");
        // and it keeps succeeding on the new master
        int okNow = acked.size();
        ConformanceBase.eventually(30_000, () -> {
            assertTrue(acked.size() >= okNow + 50, "SEND_OK after the failover: " + senderState());
            return null;
        });
        // only the new master acknowledged anything since the kill (the killed one perhaps just before it died)
        assertEquals(Set.of(), minus(sender.portsSinceKill, Set.of(killedPort, port(newMaster))),
            "SEND_OK since the kill stored by a broker that is not the master " + newMaster);
        // the slave that stayed up replicates from the new master and is back in its SyncStateSet (the election
        // reset it to the new master alone)
        String survivor = ids.keySet().stream().filter(a -> !a.equals(newMaster) && !a.equals(master.addr()))
            .findFirst().orElseThrow();
        Set<Long> expected = Set.of(ids.get(newMaster), ids.get(survivor));
        ConformanceBase.eventually(30_000, () -> {
            ControllerServers.ReplicaInfo r = CTL.servers().replicaInfo(GROUP);
            assertEquals(newMaster, r.masterAddress(), r.toString());
            assertEquals(expected, r.syncStateSet(), "SyncStateSet after the failover (" + survivor + " stayed up): " + r);
            return null;
        });
        System.out.println("[RmqBrokerFailoverTest] " + survivor + " back in the SyncStateSet "
            + (System.currentTimeMillis() - t0) + " ms after the kill");
    }

    static Set<Integer> minus(Set<Integer> a, Set<Integer> b) {
        Set<Integer> r = new TreeSet<>(a);
        r.removeAll(b);
        return r;
    }

    @Test
    @Order(4)
    void killedMasterRestartsAsSlave() throws Exception {
        requireEarlierSteps();
        Long id = master.controllerId();
        master.restart();
        ControllerServers.ReplicaInfo info = CTL.servers().replicaInfo(GROUP);
        String newMaster = info.masterAddress();
        Map<Long, String> route = ConformanceBase.eventually(60_000, () -> {
            Map<Long, String> a = routeAddrs();
            assertEquals(3, a.size(), "route of " + TOPIC + " after the restart of " + master.addr() + ": " + a);
            assertEquals(newMaster, a.get(0L), "brokerId 0 after the restart: " + a);
            assertEquals(master.addr(), a.get(id), "the restarted broker (controller id " + id + ") as a slave: " + a);
            return a;
        });
        assertEquals(id, master.controllerId(), "controller id of the restarted broker");
        System.out.println("[RmqBrokerFailoverTest] restarted " + master.addr() + " is a slave: route " + route);
        // the restarted broker replicates from the new master too: all three in the SyncStateSet again
        long t0 = System.currentTimeMillis();
        ConformanceBase.eventually(30_000, () -> {
            ControllerServers.ReplicaInfo r = CTL.servers().replicaInfo(GROUP);
            assertEquals(0, r.code(), r.toString());
            assertEquals(newMaster, r.masterAddress(), r.toString());
            assertEquals(Set.of(1L, 2L, 3L), r.syncStateSet(), "SyncStateSet after the restart: " + r);
            return null;
        });
        System.out.println("[RmqBrokerFailoverTest] SyncStateSet {1, 2, 3} again "
            + (System.currentTimeMillis() - t0) + " ms after the restart returned");
        // producing goes on with the old master back
        int okNow = acked.size();
        ConformanceBase.eventually(30_000, () -> {
            assertTrue(acked.size() >= okNow + 50, "SEND_OK after the restart: " + senderState());
            return null;
        });
    }

    @Test
    @Order(5)
    void everyAcknowledgedMessageConsumed() throws Exception {
        requireEarlierSteps();
        sender.stopAndJoin();
        assertNull(sender.error.get(), "the sender thread died");
        Set<String> all = new TreeSet<>(acked.keySet());
        long t0 = System.currentTimeMillis();
        // 60 s: the 4.9.8 client fails the long-polling pulls it had in flight on the killed master only when their
        // 30 s timeout passes ("wait response from <killed> timeout :30000ms"); only then does it pull from the new
        // master. The 5.3.1 client fails them when the channel closes.
        ConformanceBase.eventually(60_000, () -> {
            assertTrue(received.keySet().containsAll(all), "acknowledged but not consumed: " + missing(all));
            return null;
        });
        long consumedAfter = System.currentTimeMillis() - t0;
        // a new group reading the new master from its first offset gets them too: what the killed master had
        // acknowledged was on the slave that took over
        lateConsumer = startConsumer("RmqBrokerFailoverLateConsumer", lateReceived);
        ConformanceBase.eventually(60_000, () -> {
            Set<String> m = new TreeSet<>(all);
            m.removeAll(lateReceived.keySet());
            assertTrue(m.isEmpty(), "acknowledged but not on the new master (first offset, new group): " + m.size()
                + " of " + all.size() + ", e.g. " + new ArrayList<>(m).subList(0, Math.min(10, m.size())));
            return null;
        });
        long duplicates = received.values().stream().filter(n -> n > 1).count();
        System.out.println("[RmqBrokerFailoverTest] " + all.size() + " SEND_OK messages all consumed ("
            + consumedAfter + " ms after the sender stopped; " + received.size() + " keys received, " + duplicates
            + " more than once; " + senderState() + ")");
        for (ControllerServers.RmqBroker b : brokers) {
            assertTrue(b.isAlive(), b.name() + " died: " + b.describe());
        }
    }

    // ------------------------------------------------------------------ helpers

    /**
     * A push consumer of {@link #TOPIC}: CLUSTERING, CONSUME_FROM_FIRST_OFFSET, the route polled every second (as the
     * producer). Heartbeats every second too: at start the client's rebalance raises its subscription version and
     * sends a heartbeat only if no other heartbeat holds the client's lock (MQClientInstance tryLock, "lock heartBeat,
     * but failed"); when it is skipped every pull answers SUBSCRIPTION_NOT_LATEST until the next periodic heartbeat,
     * 30 s by default (apache/rocketmq#3434; Java's brokers answer the same). Seen here once in a few runs.
     */
    static DefaultMQPushConsumer startConsumer(String group, Map<String, Integer> into) throws Exception {
        DefaultMQPushConsumer c = new DefaultMQPushConsumer(group);
        c.setNamesrvAddr(CTL.servers().namesrvAddr());
        c.setInstanceName(group + "-" + ProcessHandle.current().pid());
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        c.setPollNameServerInterval(1_000);
        c.setHeartbeatBrokerInterval(1_000);
        c.subscribe(TOPIC, "*");
        c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                into.merge(m.getKeys(), 1, Integer::sum);
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        c.start();
        assertEquals("CLUSTERING", c.getMessageModel().name());
        return c;
    }

    /** Sends without pause from its own thread; each message has its own key; records every SEND_OK. */
    static final class Sender extends Thread {
        final AtomicLong seq = new AtomicLong();
        final AtomicInteger notOk = new AtomicInteger();
        final AtomicInteger failed = new AtomicInteger();
        final AtomicInteger failedBeforeKill = new AtomicInteger();
        final AtomicLong firstOkAfterKill = new AtomicLong();
        final Set<Integer> portsSinceKill = ConcurrentHashMap.newKeySet();
        final java.util.concurrent.atomic.AtomicReference<Throwable> error =
            new java.util.concurrent.atomic.AtomicReference<>();
        volatile String lastProblem = "";
        volatile boolean running = true;
        volatile long killedAt;
        volatile int killedPort = -1;

        Sender() {
            super("rmq-failover-sender");
            setDaemon(true);
        }

        void killedAt(long t, int port) {
            killedPort = port;
            killedAt = t;
        }

        @Override
        public void run() {
            try {
                while (running) {
                    String key = "k-" + seq.incrementAndGet();
                    Message msg = new Message(TOPIC, "TagA", key, key.getBytes(StandardCharsets.UTF_8));
                    try {
                        SendResult r = producer.send(msg);
                        if (r.getSendStatus() == SendStatus.SEND_OK) {
                            InetSocketAddress store = (InetSocketAddress) MessageDecoder
                                .decodeMessageId(r.getOffsetMsgId()).getAddress();
                            acked.put(key, store.getPort());
                            if (killedAt > 0) {
                                portsSinceKill.add(store.getPort());
                            }
                            if (killedAt > 0 && store.getPort() != killedPort && firstOkAfterKill.get() == 0) {
                                firstOkAfterKill.compareAndSet(0, System.currentTimeMillis());
                            }
                        } else {
                            notOk.incrementAndGet();
                            if (killedAt == 0) {
                                failedBeforeKill.incrementAndGet();
                            }
                            lastProblem = key + ": " + r.getSendStatus();
                        }
                    } catch (Exception e) {
                        failed.incrementAndGet();
                        if (killedAt == 0) {
                            failedBeforeKill.incrementAndGet();
                        }
                        lastProblem = key + ": " + e;
                    }
                    // a little pacing, so that the key sets stay small; not a wait for anything
                    Thread.sleep(10);
                }
            } catch (Throwable t) {
                error.set(t);
            }
        }

        void stopAndJoin() throws InterruptedException {
            running = false;
            join(30_000);
        }
    }

    static String senderState() {
        Sender s = sender;
        if (s == null) {
            return "not started";
        }
        return "sent " + s.seq.get() + ", SEND_OK " + acked.size() + ", other status " + s.notOk.get()
            + ", exceptions " + s.failed.get() + " (not SEND_OK before the kill: " + s.failedBeforeKill.get()
            + "), last problem: " + s.lastProblem;
    }

    static String missing(Set<String> expected) {
        Set<String> m = new TreeSet<>(expected);
        m.removeAll(received.keySet());
        List<String> some = new ArrayList<>(m).subList(0, Math.min(10, m.size()));
        Map<String, Integer> where = new TreeMap<>();
        for (String k : some) {
            where.put(k, acked.get(k));
        }
        return m.size() + " of " + expected.size() + ", e.g. (key=store port) " + where;
    }

    static int port(String addr) {
        return Integer.parseInt(addr.substring(addr.lastIndexOf(':') + 1));
    }

    static Map<Long, String> clusterAddrs() throws Exception {
        var info = admin.examineBrokerClusterInfo();
        var data = info.getBrokerAddrTable().get(GROUP);
        assertNotNull(data, GROUP + " not in the name server's cluster info: " + info.getBrokerAddrTable().keySet());
        return new TreeMap<>(data.getBrokerAddrs());
    }

    static Map<Long, String> routeAddrs() throws Exception {
        var route = admin.examineTopicRouteInfo(TOPIC);
        assertFalse(route.getBrokerDatas().isEmpty(), "no broker in the route of " + TOPIC);
        return new TreeMap<>(route.getBrokerDatas().get(0).getBrokerAddrs());
    }
}
