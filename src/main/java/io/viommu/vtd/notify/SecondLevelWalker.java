package io.viommu.vtd.notify;

import io.viommu.memory.PhysAddr;
import io.viommu.pci.MsiAddress;
import io.viommu.pci.RequesterId;
import io.viommu.vtd.ContextResult;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.SecondLevelWalk;
import io.viommu.vtd.TranslationState;
import java.util.ArrayList;
import java.util.List;

/**
 * A device's mappings over an IOVA range, as coalesced runs: the context as the translate path
 * resolves it ({@link IntelIommu#readContext}, uncached, unrecorded) and the unit's own
 * second-level walk ({@link SecondLevelWalk#walkRange}, QEMU vtd_page_walk but producing runs
 * rather than one event per entry). The walk is the translate path's, so a page is in the
 * result exactly when a DMA to it would translate, with the same output and permissions:
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
 * <li>IOVAs at or above 2^min(AGAW, aw-bits) are never mapped (fault 4 in translate).</li>
 * </ul>
 * Bounded by a work budget ({@link SecondLevelWalk.BudgetExceeded}). Legacy mode only: a unit
 * whose root table is in scalable mode reports {@link Status#CONTEXT_FAULT} with reason 0.
 */
final class SecondLevelWalker {
    /** How the device's address space stands, besides its mappings. */
    enum Status { TRANSLATED, TRANSLATION_DISABLED, PASS_THROUGH, CONTEXT_FAULT }

    record Result(Status status, int domainId, int faultReason, List<Mapping> mappings) {
    }

    private static final long INTERRUPT_FIRST = MsiAddress.FIRST;
    private static final long INTERRUPT_LAST = MsiAddress.LAST;

    private final IntelIommu iommu;
    private long spent;

    SecondLevelWalker(IntelIommu iommu) {
        this.iommu = iommu;
    }

    /** Work done by the last walk (entries read plus runs reused). */
    long lastWalkCost() {
        return spent;
    }

    Result walk(RequesterId device, IovaRange range, long workBudget) throws SecondLevelWalk.BudgetExceeded {
        spent = 0;
        if (iommu.translationState() != TranslationState.ENABLED) {
            return new Result(Status.TRANSLATION_DISABLED, -1, 0, List.of());
        }
        ContextResult c = iommu.readContext(device);
        if (c instanceof ContextResult.Fault f) {
            return new Result(Status.CONTEXT_FAULT, -1, f.code(), List.of());
        }
        if (!(c instanceof ContextResult.Legacy ctx)) {
            return new Result(Status.CONTEXT_FAULT, -1, 0, List.of());
        }
        int did = ctx.domainId();
        if (ctx.passThrough()) {
            return new Result(Status.PASS_THROUGH, did, 0, List.of());
        }
        SecondLevelWalk.Runs runs;
        try {
            runs = iommu.secondLevelWalk().walkRange(ctx.secondLevelTable(), ctx.levels(), ctx.agaw(),
                    range.first(), range.last(), workBudget);
        } catch (SecondLevelWalk.BudgetExceeded e) {
            spent = workBudget + 1;
            throw e;
        }
        spent = runs.cost();
        return new Result(Status.TRANSLATED, did, 0, toMappings(runs));
    }

    /** The runs as mappings, without the interrupt range's IOVAs. */
    private static List<Mapping> toMappings(SecondLevelWalk.Runs runs) {
        List<Mapping> out = new ArrayList<>(runs.size());
        for (int i = 0; i < runs.size(); i++) {
            int p = runs.permission(i);
            Permission perm = Permission.of((p & SecondLevelWalk.PERM_READ) != 0, (p & SecondLevelWalk.PERM_WRITE) != 0);
            add(out, runs.first(i), runs.last(i), runs.phys(i), perm);
        }
        return out;
    }

    private static void add(List<Mapping> out, long f, long l, long p, Permission perm) {
        if (l < INTERRUPT_FIRST || f > INTERRUPT_LAST) {
            out.add(new Mapping(new IovaRange(f, l), new PhysAddr(p), perm));
            return;
        }
        if (f < INTERRUPT_FIRST) {
            out.add(new Mapping(new IovaRange(f, INTERRUPT_FIRST - 1), new PhysAddr(p), perm));
        }
        if (l > INTERRUPT_LAST) {
            long skip = INTERRUPT_LAST + 1 - f;
            out.add(new Mapping(new IovaRange(INTERRUPT_LAST + 1, l), new PhysAddr(p + skip), perm));
        }
    }
}
