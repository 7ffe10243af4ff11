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
 * {@code -Poracle5}) on both targets: see {@link #javaBrokerAvailable()}. rmq brokers ({@link #startRmqBroker}) need
 * the {@code rmq.bin} binary; {@link #replicaInfo} asks the controller with raw remoting (both client lines).
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
    private int rmqBrokerSeq;

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

    // ------------------------------------------------------------------ rmq brokers

    /**
     * One rmq broker process in controller mode started by {@link #startRmqBroker}: its own directory (broker.conf,
     * store, logs), a fixed listen port, restartable from the same directory ({@link #restart}).
     */
    public static final class RmqBroker {
        private final ControllerServers owner;
        private final String name;
        private final Path dir;
        private final Path conf;
        private final List<String> command;
        private final Map<String, String> env;
        private volatile ServerProcess process;
        private volatile String addr;
        private int restarts;

        RmqBroker(ControllerServers owner, String name, Path dir, Path conf, List<String> command,
                  Map<String, String> env) {
            this.owner = owner;
            this.name = name;
            this.dir = dir;
            this.conf = conf;
            this.command = command;
            this.env = env;
        }

        /** The current process's name in the logs ({@code rmq-broker1.out}, {@code rmq-broker1-restart1.out}, ...). */
        public String name() {
            return process.name();
        }

        /** "127.0.0.1:port" as printed in its boot line (the same port after a restart). */
        public String addr() {
            return addr;
        }

        /** Its {@code storePathRootDir} ({@code brokerIdentity}, commit log, ...). */
        public Path storeDir() {
            return dir.resolve("store");
        }

        public Path confFile() {
            return conf;
        }

        /**
         * The controller id this broker got, from {@code <storePathRootDir>/brokerIdentity}
         * ({@code cluster#brokerName#id}); {@code null} while it has none.
         */
        public Long controllerId() throws IOException {
            Path f = storeDir().resolve("brokerIdentity");
            if (!Files.isRegularFile(f)) {
                return null;
            }
            String[] fields = Files.readString(f, StandardCharsets.UTF_8).trim().split("#");
            return fields.length >= 3 ? Long.valueOf(fields[2].trim()) : null;
        }

        public boolean isAlive() {
            return process.isAlive();
        }

        /** kill -9 (Process.destroyForcibly), waits for the exit. */
        public void kill() {
            process.kill();
        }

        /**
         * Starts the broker again from the same broker.conf and store (after {@link #kill}; a live process is stopped
         * first) and waits for its boot line; the listen port may linger a moment after the old process, so a start
         * that exits at once is retried for 15 s. Fails when the new process advertises another address.
         */
        public void restart() throws Exception {
            if (process.isAlive()) {
                process.stop();
            }
            long deadline = System.currentTimeMillis() + 15_000;
            while (true) {
                restarts++;
                ServerProcess p = owner.launch(name + "-restart" + restarts, command, dir, env);
                process = p;
                try {
                    String a = p.awaitLine(Servers.BROKER_BOOT, BOOT_TIMEOUT).group(2).trim();
                    if (!a.equals(addr)) {
                        throw new IllegalStateException(name + " restarted on " + a + ", was " + addr);
                    }
                    return;
                } catch (IllegalStateException e) {
                    if (p.isAlive() || System.currentTimeMillis() > deadline) {
                        throw e;
                    }
                    Thread.sleep(500);
                }
            }
        }

        public String describe() {
            return process.describe();
        }
    }

    /**
     * Starts an rmq broker ({@code <rmq.bin> broker -c broker.conf}) of cluster {@code DefaultCluster}, brokerName
     * {@code broker-a}, in controller mode against this harness's controller and name server: a fresh directory with
     * its own store and log dir ({@code ROCKETMQ_LOG_DIR}), a listen port p with p-2 and p+1 free (rmq binds its HA
     * listener at p+1), brokerIP1 / brokerIP2 127.0.0.1, no gRPC, plus {@code extra} (which overrides). Returns once
     * its boot line is printed (before the controller has given it a role).
     */
    public RmqBroker startRmqBroker(Map<String, String> extra) throws Exception {
        Path bin = Paths.get(System.getProperty("rmq.bin", "../../target/debug/rmq")).toAbsolutePath().normalize();
        if (!Files.isExecutable(bin)) {
            throw new IllegalStateException("rmq binary not found or not executable: " + bin
                + " (pass -Drmq.bin=/path/to/rmq)");
        }
        String name = "rmq-broker" + (++rmqBrokerSeq);
        Path dir = Files.createDirectories(tmp.resolve(name));
        Path store = Files.createDirectories(dir.resolve("store"));
        int port = Servers.freeBrokerPort();
        Map<String, String> lines = new LinkedHashMap<>();
        lines.put("brokerClusterName", Servers.CLUSTER);
        lines.put("brokerName", Servers.BROKER_NAME);
        lines.put("listenPort", String.valueOf(port));
        lines.put("namesrvAddr", namesrvAddr);
        lines.put("storePathRootDir", store.toString());
        lines.put("brokerIP1", "127.0.0.1");
        lines.put("brokerIP2", "127.0.0.1");
        lines.put("enableGrpcServer", "false");
        lines.put("enableControllerMode", "true");
        lines.put("controllerAddr", controllerAddr);
        lines.putAll(extra);
        StringBuilder sb = new StringBuilder();
        lines.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
        Path conf = dir.resolve("broker.conf");
        Files.writeString(conf, sb.toString(), StandardCharsets.UTF_8);
        Map<String, String> brokerEnv = new LinkedHashMap<>(env);
        brokerEnv.put("ROCKETMQ_LOG_DIR", Files.createDirectories(dir.resolve("logs")).toString());
        List<String> cmd = List.of(bin.toString(), "broker", "-c", conf.toString());
        RmqBroker b = new RmqBroker(this, name, dir, conf, cmd, brokerEnv);
        b.process = launch(name, cmd, dir, brokerEnv);
        b.addr = b.process.awaitLine(Servers.BROKER_BOOT, BOOT_TIMEOUT).group(2).trim();
        return b;
    }

    /** What CONTROLLER_GET_REPLICA_INFO (1004) says about a broker group; {@code code} 0 = SUCCESS. */
    public record ReplicaInfo(int code, String remark, Map<String, String> extFields, String body,
                              java.util.Set<Long> syncStateSet) {
        public String masterAddress() {
            return extFields.get("masterAddress");
        }

        public String masterBrokerId() {
            return extFields.get("masterBrokerId");
        }

        public String masterEpoch() {
            return extFields.get("masterEpoch");
        }

        @Override
        public String toString() {
            return "code=" + code + " remark=" + remark + " ext=" + extFields + " body=" + body;
        }
    }

    private static final Pattern SSS_MEMBERS = Pattern.compile("\"syncStateSet\"\\s*:\\s*\\[([^\\]]*)\\]");

    /**
     * CONTROLLER_GET_REPLICA_INFO of {@code brokerName} from the controller, with raw remoting (JSON), so that it works
     * on both client lines (4.9.8 has no controller protocol classes).
     */
    public ReplicaInfo replicaInfo(String brokerName) throws IOException {
        RawResponse r = rawRequest(controllerAddr, 1004, (int) (System.nanoTime() & 0x3fffffff),
            Map.of("brokerName", brokerName));
        java.util.Set<Long> members = new java.util.TreeSet<>();
        Matcher m = SSS_MEMBERS.matcher(r.body());
        if (m.find()) {
            for (String id : m.group(1).split(",")) {
                if (!id.isBlank()) {
                    members.add(Long.parseLong(id.trim()));
                }
            }
        }
        return new ReplicaInfo(r.code(), r.remark(), r.extFields(), r.body(), members);
    }

    // ------------------------------------------------------------------ raw remoting (JSON) for readiness

    /** A raw remoting response: code, remark, ext fields and the body as UTF-8 text. */
    record RawResponse(int code, String remark, Map<String, String> extFields, String body) {
    }

    /**
     * One JSON-header request without ext fields; returns the response's ext fields (JSON or ROCKETMQ header
     * serialization).
     */
    static Map<String, String> rawRequestExtFields(String addr, int code, int opaque) throws IOException {
        return rawRequest(addr, code, opaque, Map.of()).extFields();
    }

    /** One JSON-header request with {@code ext} as its ext fields (plain keys and values: no escaping). */
    static RawResponse rawRequest(String addr, int code, int opaque, Map<String, String> ext) throws IOException {
        int colon = addr.lastIndexOf(':');
        try (Socket sock = new Socket()) {
            sock.connect(new InetSocketAddress(addr.substring(0, colon), Integer.parseInt(addr.substring(colon + 1))),
                2_000);
            sock.setSoTimeout(5_000);
            StringBuilder fields = new StringBuilder();
            if (!ext.isEmpty()) {
                fields.append(",\"extFields\":{");
                String sep = "";
                for (Map.Entry<String, String> e : ext.entrySet()) {
                    fields.append(sep).append('"').append(e.getKey()).append("\":\"").append(e.getValue()).append('"');
                    sep = ",";
                }
                fields.append('}');
            }
            byte[] header = ("{\"code\":" + code + fields + ",\"flag\":0,\"language\":\"JAVA\",\"opaque\":" + opaque
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
            byte[] body = new byte[length - 4 - headerLen];
            in.readFully(body);
            String bodyText = new String(body, StandardCharsets.UTF_8);
            return ((mark >>> 24) & 0xFF) == 1 ? rocketmqResponse(h, bodyText)
                : jsonResponse(new String(h, StandardCharsets.UTF_8), bodyText);
        }
    }

    private static final Pattern JSON_PAIR = Pattern.compile("\"([^\"]+)\"\\s*:\\s*(\"((?:[^\"\\\\]|\\\\.)*)\"|[^,}\\s]+)");

    private static RawResponse jsonResponse(String json, String body) {
        Map<String, String> ext = new LinkedHashMap<>();
        int i = json.indexOf("\"extFields\"");
        String outer = json;
        if (i >= 0) {
            int open = json.indexOf('{', i);
            int close = json.indexOf('}', open);
            if (open >= 0 && close >= 0) {
                Matcher m = JSON_PAIR.matcher(json.substring(open + 1, close));
                while (m.find()) {
                    ext.put(m.group(1), m.group(3) != null ? m.group(3) : m.group(2));
                }
                outer = json.substring(0, i) + json.substring(close + 1);
            }
        }
        Map<String, String> top = new LinkedHashMap<>();
        Matcher m = JSON_PAIR.matcher(outer);
        while (m.find()) {
            top.putIfAbsent(m.group(1), m.group(3) != null ? m.group(3) : m.group(2));
        }
        int code = top.containsKey("code") ? Integer.parseInt(top.get("code")) : -1;
        String remark = top.get("remark");
        return new RawResponse(code, "null".equals(remark) ? null : remark, ext, body);
    }

    private static RawResponse rocketmqResponse(byte[] h, String body) {
        ByteBuffer b = ByteBuffer.wrap(h);
        int code = b.getShort();
        b.get(); // language
        b.getShort(); // version
        b.getInt(); // opaque
        b.getInt(); // flag
        int remarkLen = b.getInt();
        String remark = null;
        if (remarkLen > 0) {
            byte[] r = new byte[remarkLen];
            b.get(r);
            remark = new String(r, StandardCharsets.UTF_8);
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
        return new RawResponse(code, remark, ext, body);
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
        return launch(name, cmd, dir, env);
    }

    private ServerProcess launch(String name, List<String> cmd, Path dir, Map<String, String> env) throws IOException {
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
            // the 5.x Java servers log to ${user.home}/logs/rocketmqlogs, and user.home is each one's dir; the rmq
            // brokers to their own ROCKETMQ_LOG_DIR, <dir>/logs
            // (a restarted rmq broker is listed once per process, with one directory)
            java.util.Set<Path> copied = new java.util.HashSet<>();
            for (Map.Entry<String, Path> e : processDirs.entrySet()) {
                Path own = e.getValue().resolve("logs");
                if (copied.add(own) && Files.isDirectory(own)) {
                    Servers.copyTree(own, logDir.resolve("server-logs").resolve(e.getKey()));
                }
            }
        } catch (IOException | UncheckedIOException e) {
            System.err.println("warning: cannot copy server logs from " + tmp + ": " + e);
        }
        Servers.deleteTree(tmp);
    }
}
