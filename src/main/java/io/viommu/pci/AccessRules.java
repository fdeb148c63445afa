package io.viommu.pci;

/**
 * Which CPU accesses an MMIO or port-I/O region accepts, as QEMU's MemoryRegionOps
 * {@code .valid} (min/max size, unaligned) plus the widest piece the region is handed at
 * once ({@code .impl.max_access_size}). The platform's dispatcher splits a wider or unaligned
 * access into naturally aligned pieces no wider than {@code maxSize} (QEMU
 * {@code memory_access_size}); a piece outside {@code [minSize, maxSize]} is not delivered and
 * reads as the bus's unassigned value.
 */
public record AccessRules(int minSize, int maxSize, boolean unaligned) {
    /** RAM-like: anything goes. */
    public static final AccessRules ANY = new AccessRules(1, 8, true);
    /** Registers taking 1..4 byte accesses (PCI config data port, ECAM window). */
    public static final AccessRules UP_TO_4 = new AccessRules(1, 4, false);

    public AccessRules {
        if (minSize < 1 || maxSize > 8 || minSize > maxSize) {
            throw new IllegalArgumentException("bad access rules " + minSize + ".." + maxSize);
        }
    }

    public boolean accepts(long offset, int size) {
        return size >= minSize && size <= maxSize && (unaligned || (offset & (size - 1)) == 0);
    }
}
