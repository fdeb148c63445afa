package io.viommu.conformance;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * viommu's qtest server run in-process on a thread, fed line by line through a queue-backed
 * reader; its output is split into lines onto the shared reply queue. {@link #settle()} does
 * nothing: the model's result must not depend on wall-clock time.
 */
final class ViommuPeer extends LinePeer {
    private static final String END = "\u0000END";

    private final BlockingQueue<String> input = new LinkedBlockingQueue<>();
    private final Thread thread;
    private volatile String exit = "running";

    private ViommuPeer(ViommuQtestServer.Entry entry, List<String> qemuArgs) {
        PrintStream out = new PrintStream(new LineSink(false), true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(new LineSink(true), true, StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new QueueReader());
        thread = new Thread(() -> {
            try {
                exit = "exit code " + entry.serve(qemuArgs, in, out, err);
            } catch (Throwable t) {
                exit = "threw " + t;
                diagnostic("server threw: " + t);
            } finally {
                out.flush();
                lines.add(EOF);
            }
        }, "viommu-qtest");
        thread.setDaemon(true);
        thread.start();
    }

    static ViommuPeer start(ViommuQtestServer.Entry entry, List<String> qemuArgs) {
        return new ViommuPeer(entry, qemuArgs);
    }

    @Override
    protected void writeLine(String command) {
        input.add(command + "\n");
    }

    @Override
    protected String exitDescription() {
        return exit + "; stderr:\n" + diagnostics();
    }

    @Override
    public void settle() {
        // Deliberately nothing: see class comment.
    }

    @Override
    public String name() {
        return "viommu";
    }

    @Override
    public void close() {
        input.add(END);
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A Reader over the command queue; returns EOF after {@link #close()}. */
    private final class QueueReader extends Reader {
        private String current = "";
        private int pos;

        @Override
        public int read(char[] buf, int off, int len) {
            if (len == 0) {
                return 0;
            }
            while (pos >= current.length()) {
                if (current == END) {
                    return -1;
                }
                try {
                    current = input.take();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return -1;
                }
                pos = 0;
                if (current == END) {
                    return -1;
                }
            }
            int n = Math.min(len, current.length() - pos);
            current.getChars(pos, pos + n, buf, off);
            pos += n;
            return n;
        }

        @Override
        public void close() {}
    }

    /** Splits written bytes into lines: stdout lines go to the reply queue, stderr to diagnostics. */
    private final class LineSink extends OutputStream {
        private final boolean stderr;
        private final ByteArrayOutputStream line = new ByteArrayOutputStream();

        LineSink(boolean stderr) {
            this.stderr = stderr;
        }

        @Override
        public synchronized void write(int b) {
            if (b == '\n') {
                String s = line.toString(StandardCharsets.UTF_8);
                line.reset();
                if (stderr) {
                    diagnostic(s);
                } else {
                    lines.add(s);
                }
            } else {
                line.write(b);
            }
        }
    }
}
