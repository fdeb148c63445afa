package io.viommu.bench;

import io.viommu.linux.Kernel;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.vfio.UserProcess;
import io.viommu.linux.vfio.VfioContainer;
import io.viommu.machine.Machine;
import io.viommu.memory.Iova;
import io.viommu.memory.PhysicalMemory;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.RequesterId;
import io.viommu.pci.TranslationResult;
import io.viommu.vmm.ProcessGuestRam;
import io.viommu.vmm.VfioListener;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.VtdConfig;
import io.viommu.vtd.VtdRegisters;
import io.viommu.vtd.notify.MapNotifier;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The VMM's shadowing path (docs/vmm.md): a host (kernel model, edu bound to vfio-pci, a VMM
 * process holding the container) and a VM whose RAM is that process's memory, with a vIOMMU in
 * caching mode whose notifier feeds {@link VfioListener}.
 *
 * <ul>
 *   <li>{@code shadowedMapUnmap}: the guest driver writes one 4 KiB PTE and invalidates it
 *       (IVA + IOTLB page-selective), then clears it and invalidates again: each invalidation is
 *       trapped, walked by the notifier, and becomes VFIO MAP_DMA / UNMAP_DMA (pin, host PTE,
 *       host IOTLB invalidation through the host's invalidation queue). Target: 3 µs.</li>
 *   <li>{@code shadowedIovaHostHit}: the host unit translating a shadowed guest IOVA for the
 *       assigned device (host requester id), hot; against {@code plainIotlbHit}, a unit of its
 *       own with one page mapped the ordinary way (TranslateBench's iotlbHit). Target: within
 *       1.2x.</li>
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ShadowBench {
    static final RequesterId GUEST_DEVICE = RequesterId.of(0, 1, 0);
    static final long IOVA = 0x0100_0000L;
    static final long KEPT_IOVA = 0x0200_0000L;
    static final long GPA = 0x0180_0000L;

    IntelIommu viommu;
    LegacyTables guestTables;
    long top;
    VfioListener listener;
    IntelIommu hostUnit;
    DmaRequest shadowed;
    IntelIommu plainUnit;
    DmaRequest plain;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        EduOnVfio h = EduOnVfio.boot("512M", "intremap=on", -1, "qemu-system-x86");
        Machine host = h.machine;
        Kernel kernel = h.kernel;
        PciDevice edu = h.edu;
        UserProcess qemu = h.process;
        VfioContainer container = h.container;
        ProcessGuestRam ram = ProcessGuestRam.allocate(qemu, kernel.userMemory(), 64L << 20);

        viommu = new IntelIommu(VtdConfig.fromQemuProperties(Map.of("caching-mode", "on")), ram, (a, d, s) -> { });
        MapNotifier notifier = MapNotifier.attach(viommu);
        listener = new VfioListener(container, ram, line -> {
            throw new IllegalStateException("benchmark setup reported: " + line);
        });
        listener.attach(viommu, notifier, GUEST_DEVICE);
        guestTables = new LegacyTables(ram, 0x10_0000L);
        top = guestTables.contextFor(GUEST_DEVICE, 1, 1);
        guestTables.map4k(top, KEPT_IOVA, GPA + 0x10_0000L, true, true);
        guestTables.enable(viommu); // TE on: the listener leaves system memory for the notifier
        if (listener.mode() != VfioListener.Mode.IOMMU || container.mappings().size() != 1) {
            throw new IllegalStateException("benchmark setup is not shadowing: " + listener + " " + container.mappings());
        }
        hostUnit = host.iommu();
        shadowed = new DmaRequest(edu.rid(), new Iova(KEPT_IOVA + 0x40), 8, DmaAccess.READ);
        LegacyTables.requireTranslation(hostUnit.translate(shadowed));

        PhysicalMemory plainRam = new PhysicalMemory(64L << 20);
        plainUnit = new IntelIommu(VtdConfig.fromQemuProperties(Map.of()), plainRam, (a, d, s) -> { });
        LegacyTables t = new LegacyTables(plainRam, 0x10_0000L);
        t.map4k(t.contextFor(GUEST_DEVICE, 1, 1), KEPT_IOVA, GPA, true, true);
        t.enable(plainUnit);
        plain = new DmaRequest(GUEST_DEVICE, new Iova(KEPT_IOVA + 0x40), 8, DmaAccess.READ);
        LegacyTables.requireTranslation(plainUnit.translate(plain));
    }

    private void psi(long iova) {
        viommu.store(VtdRegisters.IVA, iova, 8);
        viommu.store(VtdRegisters.IOTLB, VtdRegisters.IOTLB_IVT | VtdRegisters.IOTLB_IIRG_PAGE | 1L << 32, 8);
    }

    @Benchmark
    public long shadowedMapUnmap() {
        guestTables.map4k(top, IOVA, GPA, true, true);
        psi(IOVA);
        guestTables.map4k(top, IOVA, 0, false, false);
        psi(IOVA);
        return listener.counters().mapCalls();
    }

    @Benchmark
    public TranslationResult shadowedIovaHostHit() {
        return hostUnit.translate(shadowed);
    }

    @Benchmark
    public TranslationResult plainIotlbHit() {
        return plainUnit.translate(plain);
    }
}
