package io.viommu.bench;

import io.viommu.linux.vfio.VfioContainer;
import io.viommu.memory.Iova;
import io.viommu.memory.VirtAddr;
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
 * VFIO {@code MAP_DMA} + {@code UNMAP_DMA} of one 4 KiB page, the whole kernel path: type1's
 * checks, pinning and memlock accounting, the second-level PTE written in the machine's RAM by
 * the kernel's intel-iommu driver, and its IOTLB invalidation through the invalidation queue (on
 * unmap always; on map too under caching mode). Static (DPDK-style) mappings pay this once; the number
 * is what a per-packet map/unmap would cost.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class VfioMapBench {
    static final long IOVA = 0x10_0000L;

    @Param({"off", "on"})
    public String cachingMode;

    VfioContainer container;
    VirtAddr vaddr;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        EduOnVfio h = EduOnVfio.boot("256M", "intremap=on,caching-mode=" + cachingMode, -1, "bench");
        container = h.container;
        vaddr = h.process.mmapAnon(4096);
        h.process.write(vaddr, new byte[1]); // faulted in once: the benchmark measures pinning, not page faults
    }

    @Benchmark
    public long mapUnmapOnePage() {
        container.mapDma(vaddr, Iova.of(IOVA), 4096, VfioContainer.MAP_READ | VfioContainer.MAP_WRITE);
        return container.unmapDma(Iova.of(IOVA), 4096);
    }
}
