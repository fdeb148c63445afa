package io.viommu.conformance;

import java.util.List;
import java.util.regex.Pattern;

/**
 * Deliberate, documented differences between viommu and QEMU 7.2 that the comparison tolerates.
 * Each entry names the command it applies to, the replies it accepts on each side, and why
 * viommu differs. Keep this list short: every entry is also listed in the README's deviations.
 *
 * <p>Not listed here because it is outside the comparison altogether: asynchronous {@code IRQ}
 * lines (QEMU's PIT raises IRQ 0 on its own schedule; their timing is not protocol) are compared
 * only by tests that ask for a specific line.
 */
final class KnownDeviations {

    /** One tolerated difference. */
    interface Deviation {
        boolean tolerates(String cmd, String qemu, String viommu);

        String reason();
    }

    /** The replies differ as the patterns say (all three full matches). */
    record ReplyPattern(Pattern command, Pattern qemuReply, Pattern viommuReply, String reason)
            implements Deviation {
        @Override
        public boolean tolerates(String cmd, String qemu, String viommu) {
            return command.matcher(cmd).matches() && qemuReply.matcher(qemu).matches()
                    && viommuReply.matcher(viommu).matches();
        }
    }

    /** Both replies are {@code OK 0x<value>} and equal once the {@code ignored} bits are cleared. */
    record IgnoredBits(Pattern command, long ignored, String reason) implements Deviation {
        @Override
        public boolean tolerates(String cmd, String qemu, String viommu) {
            if (!command.matcher(cmd).matches() || !qemu.startsWith("OK 0x") || !viommu.startsWith("OK 0x")) {
                return false;
            }
            try {
                long q = Long.parseUnsignedLong(qemu.substring(5), 16);
                long v = Long.parseUnsignedLong(viommu.substring(5), 16);
                return (q & ~ignored) == (v & ~ignored);
            } catch (NumberFormatException e) {
                return false;
            }
        }
    }

    /**
     * GSTS.CFIS (bit 23): viommu latches GCMD.CFI as the VT-d spec says (and then blocks
     * compatibility-format interrupts while CFIS is clear, fault 0x25); QEMU 7.2 ignores CFI
     * and never sets CFIS. Visible in GSTS reads (0x1C, and the high half of a readq at 0x18).
     */
    static final Deviation GSTS_CFIS = new IgnoredBits(
            Pattern.compile("read[lq] 0xfed9001c|readq 0xfed90018"), (1L << 23) | (1L << 55),
            "GCMD.CFI latches GSTS.CFIS (spec 10.4.4); QEMU 7.2 ignores CFI");

    static final List<Deviation> ALL = List.of(GSTS_CFIS);

    private KnownDeviations() {}

    static Deviation find(String command, String qemu, String viommu) {
        for (Deviation d : ALL) {
            if (d.tolerates(command, qemu, viommu)) {
                return d;
            }
        }
        return null;
    }
}
