package io.viommu.vtd;

import io.viommu.memory.AddressSpace;

/**
 * A second-level page walk for scalable mode (PGTT 2, and stage 2 of nested translation), in
 * QEMU 7.2's order (vtd_iova_to_slpte): for each level, read the entry (unreadable or all ones
 * is an invalid table pointer at the top level and an access error below), check the requested
 * permission, then the reserved bits, stop at a leaf. Permissions accumulate over the levels.
 *
 * <p>Results are left in fields (no allocation on the walk path); {@link #walk} returns null
 * on success or the fault. One instance per user; not thread-safe.
 *
 * <p>The legacy walk in {@link IntelIommu} follows the same rules with the context entry's
 * table and width; it predates this class.
 */
final class SecondLevelWalk {
    private final AddressSpace memory;
    private final int aw;
    private final boolean snpAllowed;
    private final boolean tmAllowed;

    /** Leaf entry, its level, and the permissions granted along the way (after a success). */
    long pte;
    int level;
    boolean reads;
    boolean writes;

    /**
     * @param snpAllowed SNP not reserved: scalable mode or ECAP.SC (QEMU vtd_init)
     * @param tmAllowed  TM not reserved: device-IOTLB supported
     */
    SecondLevelWalk(AddressSpace memory, int aw, boolean snpAllowed, boolean tmAllowed) {
        this.memory = memory;
        this.aw = aw;
        this.snpAllowed = snpAllowed;
        this.tmAllowed = tmAllowed;
    }

    /**
     * Walks {@code levels} levels from {@code table} for {@code input} needing write
     * ({@code write}) or read permission; {@code agaw} is the table's input width.
     */
    ScalableFault walk(long table, int levels, int agaw, long input, boolean write) {
        int width = Math.min(agaw, aw);
        if (width < 64 && (input >>> width) != 0) {
            return ScalableFault.BEYOND_MAX;
        }
        long need = write ? SlPte.W : SlPte.R;
        reads = true;
        writes = true;
        level = levels;
        long t = table;
        while (true) {
            long addr = SlPte.address(t, input, level);
            long v = memory.probe(addr, 8) == AddressSpace.Status.OK ? memory.read(addr, 8) : -1L;
            if (v == -1L) {
                return level == levels ? ScalableFault.SL_POINTER_INVALID : ScalableFault.SL_ACCESS;
            }
            reads &= SlPte.isReadable(v);
            writes &= SlPte.isWritable(v);
            if ((v & need) == 0) {
                return ScalableFault.SL_PERMISSION;
            }
            if ((v & SlPte.reservedMask(v, level, aw, snpAllowed, tmAllowed)) != 0) {
                return ScalableFault.SL_RESERVED;
            }
            if (SlPte.isLeaf(v, level)) {
                pte = v;
                return null;
            }
            t = SlPte.outputAddress(v, aw);
            level--;
        }
    }

    /** The output address of {@code input} after a successful walk. */
    long output(long input) {
        long size = SlPte.pageSize(level);
        return (SlPte.outputAddress(pte, aw) & ~(size - 1)) | (input & (size - 1));
    }
}
