package io.viommu.bench;

import io.viommu.linux.Kernel;
import io.viommu.linux.driver.DmaOps;
import io.viommu.linux.shell.RootShell;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.EduDevice;
import io.viommu.machine.device.MachineLog;
import io.viommu.memory.Iova;
import io.viommu.memory.Page;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.RequesterId;
import io.viommu.pci.TranslationResult;
import io.viommu.vmm.Nest;
import io.viommu.vmm.VfioPciDevice;
import io.viommu.vtd.IntelIommu;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Issue 13's nested (L2) targets on the real nest of {@code viommu run --nest} ({@link Nest}):
 * a host with an edu on vfio-pci; L1 (q35, intel-iommu intremap=on,caching-mode=on, the edu
 * assigned) whose kernel binds it to its own vfio-pci; L2 (intel-iommu caching-mode=on, the
 * edu by its BDF in L1), its guest kernel booted.
 *
 * <ul>
 *   <li>{@code l2MapUnmap}: L2's kernel maps one page for the edu with its DMA API and unmaps it
 *       (dma_map_single / dma_unmap_single, strict: caching mode). Each invalidation is trapped
 *       by L2's VMM and becomes a MAP_DMA / UNMAP_DMA in L1's VFIO, whose type1 programs L1's
 *       vIOMMU through L1's intel-iommu driver; that invalidation is trapped by L1's VMM and
 *       becomes a MAP_DMA / UNMAP_DMA in the host's VFIO (pin, host PTE, host IOTLB
 *       invalidation). Target: at most 8 µs.</li>
 *   <li>{@code l2HotTranslation}: the host unit translating an IOVA L2's kernel keeps mapped,
 *       for the physical edu (host requester id): what every DMA the device does for L2 costs
 *       once the host IOTLB holds it. Target: at least 5 M/s (at most 200 ns).</li>
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class NestedShadowBench {
    static final List<String> HOST = List.of("-machine", "q35", "-m", "1G", "-nodefaults", "-append", "intel_iommu=on",
            "-device", "intel-iommu,intremap=off,caching-mode=on", "-device", "edu,addr=04.0");
    static final List<String> L1 = List.of("-M", "q35,kernel-irqchip=split", "-m", "256M", "-nodefaults",
            "-append", "intel_iommu=on", "-device", "intel-iommu,intremap=on,caching-mode=on",
            "-device", "vfio-pci,host=0000:00:04.0,addr=04.0");
    static final List<String> L2 = List.of("-M", "q35", "-m", "128M", "-nodefaults", "-append", "intel_iommu=on",
            "-device", "intel-iommu,caching-mode=on", "-device", "vfio-pci,host=0000:00:04.0");

    Nest nest;
    DmaOps l2Ops;
    RequesterId l2Rid;
    long page;
    IntelIommu hostUnit;
    DmaRequest hot;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        Kernel host = Kernel.boot(MachineBuilder.fromCommandLine(HOST, MachineLog.SILENT));
        RootShell.Run r = new RootShell(host).runScript(List.of("modprobe vfio-pci",
                "echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts",
                "echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override",
                "echo 0000:00:04.0 > /sys/bus/pci/drivers_probe"));
        if (!r.ok()) {
            throw new IllegalStateException("benchmark host setup failed: " + r.results());
        }
        nest = Nest.on(host);
        nest.push(L1, true, line -> { });
        Nest.Level l2 = nest.push(L2, true, line -> { });
        VfioPciDevice top = l2.vmm().assignedDevices().get(0);
        l2Rid = top.address();
        l2Ops = l2.guest().kernel().drivers().dmaOps();
        l2Ops.setMask(l2Rid, EduDevice.DEFAULT_DMA_MASK);
        page = l2Ops.allocPages(1);
        long kept = l2Ops.map(l2Rid, l2Ops.allocPages(1), Page.SIZE, DmaOps.Direction.BIDIRECTIONAL);
        if (page < 0 || kept == DmaOps.MAPPING_ERROR) {
            throw new IllegalStateException("benchmark setup: L2's kernel could not map a page");
        }
        VfioPciDevice bottom = top;
        while (nest.under(bottom) != null) {
            bottom = nest.under(bottom);
        }
        hostUnit = host.machine().iommu();
        hot = new DmaRequest(bottom.vfioDevice().pciDevice().rid(), Iova.of(kept + 0x40), 8, DmaAccess.WRITE);
        LegacyTables.requireTranslation(hostUnit.translate(hot));
        // one round before measuring: the path is shadowing at every level
        long before = bottom.listener().counters().mapCalls();
        l2MapUnmap();
        if (bottom.listener().counters().mapCalls() != before + 1) {
            throw new IllegalStateException("benchmark setup: L2's map did not reach the host's VFIO");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        nest.shutdown();
    }

    @Benchmark
    public long l2MapUnmap() {
        long iova = l2Ops.map(l2Rid, page, Page.SIZE, DmaOps.Direction.FROM_DEVICE);
        l2Ops.unmap(l2Rid, iova, Page.SIZE, DmaOps.Direction.FROM_DEVICE);
        return iova;
    }

    @Benchmark
    public TranslationResult l2HotTranslation() {
        return hostUnit.translate(hot);
    }
}
