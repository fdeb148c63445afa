package io.viommu.pci;

/**
 * MSI-X capability (PCI Local Bus 3.0 section 6.8.2), 12 bytes, as QEMU's {@code msix_init}:
 * <pre>
 *  +2 message control: 10:0 table size - 1 (read-only), 14 function mask, 15 enable (writable)
 *  +4 table offset 31:3 / BIR 2:0      +8 PBA offset 31:3 / BIR 2:0   (read-only)
 * </pre>
 * The table and PBA (in a BAR) and the delivery of vectors are {@link MsixTable}'s; a function that
 * only declares the capability delivers nothing.
 */
public final class MsixCapability {
    private MsixCapability() {
    }

    public static final int CONTROL = 0x02;
    public static final int TABLE = 0x04;
    public static final int PBA = 0x08;
    public static final int SIZE = 12;
    public static final int CONTROL_MASKALL = 1 << 14;
    public static final int CONTROL_ENABLE = 1 << 15;

    public static void declare(ConfigSpace c, int off, int vectors, int tableBir, int tableOffset,
                               int pbaBir, int pbaOffset) {
        c.define(off, SIZE, PciRegs.CAP_ID_MSIX, 0, 0);
        c.define(off + CONTROL, 2, (vectors - 1) & 0x7ff, CONTROL_ENABLE | CONTROL_MASKALL, 0);
        c.define(off + TABLE, 4, (tableOffset & ~7L) | tableBir, 0, 0);
        c.define(off + PBA, 4, (pbaOffset & ~7L) | pbaBir, 0, 0);
    }

    public static int vectors(int control) {
        return (control & 0x7ff) + 1;
    }
}
