package io.viommu.vtd;

import java.util.Map;

/**
 * The options of one VT-d unit, named as QEMU's {@code -device intel-iommu} properties, plus
 * viommu's extensions (off by default so that the defaults read the same as QEMU 7.2).
 * PLACEHOLDER: the VT-d implementation replaces this file.
 */
public record VtdConfig(boolean intremap, boolean eim, boolean cachingMode, boolean deviceIotlb,
                        boolean pt, int awBits, boolean scalableMode, boolean pasidMode,
                        boolean snoopControl, boolean dmaDrain, int faultRecords, int iotlbEntries) {

    public static VtdConfig defaults() {
        return new VtdConfig(true, false, false, false, true, 39, false, false, false, true, 1, 1024);
    }

    /**
     * Builds a config from QEMU property syntax ({@code caching-mode=on}); throws
     * IllegalArgumentException with QEMU's message for bad values or combinations.
     */
    public static VtdConfig fromQemuProperties(Map<String, String> props) {
        if (!props.isEmpty()) {
            throw new IllegalArgumentException("intel-iommu properties not implemented yet");
        }
        return defaults();
    }
}
