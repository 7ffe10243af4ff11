package rmq.conformance.harness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * One NameServer plus one Broker (DefaultCluster / broker-a / brokerId 0), each a child process in its
 * own temp dir, all on 127.0.0.1; or, for a {@link Standalone} class on target {@code rmq}, both in one
 * {@code rmq standalone} process.
 *
 * <p>System properties:
 * <ul>
 *   <li>{@code rmq.target} = {@code rmq} (default, the Rust binary), {@code java} (Apache RocketMQ 4.9.7,
 *       needs {@code -Poracle}, which writes the server classpath to {@code rmq.oracle.classpath.file}) or
 *       {@code java5} (Apache RocketMQ namesrv 5.1.4 + broker 5.3.1, needs {@code -Poracle5}, which writes
 *       {@code rmq.oracle5.namesrv.classpath.file} and {@code rmq.oracle5.broker.classpath.file}).</li>
 *   <li>{@code rmq.bin}: path of the {@code rmq} binary (default {@code ../../target/debug/rmq}).</li>
 *   <li>{@code rmq.work.dir}: where child stdout/stderr and copied server logs go (default {@code target/rmq-work}).</li>
 *   <li>{@code rmq.wiretap=true}: put {@code tools/wiretap.py} (a logging proxy) between the clients and the servers:
 *       {@link #namesrvAddr()} is the proxy's, and the proxy rewrites the broker's address in the name server's
 *       answers so that the clients' broker traffic goes through it as well. Every frame is logged to
 *       {@code <log dir>/wiretap.jsonl} and saved under {@code <log dir>/frames/}. A debugging aid: tests that
 *       compare route addresses with {@link #brokerAddr()} fail in this mode.</li>
 * </ul>
 */
public final class Servers implements AutoCloseable {
    public static final String CLUSTER = "DefaultCluster";
    public static final String BROKER_NAME = "broker-a";

    // polled, so only a ceiling: a 5.x Java broker needs 15-25 s to boot on a loaded 2-core machine
    static final Duration BOOT_TIMEOUT = Duration.ofSeconds(120);
    static final Pattern RMQ_NAMESRV_BOOT = Pattern.compile("The Name Server boot success.*listenPort=(\\d+)");
    static final Pattern JAVA_NAMESRV_BOOT = Pattern.compile("The Name Server boot success");
    static final Pattern BROKER_BOOT = Pattern.compile("The broker\\[([^,\\]]+), ([^\\]]+)\\] boot success");
    /** rmq only, printed right after its boot line unless enableGrpcServer=false (docs/protocol/grpc.md). */
    static final Pattern BROKER_GRPC =
        Pattern.compile("The broker\\[([^\\]]+)\\] serves gRPC \\(RocketMQ 5\\.x MessagingService\\) on port (\\d+)");
    /** How long {@link #grpcEndpoint()} waits for that line after the boot line. */
    static final Duration GRPC_LINE_TIMEOUT = Duration.ofSeconds(10);

    private final String target;
    private final Path tmp;
    private final Path logDir;
    private final List<ServerProcess> processes = new ArrayList<>();
    private final Map<String, String> extraBrokerConf;
    /** Files under {@code <rocketmqHome>/conf/} written before the broker starts (path relative to conf/). */
    private final Map<String, String> confFiles;
    /** The RocketMQ home of both servers (conf/ inside), on every target. */
    private final Path rocketmqHome;
    private String namesrvAddr;
    /** The name server itself (namesrvAddr is the wiretap's once it runs). */
    private String realNamesrvAddr;
    private String brokerAddr;
    private String brokerName;
    // what restartBroker() needs to launch the broker again on the same store dir and port
    private ServerProcess brokerProcess;
    private Path brokerDir;
    private Map<String, String> brokerEnv;
    private java.util.function.Function<Path, List<String>> brokerCommand;
    /** (working dir, broker.conf) -> command line; the slave's is built with its own dir. */
    private java.util.function.BiFunction<Path, Path, List<String>> brokerCommandIn;
    private ServerProcess slaveProcess;
    private int brokerRestarts;
    /** "127.0.0.1:port" of the current broker process's gRPC server, read from its stdout on first use. */
    private String grpcEndpoint;
    private ServerProcess grpcEndpointOf;
    /** The name server and the broker are one {@code rmq standalone} process (brokerProcess). */
    private boolean standalone;

    private Servers(String target, Path tmp, Path logDir, Map<String, String> extraBrokerConf,
                    Map<String, String> confFiles) {
        this.target = target;
        this.tmp = tmp;
        this.logDir = logDir;
        this.extraBrokerConf = extraBrokerConf;
        this.confFiles = confFiles;
        this.rocketmqHome = tmp.resolve("rocketmq-home");
    }

    public static String target() {
        return System.getProperty("rmq.target", "rmq").trim();
    }

    /**
     * The RocketMQ line whose server behaviour the target follows: 5 for {@code java5}, else 4 (the Rust
     * servers re-implement 4.9). Tests use it where a 5.x server legitimately answers differently.
     * {@code -Drmq.server.line=} overrides it (tools/fake-rmq with FAKE_RMQ_ORACLE=5 runs 5.x under target rmq).
     */
    public static int serverLine() {
        String forced = System.getProperty("rmq.server.line", "").trim();
        if (!forced.isEmpty()) {
            return Integer.parseInt(forced);
        }
        return target().equals("java5") ? 5 : 4;
    }

    /** The line of the RocketMQ client the tests run on (4 = 4.9.8, 5 = 5.3.1), from -Drmq.client.line. */
    public static int clientLine() {
        return Integer.parseInt(System.getProperty("rmq.client.line", "4").trim());
    }

    private boolean isJava() {
        return target.equals("java") || target.equals("java5");
    }

    /** Starts namesrv and broker; on failure stops whatever started and rethrows with the output tails. */
    public static Servers start(String label) throws Exception {
        return start(label, Map.of());
    }

    /**
     * Like {@link #start(String)}, with {@code extraBrokerConf} appended to the broker's broker.conf
     * (in iteration order).
     */
    public static Servers start(String label, Map<String, String> extraBrokerConf) throws Exception {
        return start(label, extraBrokerConf, Map.of());
    }

    /**
     * Like {@link #start(String, Map)}, and writes {@code confFiles} (path relative to {@code <rocketmqHome>/conf}
     * -> content) before the broker starts.
     */
    public static Servers start(String label, Map<String, String> extraBrokerConf, Map<String, String> confFiles)
        throws Exception {
        return start(label, extraBrokerConf, confFiles, false);
    }

    /**
     * Like {@link #start(String, Map, Map)}; with {@code standalone} (target {@code rmq} only, see {@link Standalone})
     * the name server and broker are one {@code rmq standalone} process.
     */
    public static Servers start(String label, Map<String, String> extraBrokerConf, Map<String, String> confFiles,
                                boolean standalone) throws Exception {
        String target = target();
        if (!target.equals("rmq") && !target.equals("java") && !target.equals("java5")) {
            throw new IllegalArgumentException("rmq.target must be 'rmq', 'java' or 'java5', got '" + target + "'");
        }
        Path workRoot = Paths.get(System.getProperty("rmq.work.dir", "target/rmq-work")).toAbsolutePath();
        Path logDir = workRoot.resolve(target).resolve(label + "-" + System.currentTimeMillis());
        Files.createDirectories(logDir);
        Path tmp = Files.createTempDirectory("rmq-conformance-" + target + "-");
        Servers s = new Servers(target, tmp, logDir, new LinkedHashMap<>(extraBrokerConf),
            new LinkedHashMap<>(confFiles));
        s.standalone = standalone && !s.isJava();
        try {
            Files.createDirectories(s.rocketmqHome.resolve("conf"));
            for (Map.Entry<String, String> f : s.confFiles.entrySet()) {
                s.writeConfFile(f.getKey(), f.getValue());
            }
            if (s.isJava()) {
                s.startJava();
            } else {
                s.startRmq();
            }
            if (Boolean.getBoolean("rmq.wiretap")) {
                s.startWiretap();
            }
            return s;
        } catch (Throwable t) {
            s.close();
            throw t;
        }
    }

    public String namesrvAddr() {
        return namesrvAddr;
    }

    /** "127.0.0.1:port" exactly as the broker printed it in its boot line. */
    public String brokerAddr() {
        return brokerAddr;
    }

    public String brokerName() {
        return brokerName;
    }

    /**
     * "127.0.0.1:port" where the broker serves the RocketMQ 5.x gRPC protocol (MessagingService), or
     * {@code null} on the Java targets (the oracles have no gRPC without the 5.x Proxy, which is not on Maven
     * Central). On {@code rmq} it is the port of the broker's stdout line {@link #BROKER_GRPC}, printed right after
     * the boot line; read on first use (after a restart, from the new process), so tests that do not use gRPC do
     * not wait for it. Fails when the rmq broker does not print it (an older binary, or enableGrpcServer=false).
     */
    public synchronized String grpcEndpoint() throws IOException, InterruptedException {
        if (isJava()) {
            return null;
        }
        if (grpcEndpointOf != brokerProcess) {
            Matcher m = brokerProcess.awaitLine(BROKER_GRPC, GRPC_LINE_TIMEOUT);
            grpcEndpoint = "127.0.0.1:" + m.group(2);
            grpcEndpointOf = brokerProcess;
        }
        return grpcEndpoint;
    }

    public String targetName() {
        return target;
    }

    /** Whether the name server and the broker are one {@code rmq standalone} process. */
    public boolean standalone() {
        return standalone;
    }

    public Path logDir() {
        return logDir;
    }

    /** The servers' RocketMQ home ({@code ROCKETMQ_HOME}); {@code conf/} inside holds plain_acl.yml and acl/. */
    public Path rocketmqHome() {
        return rocketmqHome;
    }

    /**
     * Writes {@code content} to {@code <rocketmqHome>/conf/<relativePath>} (parents created) by writing a
     * sibling temp file and renaming it over the target, so that a server polling the file never reads half
     * of it. Tests use it to change ACL rules while the broker runs (hot reload).
     */
    public void writeConfFile(String relativePath, String content) throws IOException {
        Path file = confPath(relativePath);
        Files.createDirectories(file.getParent());
        // not *.yml: the Java broker reads every *.yml / *.yaml under conf/acl/
        Path tmpFile = file.resolveSibling("." + file.getFileName() + ".tmp");
        Files.writeString(tmpFile, content, StandardCharsets.UTF_8);
        Files.move(tmpFile, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Deletes {@code <rocketmqHome>/conf/<relativePath>} if it exists. */
    public void deleteConfFile(String relativePath) throws IOException {
        Files.deleteIfExists(confPath(relativePath));
    }

    private Path confPath(String relativePath) {
        Path conf = rocketmqHome.resolve("conf").normalize();
        Path file = conf.resolve(relativePath).normalize();
        if (!file.startsWith(conf) || file.equals(conf)) {
            throw new IllegalArgumentException("conf file path must stay inside conf/: " + relativePath);
        }
        return file;
    }

    // ------------------------------------------------------------------ rmq (Rust)

    private void startRmq() throws Exception {
        Path bin = Paths.get(System.getProperty("rmq.bin", "../../target/debug/rmq")).toAbsolutePath().normalize();
        if (!Files.isExecutable(bin)) {
            throw new IllegalStateException("rmq binary not found or not executable: " + bin
                + " (build it with `cargo build -p rmq-cli`, or pass -Drmq.bin=/path/to/rmq, or -Drmq.target=java -Poracle)");
        }
        Map<String, String> env = childEnv();
        // as the Java servers: conf/plain_acl.yml and conf/acl/*.yml are read from here when aclEnable=true
        env.put("ROCKETMQ_HOME", rocketmqHome.toString());

        brokerDir = Files.createDirectories(tmp.resolve("broker"));
        brokerEnv = env;
        brokerCommandIn = (dir, conf) -> List.of(bin.toString(), "broker", "-n", namesrvAddr, "-c", conf.toString());
        if (standalone) {
            startRmqStandalone(bin, env);
            return;
        }
        Path nsDir = Files.createDirectories(tmp.resolve("namesrv"));
        ServerProcess ns = launch("namesrv", List.of(bin.toString(), "namesrv", "--listen-port", "0"), nsDir, env);
        Matcher m = ns.awaitLine(RMQ_NAMESRV_BOOT, BOOT_TIMEOUT);
        namesrvAddr = "127.0.0.1:" + m.group(1);
        realNamesrvAddr = namesrvAddr;

        brokerCommand = conf -> brokerCommandIn.apply(brokerDir, conf);
        Path conf = writeBrokerConf(brokerDir, 0, extraBrokerConf);
        brokerProcess = launch("broker", brokerCommand.apply(conf), brokerDir, env);
        awaitBroker(brokerProcess);
    }

    /**
     * {@code rmq standalone} in the broker's directory (its store under {@code <dir>/store}, as the broker.conf
     * says): both boot lines come from the one process. A restart restarts both, on the same two ports.
     */
    private void startRmqStandalone(Path bin, Map<String, String> env) throws Exception {
        brokerCommand = conf -> List.of(bin.toString(), "standalone", "--data-dir", brokerDir.toString(),
            "--namesrv-port", portOf(realNamesrvAddr), "--broker-port", portOf(brokerAddr), "--console-port", "0",
            "-c", conf.toString());
        Path conf = writeBrokerConf(brokerDir, 0, extraBrokerConf);
        brokerProcess = launch("standalone", brokerCommand.apply(conf), brokerDir, env);
        Matcher m = brokerProcess.awaitLine(RMQ_NAMESRV_BOOT, BOOT_TIMEOUT);
        namesrvAddr = "127.0.0.1:" + m.group(1);
        realNamesrvAddr = namesrvAddr;
        awaitBroker(brokerProcess);
    }

    /** The port of "host:port", or "0" (any free port) for null. */
    private static String portOf(String addr) {
        return addr == null ? "0" : addr.substring(addr.lastIndexOf(':') + 1);
    }

    /**
     * Stops the broker (SIGTERM, i.e. a graceful shutdown on both targets; forcibly after 10 s) and starts it
     * again with the same broker.conf, store dir and listen port (so the clients' routes stay valid), then
     * waits for its boot line. The namesrv keeps running. Output goes to {@code broker-restart<N>.out}.
     */
    public void restartBroker() throws Exception {
        brokerProcess.stop(); // stays in `processes` so that describe() still shows its output
        int port = Integer.parseInt(brokerAddr.substring(brokerAddr.lastIndexOf(':') + 1));
        Path conf = writeBrokerConf(brokerDir, port, extraBrokerConf);
        brokerRestarts++;
        String oldAddr = brokerAddr;
        // the port may linger for a moment after the old process is gone
        long deadline = System.currentTimeMillis() + 15_000;
        while (true) {
            brokerProcess = launch("broker-restart" + brokerRestarts, brokerCommand.apply(conf), brokerDir, brokerEnv);
            try {
                awaitBroker(brokerProcess);
                break;
            } catch (IllegalStateException e) {
                if (brokerProcess.isAlive() || System.currentTimeMillis() > deadline) {
                    throw e;
                }
                brokerRestarts++;
                Thread.sleep(500);
            }
        }
        if (!brokerAddr.equals(oldAddr)) {
            throw new IllegalStateException("restarted broker advertises " + brokerAddr + ", was " + oldAddr);
        }
    }

    /**
     * Starts a SLAVE (brokerId=1) of the broker: same broker name and name server, its own directory and
     * store, the class's extra broker.conf lines with brokerRole=SLAVE on top. It learns the master's HA
     * address from the name server. Returns its address as printed in its boot line.
     */
    public String startSlave() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("slave"));
        Map<String, String> extra = new LinkedHashMap<>(extraBrokerConf);
        extra.put("brokerRole", "SLAVE");
        extra.put("brokerId", "1");
        int port = isJava() ? freeBrokerPort() : 0;
        Path conf = writeBrokerConf(dir, port, extra);
        slaveProcess = launch("slave", brokerCommandIn.apply(dir, conf), dir, brokerEnv);
        Matcher m = slaveProcess.awaitLine(BROKER_BOOT, BOOT_TIMEOUT);
        String slaveAddr = m.group(2).trim();
        awaitRegistered5(slaveAddr);
        return slaveAddr;
    }

    /**
     * Starts a second master, {@code broker-b} (brokerId 0, its own directory and store, the class's extra
     * broker.conf lines), registered with the same name server. Returns its address and, on {@code rmq}, its gRPC
     * endpoint ("127.0.0.1:port"; {@code null} on the Java targets).
     */
    public String[] startSecondMaster() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("broker-b"));
        Map<String, String> extra = new LinkedHashMap<>(extraBrokerConf);
        extra.put("brokerName", "broker-b");
        int port = isJava() ? freeBrokerPort() : 0;
        Path conf = writeBrokerConf(dir, port, extra);
        ServerProcess second = launch("broker-b", brokerCommandIn.apply(dir, conf), dir, brokerEnv);
        Matcher m = second.awaitLine(BROKER_BOOT, BOOT_TIMEOUT);
        String addr = m.group(2).trim();
        String grpc = null;
        if (!isJava()) {
            grpc = "127.0.0.1:" + second.awaitLine(BROKER_GRPC, GRPC_LINE_TIMEOUT).group(2);
        }
        awaitRegistered5(addr);
        return new String[] {addr, grpc};
    }

    /** kill -9 of the broker (master) process. */
    public void killBroker() {
        brokerProcess.kill();
    }

    /** The broker's (master's) store directory. */
    public Path brokerStoreDir() {
        return brokerDir.resolve("store");
    }

    // ------------------------------------------------------------------ java (Apache RocketMQ oracle)

    private void startJava() throws Exception {
        // 4.9.7: one classpath for both; 5.x: namesrv 5.1.4 and broker 5.3.1 need different rocketmq-common jars
        String nsCp = target.equals("java5")
            ? oracleClasspath("rmq.oracle5.namesrv.classpath.file", "target/oracle5-namesrv.classpath", "oracle5")
            : oracleClasspath("rmq.oracle.classpath.file", "target/oracle.classpath", "oracle");
        String brokerCp = target.equals("java5")
            ? oracleClasspath("rmq.oracle5.broker.classpath.file", "target/oracle5-broker.classpath", "oracle5")
            : nsCp;
        Path home = rocketmqHome;
        Path confDir = Files.createDirectories(home.resolve("conf"));
        Path serverLogs = Files.createDirectories(tmp.resolve("logs"));
        writeLogback(confDir.resolve("logback_namesrv.xml"), serverLogs.resolve("namesrv.log"));
        writeLogback(confDir.resolve("logback_broker.xml"), serverLogs.resolve("broker.log"));
        Map<String, String> env = childEnv();
        env.put("ROCKETMQ_HOME", home.toString());

        int nsPort = freePort();
        Path nsDir = Files.createDirectories(tmp.resolve("namesrv"));
        Path nsConf = nsDir.resolve("namesrv.properties");
        Files.writeString(nsConf, "listenPort=" + nsPort + "\n", StandardCharsets.UTF_8);
        ServerProcess ns = launch("namesrv",
            javaCommand(nsCp, nsDir, home, "org.apache.rocketmq.namesrv.NamesrvStartup", "-c", nsConf.toString()),
            nsDir, env);
        ns.awaitLine(JAVA_NAMESRV_BOOT, BOOT_TIMEOUT);
        namesrvAddr = "127.0.0.1:" + nsPort;
        realNamesrvAddr = namesrvAddr;

        // Java can't listen on port 0; it also binds listenPort-2 (fast/VIP port) and listenPort+1 (HA).
        int brokerPort = freeBrokerPort();
        brokerDir = Files.createDirectories(tmp.resolve("broker"));
        brokerEnv = env;
        brokerCommandIn = (dir, conf) -> javaCommand(brokerCp, dir, home, "org.apache.rocketmq.broker.BrokerStartup",
            "-c", conf.toString(), "-n", namesrvAddr);
        brokerCommand = conf -> brokerCommandIn.apply(brokerDir, conf);
        Path conf = writeBrokerConf(brokerDir, brokerPort, extraBrokerConf);
        brokerProcess = launch("broker", brokerCommand.apply(conf), brokerDir, env);
        awaitBroker(brokerProcess);
    }

    private String oracleClasspath(String property, String dflt, String profile) throws IOException {
        Path f = Paths.get(System.getProperty(property, dflt));
        if (!Files.isRegularFile(f)) {
            throw new IllegalStateException("rmq.target=" + target + " needs the oracle classpath file "
                + f.toAbsolutePath() + "; run Maven with -P" + profile + " (mvn -P" + profile + " -Drmq.target="
                + target + " test)");
        }
        String cp = Files.readString(f, StandardCharsets.UTF_8).trim();
        if (cp.isEmpty()) {
            throw new IllegalStateException("oracle classpath file is empty: " + f.toAbsolutePath());
        }
        return cp;
    }

    static List<String> javaCommand(String cp, Path dir, Path home, String mainClass, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(Arrays.asList("-Xms256m", "-Xmx256m", "-Xmn128m", "-XX:+UseSerialGC"));
        String opens = System.getProperty("rmq.jdk.opens", "").trim();
        if (!opens.isEmpty()) {
            cmd.addAll(Arrays.asList(opens.split("\\s+")));
        }
        // the store unmaps its files on shutdown through jdk.internal.ref.Cleaner; without this the graceful
        // shutdown fails half way, leaves the abort file, and the next start on the store fails to load it
        cmd.addAll(Arrays.asList("--add-opens", "java.base/jdk.internal.ref=ALL-UNNAMED"));
        cmd.add("-Duser.home=" + dir);
        cmd.add("-Drocketmq.home.dir=" + home);
        cmd.add("-Djava.net.preferIPv4Stack=true");
        cmd.add("-cp");
        cmd.add(cp);
        cmd.add(mainClass);
        cmd.addAll(Arrays.asList(args));
        return cmd;
    }

    static void writeLogback(Path file, Path logFile) throws IOException {
        String xml = "<configuration>\n"
            + "  <appender name=\"FILE\" class=\"ch.qos.logback.core.FileAppender\">\n"
            + "    <file>" + logFile + "</file>\n"
            + "    <encoder><pattern>%d{yyyy-MM-dd HH:mm:ss,SSS} %-5p [%t] %c{0} - %m%n</pattern></encoder>\n"
            + "  </appender>\n"
            + "  <root level=\"INFO\"><appender-ref ref=\"FILE\"/></root>\n"
            + "</configuration>\n";
        Files.writeString(file, xml, StandardCharsets.UTF_8);
    }

    // ------------------------------------------------------------------ wiretap (debugging)

    private void startWiretap() throws Exception {
        Path script = Paths.get(System.getProperty("rmq.wiretap.script", "tools/wiretap.py")).toAbsolutePath();
        int nsPort = freePort();
        int brokerPort = freePort();
        String proxyBroker = "127.0.0.1:" + brokerPort;
        List<String> cmd = List.of("python3", script.toString(),
            "--listen", "ns=" + nsPort + "=" + namesrvAddr,
            "--listen", "broker=" + brokerPort + "=" + brokerAddr,
            "--rewrite", brokerAddr + "=" + proxyBroker,
            "--log", logDir.resolve("wiretap.jsonl").toString(),
            "--save-dir", logDir.resolve("frames").toString());
        ServerProcess tap = launch("wiretap", cmd, tmp, childEnv());
        tap.awaitLine(Pattern.compile("wiretap: broker listening"), BOOT_TIMEOUT);
        namesrvAddr = "127.0.0.1:" + nsPort;
    }

    // ------------------------------------------------------------------ common

    private Map<String, String> childEnv() throws IOException {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("ROCKETMQ_LOG_DIR", Files.createDirectories(tmp.resolve("logs")).toString());
        return env;
    }

    static Path writeBrokerConf(Path dir, int listenPort, Map<String, String> extra) throws IOException {
        Path store = Files.createDirectories(dir.resolve("store"));
        StringBuilder sb = new StringBuilder();
        sb.append("brokerClusterName=").append(CLUSTER).append('\n');
        sb.append("brokerName=").append(BROKER_NAME).append('\n');
        sb.append("brokerId=0\n");
        sb.append("listenPort=").append(listenPort).append('\n');
        sb.append("brokerIP1=127.0.0.1\n");
        sb.append("storePathRootDir=").append(store).append('\n');
        sb.append("flushDiskType=ASYNC_FLUSH\n");
        sb.append("autoCreateTopicEnable=true\n");
        extra.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
        Path conf = dir.resolve("broker.conf");
        Files.writeString(conf, sb.toString(), StandardCharsets.UTF_8);
        return conf;
    }

    private ServerProcess launch(String name, List<String> cmd, Path dir, Map<String, String> env) throws IOException {
        ServerProcess p = ServerProcess.start(name, cmd, dir, logDir, env);
        processes.add(p);
        return p;
    }

    private void awaitBroker(ServerProcess broker) throws Exception {
        Matcher m = broker.awaitLine(BROKER_BOOT, BOOT_TIMEOUT);
        brokerName = m.group(1).trim();
        brokerAddr = m.group(2).trim();
        awaitRegistered5(brokerAddr);
    }

    /**
     * 5.x servers only (java5, or tools/fake-rmq with -Drmq.server.line=5): waits until the name server lists {@code addr} (GET_BROKER_CLUSTER_INFO). A 5.x broker prints its
     * boot line after a REGISTER_BROKER that can reach no name server: its outer client only sends to name servers
     * its periodic scan has found reachable (NettyRemotingClient.getAvailableNameSrvList), and when start() is quick
     * that list is still empty, so the first registration is the periodic one 10 s later (seen: "No route info of
     * this topic" right after the boot line). 4.9.7 and rmq register before printing the line.
     */
    private void awaitRegistered5(String addr) throws Exception {
        if (serverLine() != 5) {
            return;
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        String last = "";
        int opaque = 0;
        while (true) {
            try {
                last = namesrvRequestBody(realNamesrvAddr, 106, ++opaque);
                if (last.contains("\"" + addr + "\"")) {
                    return;
                }
            } catch (IOException e) {
                last = e.toString();
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the name server " + realNamesrvAddr + " does not list the broker " + addr
                    + " 60 s after its boot line; last GET_BROKER_CLUSTER_INFO: " + last + "\n" + describe());
            }
            Thread.sleep(200);
        }
    }

    /** One JSON-header request without ext fields to {@code addr}; returns the response body as text. */
    static String namesrvRequestBody(String addr, int code, int opaque) throws IOException {
        int colon = addr.lastIndexOf(':');
        try (java.net.Socket sock = new java.net.Socket()) {
            sock.connect(new InetSocketAddress(addr.substring(0, colon), Integer.parseInt(addr.substring(colon + 1))),
                5_000);
            sock.setSoTimeout(5_000);
            byte[] header = ("{\"code\":" + code + ",\"flag\":0,\"language\":\"JAVA\",\"opaque\":" + opaque
                + ",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":0}").getBytes(StandardCharsets.UTF_8);
            java.io.DataOutputStream out = new java.io.DataOutputStream(sock.getOutputStream());
            out.writeInt(4 + header.length);
            out.writeInt(header.length); // serialize type 0 (JSON) in the high byte
            out.write(header);
            out.flush();
            java.io.DataInputStream in = new java.io.DataInputStream(sock.getInputStream());
            int length = in.readInt();
            int headerLen = in.readInt() & 0xFFFFFF;
            in.readFully(new byte[headerLen]);
            byte[] body = new byte[length - 4 - headerLen];
            in.readFully(body);
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(false);
            s.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0));
            return s.getLocalPort();
        }
    }

    private static boolean portFree(int port) {
        if (port < 1024 || port > 65535) {
            return false;
        }
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(false);
            s.bind(new InetSocketAddress("0.0.0.0", port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** A port p with p-2, p and p+1 free (the Java broker binds all three on 0.0.0.0). */
    static int freeBrokerPort() throws IOException {
        for (int i = 0; i < 200; i++) {
            int p = i < 100 ? freePort() : ThreadLocalRandom.current().nextInt(20000, 60000);
            if (portFree(p - 2) && portFree(p) && portFree(p + 1)) {
                return p;
            }
        }
        throw new IOException("no free port triple (p-2, p, p+1) found");
    }

    /** Tails of every child's stdout/stderr. */
    public String describe() {
        StringBuilder sb = new StringBuilder("servers (target=" + target + ", namesrv=" + namesrvAddr
            + ", broker=" + brokerAddr + ", logs in " + logDir + ")\n");
        for (ServerProcess p : processes) {
            sb.append(p.describe());
        }
        return sb.toString();
    }

    /** Stops broker first, then namesrv; keeps server log files under the work dir; deletes the temp dir. */
    @Override
    public void close() {
        for (int i = processes.size() - 1; i >= 0; i--) {
            processes.get(i).stop();
        }
        try {
            Path logs = tmp.resolve("logs");
            if (Files.isDirectory(logs)) {
                copyTree(logs, logDir.resolve("server-logs"));
            }
            // the 5.x Java servers ignore conf/logback_*.xml and log to ${user.home}/logs/rocketmqlogs, and
            // user.home is each server's working dir
            for (String name : List.of("namesrv", "broker", "slave")) {
                Path own = tmp.resolve(name).resolve("logs");
                if (Files.isDirectory(own)) {
                    copyTree(own, logDir.resolve("server-logs").resolve(name));
                }
            }
        } catch (IOException | UncheckedIOException e) {
            System.err.println("warning: cannot copy server logs from " + tmp + ": " + e);
        }
        deleteTree(tmp);
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> walk = Files.walk(from)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                Path dest = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(dest);
                } else {
                    Files.copy(p, dest, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }
}
