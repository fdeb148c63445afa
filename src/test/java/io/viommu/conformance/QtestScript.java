package io.viommu.conformance;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * A qtest script as the differential harness runs it: protocol commands, each optionally
 * carrying what the generator expects QEMU to answer, plus two pseudo-steps that are not sent
 * to any peer: {@link Settle} (let timers such as edu's ~100 ms DMA delay fire) and
 * {@link Note} (names the case the following steps belong to, for failure reports).
 */
final class QtestScript {

    sealed interface Step permits Command, Settle, Note {}

    /** A protocol line; {@code expect} is null when the generator claims nothing about the reply. */
    record Command(String text, Expectation expect) implements Step {}

    /** Wait until every DMA fired so far has completed (QEMU: sleep; in-process: nothing). */
    record Settle() implements Step {}

    /** Case label; not sent. */
    record Note(String text) implements Step {}

    /** What the generator intends QEMU to reply, with the reason (used by the oracle self-test). */
    record Expectation(String reply, long mask, long value, String why) {
        static Expectation exact(String reply, String why) {
            return new Expectation(reply, 0, 0, why);
        }

        static Expectation masked(long mask, long value, String why) {
            return new Expectation(null, mask, value, why);
        }

        boolean matches(String actual) {
            if (reply != null) {
                return reply.equals(actual);
            }
            Long v = QtestScript.replyValue(actual);
            return v != null && (v & mask) == (value & mask);
        }

        @Override
        public String toString() {
            return reply != null ? "'" + reply + "' (" + why + ")"
                    : String.format("value & 0x%x == 0x%x (%s)", mask, value & mask, why);
        }
    }

    private final List<Step> steps = new ArrayList<>();

    List<Step> steps() {
        return List.copyOf(steps);
    }

    QtestScript note(String text) {
        steps.add(new Note(text));
        return this;
    }

    QtestScript settle() {
        steps.add(new Settle());
        return this;
    }

    /**
     * A script written as text, one protocol command a line; a line {@code settle} is a
     * {@link Settle} step; blank lines are skipped.
     */
    static QtestScript parse(String text) {
        QtestScript s = new QtestScript();
        for (String line : text.split("\n")) {
            String l = line.strip();
            if (l.equals("settle")) {
                s.settle();
            } else if (!l.isEmpty()) {
                s.cmd(l);
            }
        }
        return s;
    }

    QtestScript cmd(String text) {
        steps.add(new Command(text, null));
        return this;
    }

    QtestScript append(QtestScript other) {
        steps.addAll(other.steps);
        return this;
    }

    /** Attaches an expectation to the last command. */
    QtestScript expect(Expectation e) {
        int last = steps.size() - 1;
        if (last < 0 || !(steps.get(last) instanceof Command c)) {
            throw new IllegalStateException("expectation without a command");
        }
        steps.set(last, new Command(c.text(), e));
        return this;
    }

    /** Expects the reply's numeric value (qtest pads memory reads to 16 digits, port reads not). */
    QtestScript expectValue(long value, String why) {
        return expect(Expectation.masked(-1L, value, why));
    }

    QtestScript expectMasked(long mask, long value, String why) {
        return expect(Expectation.masked(mask, value, why));
    }

    QtestScript writeb(long addr, long v) { return cmd(String.format("writeb 0x%x 0x%x", addr, v & 0xff)); }
    QtestScript writew(long addr, long v) { return cmd(String.format("writew 0x%x 0x%x", addr, v & 0xffff)); }
    QtestScript writel(long addr, long v) { return cmd(String.format("writel 0x%x 0x%x", addr, v & 0xffffffffL)); }
    QtestScript writeq(long addr, long v) { return cmd(String.format("writeq 0x%x 0x%x", addr, v)); }
    QtestScript readb(long addr) { return cmd(String.format("readb 0x%x", addr)); }
    QtestScript readw(long addr) { return cmd(String.format("readw 0x%x", addr)); }
    QtestScript readl(long addr) { return cmd(String.format("readl 0x%x", addr)); }
    QtestScript readq(long addr) { return cmd(String.format("readq 0x%x", addr)); }
    QtestScript outl(int port, long v) { return cmd(String.format("outl 0x%x 0x%x", port, v & 0xffffffffL)); }
    QtestScript outw(int port, long v) { return cmd(String.format("outw 0x%x 0x%x", port, v & 0xffff)); }
    QtestScript inl(int port) { return cmd(String.format("inl 0x%x", port)); }

    /** qtest {@code write ADDR SIZE 0xDATA}: bulk store of bytes. */
    QtestScript write(long addr, byte[] data) {
        return cmd(String.format("write 0x%x 0x%x 0x%s", addr, data.length, HexFormat.of().formatHex(data)));
    }

    /** qtest {@code read ADDR SIZE}: bulk load, replied as {@code OK 0x<hex bytes>}. */
    QtestScript read(long addr, int size) {
        return cmd(String.format("read 0x%x 0x%x", addr, size));
    }

    QtestScript expectBytes(byte[] data, String why) {
        return expect(Expectation.exact("OK 0x" + HexFormat.of().formatHex(data), why));
    }

    /** The numeric value of an {@code OK 0x...} reply, or null. */
    static Long replyValue(String reply) {
        if (reply == null || !reply.startsWith("OK 0x")) {
            return null;
        }
        try {
            return Long.parseUnsignedLong(reply.substring(5).trim(), 16);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** The script as text, runnable by hand ({@code settle} as a comment with the pause to take). */
    String render() {
        StringBuilder sb = new StringBuilder();
        for (Step s : steps) {
            switch (s) {
                case Command c -> sb.append(c.text()).append('\n');
                case Settle ignored -> sb.append("# settle: wait ~250 ms before the next command\n");
                case Note n -> sb.append("# ").append(n.text()).append('\n');
            }
        }
        return sb.toString();
    }
}
