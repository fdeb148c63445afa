package io.viommu.bench;

import io.viommu.linux.Kernel;
import io.viommu.linux.driver.DriverCore;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.vfio.UserProcess;
import io.viommu.linux.vfio.Vfio;
import io.viommu.linux.vfio.VfioContainer;
import io.viommu.linux.vfio.VfioGroup;
import io.viommu.machine.Machine;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import java.util.List;
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
    long vaddr;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        Machine m = MachineBuilder.fromCommandLine(List.of("-nodefaults", "-m", "256M", "-device",
                "intel-iommu,intremap=on,caching-mode=" + cachingMode, "-device", "edu"), MachineLog.SILENT);
        Kernel kernel = Kernel.boot(m);
        DriverCore core = kernel.drivers();
        core.loadModule("vfio-pci"); // and vfio, vfio_iommu_type1 with it
        Vfio vfio = kernel.vfio().orElseThrow();
        PciDevice edu = core.device("0000:00:01.0").orElseThrow();
        core.setDriverOverride(edu, "vfio-pci");
        core.deviceAttach(edu);
        UserProcess p = UserProcess.root("bench", kernel.userMemory());
        container = vfio.openContainer(p);
        VfioGroup g = vfio.openGroup(p, "/dev/vfio/" + core.groupOf(edu).getAsInt());
        g.setContainer(container);
        container.setIommu(Vfio.TYPE1v2_IOMMU);
        vaddr = p.mmap(4096);
        p.write(vaddr, new byte[1]); // faulted in once: the benchmark measures pinning, not page faults
    }

    @Benchmark
    public long mapUnmapOnePage() {
        container.mapDma(vaddr, IOVA, 4096, VfioContainer.MAP_READ | VfioContainer.MAP_WRITE);
        return container.unmapDma(IOVA, 4096);
    }
}
