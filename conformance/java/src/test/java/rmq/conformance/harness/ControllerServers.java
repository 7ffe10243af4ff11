package rmq.conformance.harness;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * RocketMQ 5 controller mode: one name server plus one single-node controller, child processes in a fresh temp
 * dir, on 127.0.0.1; and, on demand, real Java 5.3.1 brokers in controller mode registered with both.
 *
 * <ul>
 *   <li>{@code java5}: the name server is {@code NamesrvStartup} 5.1.4 and the controller
 *       {@code org.apache.rocketmq.controller.ControllerStartup -c controller.properties} 5.1.4, both on
 *       {@code target/oracle5-namesrv.classpath} (rocketmq-namesrv 5.1.4 depends on rocketmq-controller 5.1.4;
 *       no controller 5.3.x is on Maven Central before 5.3.3).</li>
 *   <li>{@code rmq}: {@code rmq namesrv --listen-port 0} and {@code rmq controller -c controller.properties}.</li>
 * </ul>
 *
 * <p>The controller's file holds Java {@code ControllerConfig} properties: {@code controllerDLegerGroup},
 * {@code controllerDLegerPeers=n0-127.0.0.1:<port>}, {@code controllerDLegerSelfId=n0}, {@code controllerStorePath},
 * {@code scanNotActiveBrokerInterval}, {@code enableElectUncleanMaster}, {@code notifyBrokerRoleChanged}, plus the
 * test's own lines. The controller serves its requests on its own peer's port (as Java's DLedger controller does),
 * which the harness picks free (bind 0, close, reuse) on both targets. Ready = that port accepts TCP connections and
 * CONTROLLER_GET_METADATA_INFO (1005) answers {@code isLeader=true} (polled, {@link #BOOT_TIMEOUT} at most).
 *
 * <p>Java brokers ({@link #startJavaBroker}) need {@code target/oracle5-broker.classpath} (written by
 * {@code -Poracle5}) on both targets: see {@link #javaBrokerAvailable()}.
 */
public final class ControllerServers implements AutoCloseable {
    public static final String DLEDGER_GROUP = "ControllerConformanceGroup";
    public static final String SELF_ID = "n0";
    static final Duration BOOT_TIMEOUT = Servers.BOOT_TIMEOUT;

    private final String target;
    private final Path tmp;
    private final Path logDir;
    private final Path rocketmqHome;
    private final List<ServerProcess> processes = new ArrayList<>();
    private final Map<String, Path> processDirs = new LinkedHashMap<>();
    private final Map<String, String> controllerConf;
    private Map<String, String> env;
    private String namesrvAddr;
    private String controllerAddr;
    private ServerProcess controller;
    private int brokerSeq;

    private ControllerServers(String target, Path tmp, Path logDir, Map<String, String> controllerConf) {
        this.target = target;
        this.tmp = tmp;
        this.logDir = logDir;
        this.rocketmqHome = tmp.resolve("rocketmq-home");
        this.controllerConf = controllerConf;
    }

    /** Whether the target has a controller this harness can start: {@code java5} or {@code rmq}. */
    public static boolean targetSupported() {
        String t = Servers.target();
        return t.equals("java5") || t.equals("rmq");
    }

    /**
     * Starts the name server and the controller; {@code extraControllerConf} lines are appended to (and override)
     * the controller's properties file. On failure stops whatever started and rethrows with the output tails.
     */
    public static ControllerServers start(String label, Map<String, String> extraControllerConf) throws Exception {
        String target = Servers.target();
        if (!targetSupported()) {
            throw new IllegalArgumentException("controller mode needs rmq.target=java5 or rmq, got '" + target + "'");
        }
        Path workRoot = Paths.get(System.getProperty("rmq.work.dir", "target/rmq-work")).toAbsolutePath();
        Path logDir = workRoot.resolve(target).resolve(label + "-" + System.currentTimeMillis());
        Files.createDirectories(logDir);
        Path tmp = Files.createTempDirectory("rmq-conformance-ctl-" + target + "-");
        ControllerServers s = new ControllerServers(target, tmp, logDir, new LinkedHashMap<>(extraControllerConf));
        try {
            s.startAll();
            return s;
        } catch (Throwable t) {
            s.close();
            throw t;
        }
    }

    public String targetName() {
        return target;
    }

    public String namesrvAddr() {
        return namesrvAddr;
    }

    /** "127.0.0.1:port": the controller's own peer address, where it serves brokers and mqadmin. */
    public String controllerAddr() {
        return controllerAddr;
    }

    /** The controller's peers as written in its file ({@code n0-127.0.0.1:<port>}). */
    public String controllerPeers() {
        return SELF_ID + "-" + controllerAddr;
    }

    public Path logDir() {
        return logDir;
    }

    public boolean controllerAlive() {
        return controller != null && controller.isAlive();
    }

    // ------------------------------------------------------------------ start-up

    private void startAll() throws Exception {
        Files.createDirectories(rocketmqHome.resolve("conf"));
        env = new LinkedHashMap<>();
        env.put("ROCKETMQ_LOG_DIR", Files.createDirectories(tmp.resolve("logs")).toString());
        env.put("ROCKETMQ_HOME", rocketmqHome.toString());

        int ctlPort = Servers.freePort();
        controllerAddr = "127.0.0.1:" + ctlPort;
        Path ctlDir = Files.createDirectories(tmp.resolve("controller"));
        Map<String, String> conf = new LinkedHashMap<>();
        conf.put("controllerDLegerGroup", DLEDGER_GROUP);
        conf.put("controllerDLegerPeers", controllerPeers());
        conf.put("controllerDLegerSelfId", SELF_ID);
        conf.put("controllerStorePath", ctlDir.resolve("store").toString());
        conf.put("scanNotActiveBrokerInterval", "5000");
        conf.put("enableElectUncleanMaster", "false");
        conf.put("notifyBrokerRoleChanged", "true");
        // one try per controller-triggered election, as the 5.1.4 oracle makes (5.3.1 and rmq retry 3 s apart up
        // to 3 times by default, which could elect later on their own, e.g. after a config change)
        conf.put("electMasterMaxRetryCount", "1");
        if (isJava()) {
            // DLedger's data files are 1 GiB by default (sparse, but keep the temp dir small)
            conf.put("mappedFileSize", String.valueOf(64 * 1024 * 1024));
        }
        conf.putAll(controllerConf);
        StringBuilder sb = new StringBuilder();
        conf.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
        Path ctlConf = ctlDir.resolve("controller.properties");
        Files.writeString(ctlConf, sb.toString(), StandardCharsets.UTF_8);

        if (isJava()) {
            String nsCp = classpath("rmq.oracle5.namesrv.classpath.file", "target/oracle5-namesrv.classpath");
            Path confDir = rocketmqHome.resolve("conf");
            Path serverLogs = tmp.resolve("logs");
            Servers.writeLogback(confDir.resolve("logback_namesrv.xml"), serverLogs.resolve("namesrv.log"));
            Servers.writeLogback(confDir.resolve("logback_broker.xml"), serverLogs.resolve("broker.log"));
            Servers.writeLogback(confDir.resolve("logback_controller.xml"), serverLogs.resolve("controller.log"));

            int nsPort = Servers.freePort();
            Path nsDir = Files.createDirectories(tmp.resolve("namesrv"));
            Path nsConf = nsDir.resolve("namesrv.properties");
            Files.writeString(nsConf, "listenPort=" + nsPort + "\n", StandardCharsets.UTF_8);
            ServerProcess ns = launch("namesrv", Servers.javaCommand(nsCp, nsDir, rocketmqHome,
                "org.apache.rocketmq.namesrv.NamesrvStartup", "-c", nsConf.toString()), nsDir);
            ns.awaitLine(Servers.JAVA_NAMESRV_BOOT, BOOT_TIMEOUT);
            namesrvAddr = "127.0.0.1:" + nsPort;

            controller = launch("controller", Servers.javaCommand(nsCp, ctlDir, rocketmqHome,
                "org.apache.rocketmq.controller.ControllerStartup", "-c", ctlConf.toString()), ctlDir);
        } else {
            Path bin = Paths.get(System.getProperty("rmq.bin", "../../target/debug/rmq")).toAbsolutePath().normalize();
            if (!Files.isExecutable(bin)) {
                throw new IllegalStateException("rmq binary not found or not executable: " + bin
                    + " (pass -Drmq.bin=/path/to/rmq)");
            }
            Path nsDir = Files.createDirectories(tmp.resolve("namesrv"));
            ServerProcess ns = launch("namesrv", List.of(bin.toString(), "namesrv", "--listen-port", "0"), nsDir);
            Matcher m = ns.awaitLine(Servers.RMQ_NAMESRV_BOOT, BOOT_TIMEOUT);
            namesrvAddr = "127.0.0.1:" + m.group(1);
            controller = launch("controller", List.of(bin.toString(), "controller", "-c", ctlConf.toString()), ctlDir);
        }
        awaitControllerLeader();
    }

    /** The controller's port accepts connections and GET_METADATA_INFO says isLeader=true. */
    private void awaitControllerLeader() throws Exception {
        long deadline = System.nanoTime() + BOOT_TIMEOUT.toNanos();
        String last = "no answer yet";
        int opaque = 0;
        while (true) {
            if (!controller.isAlive()) {
                throw new IllegalStateException("the controller exited before it served " + controllerAddr
                    + "; last: " + last + "\n" + describe());
            }
            try {
                Map<String, String> ext = rawRequestExtFields(controllerAddr, 1005, ++opaque);
                last = "GET_METADATA_INFO ext fields " + ext;
                if ("true".equals(ext.get("isLeader"))) {
                    return;
                }
            } catch (IOException e) {
                last = e.toString();
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the controller at " + controllerAddr + " is not the leader "
                    + BOOT_TIMEOUT.toSeconds() + " s after its start; last: " + last + "\n" + describe());
            }
            Thread.sleep(200);
        }
    }

    // ------------------------------------------------------------------ Java 5.3.1 brokers

    /** Whether {@code target/oracle5-broker.classpath} (from -Poracle5) exists: {@link #startJavaBroker} needs it. */
    public static boolean javaBrokerAvailable() {
        Path f = Paths.get(System.getProperty("rmq.oracle5.broker.classpath.file", "target/oracle5-broker.classpath"));
        return Files.isRegularFile(f);
    }

    /** One Java 5.3.1 broker process started by {@link #startJavaBroker}. */
    public static final class Broker {
        private final String name;
        private final String addr;
        private final ServerProcess process;
        private final Path dir;

        Broker(String name, String addr, ServerProcess process, Path dir) {
            this.name = name;
            this.addr = addr;
            this.process = process;
            this.dir = dir;
        }

        /** The process's name in the logs ({@code broker1.out}, ...). */
        public String name() {
            return name;
        }

        /** "127.0.0.1:port" as printed in its boot line. */
        public String addr() {
            return addr;
        }

        public Path storeDir() {
            return dir.resolve("store");
        }

        public boolean isAlive() {
            return process.isAlive();
        }

        /** kill -9. */
        public void kill() {
            process.kill();
        }

        public String describe() {
            return process.describe();
        }
    }

    /**
     * Starts a Java 5.3.1 broker ({@code BrokerStartup -c broker.conf -n <namesrv>}, broker classpath of
     * -Poracle5) of cluster {@code DefaultCluster}, with the harness's usual broker.conf lines (brokerName
     * {@code broker-a}, brokerIP1 and brokerIP2 127.0.0.1, own store, a free port triple p-2/p/p+1 with haListenPort p+1)
     * plus {@code extra}; returns once its boot
     * line is printed (a controller-mode broker prints it before it is registered and elected).
     */
    public Broker startJavaBroker(Map<String, String> extra) throws Exception {
        String cp = classpath("rmq.oracle5.broker.classpath.file", "target/oracle5-broker.classpath");
        String name = "broker" + (++brokerSeq);
        Path dir = Files.createDirectories(tmp.resolve(name));
        int port = Servers.freeBrokerPort();
        Map<String, String> lines = new LinkedHashMap<>();
        // 5.x keeps haListenPort at its default 10912 unless it is <= 0: two brokers on one host need their own
        lines.put("haListenPort", String.valueOf(port + 1));
        lines.put("brokerIP2", "127.0.0.1");
        lines.putAll(extra);
        Path conf = Servers.writeBrokerConf(dir, port, lines);
        ServerProcess p = launch(name, Servers.javaCommand(cp, dir, rocketmqHome,
            "org.apache.rocketmq.broker.BrokerStartup", "-c", conf.toString(), "-n", namesrvAddr), dir);
        Matcher m = p.awaitLine(Servers.BROKER_BOOT, BOOT_TIMEOUT);
        return new Broker(name, m.group(2).trim(), p, dir);
    }

    // ------------------------------------------------------------------ raw remoting (JSON) for readiness

    /**
     * One JSON-header request without ext fields; returns the response's ext fields (JSON or ROCKETMQ header
     * serialization).
     */
    static Map<String, String> rawRequestExtFields(String addr, int code, int opaque) throws IOException {
        int colon = addr.lastIndexOf(':');
        try (Socket sock = new Socket()) {
            sock.connect(new InetSocketAddress(addr.substring(0, colon), Integer.parseInt(addr.substring(colon + 1))),
                2_000);
            sock.setSoTimeout(5_000);
            byte[] header = ("{\"code\":" + code + ",\"flag\":0,\"language\":\"JAVA\",\"opaque\":" + opaque
                + ",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":0}").getBytes(StandardCharsets.UTF_8);
            DataOutputStream out = new DataOutputStream(sock.getOutputStream());
            out.writeInt(4 + header.length);
            out.writeInt(header.length);
            out.write(header);
            out.flush();
            DataInputStream in = new DataInputStream(sock.getInputStream());
            int length = in.readInt();
            int mark = in.readInt();
            int headerLen = mark & 0xFFFFFF;
            byte[] h = new byte[headerLen];
            in.readFully(h);
            in.readFully(new byte[length - 4 - headerLen]);
            return ((mark >>> 24) & 0xFF) == 1 ? rocketmqExtFields(h) : jsonExtFields(new String(h, StandardCharsets.UTF_8));
        }
    }

    private static final Pattern JSON_PAIR = Pattern.compile("\"([^\"]+)\"\\s*:\\s*(\"((?:[^\"\\\\]|\\\\.)*)\"|[^,}\\s]+)");

    private static Map<String, String> jsonExtFields(String json) {
        Map<String, String> ext = new LinkedHashMap<>();
        int i = json.indexOf("\"extFields\"");
        if (i < 0) {
            return ext;
        }
        int open = json.indexOf('{', i);
        int close = json.indexOf('}', open);
        if (open < 0 || close < 0) {
            return ext;
        }
        Matcher m = JSON_PAIR.matcher(json.substring(open + 1, close));
        while (m.find()) {
            ext.put(m.group(1), m.group(3) != null ? m.group(3) : m.group(2));
        }
        return ext;
    }

    private static Map<String, String> rocketmqExtFields(byte[] h) {
        ByteBuffer b = ByteBuffer.wrap(h);
        b.getShort(); // code
        b.get(); // language
        b.getShort(); // version
        b.getInt(); // opaque
        b.getInt(); // flag
        int remarkLen = b.getInt();
        if (remarkLen > 0) {
            b.position(b.position() + remarkLen);
        }
        int extLen = b.getInt();
        Map<String, String> ext = new LinkedHashMap<>();
        int end = b.position() + extLen;
        while (b.position() < end) {
            byte[] k = new byte[b.getShort()];
            b.get(k);
            byte[] v = new byte[b.getInt()];
            b.get(v);
            ext.put(new String(k, StandardCharsets.UTF_8), new String(v, StandardCharsets.UTF_8));
        }
        return ext;
    }

    // ------------------------------------------------------------------ common

    private boolean isJava() {
        return target.equals("java5");
    }

    private String classpath(String property, String dflt) throws IOException {
        Path f = Paths.get(System.getProperty(property, dflt));
        if (!Files.isRegularFile(f)) {
            throw new IllegalStateException("needs the 5.x oracle classpath file " + f.toAbsolutePath()
                + "; run Maven with -Poracle5 once");
        }
        String cp = Files.readString(f, StandardCharsets.UTF_8).trim();
        if (cp.isEmpty()) {
            throw new IllegalStateException("oracle classpath file is empty: " + f.toAbsolutePath());
        }
        return cp;
    }

    private ServerProcess launch(String name, List<String> cmd, Path dir) throws IOException {
        ServerProcess p = ServerProcess.start(name, cmd, dir, logDir, env);
        processes.add(p);
        processDirs.put(name, dir);
        return p;
    }

    /** Tails of every child's stdout/stderr. */
    public String describe() {
        StringBuilder sb = new StringBuilder("controller servers (target=" + target + ", namesrv=" + namesrvAddr
            + ", controller=" + controllerAddr + ", logs in " + logDir + ")\n");
        for (ServerProcess p : processes) {
            sb.append(p.describe());
        }
        return sb.toString();
    }

    /** Stops every child (brokers first), keeps the server logs under the work dir, deletes the temp dir. */
    @Override
    public void close() {
        for (int i = processes.size() - 1; i >= 0; i--) {
            processes.get(i).stop();
        }
        try {
            Path logs = tmp.resolve("logs");
            if (Files.isDirectory(logs)) {
                Servers.copyTree(logs, logDir.resolve("server-logs"));
            }
            // the 5.x Java servers log to ${user.home}/logs/rocketmqlogs, and user.home is each one's dir
            for (Map.Entry<String, Path> e : processDirs.entrySet()) {
                Path own = e.getValue().resolve("logs");
                if (Files.isDirectory(own)) {
                    Servers.copyTree(own, logDir.resolve("server-logs").resolve(e.getKey()));
                }
            }
        } catch (IOException | UncheckedIOException e) {
            System.err.println("warning: cannot copy server logs from " + tmp + ": " + e);
        }
        Servers.deleteTree(tmp);
    }
}
