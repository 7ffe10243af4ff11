package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Raw-socket robustness: a bad frame closes that connection only; the server keeps serving others. */
class BadInputTest extends ConformanceBase {

    private static final int GET_ROUTEINFO_BY_TOPIC = 105;
    private static final int TOPIC_NOT_EXIST = 17;

    private static Socket connect(String addr) throws IOException {
        int colon = addr.lastIndexOf(':');
        Socket s = new Socket();
        s.connect(new InetSocketAddress(addr.substring(0, colon), Integer.parseInt(addr.substring(colon + 1))), 5_000);
        s.setSoTimeout(10_000);
        return s;
    }

    /** A JSON-header frame (docs/format/remoting-frame.md#frame-layout, docs/format/remoting-frame.md#json-header) without body. */
    static byte[] jsonFrame(int code, int opaque, String topic) {
        String header = "{\"code\":" + code + ",\"extFields\":{\"topic\":\"" + topic + "\"},\"flag\":0,"
            + "\"language\":\"JAVA\",\"opaque\":" + opaque + ",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":409}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length);
        b.putInt(4 + h.length);
        b.putInt(h.length); // serialize type 0 (JSON) in the high byte
        b.put(h);
        return b.array();
    }

    /** Reads one response frame and returns its JSON header. */
    static String readResponseHeader(InputStream in) throws IOException {
        DataInputStream din = new DataInputStream(in);
        int length = din.readInt();
        assertTrue(length >= 4 && length < 16 * 1024 * 1024, "sane frame length " + length);
        int word = din.readInt();
        assertEquals(0, (word >>> 24) & 0xFF, "JSON serialize type");
        int headerLen = word & 0xFFFFFF;
        assertTrue(headerLen <= length - 4, "headerLen " + headerLen + " within length " + length);
        byte[] header = new byte[headerLen];
        din.readFully(header);
        din.readFully(new byte[length - 4 - headerLen]);
        return new String(header, StandardCharsets.UTF_8);
    }

    static int intField(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*(-?\\d+)").matcher(json);
        assertTrue(m.find(), key + " in " + json);
        return Integer.parseInt(m.group(1));
    }

    /** Waits until the peer closes the connection (EOF or reset); fails if it stays open for 10 s. */
    static void assertClosedByPeer(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        byte[] buf = new byte[4096];
        long deadline = System.currentTimeMillis() + 10_000;
        try {
            while (System.currentTimeMillis() < deadline) {
                int n = in.read(buf);
                if (n < 0) {
                    return; // orderly close
                }
            }
        } catch (SocketTimeoutException e) {
            fail("connection still open 10 s after a garbage frame");
        } catch (SocketException e) {
            return; // reset: closed as well
        }
        fail("connection still open 10 s after a garbage frame");
    }

    private static void wellFormedRequestIsAnswered(String addr, String topic, int opaque) throws IOException {
        try (Socket s = connect(addr)) {
            OutputStream out = s.getOutputStream();
            out.write(jsonFrame(GET_ROUTEINFO_BY_TOPIC, opaque, topic));
            out.flush();
            String header = readResponseHeader(s.getInputStream());
            assertEquals(opaque, intField(header, "opaque"), "response opaque: " + header);
            assertEquals(1, intField(header, "flag") & 1, "response flag bit: " + header);
            intField(header, "code");
        }
    }

    private static void garbageLengthClosesConnection(String addr) throws IOException {
        try (Socket s = connect(addr)) {
            OutputStream out = s.getOutputStream();
            ByteBuffer b = ByteBuffer.allocate(64);
            b.putInt(0x7fffffff);
            for (int i = 0; i < 60; i++) {
                b.put((byte) (i * 37));
            }
            try {
                out.write(b.array());
                out.flush();
            } catch (SocketException e) {
                return; // already closed
            }
            assertClosedByPeer(s);
        }
    }

    @Test
    void garbageFrameClosesNamesrvConnectionButServerKeepsServing() throws Exception {
        String ns = servers().namesrvAddr();
        garbageLengthClosesConnection(ns);
        wellFormedRequestIsAnswered(ns, "TBW102", 7);
        // A topic nobody has: still a response, with TOPIC_NOT_EXIST.
        try (Socket s = connect(ns)) {
            s.getOutputStream().write(jsonFrame(GET_ROUTEINFO_BY_TOPIC, 8, "NoSuchTopicForBadInputTest"));
            String header = readResponseHeader(s.getInputStream());
            assertEquals(8, intField(header, "opaque"));
            assertEquals(TOPIC_NOT_EXIST, intField(header, "code"), header);
        }
    }

    @Test
    void garbageFrameClosesBrokerConnectionButServerKeepsServing() throws Exception {
        String broker = servers().brokerAddr();
        garbageLengthClosesConnection(broker);
        // Any well-formed request gets an answer with its opaque (the broker answers 105 with
        // REQUEST_CODE_NOT_SUPPORTED; what matters is that it still answers).
        wellFormedRequestIsAnswered(broker, "TBW102", 9);
    }

    @Test
    void headerLengthBeyondFrameClosesConnection() throws Exception {
        String ns = servers().namesrvAddr();
        try (Socket s = connect(ns)) {
            ByteBuffer b = ByteBuffer.allocate(16);
            b.putInt(12);          // length: 4 + 8 bytes
            b.putInt(1000);        // JSON, headerLen 1000 > length - 4
            b.putLong(0x7b7d7b7d7b7d7b7dL);
            s.getOutputStream().write(b.array());
            s.getOutputStream().flush();
            assertClosedByPeer(s);
        }
        wellFormedRequestIsAnswered(ns, "TBW102", 10);
    }

    @Test
    void manyRequestsOnOneConnectionAreAllAnswered() throws Exception {
        String ns = servers().namesrvAddr();
        try (Socket s = connect(ns)) {
            OutputStream out = s.getOutputStream();
            for (int i = 0; i < 20; i++) {
                out.write(jsonFrame(GET_ROUTEINFO_BY_TOPIC, 100 + i, "TBW102"));
            }
            out.flush();
            java.util.Set<Integer> seen = new java.util.TreeSet<>();
            for (int i = 0; i < 20; i++) {
                String header;
                try {
                    header = readResponseHeader(s.getInputStream());
                } catch (EOFException e) {
                    throw new AssertionError("connection closed after " + i + " responses", e);
                }
                seen.add(intField(header, "opaque"));
            }
            assertEquals(20, seen.size(), "one response per opaque: " + seen);
        }
    }
}
