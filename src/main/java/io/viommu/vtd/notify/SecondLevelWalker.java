package io.viommu.vtd.notify;

import io.viommu.memory.AddressSpace;
import io.viommu.pci.MsiAddress;
import io.viommu.pci.RequesterId;
import io.viommu.vtd.ContextEntry;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.SlPte;
import io.viommu.vtd.TranslationState;
import io.viommu.vtd.VtdConfig;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;

/**
 * Walks a device's second-level tables over an IOVA range and returns what they map, as
 * coalesced runs (QEMU vtd_page_walk, but producing runs rather than one event per entry).
 *
 * <p>One way to decode: the context entry comes from {@link IntelIommu#readContextEntry}
 * (the translate path's own root/context checks), and every paging entry is judged with the
 * same {@link SlPte} decoders and reserved-bit masks the translate path uses, so a page is in
 * the result exactly when a DMA to it would translate, with the same output and permissions:
 * <ul>
 * <li>R and W are ANDed down the walk; an entry whose accumulated permission is empty is not
 *     present (translate faults with reason 4/5 there, whatever the access).</li>
 * <li>An entry that is unreadable, reads as all ones, or has reserved bits set is treated as
 *     not present, with everything below it (translate faults with 3, 7 or 0xC there). A bad
 *     entry therefore unmaps its subtree; QEMU's vtd_page_walk_level skips it without an
 *     event, so what a consumer had mapped there stays mapped.</li>
 * <li>A leaf whose output overlaps the interrupt range 0xFEE00000-0xFEEFFFFF is not a mapping
 *     (translate faults with 0xE), and IOVAs in that range are never mapped (a DMA write there
 *     is an interrupt request, VT-d 3.14; translate does not remap them).</li>
 * <li>IOVAs at or above 2^min(AGAW, aw-bits) are never mapped (fault 1 in translate).</li>
 * </ul>
 *
 * <p>Bounded: only entries whose range meets the requested range are read, a non-present
 * entry skips its whole subtree, and contiguous leaves coalesce as they are found, so memory
 * is O(runs). A subtree reached more than once (the same table referenced from several
 * entries, which a guest can do to map a 48-bit space with a few pages) is walked once per
 * walk and its runs reused. Every entry read and every run reused costs one unit of the
 * budget; past it the walk stops with {@link BudgetExceeded}.
 */
final class SecondLevelWalker {
    /** How the device's address space stands, besides its mappings. */
    enum Status { TRANSLATED, TRANSLATION_DISABLED, PASS_THROUGH, CONTEXT_FAULT }

    record Result(Status status, int domainId, int faultReason, List<Mapping> mappings) {
    }

    /** The walk needed more work than its budget. */
    static final class BudgetExceeded extends Exception {
        BudgetExceeded(String message) {
            super(message, null, false, false);
        }
    }

    private static final long INTERRUPT_FIRST = MsiAddress.FIRST;
    private static final long INTERRUPT_LAST = MsiAddress.LAST;

    private final IntelIommu iommu;
    private final AddressSpace memory;
    private final int aw;
    private final boolean snpAllowed;
    private final boolean tmAllowed;
    private final long[] ctx = new long[2];

    private long budget;
    private long spent;
    private HashMap<SubtreeKey, RunList> memo;

    private record SubtreeKey(long table, int level, int permission) {
    }

    SecondLevelWalker(IntelIommu iommu) {
        this.iommu = iommu;
        this.memory = iommu.tableMemory();
        VtdConfig c = iommu.config();
        this.aw = c.awBits();
        // Same choice as IntelIommu's constructor (QEMU vtd_init): which bits are reserved.
        this.snpAllowed = c.scalableMode() || c.snoopControl();
        this.tmAllowed = c.deviceIotlb();
    }

    /** Work done by the last walk (entries read plus runs reused). */
    long lastWalkCost() {
        return spent;
    }

    Result walk(RequesterId device, IovaRange range, long workBudget) throws BudgetExceeded {
        spent = 0;
        if (iommu.translationState() != TranslationState.ENABLED) {
            return new Result(Status.TRANSLATION_DISABLED, -1, 0, List.of());
        }
        int fr = iommu.readContextEntry(device, ctx);
        if (fr != 0) {
            return new Result(Status.CONTEXT_FAULT, -1, fr, List.of());
        }
        long lo = ctx[0];
        long hi = ctx[1];
        int did = ContextEntry.domainId(hi);
        if (ContextEntry.translationType(lo) == ContextEntry.TT_PASS_THROUGH) {
            return new Result(Status.PASS_THROUGH, did, 0, List.of());
        }
        int width = Math.min(ContextEntry.agaw(hi), aw);
        long limit = width >= 64 ? -1L : (1L << width) - 1;
        if (Long.compareUnsigned(range.first(), limit) > 0) {
            return new Result(Status.TRANSLATED, did, 0, List.of());
        }
        long last = Long.compareUnsigned(range.last(), limit) > 0 ? limit : range.last();
        int top = ContextEntry.levels(hi);
        this.budget = workBudget;
        this.memo = new HashMap<>();
        RunList runs = new RunList();
        try {
            walkTable(ContextEntry.secondLevelTable(lo), top, 0, range.first(), last, 3, runs);
        } finally {
            memo = null;
        }
        return new Result(Status.TRANSLATED, did, 0, runs.toMappings());
    }

    private void spend(long units) throws BudgetExceeded {
        spent += units;
        if (spent > budget) {
            throw new BudgetExceeded("page walk needs more than " + budget + " steps");
        }
    }

    /**
     * Appends the mappings of the table at {@code table} (entries at {@code level}, index 0
     * at IOVA {@code base}) within {@code first..last}, with {@code perm} (bit 0 R, bit 1 W)
     * inherited from the entries above.
     */
    private void walkTable(long table, int level, long base, long first, long last, int perm, RunList out)
            throws BudgetExceeded {
        long entrySize = SlPte.pageSize(level);
        int from = SlPte.index(first, level);
        int to = SlPte.index(last, level);
        for (int i = from; i <= to; i++) {
            spend(1);
            long pteAddr = table + (long) i * SlPte.SIZE;
            long pte = memory.probe(pteAddr, SlPte.SIZE) == AddressSpace.Status.OK ? memory.read(pteAddr, 8) : -1L;
            if (pte == -1L) {
                continue;
            }
            int p = perm & (int) (pte & (SlPte.R | SlPte.W));
            if (p == 0 || (pte & SlPte.reservedMask(pte, level, aw, snpAllowed, tmAllowed)) != 0) {
                continue;
            }
            long entryFirst = base + i * entrySize;
            long entryLast = entryFirst + entrySize - 1;
            long f = Math.max(first, entryFirst);
            long l = Math.min(last, entryLast);
            long output = SlPte.outputAddress(pte, aw);
            if (SlPte.isLeaf(pte, level)) {
                if (output <= INTERRUPT_LAST && output + entrySize - 1 >= INTERRUPT_FIRST) {
                    continue; // translate faults with reason 0xE here
                }
                out.append(f, l, output + (f - entryFirst), p);
            } else if (f == entryFirst && l == entryLast) {
                SubtreeKey key = new SubtreeKey(output, level - 1, p);
                RunList sub = memo.get(key);
                if (sub == null) {
                    sub = new RunList();
                    walkTable(output, level - 1, 0, 0, entrySize - 1, p, sub);
                    memo.put(key, sub);
                } else {
                    spend(sub.size());
                }
                out.appendShifted(sub, entryFirst);
            } else {
                walkTable(output, level - 1, entryFirst, f, l, p, out);
            }
        }
    }

    /** Runs under construction: parallel arrays, each append merging with the last run if it continues it. */
    static final class RunList {
        private long[] first = new long[8];
        private long[] last = new long[8];
        private long[] phys = new long[8];
        private byte[] perm = new byte[8];
        private int n;

        int size() {
            return n;
        }

        void append(long f, long l, long p, int permission) {
            if (n > 0 && last[n - 1] + 1 == f && phys[n - 1] + (last[n - 1] - first[n - 1]) + 1 == p
                    && perm[n - 1] == permission) {
                last[n - 1] = l;
                return;
            }
            if (n == first.length) {
                int cap = n * 2;
                first = java.util.Arrays.copyOf(first, cap);
                last = java.util.Arrays.copyOf(last, cap);
                phys = java.util.Arrays.copyOf(phys, cap);
                perm = java.util.Arrays.copyOf(perm, cap);
            }
            first[n] = f;
            last[n] = l;
            phys[n] = p;
            perm[n] = (byte) permission;
            n++;
        }

        void appendShifted(RunList sub, long offset) {
            for (int i = 0; i < sub.n; i++) {
                append(sub.first[i] + offset, sub.last[i] + offset, sub.phys[i], sub.perm[i]);
            }
        }

        /** The runs as mappings, without the interrupt range's IOVAs. */
        List<Mapping> toMappings() {
            List<Mapping> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                Permission p = Permission.of((perm[i] & 1) != 0, (perm[i] & 2) != 0);
                add(out, first[i], last[i], phys[i], p);
            }
            return out;
        }

        private static void add(List<Mapping> out, long f, long l, long p, Permission perm) {
            if (l < INTERRUPT_FIRST || f > INTERRUPT_LAST) {
                out.add(new Mapping(new IovaRange(f, l), new io.viommu.memory.PhysAddr(p), perm));
                return;
            }
            if (f < INTERRUPT_FIRST) {
                out.add(new Mapping(new IovaRange(f, INTERRUPT_FIRST - 1), new io.viommu.memory.PhysAddr(p), perm));
            }
            if (l > INTERRUPT_LAST) {
                long skip = INTERRUPT_LAST + 1 - f;
                out.add(new Mapping(new IovaRange(INTERRUPT_LAST + 1, l), new io.viommu.memory.PhysAddr(p + skip),
                        perm));
            }
        }
    }
}
