package io.viommu.vmm;

import io.viommu.linux.driver.DmaOps;
import io.viommu.linux.driver.DriverDma;
import io.viommu.linux.driver.PciDevice;
import io.viommu.machine.Machine;
import io.viommu.machine.device.Endpoints;
import io.viommu.machine.device.VirtioFunction;
import io.viommu.machine.device.VirtioFunctions;
import io.viommu.machine.device.VirtioModern;
import io.viommu.memory.AddressSpace;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.AtsEndpoint;
import io.viommu.pci.DeviceTlb;
import io.viommu.pci.DmaPort;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import io.viommu.vtd.IntelIommu;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One request through a virtio device's virtqueues, as the guest's virtio driver makes it
 * (virtio_pci_modern's setup, virtio_ring's virtqueue_add_*, the kind's driver), with every DMA
 * of the device followed and the bytes checked in guest RAM.
 *
 * <ol>
 * <li>Setup through BAR4 (the guest CPU's MMIO): reset, ACKNOWLEDGE|DRIVER, the features
 *     (VERSION_1, ACCESS_PLATFORM when the device offers it: {@code iommu_platform=on}, and
 *     virtio-net's MAC), FEATURES_OK, each queue the request uses at its size with its ring
 *     addresses, enabled, DRIVER_OK. Queue 0's ring is the virtio-pci driver's own queue memory
 *     ({@link DriverDma#virtio()}, dma_alloc_coherent at probe), virtio-net's transmit ring one
 *     more coherent allocation; the addresses the device gets are DMA addresses (IOVAs behind a
 *     vIOMMU) when ACCESS_PLATFORM was negotiated ({@code vring_use_dma_api}), guest-physical
 *     ones otherwise.</li>
 * <li>The request ({@link Requests}): virtio-rng one device-writable buffer; virtio-net a receive
 *     buffer posted, then a frame transmitted (the model's backend loops it back into the receive
 *     buffer); virtio-blk a write of 4 KiB to the model disk, then a read of it. Each buffer
 *     mapped with {@code dma_map_single} in the direction the driver uses.</li>
 * <li>The device's DMAs go through the vIOMMU (ATS translation requests and device-TLB hits
 *     when the function has ATS enabled) or on system memory (the bypass).</li>
 * <li>The guest reads the used rings and compares every byte: what the device read with what the
 *     guest wrote, what it wrote with what is in guest RAM; then unmaps (a device-TLB
 *     invalidation with ATS). With the vIOMMU in the path a stale request (an unmapped IOVA
 *     posted again, as a buggy driver would) must fault and leave the page as it was.</li>
 * </ol>
 *
 * @param device        the device's type name
 * @param bdf           its BDF in the VM
 * @param path          how its DMA went: "vIOMMU", "vIOMMU (ATS)", "bypass" or "no vIOMMU"
 * @param request       what the driver asked of the device
 * @param features      offered and negotiated feature bits
 * @param ring          the rings' addresses as the device got them and where they are in guest RAM
 * @param buffer        the buffers' addresses as the device got them and their GPAs
 * @param accesses      every DMA of the device, in order
 * @param translated    DMAs that went through the vIOMMU (or its ATS path)
 * @param bypassed      DMAs on system memory, not seen by the vIOMMU
 * @param faulted       DMAs that faulted (during the request)
 * @param bytesChecked  bytes compared
 * @param compared      what was compared with what
 * @param bytesMatched  whether every compared byte, used element and status was as expected
 * @param usedLen       the length the device put in the (last) used element
 * @param atsTranslationRequests ATS translation requests the device sent
 * @param deviceTlbHits         DMAs its device-TLB answered
 * @param deviceTlbInvalidations device-TLB invalidations the device received (the guest's unmap)
 * @param afterUnmap    what the stale request did (null: not probed)
 * @param problem       why the request did not complete, or null
 */
public record VirtioSample(String device, String bdf, String path, String request, String features, String ring,
                           String buffer, List<String> accesses, int translated, int bypassed, int faulted,
                           int bytesChecked, String compared, boolean bytesMatched, int usedLen,
                           long atsTranslationRequests, long deviceTlbHits, long deviceTlbInvalidations,
                           String afterUnmap, String problem) {

    /** Bytes virtio-rng's request asks for. */
    public static final int LENGTH = 64;

    /** The request completed and every byte the device moved is where it belongs. */
    public boolean ok() {
        return problem == null && faulted == 0 && bytesMatched && (afterUnmap == null || afterUnmap.startsWith("faulted"));
    }

    /**
     * Connects the ATS endpoint of every virtio function with ATS once the guest numbered the
     * buses (the endpoint asks with its requester id), as the edu's is at plug time.
     */
    static void attachAts(Machine vm) {
        IntelIommu iommu = vm.iommu();
        if (iommu == null) {
            return;
        }
        for (PciFunction f : vm.devices()) {
            if (f instanceof Endpoints.VirtioPci v && v.atsCapability() != null && v.dma() != null
                    && v.dma().ats() == null) {
                AtsEndpoint endpoint = new AtsEndpoint(v.address(), v.atsCapability(), iommu.ats());
                iommu.ats().attach(v.address(), endpoint.deviceTlb());
                v.dma().attachAts(endpoint);
            }
        }
    }

    /** The samples of every virtio function with working queues. */
    static List<VirtioSample> takeAll(Guest guest) {
        List<VirtioSample> out = new ArrayList<>();
        for (PciFunction f : guest.vmm().machine().devices()) {
            if (f instanceof Endpoints.VirtioPci v && v.queue() != null) {
                out.add(take(guest, v));
            }
        }
        return out;
    }

    static VirtioSample take(Guest guest, Endpoints.VirtioPci f) {
        Vmm vmm = guest.vmm();
        String bdf = "0000:" + f.address();
        VirtioModern q = f.queue();
        var kernel = guest.kernel();
        PciDevice pd = kernel.drivers().device(bdf).orElse(null);
        DriverDma dd = pd == null || pd.driver() == null ? null : pd.driver().dma();
        List<DriverDma.Buffer> bufs = dd == null ? List.of() : dd.buffers(pd);
        long bar = f.barAddress(4);
        if (bufs.isEmpty() || bar < 0 || bar == io.viommu.pci.Bar.UNMAPPED) {
            return failed(f, bdf, "the guest's virtio-pci driver is not bound or BAR4 is not placed");
        }
        AddressSpace mem = vmm.machine().memory(); // the guest CPU's view: RAM and MMIO
        DmaOps ops = kernel.drivers().dmaOps();
        IntelIommu viommu = vmm.machine().iommu();
        VirtioFunction kind = q.function();
        int before = q.accessCount();
        // virtio_pci_modern: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK
        Requests.mmio(mem, bar, VirtioModern.DEVICE_STATUS, 0, 1);
        Requests.mmio(mem, bar, VirtioModern.DEVICE_STATUS, VirtioModern.STATUS_ACKNOWLEDGE | VirtioModern.STATUS_DRIVER, 1);
        long offered = 0;
        for (int sel = 0; sel < 2; sel++) {
            Requests.mmio(mem, bar, VirtioModern.DEVICE_FEATURE_SELECT, sel, 4);
            offered |= mem.read(PhysAddr.of(bar + VirtioModern.DEVICE_FEATURE), 4) << (32 * sel);
        }
        long known = VirtioModern.F_VERSION_1 | VirtioModern.F_ACCESS_PLATFORM
                | (kind instanceof VirtioFunctions.Net ? VirtioFunctions.Net.F_MAC : 0);
        long wanted = offered & known;
        for (int sel = 0; sel < 2; sel++) {
            Requests.mmio(mem, bar, VirtioModern.DRIVER_FEATURE_SELECT, sel, 4);
            Requests.mmio(mem, bar, VirtioModern.DRIVER_FEATURE, wanted >>> (32 * sel), 4);
        }
        Requests.mmio(mem, bar, VirtioModern.DEVICE_STATUS, VirtioModern.STATUS_ACKNOWLEDGE | VirtioModern.STATUS_DRIVER
                | VirtioModern.STATUS_FEATURES_OK, 1);
        if ((mem.read(PhysAddr.of(bar + VirtioModern.DEVICE_STATUS), 1) & VirtioModern.STATUS_FEATURES_OK) == 0) {
            return failed(f, bdf, "the device refused the features (FEATURES_OK did not stick)");
        }
        boolean dmaApi = (wanted & VirtioModern.F_ACCESS_PLATFORM) != 0; // vring_use_dma_api
        String features = String.format(Locale.ROOT, "offered 0x%x, negotiated 0x%x (VERSION_1%s%s)", offered, wanted,
                (wanted & VirtioFunctions.Net.F_MAC) != 0 && kind instanceof VirtioFunctions.Net ? ", MAC" : "",
                dmaApi ? ", ACCESS_PLATFORM" : "; no ACCESS_PLATFORM: the driver gives guest-physical addresses");
        DmaPort port = f.dma();
        AtsEndpoint ats = port == null ? null : port.ats();
        boolean atsOn = ats != null && ats.active();
        DeviceTlb tlb = ats == null ? null : ats.deviceTlb();
        long treqBefore = ats == null ? 0 : ats.translationRequests();
        long hitsBefore = tlb == null ? 0 : tlb.hits();
        long invBefore = tlb == null ? 0 : tlb.invalidations();
        Requests r = new Requests(mem, bar, ops, pd.rid(), dmaApi, viommu != null, q, kernel);
        r.ats(atsOn);
        try {
            // the queues the request uses: queue 0 in the probe's coherent memory, the others allocated now
            int used = kind instanceof VirtioFunctions.Net ? 2 : 1;
            for (int n = 0; n < used; n++) {
                DriverDma.Buffer mem0 = n == 0 ? bufs.get(0) : null;
                if (r.queue(n, mem0) == null) {
                    return failed(f, bdf, "the guest kernel could not allocate queue " + n + "'s ring");
                }
            }
            Requests.mmio(mem, bar, VirtioModern.DEVICE_STATUS, VirtioModern.STATUS_ACKNOWLEDGE | VirtioModern.STATUS_DRIVER
                    | VirtioModern.STATUS_FEATURES_OK | VirtioModern.STATUS_DRIVER_OK, 1);
            // bus mastering (virtio_pci_probe: pci_set_master)
            f.configWrite(PciRegs.COMMAND, f.configRead(PciRegs.COMMAND, 2) | PciRegs.COMMAND_MASTER, 2);
            Requests.Outcome o = switch (kind) {
                case VirtioFunctions.Net net -> r.net(net);
                case VirtioFunctions.Blk blk -> r.blk(blk);
                default -> r.rng();
            };
            Requests.mmio(mem, bar, VirtioModern.DEVICE_STATUS, 0, 1); // the queues torn down (virtio reset)
            List<VirtioModern.Access> during = q.accessesSince(before).subList(0, o.requestAccesses());
            int translated = (int) during.stream().filter(VirtioModern.Access::translated).count();
            String path = !dmaApi ? (viommu == null ? "no vIOMMU" : "bypass")
                    : viommu == null ? "no vIOMMU" : atsOn ? "vIOMMU (ATS)" : "vIOMMU";
            return new VirtioSample(f.typeName(), bdf, path, o.request(), features, r.rings(), o.buffer(),
                    during.stream().map(Object::toString).toList(), translated, during.size() - translated,
                    (int) during.stream().filter(a -> !a.ok()).count(), o.bytesChecked(), o.compared(), o.matched(),
                    o.usedLen(), ats == null ? 0 : ats.translationRequests() - treqBefore,
                    tlb == null ? 0 : tlb.hits() - hitsBefore, tlb == null ? 0 : tlb.invalidations() - invBefore,
                    o.afterUnmap(), o.problem());
        } finally {
            r.release();
        }
    }

    private static VirtioSample failed(PciFunction f, String bdf, String why) {
        return new VirtioSample(f.typeName(), bdf, null, null, null, null, null, List.of(), 0, 0, 0, 0, null, false, 0,
                0, 0, 0, null, why);
    }
}
