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

    /** One tolerated difference: all three patterns must match (full match). */
    record Deviation(Pattern command, Pattern qemuReply, Pattern viommuReply, String reason) {
        boolean tolerates(String cmd, String qemu, String viommu) {
            return command.matcher(cmd).matches() && qemuReply.matcher(qemu).matches()
                    && viommuReply.matcher(viommu).matches();
        }
    }

    /** Empty until a deliberate deviation is needed. */
    static final List<Deviation> ALL = List.of();

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
