package io.viommu.vtd;

import io.viommu.memory.AddressSpace;
import io.viommu.pci.MsiAddress;
import java.util.Arrays;
import java.util.HashMap;

/**
 * The second-level page walk of the unit, the only one: legacy translation, scalable-mode
 * PGTT 2, stage 2 of nested translation, ATS translation requests, and the map/unmap
 * notifier's range walk all go through it, so a fix here is a fix for all of them.
 *
 * <p>QEMU 7.2's rules (vtd_iova_to_slpte, vtd_page_walk_level), in {@link #judge}: an entry
 * that cannot be read reads as all ones, and an all-ones entry is invalid (the translate path
 * records reason 3 for the top-level table pointer, 7 below); R and W accumulate down the walk
 * and the requested permission is checked BEFORE the reserved bits (so a not-present entry with
 * reserved bits is a permission fault); a leaf ends the walk. Input addresses at or above
 * 2^min(AGAW, aw-bits) are refused before any read (fault 1 / 4, {@link #inputLimit}). The
 * interrupt-range check of the output is the caller's ({@link MsiAddress#overlaps}),
 * as first-level outputs need it too.
 *
 * <p>{@link #walk} follows one address and leaves its result in fields (no allocation);
 * {@link #walkRange} visits every leaf of a range and coalesces them into {@link Runs}. One
 * instance per unit; not thread-safe.
 */
public final class SecondLevelWalk {
    // Outcomes of judging one entry.
    private static final int TABLE = 0;
    private static final int LEAF = 1;
    private static final int UNREADABLE = 2;
    private static final int NO_PERMISSION = 3;
    private static final int RESERVED = 4;

    /** Permission bits as {@link Runs} and {@link #walkRange} use them: bit 0 read, bit 1 write. */
    public static final int PERM_READ = (int) SlPte.R;
    public static final int PERM_WRITE = (int) SlPte.W;

    private final AddressSpace memory;
    private final int aw;

    /**
     * {@link SlPte#reservedMask} per level (index 1..6) for entries without and with PS, worked
     * out once: the rule stays in SlPte, the walk only avoids recomputing it per entry.
     */
    private final long[] reservedNoPs = new long[7];
    private final long[] reservedPs = new long[7];

    /** Leaf entry, its level, and the permissions granted along the way (after a success). */
    long pte;
    int level;
    boolean reads;
    boolean writes;

    SecondLevelWalk(AddressSpace memory, VtdConfig config) {
        this.memory = memory;
        this.aw = config.awBits();
        // QEMU 7.2 vtd_init: SNP is not reserved in leaf entries with scalable mode or snoop
        // control; TM is not reserved in leaf entries when device-IOTLB is supported.
        boolean snpAllowed = config.scalableMode() || config.snoopControl();
        boolean tmAllowed = config.deviceIotlb();
        for (int l = 1; l <= 6; l++) {
            reservedNoPs[l] = SlPte.reservedMask(0, l, aw, snpAllowed, tmAllowed);
            reservedPs[l] = SlPte.reservedMask(SlPte.PS, l, aw, snpAllowed, tmAllowed);
        }
    }

    /** The highest input address a table of input width {@code agaw} translates. */
    public long inputLimit(int agaw) {
        int width = Math.min(agaw, aw);
        return width >= 64 ? -1L : (1L << width) - 1;
    }

    /** The host address width the walk masks output addresses to. */
    public int awBits() {
        return aw;
    }

    /** A paging entry as QEMU's {@code vtd_get_slpte} reads it: all ones when it cannot be read. */
    public long readEntry(long addr) {
        return read(addr);
    }

    /** {@code vtd_slpte_nonzero_rsvd}: reserved bits set in {@code v} at {@code level}. */
    public boolean reservedBitsSet(long v, int level) {
        return (v & ((v & SlPte.PS) != 0 ? reservedPs[level] : reservedNoPs[level])) != 0;
    }

    /** One paging-entry read: QEMU reads an entry it cannot read as all ones. */
    private long read(long addr) {
        return memory.readQuadOrOnes(addr);
    }

    /**
     * The verdict on entry {@code v} at {@code level}, given the permissions {@code perm}
     * accumulated down to and including it, for an access {@code need}ing one of those bits.
     */
    private int judge(long v, int level, int perm, int need) {
        if (v == -1L) {
            return UNREADABLE;
        }
        if ((perm & need) == 0) {
            return NO_PERMISSION;
        }
        if ((v & ((v & SlPte.PS) != 0 ? reservedPs[level] : reservedNoPs[level])) != 0) {
            return RESERVED;
        }
        return SlPte.isLeaf(v, level) ? LEAF : TABLE;
    }

    /**
     * Walks {@code levels} levels from {@code table} for {@code input} needing write
     * ({@code write}) or read permission; {@code agaw} is the table's input width. Returns null
     * (result in {@link #pte}, {@link #level}, {@link #reads}, {@link #writes}) or the fault;
     * the legacy path records {@link ScalableFault#qemuCode()}.
     */
    ScalableFault walk(long table, int levels, int agaw, long input, boolean write) {
        if (Long.compareUnsigned(input, inputLimit(agaw)) > 0) {
            return ScalableFault.BEYOND_MAX;
        }
        int need = write ? PERM_WRITE : PERM_READ;
        int perm = PERM_READ | PERM_WRITE;
        int l = levels;
        long t = table;
        while (true) {
            long v = read(SlPte.address(t, input, l));
            perm &= (int) v & (PERM_READ | PERM_WRITE);
            switch (judge(v, l, perm, need)) {
                case LEAF -> {
                    pte = v;
                    level = l;
                    reads = (perm & PERM_READ) != 0;
                    writes = (perm & PERM_WRITE) != 0;
                    return null;
                }
                case TABLE -> {
                    t = SlPte.outputAddress(v, aw);
                    l--;
                }
                case UNREADABLE -> {
                    return l == levels ? ScalableFault.SL_POINTER_INVALID : ScalableFault.SL_ACCESS;
                }
                case NO_PERMISSION -> {
                    pte = v; // the entry and level QEMU's message names
                    level = l;
                    return ScalableFault.SL_PERMISSION;
                }
                default -> {
                    return ScalableFault.SL_RESERVED;
                }
            }
        }
    }

    /** The output page of the last successful {@link #walk}. */
    long outputPage() {
        return SlPte.outputAddress(pte, aw) & -SlPte.pageSize(level);
    }

    /** The output address of {@code input} after a successful walk. */
    long output(long input) {
        long size = SlPte.pageSize(level);
        return (SlPte.outputAddress(pte, aw) & ~(size - 1)) | (input & (size - 1));
    }

    // ====================================================================================
    // Range walk (the map/unmap notifier)
    // ====================================================================================

    /** The range walk needed more work than its budget. */
    public static final class BudgetExceeded extends Exception {
        BudgetExceeded(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Every leaf of the table at {@code table} ({@code levels} levels, input width {@code agaw})
     * within {@code first..last}, as coalesced runs: a page is in the result exactly when a DMA
     * to it would translate through {@link #walk} for some access, with the same output and
     * permissions. Entries {@link #walk} would fault on (unreadable, all ones, no permission,
     * reserved bits) are skipped with their subtree, and so are leaves whose output overlaps
     * the interrupt range; IOVAs above {@link #inputLimit} are not visited.
     *
     * <p>Bounded: only entries meeting the range are read, contiguous leaves coalesce, and a
     * subtree reached more than once (one table referenced from several entries) is walked once
     * and its runs reused. Every entry read and every run reused costs one unit of
     * {@code budget}; past it the walk stops with {@link BudgetExceeded}.
     */
    public Runs walkRange(long table, int levels, int agaw, long first, long last, long budget) throws BudgetExceeded {
        Runs runs = new Runs();
        long limit = inputLimit(agaw);
        if (Long.compareUnsigned(first, limit) > 0) {
            return runs;
        }
        RangeWalk w = new RangeWalk(budget);
        w.table(table, levels, 0, first, Long.compareUnsigned(last, limit) > 0 ? limit : last,
                PERM_READ | PERM_WRITE, runs);
        runs.cost = w.spent;
        return runs;
    }

    private final class RangeWalk {
        private final long budget;
        private HashMap<SubtreeKey, Runs> memo; // created by the first fully covered subtree
        private long spent;

        RangeWalk(long budget) {
            this.budget = budget;
        }

        private void spend(long units) throws BudgetExceeded {
            spent += units;
            if (spent > budget) {
                throw new BudgetExceeded("page walk needs more than " + budget + " steps");
            }
        }

        /** The table at {@code t} (entries at {@code level}, index 0 at IOVA {@code base}) within first..last. */
        void table(long t, int level, long base, long first, long last, int perm, Runs out) throws BudgetExceeded {
            long entrySize = SlPte.pageSize(level);
            int from = SlPte.index(first, level);
            int to = SlPte.index(last, level);
            for (int i = from; i <= to; i++) {
                spend(1);
                long v = read(t + (long) i * SlPte.SIZE);
                int p = perm & (int) v & (PERM_READ | PERM_WRITE);
                int verdict = judge(v, level, p, PERM_READ | PERM_WRITE);
                if (verdict != TABLE && verdict != LEAF) {
                    continue; // translate faults here (3, 7, 4/5/6 or 0xC)
                }
                long entryFirst = base + i * entrySize;
                long entryLast = entryFirst + entrySize - 1;
                long f = Math.max(first, entryFirst);
                long l = Math.min(last, entryLast);
                long output = SlPte.outputAddress(v, aw);
                if (verdict == LEAF) {
                    if (MsiAddress.overlaps(output, entrySize)) {
                        continue; // translate faults with reason 0xE here
                    }
                    out.append(f, l, output + (f - entryFirst), p);
                } else if (f == entryFirst && l == entryLast) {
                    SubtreeKey key = new SubtreeKey(output, level - 1, p);
                    if (memo == null) {
                        memo = new HashMap<>();
                    }
                    Runs sub = memo.get(key);
                    if (sub == null) {
                        sub = new Runs();
                        table(output, level - 1, 0, 0, entrySize - 1, p, sub);
                        memo.put(key, sub);
                    } else {
                        spend(sub.size());
                    }
                    out.appendShifted(sub, entryFirst);
                } else {
                    table(output, level - 1, entryFirst, f, l, p, out);
                }
            }
        }
    }

    private record SubtreeKey(long table, int level, int permission) {
    }

    /** Coalesced runs of mapped IOVAs (parallel arrays; an append continuing the last run extends it). */
    public static final class Runs {
        private static final long[] NONE = new long[0];
        private static final byte[] NO_PERM = new byte[0];
        // Empty until the first run: most notifier walks (one page mapped or unmapped) find one
        // run or none, so the arrays start at the size of one run and double.
        private long[] first = NONE;
        private long[] last = NONE;
        private long[] phys = NONE;
        private byte[] perm = NO_PERM;
        private int n;
        private long cost;

        public int size() {
            return n;
        }

        public long first(int i) {
            return first[i];
        }

        public long last(int i) {
            return last[i];
        }

        public long phys(int i) {
            return phys[i];
        }

        /** {@link #PERM_READ} | {@link #PERM_WRITE}. */
        public int permission(int i) {
            return perm[i];
        }

        /** Work the walk did (entries read plus runs reused). */
        public long cost() {
            return cost;
        }

        void append(long f, long l, long p, int permission) {
            if (n > 0 && last[n - 1] + 1 == f && phys[n - 1] + (last[n - 1] - first[n - 1]) + 1 == p
                    && perm[n - 1] == permission) {
                last[n - 1] = l;
                return;
            }
            if (n == first.length) {
                int cap = Math.max(1, n * 2);
                first = Arrays.copyOf(first, cap);
                last = Arrays.copyOf(last, cap);
                phys = Arrays.copyOf(phys, cap);
                perm = Arrays.copyOf(perm, cap);
            }
            first[n] = f;
            last[n] = l;
            phys[n] = p;
            perm[n] = (byte) permission;
            n++;
        }

        void appendShifted(Runs sub, long offset) {
            for (int i = 0; i < sub.n; i++) {
                append(sub.first[i] + offset, sub.last[i] + offset, sub.phys[i], sub.perm[i]);
            }
        }
    }
}
