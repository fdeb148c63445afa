package io.viommu.linux.vfio;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.driver.Errno;
import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.memory.VirtAddr;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaFault;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Translation;
import io.viommu.pci.TranslationResult;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Random MAP_DMA / UNMAP_DMA sequences against a reference model of type1's rules: the
 * container's mapping table, dma_avail, the memlock charge and every errno agree with the
 * reference, and the VT-d unit's own translation of every IOVA page (a DMA request through
 * {@code IntelIommu.translate}) agrees with the mapping table: the mapped process page, or a
 * fault.
 */
class Type1Properties {
    static final long PAGE = 4096;
    static final int SPACE = 48; // IOVA pages exercised
    static final int LIMIT = 6; // dma_entry_limit, small so ENOSPC happens
    static final RequesterId EDU = RequesterId.of(0, 1, 0);
    static final long IOVA_BASE = 0x20_0000L;

    record Op(boolean map, int page, int pages, int vpage, boolean all) {
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Op> op = Combinators.combine(Arbitraries.integers().between(0, 9), Arbitraries.integers().between(0, SPACE - 1),
                Arbitraries.integers().between(1, 6), Arbitraries.integers().between(0, 31))
                .as((k, p, n, v) -> new Op(k < 6, p, n, v, k == 9));
        return op.list().ofMinSize(1).ofMaxSize(40);
    }

    record Ref(long iova, long size, long vaddr) {
        long last() {
            return iova + size - 1;
        }
    }

    @Property(tries = 60)
    void randomMapUnmapSequencesKeepType1InvariantsAndTheVtdTranslationAgrees(@ForAll("ops") List<Op> ops) throws Exception {
        VfioBed bed = VfioBed.standard();
        bed.core.setModuleParameter("vfio_iommu_type1", "dma_entry_limit", Integer.toString(LIMIT));
        VfioContainer c = bed.open("0000:00:01.0").container();
        long buf = bed.root.mmapAnon(40 * PAGE).value();
        List<Ref> ref = new ArrayList<>();
        for (Op op : ops) {
            long iova = IOVA_BASE + op.page() * PAGE;
            long size = op.pages() * PAGE;
            if (op.all()) {
                long expected = ref.stream().mapToLong(Ref::size).sum();
                assertThat(c.unmapDma(Iova.of(0), 0, VfioContainer.UNMAP_ALL)).isEqualTo(expected);
                ref.clear();
            } else if (op.map()) {
                long vaddr = buf + op.vpage() * PAGE;
                Errno want = ref.stream().anyMatch(r -> r.iova() <= iova + size - 1 && iova <= r.last()) ? Errno.EEXIST
                        : ref.size() >= LIMIT ? Errno.ENOSPC : null;
                if (want == null) {
                    c.mapDma(VirtAddr.of(vaddr), Iova.of(iova), size, VfioContainer.MAP_READ | VfioContainer.MAP_WRITE);
                    ref.add(new Ref(iova, size, vaddr));
                } else {
                    Fails.with(want, () -> c.mapDma(VirtAddr.of(vaddr), Iova.of(iova), size, VfioContainer.MAP_READ | VfioContainer.MAP_WRITE));
                }
            } else {
                long last = iova + size - 1;
                boolean bisects = ref.stream().anyMatch(r -> (r.iova() < iova && r.last() >= iova)
                        || (r.iova() <= last && r.last() > last));
                if (bisects) {
                    Fails.with(Errno.EINVAL, () -> c.unmapDma(Iova.of(iova), size));
                } else {
                    List<Ref> inside = ref.stream().filter(r -> r.iova() >= iova && r.last() <= last).toList();
                    assertThat(c.unmapDma(Iova.of(iova), size)).isEqualTo(inside.stream().mapToLong(Ref::size).sum());
                    ref.removeAll(inside);
                }
            }
            check(bed, c, ref);
        }
    }

    private static void check(VfioBed bed, VfioContainer c, List<Ref> ref) {
        List<Ref> sorted = ref.stream().sorted((a, b) -> Long.compare(a.iova(), b.iova())).toList();
        assertThat(c.mappings()).extracting(DmaMapping::iova, DmaMapping::size, DmaMapping::vaddr)
                .containsExactlyElementsOf(sorted.stream()
                        .map(r -> org.assertj.core.groups.Tuple.tuple(Iova.of(r.iova()), r.size(), VirtAddr.of(r.vaddr()))).toList());
        assertThat(c.iommuInfo().dmaAvailable()).isEqualTo(LIMIT - ref.size());
        assertThat(bed.root.lockedPages()).isEqualTo(ref.stream().mapToLong(r -> r.size() / PAGE).sum());
        for (int p = 0; p < SPACE + 6; p++) {
            long iova = IOVA_BASE + p * PAGE;
            Ref owner = ref.stream().filter(r -> r.iova() <= iova && iova <= r.last()).findFirst().orElse(null);
            PhysAddr expected = owner == null ? null : bed.root.physical(VirtAddr.of(owner.vaddr() + (iova - owner.iova())));
            assertThat(c.iovaToPhys(Iova.of(iova))).as("table walk of %#x", iova).isEqualTo(expected);
            TranslationResult t = bed.machine.iommu().translate(new DmaRequest(EDU, new Iova(iova + 8), 8, DmaAccess.WRITE));
            if (owner == null) {
                assertThat(t).as("VT-d translation of unmapped %#x", iova).isInstanceOf(DmaFault.class);
            } else {
                assertThat(t).as("VT-d translation of %#x", iova).isInstanceOf(Translation.class);
                assertThat(((Translation) t).output(new Iova(iova + 8))).isEqualTo(expected.checkedAdd(8));
            }
        }
    }
}
