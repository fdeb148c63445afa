package io.viommu.conformance;

import io.viommu.cli.QtestServer;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Starts the two peers of the interrupt-remapping and DMAR differential tests: QEMU 7.2 as
 * {@code qemu-system-x86_64 -machine q35 -m 256M -display none -nodefaults -monitor none
 * -serial none -bios HALT.bin -qtest stdio ...}, and viommu's qtest server in process with the
 * same arguments. Without qemu-system-x86_64 the tests are skipped, unless env CI is set.
 */
final class IrQemu {
    private IrQemu() {
    }

    static final String BINARY = "qemu-system-x86_64";
    private static Boolean available;
    private static Path halt;

    static synchronized boolean available() {
        if (available == null) {
            boolean found = false;
            for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
                if (Files.isExecutable(Path.of(dir, BINARY))) {
                    found = true;
                }
            }
            available = found;
        }
        return available;
    }

    static void assumeQemu() {
        if (System.getenv("CI") != null && !available()) {
            throw new AssertionError(BINARY + " is required under CI");
        }
        Assumptions.assumeTrue(available(), BINARY + " not installed");
    }

    /** HALT.bin: 64 KiB of HLT with {@code hlt; jmp -3} at the reset vector. */
    static synchronized Path haltBios() {
        if (halt == null) {
            try {
                byte[] b = new byte[65536];
                Arrays.fill(b, (byte) 0xf4);
                b[0xfff0] = (byte) 0xf4;
                b[0xfff1] = (byte) 0xeb;
                b[0xfff2] = (byte) 0xfd;
                halt = Files.createTempFile("viommu-halt", ".bin");
                Files.write(halt, b);
                halt.toFile().deleteOnExit();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return halt;
    }

    static List<String> qemuCommand(List<String> extra) {
        List<String> cmd = new ArrayList<>(List.of(BINARY, "-display", "none", "-nodefaults", "-monitor",
                "none", "-serial", "none", "-bios", haltBios().toString(), "-qtest", "stdio"));
        if (extra.stream().noneMatch(a -> a.equals("-machine") || a.equals("-M"))) {
            cmd.addAll(List.of("-machine", "q35"));
        }
        if (!extra.contains("-m")) {
            cmd.addAll(List.of("-m", "256M"));
        }
        cmd.addAll(extra);
        return cmd;
    }

    /** A running QEMU. */
    static IrQtest qemu(String... args) {
        return new QemuSession(qemuCommand(List.of(args)));
    }

    /** viommu's qtest server with the same arguments. */
    static IrQtest viommu(String... args) {
        List<String> a = new ArrayList<>(List.of("-machine", "q35", "-nodefaults", "-m", "256M"));
        a.addAll(List.of(args));
        return new ViommuSession(a);
    }

    /**
     * Runs QEMU with {@code args} expecting it to refuse them; returns its first stderr line that
     * is not a warning or qtest log line (null when QEMU started).
     */
    static String qemuError(String... args) {
        try {
            File err = File.createTempFile("viommu-qemu", ".err");
            err.deleteOnExit();
            Process p = new ProcessBuilder(qemuCommand(List.of(args))).redirectError(err).start();
            p.getOutputStream().write("readl 0xfed90000\n".getBytes(StandardCharsets.US_ASCII));
            p.getOutputStream().flush();
            // A reply means QEMU accepted the options; end of output means it exited.
            String first = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII))
                    .readLine();
            if (first != null) {
                p.destroyForcibly().waitFor();
                return null;
            }
            p.waitFor(5, TimeUnit.SECONDS);
            for (String line : Files.readAllLines(err.toPath())) {
                if (!line.startsWith("[") && !line.contains("warning:") && !line.contains("GLib")
                        && !line.startsWith("Please configure")) {
                    return line;
                }
            }
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static final class QemuSession implements IrQtest {
        private final Process process;
        private final PrintWriter in;
        private final BufferedReader out;

        QemuSession(List<String> command) {
            try {
                process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            in = new PrintWriter(process.getOutputStream(), true, StandardCharsets.US_ASCII);
            out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.US_ASCII));
        }

        @Override
        public String cmd(String command) {
            in.println(command);
            return IrQemu.reply(out, command);
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

    private static final class ViommuSession implements IrQtest {
        private final PrintWriter in;
        private final BufferedReader out;
        private final Thread server;
        private final PipedOutputStream toServer;

        ViommuSession(List<String> args) {
            try {
                toServer = new PipedOutputStream();
                PipedInputStream serverIn = new PipedInputStream(toServer, 1 << 16);
                PipedInputStream fromServer = new PipedInputStream(1 << 20);
                PrintStream serverOut = new PrintStream(new PipedOutputStream(fromServer), true, StandardCharsets.US_ASCII);
                BufferedReader reader = new BufferedReader(new InputStreamReader(serverIn, StandardCharsets.US_ASCII));
                server = new Thread(() -> {
                    QtestServer.serve(args, reader, serverOut, new PrintStream(PrintStream.nullOutputStream()));
                    serverOut.close();
                }, "viommu-qtest");
                server.setDaemon(true);
                server.start();
                in = new PrintWriter(toServer, true, StandardCharsets.US_ASCII);
                out = new BufferedReader(new InputStreamReader(fromServer, StandardCharsets.US_ASCII));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public String cmd(String command) {
            in.println(command);
            return IrQemu.reply(out, command);
        }

        @Override
        public void close() {
            in.close();
            try {
                server.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    static String reply(BufferedReader out, String command) {
        try {
            while (true) {
                String l = out.readLine();
                if (l == null) {
                    throw new IllegalStateException("peer closed on '" + command + "'");
                }
                if (l.startsWith("OK") || l.startsWith("FAIL") || l.startsWith("ERR")) {
                    return l;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
