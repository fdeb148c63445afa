package io.viommu.bench;

import io.viommu.linux.Kernel;
import io.viommu.linux.iommu.DmaApi;
import io.viommu.linux.iommu.DmaDirection;
import io.viommu.machine.Machine;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.RequesterId;
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
 * The kernel model's DMA API: dma_map_single + dma_unmap_single of one 4 KiB page for edu on a
 * booted q35 guest, with the driver programming the VT-d model through its registers and
 * tables in RAM.
 *
 * <ul>
 *   <li>{@code mapUnmapOnePage} with {@code mode}: {@code strict} (iommu.strict=1, no caching
 *       mode: one PSI + wait per unmap), {@code lazy} (the Debian default: DMA-FQ, a domain flush
 *       every 255 unmaps), {@code strict-cm} (caching mode: a PSI after the map too).</li>
 * </ul>
 * The IOVA allocator alone is {@link IovaBench}. Model time only: the VM exits and QEMU's work that these counts stand for are not in it.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class DmaApiBench {
    @Param({"strict", "lazy", "strict-cm"})
    public String mode;

    DmaApi dma;
    RequesterId edu;
    PhysAddr buffer;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        String iommu = mode.equals("strict-cm") ? "intel-iommu,intremap=off,caching-mode=on" : "intel-iommu,intremap=off";
        String append = mode.equals("strict") ? "iommu.strict=1" : "console=ttyS0";
        Machine m = MachineBuilder.fromCommandLine(List.of("-machine", "q35", "-m", "512M", "-nodefaults",
                "-device", iommu, "-device", "edu", "-append", append), MachineLog.SILENT);
        Kernel k = Kernel.boot(m);
        dma = DmaApi.of(k.iommuDriver());
        edu = m.devices().get(0).address();
        buffer = k.iommuDriver().pages().allocate();
    }

    @Benchmark
    public Iova mapUnmapOnePage() {
        Iova iova = dma.mapSingle(edu, buffer, 4096, DmaDirection.BIDIRECTIONAL);
        dma.unmapSingle(edu, iova, 4096, DmaDirection.BIDIRECTIONAL);
        return iova;
    }

}
