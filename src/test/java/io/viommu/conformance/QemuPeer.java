package io.viommu.conformance;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * QEMU 7.2 over {@code -qtest stdio}. QEMU does not exit on stdin EOF, so {@link #close()}
 * destroys the process. Timers run in real time (this QEMU build has no qtest accelerator and no
 * {@code clock_step}), hence {@link #settle()} sleeps.
 */
final class QemuPeer extends LinePeer {
    static final String BINARY = "qemu-system-x86_64";
    /** edu fires its DMA 100 ms after the command; margin for a loaded 2-core CI machine. */
    static final long SETTLE_MS = 250;

    /** Lines of stderr kept from the start, where QEMU reports an option it refuses. */
    private static final int STDERR_HEAD_LINES = 100;
    private static Boolean installed;

    private final Process process;
    private final Writer stdin;
    private final List<String> stderrHead = new ArrayList<>();
    private final Thread stderrPump;

    private QemuPeer(Process process) {
        this.process = process;
        this.stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        pump(new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)), true);
        stderrPump = pump(new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8)),
                false);
    }

    static QemuPeer start(List<String> qemuArgs) {
        List<String> cmd = new ArrayList<>();
        cmd.add(BINARY);
        cmd.addAll(qemuArgs);
        // The qtest log (every command and reply) would otherwise fill stderr.
        cmd.add("-qtest-log");
        cmd.add("/dev/null");
        try {
            return new QemuPeer(new ProcessBuilder(cmd).start());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + BINARY, e);
        }
    }

    /**
     * Starts QEMU with {@code qemuArgs} expecting it may refuse them: the first stderr line that
     * is not a warning when QEMU exited instead of answering a register read, null when it
     * started (then it is stopped again).
     */
    static String startupError(List<String> qemuArgs) {
        try (QemuPeer peer = start(qemuArgs)) {
            if (isReply(peer.send("readl 0xfed90000").getFirst())) {
                return null;
            }
            try {
                peer.stderrPump.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            synchronized (peer.stderrHead) {
                return peer.stderrHead.stream()
                        .filter(l -> !l.startsWith("[") && !l.contains("warning:") && !l.contains("GLib")
                                && !l.startsWith("Please configure"))
                        .findFirst().orElse(null);
            }
        }
    }

    /** True when {@code qemu-system-x86_64} can be run on this machine (asked once per JVM). */
    static synchronized boolean installed() {
        if (installed == null) {
            try {
                Process p = new ProcessBuilder(BINARY, "--version").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                installed = p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
            } catch (IOException e) {
                installed = false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return installed;
    }

    private Thread pump(BufferedReader reader, boolean stdout) {
        Thread t = new Thread(() -> {
            try (reader) {
                String line;
                while ((line = reader.readLine()) != null) {
                    if (stdout) {
                        lines.add(line);
                    } else {
                        diagnostic(line);
                        synchronized (stderrHead) {
                            if (stderrHead.size() < STDERR_HEAD_LINES) {
                                stderrHead.add(line);
                            }
                        }
                    }
                }
            } catch (IOException ignored) {
                // process killed
            }
            if (stdout) {
                lines.add(EOF);
            }
        }, "qemu-" + (stdout ? "stdout" : "stderr"));
        t.setDaemon(true);
        t.start();
        return t;
    }

    @Override
    protected void writeLine(String command) {
        try {
            stdin.write(command);
            stdin.write('\n');
            stdin.flush();
        } catch (IOException e) {
            // The process is gone; the reader thread reports EOF.
            diagnostic("write failed: " + e.getMessage());
        }
    }

    @Override
    protected String exitDescription() {
        try {
            if (process.waitFor(2, TimeUnit.SECONDS)) {
                return "qemu exit code " + process.exitValue() + "; stderr:\n" + diagnostics();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return "qemu still running; stderr:\n" + diagnostics();
    }

    @Override
    public void settle() {
        try {
            Thread.sleep(SETTLE_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String name() {
        return "QEMU";
    }

    @Override
    public void close() {
        process.destroyForcibly();
        try {
            process.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
