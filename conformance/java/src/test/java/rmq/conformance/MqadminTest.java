package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.tools.command.MQAdminStartup;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import rmq.conformance.harness.Servers;

/**
 * The official {@code mqadmin} ({@code MQAdminStartup} of the line's rocketmq-tools: 4.9.8 or 5.3.1), run
 * in-process with its output captured, against the servers: each verb must succeed (no exception, no
 * {@code CODE:} error in its output) and print the fields the Java servers print. The same class runs against
 * the oracles ({@code -Drmq.target=java} / {@code java5}), which is what proves the expectations.
 *
 * <p>mqadmin prints its exceptions and returns normally (the process exits 0 either way), so success is read
 * from the output, as an operator reads it.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MqadminTest extends ConformanceBase {
    static final String TOPIC = "MqadminTopic";
    static final String GROUP = "MqadminGroup";
    static final String PRODUCER_GROUP = "MqadminProducerGroup";
    private static final Pattern KV = Pattern.compile("^\\s*([^\\s=:]+)\\s*[=:]\\s*(.*?)\\s*$");

    /** 4.9.x mqadmin configures logback from {@code <rocketmq.home.dir>/conf/logback_tools.xml}; quiet it. */
    @BeforeAll
    static void toolsHome() throws IOException {
        if (System.getProperty("rocketmq.home.dir") == null) {
            Path home = Files.createTempDirectory("rmq-mqadmin-home");
            Files.createDirectories(home.resolve("conf"));
            Files.writeString(home.resolve("conf/logback_tools.xml"),
                "<configuration><root level=\"OFF\"/></configuration>\n", StandardCharsets.UTF_8);
            System.setProperty("rocketmq.home.dir", home.toString());
        }
    }

    /** Runs one verb; returns what it printed (stdout and stderr). */
    static synchronized String mqadmin(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream capture = new PrintStream(buf, true, StandardCharsets.UTF_8);
        System.setOut(capture);
        System.setErr(capture);
        try {
            MQAdminStartup.main0(args, null);
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        String text = buf.toString(StandardCharsets.UTF_8);
        out.println("[mqadmin " + String.join(" ", args) + "]\n" + text);
        return text;
    }

    /** A verb that must succeed: no exception and no error code in its output. */
    static String ok(String... args) {
        String text = mqadmin(args);
        assertFalse(text.contains("Exception") || text.contains("CODE:") || text.contains("not supported"),
            "mqadmin " + String.join(" ", args) + " failed:\n" + text);
        return text;
    }

    /** {@code key = value} / {@code key : value} lines of a verb's output. */
    static Map<String, String> keyValues(String text) {
        Map<String, String> kv = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            Matcher m = KV.matcher(line);
            if (m.matches()) {
                kv.put(m.group(1), m.group(2));
            }
        }
        return kv;
    }

    static String ns() {
        return servers().namesrvAddr();
    }

    static String broker() {
        return servers().brokerAddr();
    }

    @Test
    @Order(1)
    void topicGroupAndMessages() throws Exception {
        assertTrue(ok("updateTopic", "-n", ns(), "-c", Servers.CLUSTER, "-t", TOPIC, "-r", "4", "-w", "4")
            .contains("create topic to " + broker() + " success"));
        assertTrue(ok("updateSubGroup", "-n", ns(), "-c", Servers.CLUSTER, "-g", GROUP)
            .contains("create subscription group to " + broker() + " success"));
        DefaultMQProducer producer = startProducer(PRODUCER_GROUP);
        eventually(20_000, () -> {
            assertTrue(producer.fetchPublishMessageQueues(TOPIC).size() > 0);
            return null;
        });
        for (int i = 0; i < 4; i++) {
            SendResult r = producer.send(new Message(TOPIC, "TagA", "key-" + i, ("mqadmin " + i).getBytes()));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus());
        }
        // a producer heartbeats every 30 s, and at start it knew no broker yet: heartbeat now
        producer.getDefaultMQProducerImpl().getmQClientFactory().sendHeartbeatToAllBrokerWithLock();
        String producers = ok("producer", "-n", ns(), "-b", broker());
        assertTrue(producers.contains("producer group (" + PRODUCER_GROUP + ")"), producers);
    }

    @Test
    @Order(2)
    void brokerConfigGetAndUpdate() {
        Map<String, String> conf = keyValues(ok("getBrokerConfig", "-n", ns(), "-b", broker()));
        for (String key : List.of("brokerClusterName", "brokerName", "brokerId", "listenPort", "brokerIP1",
            "brokerRole", "flushDiskType", "brokerPermission", "autoCreateTopicEnable", "autoCreateSubscriptionGroup",
            "defaultTopicQueueNums", "fileReservedTime", "deleteWhen", "maxMessageSize", "storePathRootDir",
            "mappedFileSizeCommitLog", "messageDelayLevel", "sendMessageThreadPoolNums", "aclEnable",
            "transactionCheckInterval", "enablePropertyFilter", "slaveReadEnable", "namesrvAddr")) {
            assertTrue(conf.containsKey(key), key + " missing from getBrokerConfig: " + conf.keySet());
        }
        assertEquals(Servers.BROKER_NAME, conf.get("brokerName"));
        assertEquals("ASYNC_FLUSH", conf.get("flushDiskType"));

        assertTrue(ok("updateBrokerConfig", "-n", ns(), "-b", broker(), "-k", "fileReservedTime", "-v", "49")
            .contains("update broker config success"));
        assertEquals("49", keyValues(ok("getBrokerConfig", "-n", ns(), "-b", broker())).get("fileReservedTime"));
        // by cluster: every broker of it
        assertTrue(ok("getBrokerConfig", "-n", ns(), "-c", Servers.CLUSTER).contains("brokerName"));
    }

    @Test
    @Order(3)
    void namesrvConfigGetAndUpdate() {
        String before = ok("getNamesrvConfig", "-n", ns());
        assertTrue(keyValues(before).containsKey("orderMessageEnable"), before);
        assertTrue(keyValues(before).containsKey("listenPort"), before);
        assertTrue(ok("updateNamesrvConfig", "-n", ns(), "-k", "orderMessageEnable", "-v", "true")
            .contains("success"));
        assertEquals("true", keyValues(ok("getNamesrvConfig", "-n", ns())).get("orderMessageEnable"));
        ok("updateNamesrvConfig", "-n", ns(), "-k", "orderMessageEnable", "-v", "false");
    }

    @Test
    @Order(4)
    void brokerStatusAndClusterList() {
        Map<String, String> status = keyValues(ok("brokerStatus", "-n", ns(), "-b", broker()));
        // 5.x renamed getTransferedTps, and its tools read the new name
        String transferred = Servers.serverLine() == 5 || Servers.target().equals("rmq") ? "getTransferredTps"
            : "getTransferedTps";
        for (String key : List.of("bootTimestamp", "runtime", "brokerVersion", "brokerVersionDesc", "putTps",
            transferred, "getFoundTps", "getMissTps", "getTotalTps", "msgPutTotalTodayNow",
            "msgGetTotalTodayNow", "msgPutTotalTodayMorning", "msgPutTotalYesterdayMorning", "commitLogDiskRatio",
            "commitLogMinOffset", "commitLogMaxOffset", "consumeQueueDiskRatio", "dispatchBehindBytes",
            "earliestMessageTimeStamp", "putMessageTimesTotal", "putMessageSizeTotal", "putMessageAverageSize",
            "putMessageDistributeTime", "putMessageEntireTimeMax", "putLatency99", "sendThreadPoolQueueSize",
            "sendThreadPoolQueueCapacity", "pullThreadPoolQueueSize", "remainHowManyDataToFlush",
            "commitLogDirCapacity", "pageCacheLockTimeMills")) {
            assertTrue(status.containsKey(key), key + " missing from brokerStatus: " + status.keySet());
        }
        assertTrue(Long.parseLong(status.get("msgPutTotalTodayNow")) >= 4, "puts: " + status);
        assertTrue(Long.parseLong(status.get("putMessageTimesTotal")) >= 4, "puts: " + status);
        double ratio = Double.parseDouble(status.get("commitLogDiskRatio"));
        assertTrue(ratio > 0 && ratio <= 1, "disk ratio " + ratio);

        String clusters = ok("clusterList", "-n", ns());
        String line = clusters.lines().filter(l -> l.contains(broker())).findFirst().orElseThrow();
        assertFalse(line.contains("null"), "clusterList prints nulls for " + broker() + ":\n" + clusters);
        String more = ok("clusterList", "-n", ns(), "-m");
        assertTrue(more.lines().anyMatch(l -> l.contains(Servers.BROKER_NAME)), more);
    }

    @Test
    @Order(5)
    void consumeStatsAndConsumeQueue() {
        String stats = ok("brokerConsumeStats", "-n", ns(), "-b", broker());
        assertTrue(stats.contains("Diff Total:"), stats);

        String cq = ok("queryCq", "-n", ns(), "-b", broker(), "-t", TOPIC, "-q", "0", "-i", "0", "-c", "4");
        assertTrue(cq.contains("max: ") && cq.contains("min: "), cq);
        String all = "";
        for (int q = 0; q < 4; q++) {
            all += ok("queryCq", "-n", ns(), "-b", broker(), "-t", TOPIC, "-q", String.valueOf(q), "-i", "0",
                "-c", "4");
        }
        assertEquals(4, all.split("ConsumeQueueData\\{", -1).length - 1, "4 entries over the 4 queues:\n" + all);
    }

    @Test
    @Order(6)
    void cleaningAndExports(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        assertTrue(ok("cleanExpiredCQ", "-n", ns(), "-c", Servers.CLUSTER).contains("success"));
        assertTrue(ok("cleanUnusedTopic", "-n", ns(), "-c", Servers.CLUSTER).contains("success"));
        // nothing live was cleaned
        String cq = ok("queryCq", "-n", ns(), "-b", broker(), "-t", TOPIC, "-q", "0", "-i", "0", "-c", "4");
        assertTrue(cq.contains("max: "), cq);

        assertTrue(ok("exportMetadata", "-n", ns(), "-c", Servers.CLUSTER, "-f", dir.resolve("meta").toString())
            .contains("success"));
        assertTrue(Files.readString(dir.resolve("meta/metadata.json")).contains(TOPIC));
        assertTrue(ok("exportConfigs", "-n", ns(), "-c", Servers.CLUSTER, "-f", dir.resolve("conf").toString())
            .contains("success"));
        assertTrue(Files.readString(dir.resolve("conf/configs.json")).contains("brokerConfigs"));
        ok("statsAll", "-n", ns());
        // VIEW_BROKER_STATS_DATA TOPIC_PUT_NUMS: the topic's line counts the four sends of order 1 (a
        // Java broker samples its statistics every 10 s and shows them a minute later; rmq at once)
        String line = ok("statsAll", "-n", ns(), "-t", TOPIC).lines()
            .filter(l -> l.startsWith(TOPIC)).findFirst().orElseThrow();
        String[] cols = line.trim().split("\\s+");
        if (Servers.target().equals("rmq")) {
            assertEquals("4", cols[cols.length - 2], "#InMsg24Hour of " + line);
            // #Topic [#Consumer Group] #Accumulation #InTPS [#OutTPS] #InMsg24Hour #OutMsg24Hour|NO_CONSUMER
            int inTps = cols.length == 7 ? 3 : 2;
            assertTrue(Double.parseDouble(cols[inTps]) > 0, "#InTPS of " + line);
        }
    }

    @Test
    @Order(7)
    void haStatus() {
        assumeTrue(Servers.clientLine() == 5, "haStatus is a verb of the 5.x tools");
        // a master without a slave: its address and max offset, no slave connection
        String out = ok("haStatus", "-n", ns(), "-b", broker());
        assertTrue(out.contains("#MasterAddr\t" + broker()), out);
        assertTrue(out.contains("#SlaveNum\t0") && out.contains("#InSyncSlaveNum\t0"), out);
        assertTrue(out.contains("#MasterCommitLogMaxOffset\t"), out);
    }

    @Test
    @Order(9)
    void liveConsumerConnectionAndStatus() throws Exception {
        String group = "MqadminLiveGroup";
        ok("updateSubGroup", "-n", ns(), "-c", Servers.CLUSTER, "-g", group);
        DefaultMQPushConsumer consumer = newPushConsumer(group);
        consumer.subscribe(TOPIC, "TagA || TagB");
        consumer.registerMessageListener(
            (MessageListenerConcurrently) (msgs, ctx) -> ConsumeConcurrentlyStatus.CONSUME_SUCCESS);
        consumer.start();
        var factory = consumer.getDefaultMQPushConsumerImpl().getmQClientFactory();
        String clientId = factory.getClientId();
        factory.sendHeartbeatToAllBrokerWithLock();
        // consumerConnection: the broker's view of the live client (GET_CONSUMER_CONNECTION_LIST)
        String conn = eventually(20_000, () -> {
            String out = ok("consumerConnection", "-n", ns(), "-g", group);
            assertTrue(out.contains(clientId), out);
            return out;
        });
        assertTrue(conn.contains("JAVA"), conn);
        assertTrue(conn.contains(TOPIC) && conn.contains("TagA || TagB"), conn);
        assertTrue(conn.contains("ConsumeType: CONSUME_PASSIVELY"), conn);
        assertTrue(conn.contains("MessageModel: CLUSTERING"), conn);
        assertTrue(conn.contains("ConsumeFromWhere: CONSUME_FROM_FIRST_OFFSET"), conn);
        // consumerStatus -i: GET_CONSUMER_RUNNING_INFO through the broker to the client and back (without -i
        // mqadmin writes a file per client into the working directory)
        // (read with mqadmin(), not ok(): a client property is named pullTimeDelayMillsWhenException)
        String status = eventually(20_000, () -> {
            String out = mqadmin("consumerStatus", "-n", ns(), "-g", group, "-i", clientId);
            assertFalse(out.contains("CODE:") || out.contains("SubCommandException"), out);
            assertTrue(out.contains("#Consumer MQ Detail#") && out.contains(TOPIC), out);
            return out;
        });
        assertTrue(status.contains("#Consumer Properties#"), status);
        assertTrue(status.contains("#Consumer Subscription#"), status);
        assertTrue(status.contains("TagA || TagB"), status);
    }

    @Test
    @Order(8)
    void commitLogReadAheadMode() {
        assumeTrue(Servers.clientLine() == 5, "setCommitLogReadAheadMode is a verb of the 5.x tools");
        // 1 = MADV_RANDOM (no read-ahead), 0 = MADV_NORMAL; the broker answers with its remark
        String out = ok("setCommitLogReadAheadMode", "-n", ns(), "-b", broker(), "-m", "1");
        assertTrue(out.contains("============" + broker() + "============"), out);
        assertTrue(out.contains("commitLog set readAhead mode rstStrset commitlog readahead mode success, mode: 1"), out);
        out = ok("setCommitLogReadAheadMode", "-n", ns(), "-b", broker(), "-m", "0");
        assertTrue(out.contains("set commitlog readahead mode success, mode: 0"), out);
        out = ok("setCommitLogReadAheadMode", "-n", ns(), "-b", broker(), "-m", "3");
        assertTrue(out.contains("set the read mode error; 0 is default, 1 random read"), out);
    }
}
