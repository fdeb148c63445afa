package io.viommu.conformance;

import java.util.ArrayList;
import java.util.List;

/** The replies one peer gave to a batch, aligned with the script's commands. */
record Transcript(String peer, List<Exchange> exchanges, List<String> asyncLines, String diagnostics) {

    /** One command and its reply, with the case it belonged to. */
    record Exchange(int step, String caseName, QtestScript.Command command, String reply) {}

    /** Runs every step of {@code batch} on {@code peer} (which the caller closes). */
    static Transcript record(Batch batch, QtestPeer peer) {
        List<Exchange> out = new ArrayList<>();
        String caseName = "(preamble)";
        List<QtestScript.Step> steps = batch.script().steps();
        for (int i = 0; i < steps.size(); i++) {
            switch (steps.get(i)) {
                case QtestScript.Note n -> caseName = n.text();
                case QtestScript.Settle s -> peer.settle();
                case QtestScript.Command c -> {
                    String reply = peer.cmd(c.text());
                    out.add(new Exchange(i, caseName, c, reply));
                    if (reply.startsWith("<")) {
                        return new Transcript(peer.name(), out, peer.asyncLines(), peer.diagnostics());
                    }
                }
            }
        }
        return new Transcript(peer.name(), out, peer.asyncLines(), peer.diagnostics());
    }

    /** The replies alone, one per command sent. */
    List<String> replies() {
        return exchanges.stream().map(Exchange::reply).toList();
    }

    /** Human-readable tail of the transcript up to (and including) {@code index}. */
    String context(int index, int lines) {
        StringBuilder sb = new StringBuilder();
        for (int i = Math.max(0, index - lines); i <= Math.min(index, exchanges.size() - 1); i++) {
            Exchange e = exchanges.get(i);
            sb.append(String.format("  %s%-48s -> %s%n", i == index ? ">>" : "  ", e.command().text(), e.reply()));
        }
        return sb.toString();
    }
}
