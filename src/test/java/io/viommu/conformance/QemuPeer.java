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

    private final Process process;
    private final Writer stdin;

    private QemuPeer(Process process) {
        this.process = process;
        this.stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        pump(new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)), true);
        pump(new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8)), false);
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

    /** True when {@code qemu-system-x86_64} can be run on this machine. */
    static boolean installed() {
        try {
            Process p = new ProcessBuilder(BINARY, "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private void pump(BufferedReader reader, boolean stdout) {
        Thread t = new Thread(() -> {
            try (reader) {
                String line;
                while ((line = reader.readLine()) != null) {
                    if (stdout) {
                        lines.add(line);
                    } else {
                        diagnostic(line);
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
