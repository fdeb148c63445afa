package io.viommu.pci;

/**
 * A PCI MSI capability structure (PCI Local Bus 3.0 section 6.8.1) for one vector, laid out
 * and masked as QEMU's {@code msi_init(dev, offset, 1, msi64bit, per_vector_mask=false)}:
 *
 * <pre>
 *  +0  cap id (0x05)   +1 next pointer   +2 message control (16 bits)
 *  +4  message address 31:2 (bits 1:0 read-only 0)
 *  +8  message upper address (64-bit form only)
 *  +8/+C message data (16 bits)
 * </pre>
 * Message control: bit 0 enable (writable), bits 3:1 multiple message capable (0: one vector),
 * bits 6:4 multiple message enable (read-only with one vector), bit 7 64-bit capable.
 */
public final class MsiCapability {
    public static final int CONTROL = 2;
    public static final int ADDRESS_LO = 4;
    public static final int ADDRESS_HI = 8;
    public static final int CONTROL_ENABLE = 1 << 0;
    public static final int CONTROL_64BIT = 1 << 7;
    /** Multiple Message Enable (bits 6:4). */
    public static final int CONTROL_QSIZE = 0x70;

    private final ConfigSpace config;
    private final int offset;
    private final boolean is64;

    public MsiCapability(ConfigSpace config, int offset, boolean is64) {
        this.config = config;
        this.offset = offset;
        this.is64 = is64;
        int size = length(is64);
        config.define(offset, size, 0, 0, 0);
        config.set(offset, 1, PciRegs.CAP_ID_MSI);
        config.define(offset + CONTROL, 2, is64 ? CONTROL_64BIT : 0, CONTROL_ENABLE, 0);
        config.define(offset + ADDRESS_LO, 4, 0, 0xffff_fffcL, 0);
        if (is64) {
            config.define(offset + ADDRESS_HI, 4, 0, 0xffff_ffffL, 0);
        }
        config.define(dataOffset(), 2, 0, 0xffff, 0);
    }

    /** Bytes the structure occupies: 10 (32-bit) or 14 (64-bit), no per-vector masking. */
    public static int length(boolean is64) {
        return is64 ? 0x0e : 0x0a;
    }

    public int offset() {
        return offset;
    }

    public int length() {
        return length(is64);
    }

    private int dataOffset() {
        return offset + (is64 ? 0x0c : 0x08);
    }

    public boolean enabled() {
        return (config.get(offset + CONTROL, 2) & CONTROL_ENABLE) != 0;
    }

    public long address() {
        long lo = config.get(offset + ADDRESS_LO, 4);
        return is64 ? lo | config.get(offset + ADDRESS_HI, 4) << 32 : lo;
    }

    public int data() {
        return (int) config.get(dataOffset(), 2);
    }

    /**
     * {@code msi_reset}: enable and the multiple-message size cleared, address and data zero
     * (no per-vector masking here, so no mask or pending bits to clear).
     */
    public void reset() {
        long flags = config.get(offset + CONTROL, 2) & ~(CONTROL_ENABLE | CONTROL_QSIZE);
        config.set(offset + CONTROL, 2, flags);
        config.set(offset + ADDRESS_LO, 4, 0);
        if (is64) {
            config.set(offset + ADDRESS_HI, 4, 0);
        }
        config.set(dataOffset(), 2, 0);
    }

    public boolean overlaps(int off, int len) {
        return off < offset + length() && off + len > offset;
    }
}
