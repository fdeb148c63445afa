package io.viommu.vtd;

/** Small address helpers shared by the decoders and walks. */
final class VtdMath {
    /** The interrupt address range (VT-d 3.14): DMA here is an MSI, never translated. */
    static final long INTERRUPT_FIRST = 0xFEE0_0000L;
    static final long INTERRUPT_LAST = 0xFEEF_FFFFL;

    private VtdMath() {
    }

    /** All ones below the host address width (QEMU VTD_HAW_MASK). */
    static long hawMask(int aw) {
        return aw >= 64 ? -1L : (1L << aw) - 1;
    }

    /** Whether an address falls in the interrupt range. */
    static boolean inInterruptRange(long addr) {
        return addr >= INTERRUPT_FIRST && addr <= INTERRUPT_LAST;
    }

    /** Whether the {@code size} bytes output at {@code first} overlap the interrupt range (fault 0xE). */
    static boolean overlapsInterruptRange(long first, long size) {
        return first <= INTERRUPT_LAST && first + size - 1 >= INTERRUPT_FIRST;
    }
}
