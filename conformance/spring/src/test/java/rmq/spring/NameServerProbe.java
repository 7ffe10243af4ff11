package rmq.spring;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * One GET_ROUTEINFO_BY_TOPIC (105) request on a raw socket: a JSON-serialized remoting frame
 * (int32 length, int32 header length with serialize type 0 in the high byte, JSON header), no client library.
 */
final class NameServerProbe {
    private NameServerProbe() {
    }

    /** The response's code (0 SUCCESS, 17 TOPIC_NOT_EXIST) and its JSON body (route data) as text. */
    record Answer(int code, String body) {
    }

    static Answer routeOf(String namesrvAddr, String topic) throws IOException {
        int colon = namesrvAddr.lastIndexOf(':');
        String header = "{\"code\":105,\"language\":\"JAVA\",\"version\":477,\"opaque\":1,\"flag\":0,"
            + "\"serializeTypeCurrentRPC\":\"JSON\",\"extFields\":{\"topic\":\"" + topic + "\"}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(namesrvAddr.substring(0, colon),
                Integer.parseInt(namesrvAddr.substring(colon + 1))), 5_000);
            s.setSoTimeout(5_000);
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            out.writeInt(4 + h.length);
            out.writeInt(h.length); // serialize type JSON (0) in the high byte
            out.write(h);
            out.flush();
            DataInputStream in = new DataInputStream(s.getInputStream());
            int length = in.readInt();
            int headerLength = in.readInt() & 0xFFFFFF;
            byte[] rh = new byte[headerLength];
            in.readFully(rh);
            byte[] body = new byte[length - 4 - headerLength];
            in.readFully(body);
            String json = new String(rh, StandardCharsets.UTF_8);
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"code\"\\s*:\\s*(\\d+)").matcher(json);
            if (!m.find()) {
                throw new IOException("no code in the response header: " + json);
            }
            return new Answer(Integer.parseInt(m.group(1)), new String(body, StandardCharsets.UTF_8));
        }
    }
}
