package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static rmq.conformance.MqadminTest.mqadmin;
import static rmq.conformance.MqadminTest.ok;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import rmq.conformance.harness.Servers;

/**
 * The rest of the official {@code mqadmin}'s verbs (those {@link MqadminTest} does not run), in-process, against
 * the servers: topics and routes, message queries and prints, sends, consumer progress and offsets, the name
 * server's KV and order configuration, write permission, and the 5.x-only list/mode/cold-read verbs. Each verb must
 * succeed as on the Java servers of the line and print the same fields; the same class runs against the oracles
 * ({@code -Drmq.target=java} / {@code java5}). Verbs left out, and why: docs/broker/admin.md "mqadmin verbs".
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MqadminSweepTest extends ConformanceBase {
    static final String TOPIC = "SweepTopic";
    static final String GROUP = "SweepGroup";
    static final String PRODUCER_GROUP = "SweepProducerGroup";
    static final int QUEUES = 2;
    /** What the producer of {@link #sendsAndProducers} stored: offset message ids and unique (client) ids. */
    static final List<String> OFFSET_IDS = new ArrayList<>();
    static final List<String> UNIQUE_IDS = new ArrayList<>();

    @BeforeAll
    static void toolsHome() throws IOException {
        MqadminTest.toolsHome();
    }

    static String ns() {
        return servers().namesrvAddr();
    }

    static String broker() {
        return servers().brokerAddr();
    }

    @Test
    @Order(1)
    void sendsAndProducers() throws Exception {
        assertTrue(ok("updateTopic", "-n", ns(), "-c", Servers.CLUSTER, "-t", TOPIC, "-r", String.valueOf(QUEUES),
            "-w", String.valueOf(QUEUES)).contains("success"));
        assertTrue(ok("updateSubGroup", "-n", ns(), "-c", Servers.CLUSTER, "-g", GROUP).contains("success"));
        DefaultMQProducer producer = startProducer(PRODUCER_GROUP);
        eventually(20_000, () -> {
            assertEquals(QUEUES, producer.fetchPublishMessageQueues(TOPIC).size());
            return null;
        });
        for (int i = 0; i < 4; i++) {
            SendResult r = producer.send(new Message(TOPIC, "TagA", "sweep-key-" + i, ("sweep " + i).getBytes()));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus());
            OFFSET_IDS.add(r.getOffsetMsgId());
            UNIQUE_IDS.add(r.getMsgId());
        }
        producer.getDefaultMQProducerImpl().getmQClientFactory().sendHeartbeatToAllBrokerWithLock();
        String conn = ok("producerConnection", "-n", ns(), "-g", PRODUCER_GROUP, "-t", TOPIC);
        String clientId = producer.getDefaultMQProducerImpl().getmQClientFactory().getClientId();
        assertTrue(conn.contains(clientId) && conn.contains("JAVA"), conn);

        // (once per JVM: the command keeps its producer, shut down after the first run)
        String sent = ok("sendMessage", "-n", ns(), "-t", TOPIC, "-p", "from mqadmin", "-k", "sweep-key-x",
            "-c", "TagB", "-b", Servers.BROKER_NAME, "-i", "0");
        assertTrue(sent.contains("#Broker Name") && sent.contains(Servers.BROKER_NAME)
            && sent.contains("SEND_OK"), sent);

        String rt = ok("checkMsgSendRT", "-n", ns(), "-t", TOPIC, "-a", "3", "-s", "16");
        assertTrue(rt.contains("#Broker Name") && rt.contains("#Send Result") && rt.contains("Avg RT"), rt);
        // clusterRT loops until killed: the official tool in a child JVM, its first round read, then killed
        String round = firstClusterRtRound();
        assertTrue(round.contains("#Cluster Name") && round.contains("#successCount"), round);
        String row = round.lines().filter(l -> l.startsWith(Servers.CLUSTER)).findFirst().orElseThrow(() ->
            new AssertionError("no broker row:\n" + round));
        String[] cols = row.trim().split("\\s+");
        assertEquals(List.of(Servers.CLUSTER, Servers.BROKER_NAME, "3", "0"),
            List.of(cols[0], cols[1], cols[3], cols[4]), row);

        // sendMsgStatus sends to the topic named after the broker (brokerTopicEnable)
        String status = ok("sendMsgStatus", "-n", ns(), "-b", Servers.BROKER_NAME, "-s", "16", "-c", "2");
        assertTrue(status.contains("SEND_OK"), status);
    }

    @Test
    @Order(2)
    void topicsAndRoutes() {
        String route = ok("topicRoute", "-n", ns(), "-t", TOPIC);
        for (String key : List.of("\"brokerDatas\"", "\"queueDatas\"", "\"brokerAddrs\"", "\"readQueueNums\":2",
            "\"writeQueueNums\":2", "\"perm\":6", "\"" + Servers.BROKER_NAME + "\"")) {
            assertTrue(route.contains(key), key + " missing from topicRoute:\n" + route);
        }
        if (Servers.clientLine() == 5) {
            String list = ok("topicRoute", "-n", ns(), "-t", TOPIC, "-l");
            assertTrue(list.contains("#ClusterName") && list.contains(Servers.BROKER_NAME), list);
        }
        String status = ok("topicStatus", "-n", ns(), "-t", TOPIC);
        assertTrue(status.contains("#Broker Name") && status.contains("#Max Offset")
            && status.contains("#Last Updated"), status);
        assertEquals(QUEUES, status.lines().filter(l -> l.startsWith(Servers.BROKER_NAME)).count(), status);

        assertTrue(ok("topicClusterList", "-n", ns(), "-t", TOPIC).contains(Servers.CLUSTER));
        String topics = ok("topicList", "-n", ns());
        assertTrue(topics.lines().anyMatch(l -> l.trim().equals(TOPIC)), topics);
        String clustered = ok("topicList", "-n", ns(), "-c");
        assertTrue(clustered.contains("#Cluster Name") && clustered.contains("#Consumer Group"), clustered);
        assertTrue(clustered.lines().anyMatch(l -> l.contains(Servers.CLUSTER) && l.contains(TOPIC)), clustered);
        // no POP yet: the revive log has no consumer group (its offset is committed once the log moves)
        assertFalse(clustered.contains("CID_RMQ_SYS_REVIVE_GROUP"), clustered);

        String allocation = ok("allocateMQ", "-n", ns(), "-t", TOPIC, "-i", "10.0.0.1,10.0.0.2");
        assertTrue(allocation.contains("\"result\"") && allocation.contains("10.0.0.1"), allocation);
    }

    @Test
    @Order(3)
    void topicPermAndDelete() throws Exception {
        String topic = "SweepPermTopic";
        ok("updateTopic", "-n", ns(), "-c", Servers.CLUSTER, "-t", topic, "-r", "1", "-w", "1");
        String perm = ok("updateTopicPerm", "-n", ns(), "-c", Servers.CLUSTER, "-t", topic, "-p", "4");
        assertTrue(perm.contains("update topic perm from 6 to 4 in " + broker() + " success"), perm);
        eventually(20_000, () -> {
            String route = ok("topicRoute", "-n", ns(), "-t", topic);
            assertTrue(route.contains("\"perm\":4"), route);
            return null;
        });
        String same = ok("updateTopicPerm", "-n", ns(), "-b", broker(), "-t", topic, "-p", "4");
        assertTrue(same.contains("new perm equals to the old one"), same);

        String deleted = ok("deleteTopic", "-n", ns(), "-c", Servers.CLUSTER, "-t", topic);
        assertTrue(deleted.contains("delete topic [" + topic + "] from cluster [" + Servers.CLUSTER + "] success"),
            deleted);
        assertTrue(deleted.contains("delete topic [" + topic + "] from NameServer success"), deleted);
        String after = mqadmin("topicRoute", "-n", ns(), "-t", topic);
        assertTrue(after.contains("No topic route info"), after);
    }

    @Test
    @Order(4)
    void messageQueries() throws Exception {
        String offsetId = OFFSET_IDS.get(0);
        // (the 4.9 tools' queryMsgById has no -t; an unknown option makes mqadmin call System.exit)
        String byId = eventually(20_000, () -> Servers.clientLine() == 5
            ? ok("queryMsgById", "-n", ns(), "-t", TOPIC, "-i", offsetId)
            : ok("queryMsgById", "-n", ns(), "-i", offsetId));
        assertMessageFields(byId);
        assertTrue(byId.contains("OffsetID:") && byId.contains("sweep-key-0"), byId);

        String byUnique = eventually(20_000, () -> ok("queryMsgByUniqueKey", "-n", ns(), "-t", TOPIC,
            "-i", UNIQUE_IDS.get(1)));
        assertMessageFields(byUnique);
        assertTrue(byUnique.contains("sweep-key-1"), byUnique);

        String byKey = eventually(20_000, () -> {
            String out = ok("queryMsgByKey", "-n", ns(), "-t", TOPIC, "-k", "sweep-key-2");
            assertTrue(out.contains(UNIQUE_IDS.get(2)), out);
            return out;
        });
        assertTrue(byKey.contains("#Message ID") && byKey.contains("#QID") && byKey.contains("#Offset"), byKey);

        String byOffset = ok("queryMsgByOffset", "-n", ns(), "-t", TOPIC, "-b", Servers.BROKER_NAME, "-i", "0",
            "-o", "0");
        assertMessageFields(byOffset);

        // without a trace topic the query fails alike on both sides (no route for RMQ_SYS_TRACE_TOPIC)
        String noTrace = mqadmin("queryMsgTraceById", "-n", ns(), "-i", UNIQUE_IDS.get(0));
        assertTrue(noTrace.contains("CODE: 17") && noTrace.contains("RMQ_SYS_TRACE_TOPIC"), noTrace);
    }

    @Test
    @Order(5)
    void messageTrace() throws Exception {
        // a producer with message trace on, tracing into its own topic: the trace record is a message keyed by
        // the traced message's id, found by QUERY_MESSAGE and decoded by the tool
        String traceTopic = "SweepTraceTopic";
        ok("updateTopic", "-n", ns(), "-c", Servers.CLUSTER, "-t", traceTopic, "-r", "1", "-w", "1");
        DefaultMQProducer traced = new DefaultMQProducer(PRODUCER_GROUP + "Traced", true, traceTopic);
        traced.setNamesrvAddr(ns());
        traced.setInstanceName(uniqueInstance());
        traced.start();
        afterTest(traced::shutdown);
        SendResult r = traced.send(new Message(TOPIC, "TagT", "sweep-traced", "traced".getBytes()));
        assertEquals(SendStatus.SEND_OK, r.getSendStatus());
        String trace = eventually(30_000, () -> {
            String out = ok("queryMsgTraceById", "-n", ns(), "-i", r.getMsgId(), "-t", traceTopic);
            assertTrue(out.lines().anyMatch(l -> l.startsWith("Pub ")), out);
            return out;
        });
        assertTrue(trace.contains("#Type") && trace.contains("#ProducerGroup") && trace.contains("#CostTimes")
            && trace.contains(PRODUCER_GROUP + "Traced") && trace.contains("success"), trace);
    }

    /** The fields queryMsgById / queryMsgByUniqueKey / queryMsgByOffset print for a message. */
    /** The official {@code clusterRT -a 3 -i 60} in a child JVM, up to its first broker row; then killed. */
    static String firstClusterRtRound() throws Exception {
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(javaBin.toString(), "-cp", System.getProperty("java.class.path"),
            "-Drocketmq.home.dir=" + System.getProperty("rocketmq.home.dir"),
            "org.apache.rocketmq.tools.command.MQAdminStartup", "clusterRT", "-n", ns(), "-a", "3", "-s", "16",
            "-i", "60")
            .redirectErrorStream(true)
            .start();
        StringBuilder out = new StringBuilder();
        try (java.io.BufferedReader r = new java.io.BufferedReader(
            new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            java.util.concurrent.Future<?> reading = java.util.concurrent.Executors.newSingleThreadExecutor().submit(
                () -> {
                    String line;
                    while ((line = r.readLine()) != null) {
                        out.append(line).append('\n');
                        if (line.startsWith(Servers.CLUSTER)) {
                            return null;
                        }
                    }
                    return null;
                });
            reading.get(60, java.util.concurrent.TimeUnit.SECONDS);
        } finally {
            p.destroyForcibly();
        }
        System.out.println("[mqadmin clusterRT, first round]\n" + out);
        return out.toString();
    }

    static void assertMessageFields(String out) {
        for (String key : List.of("Topic:", "Tags:", "Keys:", "Queue ID:", "Queue Offset:",
            "CommitLog Offset:", "Reconsume Times:", "Born Timestamp:", "Store Timestamp:", "Born Host:",
            "Store Host:", "System Flag:", "Properties:", "Message Body Path:")) {
            assertTrue(out.contains(key), key + " missing:\n" + out);
        }
        assertTrue(out.contains(TOPIC), out);
    }

    @Test
    @Order(6)
    void printsAndPulls() {
        String printed = ok("printMsg", "-n", ns(), "-t", TOPIC, "-d", "true");
        assertTrue(printed.contains("minOffset=") && printed.contains("maxOffset="), printed);
        assertTrue(printed.contains("MSGID:") && printed.contains("BODY: sweep 0"), printed);

        String byQueue = ok("printMsgByQueue", "-n", ns(), "-t", TOPIC, "-a", Servers.BROKER_NAME, "-i", "0",
            "-p", "true", "-d", "true", "-f", "true");
        assertTrue(byQueue.contains("MSGID:"), byQueue);
        assertTrue(byQueue.contains("TagA"), byQueue);

        String consumed = ok("consumeMessage", "-n", ns(), "-t", TOPIC, "-b", Servers.BROKER_NAME, "-i", "0",
            "-o", "0", "-c", "1");
        assertTrue(consumed.contains("Consume ok"), consumed);
    }

    @Test
    @Order(7)
    void consumerOffsets() throws Exception {
        // a group that consumed everything, offline by the end: its offsets are committed on shutdown
        Set<String> seen = ConcurrentHashMap.newKeySet();
        DefaultMQPushConsumer consumer = newPushConsumer(GROUP);
        consumer.subscribe(TOPIC, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            msgs.forEach(m -> seen.add(m.getMsgId()));
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();
        eventually(30_000, () -> {
            assertTrue(seen.containsAll(UNIQUE_IDS), "consumed " + seen);
            return null;
        });
        // commit now rather than at the next 5 s round
        consumer.getDefaultMQPushConsumerImpl().persistConsumerOffset();
        consumer.getDefaultMQPushConsumerImpl().getmQClientFactory().sendHeartbeatToAllBrokerWithLock();
        // a row per queue once the committed offsets are in
        String online = eventually(20_000, () -> {
            String out = ok("consumerProgress", "-n", ns(), "-g", GROUP);
            assertEquals(QUEUES, out.lines().filter(l -> l.startsWith(TOPIC)).count(), out);
            return out;
        });
        assertTrue(online.contains("#Topic") && online.contains("#Broker Offset") && online.contains("#Consumer Offset")
            && online.contains("#Diff") && online.contains("#LastTime") && online.contains("Consume TPS:"), online);
        String all = ok("consumerProgress", "-n", ns());
        assertTrue(all.contains("#Group") && all.contains("#Count") && all.contains("#Model")
            && all.contains(GROUP), all);
        consumer.shutdown();

        String config = ok("getConsumerConfig", "-n", ns(), "-g", GROUP);
        assertTrue(config.contains("groupName") && config.contains(GROUP) && config.contains("consumeEnable"), config);

        ok("updateSubGroup", "-n", ns(), "-c", Servers.CLUSTER, "-g", "SweepCloneGroup");
        String clone = ok("cloneGroupOffset", "-n", ns(), "-s", GROUP, "-d", "SweepCloneGroup", "-t", TOPIC,
            "-o", "true");
        assertTrue(clone.contains("clone group offset success"), clone);

        // The group is offline. A 4.9 broker (and rmq) answers INVOKE_BROKER_TO_RESET_OFFSET with
        // CONSUMER_NOT_ONLINE, and the tool rewrites the committed offsets itself, printing
        // #brokerName #queueId #brokerOffset #consumerOffset #timestampOffset #rollbackOffset; a 5.x broker resets
        // them itself (useServerSideResetOffset) and the tool prints #brokerName #queueId #offset (ResetOffsetTest).
        String reset = ok("resetOffsetByTime", "-n", ns(), "-g", GROUP, "-t", TOPIC, "-s", "0");
        Map<String, String> resetTo = offsetRows(reset);
        assertEquals(Map.of("0", "0", "1", "0"), resetTo, "reset to the offsets at time 0:\n" + reset);
        String skip = ok("skipAccumulatedMessage", "-n", ns(), "-g", GROUP, "-t", TOPIC);
        assertEquals(maxOffsets(), offsetRows(skip), "skipped to the broker's offsets:\n" + skip);

        String deleted = ok("deleteSubGroup", "-n", ns(), "-c", Servers.CLUSTER, "-g", "SweepCloneGroup");
        assertTrue(deleted.contains("delete subscription group [SweepCloneGroup] from broker [" + broker()
            + "] in cluster [" + Servers.CLUSTER + "] success"), deleted);
    }

    /**
     * Queue id -> the offset set, from the rows of resetOffsetByTime / skipAccumulatedMessage: the last column of
     * six (the tool's own rewrite) or of three (a 5.x broker's server-side reset); the broker's name first.
     */
    static Map<String, String> offsetRows(String out) {
        Map<String, String> rows = new TreeMap<>();
        for (String line : out.split("\n")) {
            String[] cols = line.trim().split("\\s+");
            if ((cols.length == 6 || cols.length == 3) && cols[0].equals(Servers.BROKER_NAME)) {
                rows.put(cols[1], cols[cols.length - 1]);
            }
        }
        return rows;
    }

    /** Queue id -> max offset of {@link #TOPIC}, from topicStatus. */
    static Map<String, String> maxOffsets() {
        Map<String, String> max = new TreeMap<>();
        for (String line : ok("topicStatus", "-n", ns(), "-t", TOPIC).split("\n")) {
            String[] cols = line.trim().split("\\s+");
            if (cols.length >= 4 && cols[0].equals(Servers.BROKER_NAME)) {
                max.put(cols[1], cols[3]);
            }
        }
        return max;
    }

    @Test
    @Order(8)
    void namesrvKvAndOrderConf() {
        assertTrue(ok("updateKvConfig", "-n", ns(), "-s", "SweepNamespace", "-k", "k1", "-v", "v1")
            .contains("create or update kv config to namespace success"));
        assertTrue(ok("deleteKvConfig", "-n", ns(), "-s", "SweepNamespace", "-k", "k1")
            .contains("delete kv config from namespace success"));

        String put = ok("updateOrderConf", "-n", ns(), "-t", TOPIC, "-m", "put", "-v", Servers.BROKER_NAME + ":2");
        assertTrue(put.contains("update orderConf success"), put);
        String get = ok("updateOrderConf", "-n", ns(), "-t", TOPIC, "-m", "get");
        assertTrue(get.contains("get orderConf success") && get.contains(Servers.BROKER_NAME + ":2"), get);
        String delete = ok("updateOrderConf", "-n", ns(), "-t", TOPIC, "-m", "delete");
        assertTrue(delete.contains("delete orderConf success. topic=[" + TOPIC + "]"), delete);
    }

    @Test
    @Order(9)
    void writePermission() {
        // OK, <the number of the broker's topics whose queue data changed>
        String wipe = ok("wipeWritePerm", "-n", ns(), "-b", Servers.BROKER_NAME);
        assertTrue(wipe.matches("(?s).*wipe write perm of broker\\[" + Servers.BROKER_NAME + "\\] in name server\\["
            + ns() + "\\] OK, [1-9][0-9]*\n.*"), wipe);
        String add = ok("addWritePerm", "-n", ns(), "-b", Servers.BROKER_NAME);
        assertTrue(add.matches("(?s).*add write perm of broker\\[" + Servers.BROKER_NAME + "\\] in name server\\["
            + ns() + "\\] OK, [1-9][0-9]*\n.*"), add);
    }

    @Test
    @Order(10)
    void brokerMaintenance(@TempDir Path dir) throws IOException {
        String expired = ok("deleteExpiredCommitLog", "-n", ns(), "-c", Servers.CLUSTER);
        assertTrue(expired.contains("success"), expired);
        String metrics = ok("exportMetrics", "-n", ns(), "-c", Servers.CLUSTER, "-f", dir.toString());
        assertTrue(metrics.contains("success"), metrics);
        String json = Files.readString(dir.resolve("metrics.json"));
        for (String key : List.of("\"totalData\"", "\"evaluateReport\"", "\"" + Servers.BROKER_NAME + "\"",
            "\"runtimeVersion\"", "\"runtimeQuota\"", "\"commitLogDiskRatio\"", "\"topicSize\"",
            "\"groupSize\"", "\"messageAverageSize\"", "\"runtimeEnv\"", "\"cpuNum\"")) {
            assertTrue(json.contains(key), key + " missing from metrics.json:\n" + json);
        }
    }

    @Test
    @Order(11)
    void lists5(@TempDir Path dir) throws Exception {
        assumeTrue(Servers.clientLine() == 5, "updateTopicList / updateSubGroupList are verbs of the 5.x tools");
        Path topics = dir.resolve("topics.json");
        Files.writeString(topics, "[{\"topicName\":\"SweepListTopicA\",\"readQueueNums\":2,\"writeQueueNums\":2,"
            + "\"perm\":6},{\"topicName\":\"SweepListTopicB\",\"readQueueNums\":1,\"writeQueueNums\":1,\"perm\":6}]",
            StandardCharsets.UTF_8);
        String t = ok("updateTopicList", "-n", ns(), "-c", Servers.CLUSTER, "-f", topics.toString());
        assertTrue(t.contains("success"), t);
        eventually(20_000, () -> ok("topicRoute", "-n", ns(), "-t", "SweepListTopicB"));

        Path groups = dir.resolve("groups.json");
        Files.writeString(groups, "[{\"groupName\":\"SweepListGroupA\"},{\"groupName\":\"SweepListGroupB\","
            + "\"retryMaxTimes\":3}]", StandardCharsets.UTF_8);
        String g = ok("updateSubGroupList", "-n", ns(), "-c", Servers.CLUSTER, "-f", groups.toString());
        assertTrue(g.contains("success"), g);
        String conf = ok("getConsumerConfig", "-n", ns(), "-g", "SweepListGroupB");
        // what the file leaves out takes SubscriptionGroupConfig's defaults (consumeBroadcastEnable=true)
        var kv = MqadminTest.keyValues(conf);
        assertEquals("3", kv.get("retryMaxTimes"), conf);
        assertEquals("true", kv.get("consumeBroadcastEnable"), conf);
        assertEquals("true", kv.get("consumeFromMinEnable"), conf);
    }

    @Test
    @Order(12)
    void consumeModeAndColdRead5() {
        assumeTrue(Servers.clientLine() == 5, "setConsumeMode and the cold-read verbs are verbs of the 5.x tools");
        String pop = ok("setConsumeMode", "-n", ns(), "-c", Servers.CLUSTER, "-t", TOPIC, "-g", GROUP, "-m", "POP",
            "-q", "1");
        assertTrue(pop.contains("success"), pop);
        String pull = ok("setConsumeMode", "-n", ns(), "-c", Servers.CLUSTER, "-t", TOPIC, "-g", GROUP, "-m", "PULL");
        assertTrue(pull.contains("success"), pull);

        // a master ignores it (a slave takes it as its master's flushed offset)
        String flush = ok("resetMasterFlushOffset", "-n", ns(), "-b", broker(), "-o", "0");
        assertTrue(flush.contains("reset master flush offset to 0 success"), flush);

        // cold-read flow control: the per-group thresholds, shown with the broker's defaults
        String cold = ok("getColdDataFlowCtrInfo", "-n", ns(), "-c", Servers.CLUSTER);
        assertTrue(cold.contains("============Master: " + broker() + "============"), cold);
        for (String key : List.of("\"configTable\":{}", "\"runtimeTable\"", "\"globalAcc\"",
            "\"cgColdReadThreshold\":3145728", "\"globalColdReadThreshold\":104857600")) {
            assertTrue(cold.contains(key), key + " missing:\n" + cold);
        }
        String up = ok("updateColdDataFlowCtrGroupConfig", "-n", ns(), "-c", Servers.CLUSTER, "-g", GROUP,
            "-v", "1000");
        assertTrue(up.contains("updateColdDataFlowCtrGroupConfig success, " + broker()), up);
        String set = ok("getColdDataFlowCtrInfo", "-n", ns(), "-b", broker());
        assertTrue(set.replaceAll("\\s", "").contains("\"configTable\":{\"" + GROUP + "\":1000}"), set);
        String rm = ok("removeColdDataFlowCtrGroupConfig", "-n", ns(), "-c", Servers.CLUSTER, "-g", GROUP);
        assertTrue(rm.contains("remove broker cold read threshold success, " + broker()), rm);
        assertTrue(ok("getColdDataFlowCtrInfo", "-n", ns(), "-b", broker()).contains("\"configTable\":{}"));

        // CHECK_ROCKSDB_CQ_WRITE_PROGRESS: a store without RocksDB consume-queue double writes (Java's default,
        // rmq's only mode) says the check does not apply
        String rocks = ok("checkRocksdbCqWriteProgress", "-n", ns(), "-c", Servers.CLUSTER, "-t", TOPIC);
        assertTrue(rocks.contains("rocksdbCQWriteEnable is false, checkRocksdbCqWriteProgressCommand is invalid"),
            rocks);

        // A broker is not a broker container: ADD_BROKER / REMOVE_BROKER refused alike
        String add = mqadmin("addBroker", "-c", broker(), "-b", "/nonexistent/broker.conf");
        assertTrue(add.contains("AddBrokerSubCommand command failed") && add.contains("902 not supported"), add);
        String remove = mqadmin("removeBroker", "-c", broker(), "-b", Servers.CLUSTER + ":broker-x:0");
        assertTrue(remove.contains("RemoveBrokerSubCommand command failed") && remove.contains("903 not supported"),
            remove);
    }

    @Test
    @Order(13)
    void dumpCompactionLog5(@TempDir Path tmp) throws Exception {
        assumeTrue(Servers.clientLine() == 5, "dumpCompactionLog is a verb of the 5.x tools");
        // The official tool decodes the broker's own commitlog: its written part (the tool would loop on the
        // zeros of a preallocated segment), copied out of the first segment.
        long written = Long.parseLong(startAdmin().fetchBrokerRuntimeStats(broker()).getTable()
            .get("commitLogMaxOffset"));
        assertTrue(written > 0, "something stored");
        Path segment = servers().brokerStoreDir().resolve("commitlog/00000000000000000000");
        byte[] bytes;
        try (java.io.RandomAccessFile file = new java.io.RandomAccessFile(segment.toFile(), "r")) {
            bytes = new byte[(int) Math.min(written, file.length())];
            file.readFully(bytes);
        }
        Path part = tmp.resolve("written.log");
        Files.write(part, bytes);
        String dump = ok("dumpCompactionLog", "-f", part.toString());
        assertTrue(dump.contains("MessageExt [") && dump.contains("topic='" + TOPIC + "'"), dump);
    }
}
