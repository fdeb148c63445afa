package io.viommu.bench;

import io.viommu.linux.vfio.UserProcess;
import io.viommu.linux.vfio.VfioContainer;
import io.viommu.memory.Iova;
import io.viommu.memory.VirtAddr;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.RequesterId;
import io.viommu.pci.TranslationResult;
import io.viommu.memory.PhysicalMemory;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.VtdConfig;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The per-operation costs behind {@code viommu scenario scale}'s table: how one operation grows
 * with what the host already holds.
 *
 * <ul>
 *   <li>{@code mapUnmapInFullContainer}: VFIO MAP_DMA + UNMAP_DMA of one 4 KiB page in a type1
 *       container already holding {@code held} 4 KiB mappings (type1's DMA tree, the host page
 *       tables and the pinning accounting at that size; dma_entry_limit raised to fit).</li>
 *   <li>{@code translateAcrossFunctions}: the host unit translating 4 KiB pages for
 *       {@code functions} requester ids in turn (each a context of its own, as 64 VFs of 64 VMs
 *       are), cycling through {@code pages} pages each: from all-IOTLB-hit to all-miss.</li>
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ScaleBench {
    static final long BASE = 0x1000_0000L;

    /** A host with one vfio-pci device whose type1 container holds {@code held} mappings. */
    @State(Scope.Thread)
    public static class FullContainer {
        @Param({"0", "10000", "100000"})
        public int held;

        VfioContainer container;
        VirtAddr vaddr;

        @Setup(Level.Trial)
        public void setUp() throws Exception {
            EduOnVfio h = EduOnVfio.boot("1G", "intremap=on", 1_000_000, "bench");
            container = h.container;
            UserProcess p = h.process;
            VirtAddr buffers = p.mmapAnon(4096L * 1024);
            for (int i = 0; i < held; i++) {
                // many IOVAs onto 1024 pages, as the scenario's guests map one page several times
                container.mapDma(VirtAddr.of(buffers.value() + 4096L * (i % 1024)), Iova.of(BASE + 4096L * i), 4096,
                        VfioContainer.MAP_READ | VfioContainer.MAP_WRITE);
            }
            vaddr = p.mmapAnon(4096);
            p.write(vaddr, new byte[1]);
        }
    }

    /** A unit of its own with {@code functions} contexts (64 VFs of 64 VMs), {@code pages} pages mapped each. */
    @State(Scope.Thread)
    public static class ManyFunctions {
        @Param({"1", "64"})
        public int functions;

        @Param({"16", "4096"})
        public int pages;

        IntelIommu unit;
        DmaRequest[] requests;
        int next;

        @Setup(Level.Trial)
        public void setUp() {
            PhysicalMemory ram = new PhysicalMemory(1L << 30);
            unit = new IntelIommu(VtdConfig.fromQemuProperties(Map.of()), ram, (a, d, s) -> { });
            LegacyTables t = new LegacyTables(ram, 0x1000_0000L);
            requests = new DmaRequest[functions * pages];
            for (int f = 0; f < functions; f++) {
                RequesterId rid = RequesterId.of(1 + f / 32, f % 32, 0);
                long top = t.contextFor(rid, 100 + f, 1);
                for (int i = 0; i < pages; i++) {
                    t.map4k(top, BASE + 4096L * i, 0x2000_0000L + 4096L * (f * pages + i), true, true);
                }
            }
            for (int i = 0; i < pages; i++) {
                for (int f = 0; f < functions; f++) {
                    requests[i * functions + f] = new DmaRequest(RequesterId.of(1 + f / 32, f % 32, 0),
                            Iova.of(BASE + 4096L * i + 64), 256, DmaAccess.WRITE);
                }
            }
            t.enable(unit);
            LegacyTables.requireTranslation(unit.translate(requests[0]));
        }
    }

    @Benchmark
    public long mapUnmapInFullContainer(FullContainer s) {
        s.container.mapDma(s.vaddr, Iova.of(BASE - 4096), 4096, VfioContainer.MAP_READ | VfioContainer.MAP_WRITE);
        return s.container.unmapDma(Iova.of(BASE - 4096), 4096);
    }

    @Benchmark
    public TranslationResult translateAcrossFunctions(ManyFunctions s) {
        DmaRequest r = s.requests[s.next];
        s.next = s.next + 1 == s.requests.length ? 0 : s.next + 1;
        return s.unit.translate(r);
    }
}
