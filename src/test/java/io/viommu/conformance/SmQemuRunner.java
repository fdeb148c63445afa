package io.viommu.conformance;

import io.viommu.cli.QtestServer;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.StringReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A small qtest driver for the scalable-mode conformance tests: runs one script against
 * qemu-system-x86_64 7.2 (q35, HALT firmware, as reference/qemu.md describes) and against
 * viommu's qtest server, and returns the replies of each with asynchronous {@code IRQ} lines
 * dropped. A script line {@code sleep MS} waits (QEMU's edu DMA fires ~100 ms after its
 * command) and is not sent to either side.
 *
 * <p>QEMU is optional: without it the test is skipped, unless the environment variable CI is
 * set, when its absence fails the test.
 */
final class SmQemuRunner {
    static final String QEMU = "qemu-system-x86_64";

    private SmQemuRunner() {
    }

    static boolean qemuAvailable() {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, QEMU))) {
                return true;
            }
        }
        return false;
    }

    static void assumeQemu() {
        if (System.getenv("CI") != null) {
            if (!qemuAvailable()) {
                throw new AssertionError(QEMU + " is required when CI is set");
            }
            return;
        }
        Assumptions.assumeTrue(qemuAvailable(), QEMU + " not installed");
    }

    private static Path haltBios() throws IOException {
        Path p = Path.of(System.getProperty("java.io.tmpdir"), "viommu-sm-HALT.bin");
        if (!Files.exists(p)) {
            byte[] b = new byte[65536];
            java.util.Arrays.fill(b, (byte) 0xf4);
            b[0xfff0] = (byte) 0xf4;
            b[0xfff1] = (byte) 0xeb;
            b[0xfff2] = (byte) 0xfd;
            Path tmp = Files.createTempFile("halt", ".bin");
            Files.write(tmp, b);
            Files.move(tmp, p, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        return p;
    }

    static List<String> lines(String script) {
        List<String> l = new ArrayList<>();
        for (String s : script.split("\n")) {
            if (!s.isBlank()) {
                l.add(s.strip());
            }
        }
        return l;
    }

    /** Replies of QEMU 7.2 to {@code script}, one per command sent. */
    static List<String> qemu(String script, String... devices) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(QEMU, "-machine", "q35", "-m", "256M", "-display", "none",
                "-nodefaults", "-monitor", "none", "-serial", "none", "-bios", haltBios().toString(),
                "-qtest", "stdio"));
        for (String d : devices) {
            cmd.add("-device");
            cmd.add(d);
        }
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        BlockingQueue<String> replies = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    if (!line.startsWith("IRQ")) {
                        replies.add(line);
                    }
                }
            } catch (IOException ignored) {
                // process killed
            }
        });
        reader.setDaemon(true);
        reader.start();
        List<String> out = new ArrayList<>();
        try (Writer w = new OutputStreamWriter(p.getOutputStream(), StandardCharsets.UTF_8)) {
            for (String line : lines(script)) {
                if (line.startsWith("sleep ")) {
                    Thread.sleep(Long.parseLong(line.substring(6).strip()));
                    continue;
                }
                w.write(line + "\n");
                w.flush();
                String reply = replies.poll(10, TimeUnit.SECONDS);
                if (reply == null) {
                    throw new AssertionError("QEMU did not answer '" + line + "'");
                }
                out.add(reply);
            }
        } finally {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
        return out;
    }

    /** Replies of viommu's qtest server to the same script (edu DMA completes at once). */
    static List<String> viommu(String script, String... devices) {
        StringBuilder sb = new StringBuilder();
        for (String line : lines(script)) {
            if (!line.startsWith("sleep ")) {
                sb.append(line).append('\n');
            }
        }
        List<String> args = new ArrayList<>(List.of("-machine", "q35", "-nodefaults", "-m", "256M"));
        for (String d : devices) {
            args.add("-device");
            args.add(d);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        QtestServer.serve(args, new BufferedReader(new StringReader(sb.toString())),
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        List<String> l = new ArrayList<>();
        for (String s : out.toString(StandardCharsets.UTF_8).split("\n")) {
            if (!s.isEmpty() && !s.startsWith("IRQ") && !s.startsWith("EDU:")) {
                l.add(s);
            }
        }
        return l;
    }
}
