package io.viommu.bench;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.Page;
import io.viommu.pci.DmaFault;
import io.viommu.pci.RequesterId;
import io.viommu.pci.TranslationResult;
import io.viommu.vtd.IntelIommu;

/**
 * Writes legacy-mode VT-d tables into RAM the way a driver would (root table, context tables,
 * second-level tables), taking 4 KiB pages from a bump allocator, and turns translation on
 * through the registers. Formats: VT-d spec 9.1 (root entry), 9.3 (context entry),
 * 9.8 (second-level paging entries).
 */
public final class LegacyTables {
    private static final long ADDR_MASK = 0x000F_FFFF_FFFF_F000L;
    private static final int REG_GCMD = 0x18;
    private static final int REG_GSTS = 0x1C;
    private static final int REG_RTADDR = 0x20;
    private static final int GCMD_TE = 1 << 31;
    private static final int GCMD_SRTP = 1 << 30;

    private final AddressSpace ram;
    private long nextFree;
    private final long root;
    private int topLevels = 4;

    /** Tables in {@code ram} (any physical address space: a machine's RAM, a VM's RAM in its VMM process). */
    public LegacyTables(AddressSpace ram, long tablePool) {
        this.ram = ram;
        this.nextFree = tablePool;
        this.root = allocPage();
    }

    public long rootTable() {
        return root;
    }

    private long allocPage() {
        long p = nextFree;
        nextFree += Page.SIZE;
        for (long o = 0; o < Page.SIZE; o += 8) {
            ram.write(p + o, 0, 8);
        }
        return p;
    }

    /**
     * Makes {@code rid} present with TT=00 in domain {@code did}, address width {@code agaw}
     * (1 = 39-bit/3-level, 2 = 48-bit/4-level, 3 = 57-bit/5-level), and returns its top-level
     * second-level table.
     */
    public long contextFor(RequesterId rid, int did, int agaw) {
        long rootEntry = root + rid.bus() * 16L;
        long ctxTable = ram.read(rootEntry, 8) & ADDR_MASK;
        if ((ram.read(rootEntry, 8) & 1) == 0) {
            ctxTable = allocPage();
            ram.write(rootEntry, ctxTable | 1, 8);
        }
        long top = allocPage();
        long ce = ctxTable + rid.devfn() * 16L;
        ram.write(ce, top | 1, 8);                              // P, TT=00, SLPTPTR
        ram.write(ce + 8, ((long) did << 8) | agaw, 8);          // DID 23:8, AW 2:0
        topLevels = agaw + 2;
        return top;
    }

    /** Maps one 4 KiB page. */
    public void map4k(long top, long iova, long phys, boolean read, boolean write) {
        long table = tableAt(top, iova, topLevels, 1);
        ram.write(table + index(iova, 1) * 8, (phys & ADDR_MASK) | perms(read, write), 8);
    }

    /** Maps one 2 MiB page (PS=1 in a level-2 entry). */
    public void map2m(long top, long iova, long phys, boolean read, boolean write) {
        long table = tableAt(top, iova, topLevels, 2);
        ram.write(table + index(iova, 2) * 8, (phys & ~((1L << 21) - 1) & ADDR_MASK) | 1L << 7
                | perms(read, write), 8);
    }

    private static long perms(boolean read, boolean write) {
        return (read ? 1 : 0) | (write ? 2 : 0);
    }

    private static long index(long iova, int level) {
        return (iova >>> (12 + 9 * (level - 1))) & 0x1ff;
    }

    /** Walks from {@code top} (at {@code level}) down to the table of {@code target} level. */
    private long tableAt(long top, long iova, int level, int target) {
        long table = top;
        for (int l = level; l > target; l--) {
            long slot = table + index(iova, l) * 8;
            long e = ram.read(slot, 8);
            if ((e & 3) == 0) {
                long next = allocPage();
                ram.write(slot, next | 3, 8);
                table = next;
            } else {
                table = e & ADDR_MASK;
            }
        }
        return table;
    }

    /** Programs RTADDR, latches it (GCMD.SRTP) and enables translation (GCMD.TE). */
    public void enable(IntelIommu iommu) {
        iommu.store(REG_RTADDR, root, 8);
        iommu.store(REG_GCMD, GCMD_SRTP, 4);
        int sts = (int) iommu.load(REG_GSTS, 4);
        iommu.store(REG_GCMD, (sts & ~GCMD_SRTP) | GCMD_TE, 4);
    }

    /** Fails loudly when setup did not produce a translation (a broken benchmark measures nothing). */
    public static void requireTranslation(TranslationResult r) {
        if (r instanceof DmaFault f) {
            throw new IllegalStateException("benchmark setup does not translate: " + f);
        }
    }
}
