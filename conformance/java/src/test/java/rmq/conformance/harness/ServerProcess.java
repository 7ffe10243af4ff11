package rmq.conformance.harness;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** One server child process whose stdout/stderr go to files; knows how to wait for its boot line. */
public final class ServerProcess {
    private static final Set<Process> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (Process p : LIVE) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
        }, "rmq-conformance-kill-servers"));
    }

    private final String name;
    private final List<String> command;
    private final Process process;
    private final Path stdout;
    private final Path stderr;

    private ServerProcess(String name, List<String> command, Process process, Path stdout, Path stderr) {
        this.name = name;
        this.command = command;
        this.process = process;
        this.stdout = stdout;
        this.stderr = stderr;
    }

    /** Starts {@code command} in {@code workDir}, stdout/stderr into {@code logDir/<name>.{out,err}}. */
    public static ServerProcess start(String name, List<String> command, Path workDir, Path logDir,
                                      Map<String, String> env) throws IOException {
        Files.createDirectories(logDir);
        Path out = logDir.resolve(name + ".out");
        Path err = logDir.resolve(name + ".err");
        ProcessBuilder pb = new ProcessBuilder(command)
            .directory(workDir.toFile())
            .redirectOutput(out.toFile())
            .redirectError(err.toFile());
        pb.environment().putAll(env);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new IOException("cannot start " + name + ": " + String.join(" ", command) + ": " + e.getMessage(), e);
        }
        LIVE.add(p);
        return new ServerProcess(name, List.copyOf(command), p, out, err);
    }

    /**
     * Polls stdout until a line matches {@code bootLine}; returns the match. Fails with the command,
     * the exit status and the output tails when the process dies or the timeout passes.
     */
    public Matcher awaitLine(Pattern bootLine, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            for (String line : readLines(stdout)) {
                Matcher m = bootLine.matcher(line);
                if (m.find()) {
                    return m;
                }
            }
            if (!process.isAlive()) {
                throw new IllegalStateException(name + " exited with status " + process.exitValue()
                    + " before printing a line matching /" + bootLine + "/ on stdout" + stderrHint(bootLine)
                    + "\n" + describe());
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(name + " did not print a line matching /" + bootLine
                    + "/ on stdout within " + timeout.toSeconds() + " s" + stderrHint(bootLine) + "\n" + describe());
            }
            Thread.sleep(50);
        }
    }

    private String stderrHint(Pattern bootLine) {
        for (String line : readLines(stderr)) {
            if (bootLine.matcher(line).find()) {
                return " (the line is on stderr; the boot line must go to stdout)";
            }
        }
        return "";
    }

    /** destroy(), then destroyForcibly() after a grace period. */
    public void stop() {
        try {
            List<ProcessHandle> children = process.descendants().collect(java.util.stream.Collectors.toList());
            if (process.isAlive()) {
                process.destroy();
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(10, TimeUnit.SECONDS);
                }
            }
            for (ProcessHandle c : children) {
                c.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        } finally {
            LIVE.remove(process);
        }
    }

    /** destroyForcibly() (SIGKILL, i.e. kill -9) and wait for the exit. */
    public void kill() {
        try {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    public String name() {
        return name;
    }

    public Path stdoutFile() {
        return stdout;
    }

    /** Command line, log file names and the last lines of stdout and stderr. */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        sb.append("---- ").append(name).append(": ").append(String.join(" ", command)).append('\n');
        sb.append("---- ").append(name).append(" alive=").append(process.isAlive());
        if (!process.isAlive()) {
            sb.append(" exit=").append(process.exitValue());
        }
        sb.append('\n');
        sb.append(tail(stdout, 40)).append(tail(stderr, 40));
        return sb.toString();
    }

    static String tail(Path file, int lines) {
        List<String> all = readLines(file);
        List<String> last = all.subList(Math.max(0, all.size() - lines), all.size());
        StringBuilder sb = new StringBuilder("---- tail of ").append(file).append(" (").append(all.size())
            .append(" lines)\n");
        for (String l : last) {
            sb.append(l).append('\n');
        }
        return sb.toString();
    }

    private static List<String> readLines(Path file) {
        try {
            if (!Files.exists(file)) {
                return Collections.emptyList();
            }
            String s = new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
            List<String> out = new ArrayList<>();
            for (String l : s.split("\r?\n", -1)) {
                out.add(l);
            }
            if (!out.isEmpty() && out.get(out.size() - 1).isEmpty()) {
                out.remove(out.size() - 1);
            }
            return out;
        } catch (IOException e) {
            return List.of("<cannot read " + file + ": " + e + ">");
        }
    }
}
