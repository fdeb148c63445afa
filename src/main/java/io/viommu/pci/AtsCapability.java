package io.viommu.pci;

/**
 * The PCIe Address Translation Services extended capability (PCIe 6.x section 7.8.3), laid
 * out in a function's extended configuration space (so the function needs the 4 KiB PCIe
 * space):
 *
 * <pre>
 *  +0  extended capability header: ID 15:0 = 0x000F, version 19:16 = 1, next 31:20
 *  +4  ATS Capability (16, RO): 4:0 Invalidate Queue Depth (0 = 32), 5 Page Aligned Request,
 *      6 Global Invalidate Supported, 7 Relaxed Ordering Supported
 *  +6  ATS Control (16): 4:0 Smallest Translation Unit (2^(STU+12) bytes, RW), 15 Enable (RW)
 * </pre>
 * A device model carries one by constructing it over its config space; the device's
 * {@link AtsEndpoint} consults {@link #enabled()} before issuing translation requests.
 */
public final class AtsCapability {
    public static final int ID = 0x000F;
    public static final int VERSION = 1;
    public static final int LENGTH = 8;
    public static final int CAPABILITY = 4;
    public static final int CONTROL = 6;
    public static final int CAP_PAGE_ALIGNED_REQUEST = 1 << 5;
    public static final int CAP_GLOBAL_INVALIDATE = 1 << 6;
    public static final int CONTROL_STU_MASK = 0x1f;
    public static final int CONTROL_ENABLE = 1 << 15;

    private final ConfigSpace config;
    private final int offset;

    /**
     * Declares the capability at {@code offset} (0x100 or above, dword aligned) with next
     * pointer {@code next} (0 ends the list). Page-aligned requests and global invalidate are
     * advertised: the model's device-TLB handles both.
     */
    public AtsCapability(ConfigSpace config, int offset, int next) {
        if (config.size() != ConfigSpace.PCIE_SIZE || offset < 0x100 || (offset & 3) != 0
                || offset + LENGTH > config.size()) {
            throw new IllegalArgumentException("ATS capability needs PCIe config space at 0x100+: " + offset);
        }
        this.config = config;
        this.offset = offset;
        config.define(offset, 4, ID | (VERSION << 16) | ((long) (next & 0xffc) << 20), 0, 0);
        config.define(offset + CAPABILITY, 2, CAP_PAGE_ALIGNED_REQUEST | CAP_GLOBAL_INVALIDATE, 0, 0);
        config.define(offset + CONTROL, 2, 0, CONTROL_ENABLE | CONTROL_STU_MASK, 0);
    }

    public int offset() {
        return offset;
    }

    public boolean enabled() {
        return (config.get(offset + CONTROL, 2) & CONTROL_ENABLE) != 0;
    }

    /** Smallest translation unit in bytes (2^(STU+12)). */
    public long smallestTranslationUnit() {
        return 4096L << (config.get(offset + CONTROL, 2) & CONTROL_STU_MASK);
    }

    @Override
    public String toString() {
        return String.format("ATS@0x%x[enabled=%b STU=%d]", offset, enabled(), smallestTranslationUnit());
    }
}
