package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.alibaba.fastjson.JSON;
import com.alibaba.fastjson.JSONObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;

/**
 * Not a conformance test (no "Test" suffix: Surefire only runs it when named with -Dtest): drives the servers
 * with the 5.3.1 client through tools/wiretap.py and copies the request/response frames of the calls a 5.x
 * client makes into {@code -Drmq.golden.dir} (conformance/golden/5.x), for the Rust tests. Run it against the
 * 5.x oracle:
 *
 * <pre>
 * mvn -f conformance/java/pom.xml -Poracle5 -Drmq.client=5 -Drmq.target=java5 -Drmq.wiretap=true \
 *     -Dtest=GoldenCapture -Drmq.golden.dir=$PWD/conformance/golden/5.x test
 * </pre>
 *
 * (against rmq it captures rmq's answers instead, e.g. into /tmp, to compare). For each capture it writes
 * {@code <name>.request.json} / {@code <name>.response.json} (the decoded header), {@code .bin} (the body, when
 * there is one) and {@code .frame} (the whole frame as sent: length, serialize type + header length, header, body).
 */
class GoldenCapture extends ConformanceBase {
    private static final String TOPIC = "GoldenTopic";
    private static final String GROUP = "golden_lite_group";

    private final List<String> written = new ArrayList<>();

    @Test
    void capture() throws Exception {
        assertTrue(Boolean.getBoolean("rmq.wiretap"), "needs -Drmq.wiretap=true");
        Path out = Paths.get(System.getProperty("rmq.golden.dir", "target/golden")).toAbsolutePath();
        Files.createDirectories(out);
        Wiretap tap = new Wiretap(servers().logDir());

        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, TOPIC, 4);
        MessageQueue q0 = new MessageQueue(TOPIC, servers().brokerName(), 0);

        // SEND_MESSAGE_V2 (310) as the 5.3.1 producer sends it, and the broker's answer
        DefaultMQProducer producer = startProducer("golden_producer");
        int mark = tap.mark();
        for (int i = 0; i < 10; i++) {
            Message m = new Message(TOPIC, "TagA", "key-" + i, ("golden " + i).getBytes(StandardCharsets.UTF_8));
            m.putUserProperty("golden", "yes");
            SendResult r = producer.send(m, q0);
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
        }
        written.addAll(tap.copy(mark, "broker", 310, 0, out, "send_message_v2"));

        // GET_ROUTEINFO_BY_TOPIC (105) on the name server
        mark = tap.mark();
        assertNotNull(admin.examineTopicRouteInfo(TOPIC));
        written.addAll(tap.copy(mark, "ns", 105, 0, out, "get_routeinfo_by_topic"));

        // GET_TOPIC_CONFIG (351), as DefaultMQAdminExt.examineConsumeStats sends it for every topic of its result;
        // servers().brokerAddr() is the broker itself, so go to the proxy's broker address with the admin's client API
        String proxiedBroker = tap.proxiedBrokerAddr();
        var api = admin.getDefaultMQAdminExtImpl().getMqClientInstance().getMQClientAPIImpl();
        mark = tap.mark();
        api.getTopicConfig(proxiedBroker, TOPIC, 10_000);
        written.addAll(tap.copy(mark, "broker", 351, 0, out, "get_topic_config"));
        mark = tap.mark();
        MQBrokerException missing = assertThrows(MQBrokerException.class,
            () -> api.getTopicConfig(proxiedBroker, "NoSuchGoldenTopic", 10_000));
        assertEquals(17, missing.getResponseCode(), missing.toString());
        written.addAll(tap.copy(mark, "broker", 351, 0, out, "get_topic_config_topic_not_exist"));

        // LITE_PULL_MESSAGE (361): DefaultLitePullConsumer, assign + seek(5) + poll
        DefaultLitePullConsumer lite = startLitePullConsumer(GROUP);
        lite.assign(List.of(q0));
        lite.seek(q0, 5);
        mark = tap.mark();
        List<MessageExt> got = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 30_000;
        while (got.size() < 5 && System.currentTimeMillis() < deadline) {
            got.addAll(lite.poll(1_000));
        }
        assertEquals(5, got.size(), "polled after seek(5): " + got);
        written.addAll(tap.copy(mark, "broker", 361, 0, out, "lite_pull_message"));

        // HEART_BEAT (34) of a 5.3.1 push consumer, and GET_CONSUME_STATS (208) as examineConsumeStats sends it
        DefaultMQPushConsumer push = newPushConsumer("golden_push_group");
        push.subscribe(TOPIC, "*");
        push.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) ->
            ConsumeConcurrentlyStatus.CONSUME_SUCCESS);
        mark = tap.mark();
        push.start();
        int since = mark;
        eventually(30_000, () -> {
            assertTrue(tap.find(since, "broker", 34, "golden_push_group") >= 0, "heartbeat of golden_push_group");
            return null;
        });
        written.addAll(tap.copyContaining(mark, "broker", 34, "golden_push_group", out, "heart_beat_push_consumer"));
        ConsumeSupport.awaitCaughtUp(admin, "golden_push_group", TOPIC, 10);
        mark = tap.mark();
        api.getConsumeStats(proxiedBroker, "golden_push_group", null, 10_000);
        written.addAll(tap.copy(mark, "broker", 208, 0, out, "get_consume_stats"));

        Files.writeString(out.resolve("captured.txt"), String.join("\n", written) + "\n", StandardCharsets.UTF_8);
        System.out.println("[golden] wrote " + written.size() + " files to " + out);
    }

    /** Reads tools/wiretap.py's JSON lines and saved frames (in the class's log dir). */
    static final class Wiretap {
        private final Path log;
        private final Path frames;

        Wiretap(Path logDir) {
            this.log = logDir.resolve("wiretap.jsonl");
            this.frames = logDir.resolve("frames");
        }

        List<JSONObject> records() throws IOException {
            List<JSONObject> l = new ArrayList<>();
            for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    l.add(JSON.parseObject(line));
                }
            }
            return l;
        }

        /** The number of records so far: later searches start there. */
        int mark() throws IOException {
            return records().size();
        }

        /** The broker address as the clients see it (rewritten in the name server's answers). */
        String proxiedBrokerAddr() throws IOException {
            // the harness starts the proxy with --listen broker=<port>=...; its stdout line names the port
            for (String line : Files.readAllLines(log.getParent().resolve("wiretap.out"), StandardCharsets.UTF_8)) {
                if (line.startsWith("wiretap: broker listening on ")) {
                    return line.substring("wiretap: broker listening on ".length()).split(" ")[0];
                }
            }
            throw new IllegalStateException("no broker listener line in wiretap.out");
        }

        /** Index (from {@code from}) of the first request with {@code code} whose text contains {@code needle}. */
        int find(int from, String listener, int code, String needle) throws IOException {
            List<JSONObject> rs = records();
            for (int i = from; i < rs.size(); i++) {
                JSONObject r = rs.get(i);
                JSONObject h = r.getJSONObject("header");
                if (h != null && listener.equals(r.getString("listener")) && "c2s".equals(r.getString("dir"))
                    && h.getIntValue("code") == code && (needle == null || r.toJSONString().contains(needle))) {
                    return i;
                }
            }
            return -1;
        }

        List<String> copy(int from, String listener, int code, int nth, Path out, String name) throws IOException {
            int at = from - 1;
            for (int k = 0; k <= nth; k++) {
                at = find(at + 1, listener, code, null);
                if (at < 0) {
                    throw new IllegalStateException("no request " + code + " on " + listener + " after record " + from);
                }
            }
            return copyPair(at, out, name);
        }

        List<String> copyContaining(int from, String listener, int code, String needle, Path out, String name)
            throws IOException {
            int at = find(from, listener, code, needle);
            if (at < 0) {
                throw new IllegalStateException("no request " + code + " containing " + needle);
            }
            return copyPair(at, out, name);
        }

        /** Copies the request at record {@code at} and the response with the same connection and opaque. */
        private List<String> copyPair(int at, Path out, String name) throws IOException {
            List<JSONObject> rs = records();
            JSONObject req = rs.get(at);
            int opaque = req.getJSONObject("header").getIntValue("opaque");
            JSONObject rsp = null;
            for (int i = at + 1; i < rs.size() && rsp == null; i++) {
                JSONObject r = rs.get(i);
                JSONObject h = r.getJSONObject("header");
                if (h != null && "s2c".equals(r.getString("dir")) && req.getString("listener").equals(r.getString("listener"))
                    && req.getIntValue("conn") == r.getIntValue("conn") && h.getIntValue("opaque") == opaque
                    && (h.getIntValue("flag") & 1) == 1) {
                    rsp = r;
                }
            }
            if (rsp == null) {
                throw new IllegalStateException("no response to record " + at + ": " + req);
            }
            List<String> files = new ArrayList<>();
            files.addAll(copyFrame(req, out, name + ".request"));
            files.addAll(copyFrame(rsp, out, name + ".response"));
            return files;
        }

        private List<String> copyFrame(JSONObject r, Path out, String base) throws IOException {
            String prefix = String.format("%06d-%s-%s-%d", r.getIntValue("seq"), r.getString("listener"),
                r.getString("dir"), r.getJSONObject("header").getIntValue("code"));
            List<String> files = new ArrayList<>();
            Map<String, String> exts = new TreeMap<>(Map.of(".json", ".json", ".bin", ".bin", ".frame", ".frame"));
            for (String ext : exts.keySet()) {
                Path src = frames.resolve(prefix + ext);
                if (Files.exists(src)) {
                    Files.copy(src, out.resolve(base + ext), StandardCopyOption.REPLACE_EXISTING);
                    files.add(base + ext);
                }
            }
            return files;
        }
    }
}
