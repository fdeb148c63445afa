package io.viommu.pci;

/**
 * The x86 interrupt address window 0xFEE0_0000-0xFEEF_FFFF (Intel SDM vol. 3 "Message Address
 * Register Format": bits 31:20 are 0FEEH; VT-d 3.4 section 3.14 "Handling Requests to
 * Interrupt Address Range"): a PCI device's memory write there is an MSI, never DMA. The one
 * definition of the window in viommu: the machine turns writes there into interrupts, VT-d never
 * translates to or from it, and the kernel model reports it as the msi reserved region and keeps
 * VFIO mappings out of it.
 */
public final class MsiAddress {
    public static final long FIRST = 0xFEE0_0000L;
    public static final long LAST = 0xFEEF_FFFFL;

    private MsiAddress() {
    }

    public static boolean contains(long addr) {
        return addr >= FIRST && addr <= LAST;
    }

    /** Whether {@code [start, start + size)} touches the window. */
    public static boolean overlaps(long start, long size) {
        return !(start > LAST || start + size - 1 < FIRST);
    }

    /** A compatibility-format address for an xAPIC destination id (bits 19:12). */
    public static long forApic(int apicId) {
        return FIRST | (long) (apicId & 0xff) << 12;
    }
}
