package rmq.spring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.rocketmq.common.message.MessageClientExt;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageId;
import org.junit.jupiter.api.AfterEach;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import rmq.conformance.harness.Servers;

/** Base of the Spring test classes: {@code rocketmq.name-server} is the name server of the class's servers. */
public abstract class SpringConformanceBase {
    /** Properties the consuming client adds itself after a pull (not on the wire from the broker). */
    static final Set<String> CLIENT_SIDE_PROPERTIES = Set.of("MIN_OFFSET", "MAX_OFFSET", "CONSUME_START_TIME");

    /**
     * transactionId mismatches, checked after the test ({@link #transactionIdsAsExpected}) so that one
     * missing transactionId does not hide what the rest of the test would show.
     */
    private final List<String> transactionIdMismatches = new ArrayList<>();

    /**
     * The transactionId a result must carry: a 5.x broker answers every SEND_MESSAGE(_V2) with
     * transactionId = the message's UNIQ_KEY (SendMessageProcessor.handlePutMessageResult), 4.9.x leaves it out
     * ({@link ServerLine#fillsTransactionId}).
     */
    protected void expectTransactionId(String what, String msgId, String transactionId) {
        String expected = ServerLine.fillsTransactionId() ? msgId : null;
        if (!Objects.equals(expected, transactionId)) {
            transactionIdMismatches.add(what + ": transactionId " + transactionId + ", expected " + expected
                + " (server line " + ServerLine.major() + ")");
        }
    }

    @AfterEach
    void transactionIdsAsExpected() {
        if (!transactionIdMismatches.isEmpty()) {
            throw new AssertionError(transactionIdMismatches.size() + " result(s) with the wrong transactionId "
                + "(checked after the test), the first: " + transactionIdMismatches.subList(0,
                Math.min(3, transactionIdMismatches.size())));
        }
    }

    @DynamicPropertySource
    static void rocketmqProperties(DynamicPropertyRegistry registry) {
        registry.add("rocketmq.name-server", () -> SpringServers.current().namesrvAddr());
    }

    protected static Servers servers() {
        return SpringServers.current();
    }

    /**
     * A client message id (UNIQ_KEY): upper-case hex, 32 digits, or 56 when the client host has an IPv6 address
     * (MessageClientIDSetter puts the client's IP, 4 or 16 bytes, before pid, class loader hash, time and counter).
     */
    static void assertUniqKey(String id, String what) {
        assertNotNull(id, what);
        assertTrue(id.matches("[0-9A-F]{32}|[0-9A-F]{56}"), what + " is not a UNIQ_KEY (32 or 56 hex digits): " + id);
    }

    /** An offset message id of an IPv4 broker: 32 upper-case hex digits (store host, port, commitlog offset). */
    static void assertOffsetMsgId(String id, String what) {
        assertNotNull(id, what);
        assertTrue(id.matches("[0-9A-F]{32}"), what + " is not 32 upper-case hex digits: " + id);
    }

    /** Decodes an offset message id: broker address (must be the broker's) and commitlog offset. */
    static long commitLogOffsetOf(String offsetMsgId) throws Exception {
        assertOffsetMsgId(offsetMsgId, "offsetMsgId");
        MessageId id = MessageDecoder.decodeMessageId(offsetMsgId);
        InetSocketAddress a = (InetSocketAddress) id.getAddress();
        assertEquals(servers().brokerAddr(), a.getAddress().getHostAddress() + ":" + a.getPort(),
            "store host encoded in offsetMsgId " + offsetMsgId);
        return id.getOffset();
    }

    /** The offset message id of a consumed message (the client's MessageExt is a MessageClientExt). */
    static String offsetMsgIdOf(MessageExt m) {
        return m instanceof MessageClientExt ? ((MessageClientExt) m).getOffsetMsgId() : m.getMsgId();
    }

    /**
     * The message's properties without those the consuming client adds, sorted, and without {@code WAIT=true}:
     * 4.9.7 drops WAIT=true from what it stores ("no need to store WAIT=true ... save 9 bytes",
     * SendMessageProcessor), 5.x keeps it; absent means true to the client (Message.isWaitStoreMsgOK).
     */
    static Map<String, String> wireProperties(MessageExt m) {
        Map<String, String> p = new TreeMap<>(m.getProperties());
        CLIENT_SIDE_PROPERTIES.forEach(p::remove);
        p.remove("WAIT", "true");
        return p;
    }

    /**
     * The properties the broker adds to every message it stores: CLUSTER (both lines), and on 5.x MSG_REGION and
     * TRACE_ON ({@link ServerLine#storesRegionAndTraceProperties}).
     */
    static Map<String, String> brokerAddedProperties() {
        Map<String, String> p = new TreeMap<>();
        p.put("CLUSTER", Servers.CLUSTER);
        if (ServerLine.storesRegionAndTraceProperties()) {
            p.put("MSG_REGION", "DefaultRegion");
            p.put("TRACE_ON", "true");
        }
        return p;
    }

    /** What a message was sent with ({@link SentMessages}), WAIT=true left out as in {@link #wireProperties}. */
    static Map<String, String> sentProperties(SentMessages sent, String msgId) {
        Map<String, String> p = sent.properties(msgId);
        p.remove("WAIT", "true");
        return p;
    }

    /** Ordered map literal. */
    static Map<String, String> props(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }
}
