package io.viommu.conformance;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Shared lock-step logic of both peers: the peer's output arrives as lines on a queue (filled by
 * a reader thread or by an in-process stream); a reply is the next line that starts with
 * {@code OK}, {@code FAIL} or {@code ERR}; everything else is asynchronous. A peer that stops
 * answering or exits yields a synthetic reply so that the comparison reports it instead of
 * hanging.
 */
abstract class LinePeer implements QtestPeer {
    static final String EOF = "\u0000EOF";
    private static final long REPLY_TIMEOUT_MS = 20_000;

    protected final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final List<String> async = new ArrayList<>();
    private final Deque<String> diagnostics = new ArrayDeque<>();
    private boolean dead;

    /** Writes one command line to the peer. */
    protected abstract void writeLine(String command);

    /** Describes why the peer ended (exit code, exception), for the synthetic reply. */
    protected abstract String exitDescription();

    @Override
    public final List<String> send(String command) {
        if (dead) {
            return List.of("<peer dead: " + exitDescription() + ">");
        }
        writeLine(command);
        while (true) {
            String line;
            try {
                line = lines.poll(REPLY_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                line = null;
            }
            if (line == null) {
                dead = true;
                return List.of("<no reply within " + REPLY_TIMEOUT_MS + " ms>");
            }
            if (line.equals(EOF)) {
                dead = true;
                return List.of("<peer exited: " + exitDescription() + ">");
            }
            if (isReply(line)) {
                return List.of(line);
            }
            async.add(line);
        }
    }

    static boolean isReply(String line) {
        return line.startsWith("OK") || line.startsWith("FAIL") || line.startsWith("ERR");
    }

    /** Drains asynchronous lines that arrived while no command was pending. */
    protected final void drainAsync() {
        String l;
        while ((l = lines.peek()) != null && !l.equals(EOF) && !isReply(l)) {
            async.add(lines.poll());
        }
    }

    @Override
    public final List<String> asyncLines() {
        drainAsync();
        return List.copyOf(async);
    }

    protected final synchronized void diagnostic(String line) {
        diagnostics.addLast(line);
        while (diagnostics.size() > 40) {
            diagnostics.removeFirst();
        }
    }

    @Override
    public final synchronized String diagnostics() {
        return String.join("\n", diagnostics);
    }
}
