package io.viommu.vtd;

/**
 * A scalable-mode root entry (VT-d spec 9.2): 128 bits, 256 per root table, indexed by bus.
 * Lo: LP 0, LCTP 63:12 -> context table for devfn 0..127. Hi: UP 0 (bit 64), UCTP 63:12
 * (bits 127:76) -> context table for devfn 128..255. Each half points to 128 context entries
 * of 256 bits. Bits 11:1 of each half and the bits above the host address width are reserved;
 * QEMU 7.2 checks both halves whatever the devfn (vtd_root_entry_rsvd_bits_check, checked
 * against the binary: a reserved bit in the upper half faults a devfn-8 request with 0xA).
 */
public final class ScalableRootEntry extends TableEntry<ScalableRootEntry> {
    public static final int SIZE = 16;
    public static final long PRESENT = 1L;
    public static final long CTP_MASK = ~0xfffL;

    public static long address(long rootTable, int bus) {
        return rootTable + (long) (bus & 0xff) * SIZE;
    }

    /** Whether the half that covers {@code devfn} is present. */
    public static boolean isPresent(long lo, long hi, int devfn) {
        return (((devfn & 0x80) == 0 ? lo : hi) & PRESENT) != 0;
    }

    /** The context table of the half covering {@code devfn}. */
    public static long contextTable(long lo, long hi, int devfn) {
        return ((devfn & 0x80) == 0 ? lo : hi) & CTP_MASK;
    }

    /** Reserved bits of either half for host address width {@code aw} (QEMU VTD_ROOT_ENTRY_RSVD). */
    public static long reserved(int aw) {
        return 0xffeL | ~VtdMath.hawMask(aw);
    }

    public static boolean hasReservedBits(long lo, long hi, int aw) {
        return ((lo | hi) & reserved(aw)) != 0;
    }

    @Override
    protected String fields() {
        return describe(quad(0), quad(1));
    }

    public static String describe(long lo, long hi) {
        return String.format("ScalableRootEntry[LP=%d LCTP=0x%x UP=%d UCTP=0x%x]", lo & 1, lo & CTP_MASK,
                hi & 1, hi & CTP_MASK);
    }
}
