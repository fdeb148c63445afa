package io.viommu.conformance;

import java.util.List;

/**
 * One side of the differential comparison: something that speaks QEMU's qtest protocol.
 * {@link #send} returns the synchronous reply to one command ({@code OK ...}, {@code FAIL ...},
 * {@code ERR ...}); asynchronous lines ({@code IRQ raise N}, device chatter) are kept apart in
 * {@link #asyncLines()} because their timing is not part of the contract.
 */
interface QtestPeer extends AutoCloseable {

    /** Sends one command and returns its reply lines (exactly one for a live peer). */
    List<String> send(String command);

    /** Sends one command and returns its reply as one line (a synthetic {@code <...>} one if the peer died). */
    default String cmd(String command) {
        return String.join(" | ", send(command));
    }

    /** The value of the {@code OK 0x...} reply to {@code command}; anything else is an error of the test. */
    default long value(String command) {
        String reply = cmd(command);
        Long v = QtestScript.replyValue(reply);
        if (v == null) {
            throw new IllegalStateException(name() + ": " + command + " -> " + reply);
        }
        return v;
    }

    /** Lets the peer's timers fire (edu's DMA runs ~100 ms after its command in QEMU). */
    void settle();

    /** Asynchronous lines seen so far, in arrival order. */
    List<String> asyncLines();

    /** Diagnostic tail (stderr) for failure reports. */
    String diagnostics();

    String name();

    @Override
    void close();
}
