package io.viommu.conformance;

import java.util.ArrayList;
import java.util.List;

/**
 * One machine configuration and the script run on it in ONE peer process (QEMU has no reset over
 * qtest, so the cases of a batch are built not to disturb each other).
 *
 * @param family  scenario family, e.g. {@code dma-translation}
 * @param seed    generator seed; printed in every failure so the batch can be regenerated
 * @param devices the {@code -device} values in order (intel-iommu first, then the edu lanes)
 */
record Batch(String family, long seed, List<String> devices, QtestScript script) {

    /** The full QEMU command line after the binary, as given to both peers. */
    List<String> qemuArgs() {
        List<String> a = new ArrayList<>();
        for (String d : devices) {
            a.add("-device");
            a.add(d);
        }
        return Differential.commandLine(a);
    }

    String title() {
        return family + " seed=" + seed + " devices=" + devices;
    }
}
