package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
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
import org.apache.rocketmq.remoting.netty.NettyClientConfig;
import org.apache.rocketmq.remoting.netty.NettyRemotingClient;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.RemotingSerializable;
import org.apache.rocketmq.remoting.protocol.RequestCode;
import org.apache.rocketmq.remoting.protocol.body.SyncStateSet;
import org.apache.rocketmq.remoting.protocol.header.controller.GetReplicaInfoRequestHeader;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
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
 * RocketMQ 5 controller mode end to end (5.3.1 client line only): the name server and controller under test
 * ({@code java5}: namesrv / ControllerStartup 5.1.4; {@code rmq}: {@code rmq namesrv} + {@code rmq controller}) and two
 * real Java 5.3.1 brokers of {@code broker-a} in controller mode ({@link ControllerServers#startJavaBroker}; needs
 * the broker classpath of {@code -Poracle5}, skipped by assumption without it).
 *
 * <p>Broker 1 starts alone and becomes master (controller id 1, masterEpoch 1, brokerId 0 in the route); broker 2
 * joins as a slave (controller id 2, route brokerId 2) and enters the SyncStateSet. With
 * {@code allAckInSyncStateSet=true} every SEND_OK is on both replicas. A producer sends and a push consumer reads;
 * broker 1 is killed with SIGKILL; within a deadline the controller names broker 2 master with masterEpoch 2, the
 * route lists broker 2 as brokerId 0, a send succeeds on it, and every acknowledged message is consumed: by the
 * consumer that was running, and by a new group that reads the new master from its first offset (so the messages
 * broker 1 acknowledged were on broker 2).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ControllerFailoverTest {
    static final String GROUP = Servers.BROKER_NAME;
    static final String TOPIC = "ControllerFailoverTopic";
    static final int BATCH = 40;

    @RegisterExtension
    static final ControllerExtension CTL = new ControllerExtension(Map.of("scanNotActiveBrokerInterval", "1000"));

    private static volatile String failedStep;

    @RegisterExtension
    static final TestWatcher STEPS = new TestWatcher() {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
            if (failedStep == null) {
                failedStep = context.getDisplayName();
            }
            if (broker1 != null) {
                System.err.println("[ControllerFailoverTest] broker logs in " + CTL.servers().logDir());
            }
        }
    };

    static ControllerServers.Broker broker1;
    static ControllerServers.Broker broker2;
    static NettyRemotingClient probe;
    static DefaultMQAdminExt admin;
    static DefaultMQProducer producer;
    static DefaultMQPushConsumer consumer;
    static DefaultMQPushConsumer lateConsumer;
    static final Set<String> acked = ConcurrentHashMap.newKeySet();
    static final Map<String, Integer> received = new ConcurrentHashMap<>();
    static final Map<String, Integer> lateReceived = new ConcurrentHashMap<>();

    @BeforeAll
    static void clients() throws Exception {
        assumeTrue(ControllerServers.javaBrokerAvailable(),
            "ControllerFailoverTest runs Java 5.3.1 brokers: run Maven once with -Poracle5 (target/oracle5-broker.classpath)");
        probe = new NettyRemotingClient(new NettyClientConfig());
        probe.start();
        admin = new DefaultMQAdminExt(10_000);
        admin.setNamesrvAddr(CTL.servers().namesrvAddr());
        admin.setInstanceName("ctl-failover-admin-" + ProcessHandle.current().pid());
        admin.start();
    }

    @AfterAll
    static void stopClients() {
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
        if (probe != null) {
            probe.shutdown();
        }
    }

    static Map<String, String> brokerConf() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("enableControllerMode", "true");
        c.put("controllerAddr", CTL.servers().controllerAddr());
        c.put("brokerRole", "SLAVE");
        c.put("syncBrokerMetadataPeriod", "1000");
        c.put("checkSyncStateSetPeriod", "1000");
        c.put("haMaxTimeSlaveNotCatchup", "3000");
        c.put("haSendHeartbeatInterval", "1000");
        c.put("controllerHeartBeatTimeoutMills", "3000");
        c.put("brokerHeartbeatInterval", "500");
        c.put("registerNameServerPeriod", "10000");
        c.put("allAckInSyncStateSet", "true");
        return c;
    }

    private static void requireEarlierSteps() {
        assumeTrue(failedStep == null, "skipped: an earlier step failed (" + failedStep + ")");
    }

    @Test
    @Order(1)
    void firstBrokerBecomesMaster() throws Exception {
        broker1 = CTL.servers().startJavaBroker(brokerConf());
        RemotingCommand info = ControllerTest.eventually(90_000, () -> {
            RemotingCommand r = replicaInfo();
            assertEquals(0, r.getCode(), "GET_REPLICA_INFO: " + ControllerTest.describe(r));
            assertEquals(broker1.addr(), r.getExtFields().get("masterAddress"), ControllerTest.describe(r));
            return r;
        });
        assertEquals("1", info.getExtFields().get("masterBrokerId"), ControllerTest.describe(info));
        assertEquals("1", info.getExtFields().get("masterEpoch"), ControllerTest.describe(info));
        // the master registers with the name server as brokerId 0
        Map<Long, String> addrs = ControllerTest.eventually(60_000, () -> {
            Map<Long, String> a = clusterAddrs();
            assertEquals(broker1.addr(), a.get(0L), "broker-a in the name server: " + a);
            return a;
        });
        assertEquals(1, addrs.size(), "only the master: " + addrs);
    }

    @Test
    @Order(2)
    void secondBrokerJoinsTheSyncStateSet() throws Exception {
        requireEarlierSteps();
        broker2 = CTL.servers().startJavaBroker(brokerConf());
        RemotingCommand info = ControllerTest.eventually(90_000, () -> {
            RemotingCommand r = replicaInfo();
            assertEquals(0, r.getCode(), ControllerTest.describe(r));
            SyncStateSet s = RemotingSerializable.decode(r.getBody(), SyncStateSet.class);
            assertEquals(Set.of(1L, 2L), new TreeSet<>(s.getSyncStateSet()), "SyncStateSet: " + ControllerTest.describe(r));
            return r;
        });
        assertEquals("1", info.getExtFields().get("masterBrokerId"), ControllerTest.describe(info));
        assertEquals(broker1.addr(), info.getExtFields().get("masterAddress"), ControllerTest.describe(info));
        assertEquals("1", info.getExtFields().get("masterEpoch"), ControllerTest.describe(info));
        // the slave registers with the name server under its controller id
        ControllerTest.eventually(60_000, () -> {
            Map<Long, String> a = clusterAddrs();
            assertEquals(Map.of(0L, broker1.addr(), 2L, broker2.addr()), a, "broker-a in the name server");
            return null;
        });
        String out = MqadminTest.ok("getSyncStateSet", "-n", CTL.servers().namesrvAddr(), "-a",
            CTL.servers().controllerAddr(), "-b", GROUP);
        assertTrue(out.contains("#SyncStateSetNums\t2\n"), out);
        assertTrue(out.contains("brokerId=2, brokerAddress='" + broker2.addr() + "', alive=true}"), out);
    }

    @Test
    @Order(3)
    void sendConsumeKillMasterAndFailOver() throws Exception {
        requireEarlierSteps();
        String ns = CTL.servers().namesrvAddr();
        for (String addr : List.of(broker1.addr(), broker2.addr())) {
            admin.createAndUpdateTopicConfig(addr, new TopicConfig(TOPIC, 4, 4, PermName.PERM_READ | PermName.PERM_WRITE));
        }
        producer = new DefaultMQProducer("ControllerFailoverProducer");
        producer.setNamesrvAddr(ns);
        producer.setInstanceName("ctl-failover-producer-" + ProcessHandle.current().pid());
        producer.setSendMsgTimeout(5_000);
        producer.setPollNameServerInterval(1_000);
        producer.start();
        ControllerTest.eventually(30_000, () -> {
            assertEquals(4, producer.fetchPublishMessageQueues(TOPIC).size(), "publish queues of " + TOPIC);
            return null;
        });

        consumer = startConsumer("ControllerFailoverConsumer", received);

        sendBatch("before", broker1.addr(), 60_000);
        ControllerTest.eventually(60_000, () -> {
            assertTrue(received.keySet().containsAll(acked), "consumed before the failover: " + missing(received));
            return null;
        });

        long t0 = System.currentTimeMillis();
        broker1.kill();
        RemotingCommand info = ControllerTest.eventually(60_000, () -> {
            RemotingCommand r = replicaInfo();
            assertEquals(0, r.getCode(), ControllerTest.describe(r));
            assertEquals(broker2.addr(), r.getExtFields().get("masterAddress"), "new master: " + ControllerTest.describe(r));
            return r;
        });
        long elected = System.currentTimeMillis() - t0;
        assertEquals("2", info.getExtFields().get("masterBrokerId"), ControllerTest.describe(info));
        assertEquals("2", info.getExtFields().get("masterEpoch"), ControllerTest.describe(info));
        ControllerTest.eventually(60_000, () -> {
            Map<Long, String> a = routeAddrs();
            assertEquals(Map.of(0L, broker2.addr()), a, "route of " + TOPIC + " after the failover");
            return null;
        });
        long routed = System.currentTimeMillis() - t0;
        System.out.println("[ControllerFailoverTest] broker 2 elected " + elected + " ms and brokerId 0 in the route "
            + routed + " ms after kill -9 of broker 1");

        sendBatch("after", broker2.addr(), 90_000);
        ControllerTest.eventually(90_000, () -> {
            assertTrue(received.keySet().containsAll(acked), "acknowledged but not consumed: " + missing(received));
            return null;
        });
        // a new group reads everything from the new master: the messages acknowledged by broker 1 were replicated
        lateConsumer = startConsumer("ControllerFailoverLateConsumer", lateReceived);
        ControllerTest.eventually(90_000, () -> {
            assertTrue(lateReceived.keySet().containsAll(acked), "acknowledged but not on the new master: "
                + missing(lateReceived));
            return null;
        });
        assertTrue(broker2.isAlive(), "broker 2 died");
    }

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
                into.merge(new String(m.getBody(), StandardCharsets.UTF_8), 1, Integer::sum);
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        c.start();
        return c;
    }

    /**
     * Sends BATCH messages; each one is retried until it is SEND_OK (FLUSH_SLAVE_TIMEOUT / SLAVE_NOT_AVAILABLE and
     * send failures are not acknowledgements) on {@code expectBroker}'s queues, within {@code millis} in all.
     */
    static void sendBatch(String label, String expectBroker, long millis) throws Exception {
        long deadline = System.currentTimeMillis() + millis;
        String lastProblem = "";
        for (int i = 0; i < BATCH; i++) {
            String body = label + "-" + i;
            while (true) {
                try {
                    SendResult r = producer.send(new Message(TOPIC, "TagA", body, body.getBytes(StandardCharsets.UTF_8)));
                    if (r.getSendStatus() == SendStatus.SEND_OK) {
                        acked.add(body);
                        InetSocketAddress store = (InetSocketAddress) MessageDecoder.decodeMessageId(r.getOffsetMsgId())
                            .getAddress();
                        assertEquals(expectBroker.substring(expectBroker.lastIndexOf(':') + 1),
                            String.valueOf(store.getPort()), "message " + body + " stored by the wrong broker: " + r);
                        break;
                    }
                    lastProblem = r.getSendStatus().toString();
                } catch (Exception e) {
                    lastProblem = e.toString();
                }
                if (System.currentTimeMillis() > deadline) {
                    throw new AssertionError("message " + body + " not SEND_OK on " + expectBroker + " within " + millis
                        + " ms; last: " + lastProblem);
                }
                Thread.sleep(200);
            }
        }
    }

    static String missing(Map<String, Integer> got) {
        Set<String> m = new TreeSet<>(acked);
        m.removeAll(got.keySet());
        return m.size() + " of " + acked.size() + " " + (m.size() > 10 ? List.copyOf(m).subList(0, 10) + "..." : m);
    }

    static RemotingCommand replicaInfo() throws Exception {
        RemotingCommand request = RemotingCommand.createRequestCommand(RequestCode.CONTROLLER_GET_REPLICA_INFO,
            new GetReplicaInfoRequestHeader(GROUP));
        RemotingCommand r = probe.invokeSync(CTL.servers().controllerAddr(), request, 5_000);
        assertNotNull(r, "no answer to GET_REPLICA_INFO");
        return r;
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
