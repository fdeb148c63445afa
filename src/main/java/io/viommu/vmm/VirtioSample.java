package io.viommu.vmm;

import io.viommu.linux.driver.DmaOps;
import io.viommu.linux.driver.DriverDma;
import io.viommu.linux.driver.PciDevice;
import io.viommu.machine.Machine;
import io.viommu.machine.device.Endpoints;
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
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * One request through a virtio device's virtqueue, as the guest's virtio driver makes it
 * (virtio_pci_modern's setup, virtio_ring's virtqueue_add_inbuf, virtio-rng's request of
 * entropy), with every DMA of the device followed and the bytes checked in guest RAM.
 *
 * <ol>
 * <li>Setup through BAR4 (the guest CPU's MMIO): reset, ACKNOWLEDGE|DRIVER, the features
 *     (VERSION_1, and ACCESS_PLATFORM when the device offers it: {@code iommu_platform=on}),
 *     FEATURES_OK, queue 0 at its size with the ring addresses, queue enabled, DRIVER_OK. The ring
 *     is the virtio-pci driver's own queue memory ({@link DriverDma#virtio()}, dma_alloc_coherent
 *     at probe); the addresses the device gets are its DMA addresses (IOVAs behind a vIOMMU) when
 *     ACCESS_PLATFORM was negotiated ({@code vring_use_dma_api}), its guest-physical addresses
 *     otherwise.</li>
 * <li>A buffer: a page, mapped FROM_DEVICE with {@code dma_map_single} when the DMA API is used;
 *     descriptor 0 device-writable, the avail ring's entry and index, the notification.</li>
 * <li>The device reads the avail ring and descriptor, writes entropy into the buffer and the
 *     used element and index: through the vIOMMU (ATS translation requests and device-TLB hits
 *     when the function has ATS enabled) or on system memory (the bypass).</li>
 * <li>The guest reads the used ring and compares the buffer with the bytes the device wrote,
 *     byte for byte; then unmaps the buffer (an invalidation of the device-TLB with ATS). With
 *     the vIOMMU in the path, a stale request (the unmapped IOVA posted again, as a buggy driver
 *     would) must fault and leave the page as it was.</li>
 * </ol>
 *
 * @param device        the device's type name
 * @param bdf           its BDF in the VM
 * @param path          how its DMA went: "vIOMMU", "vIOMMU (ATS)", "bypass" or "no vIOMMU"
 * @param features      offered and negotiated feature bits
 * @param ring          the ring's addresses as the device got them and where they are in guest RAM
 * @param buffer        the buffer's address as the device got it and its GPA
 * @param accesses      every DMA of the device, in order
 * @param translated    DMAs that went through the vIOMMU (or its ATS path)
 * @param bypassed      DMAs on system memory, not seen by the vIOMMU
 * @param faulted       DMAs that faulted (during the request)
 * @param bytesChecked  bytes compared in guest RAM
 * @param bytesMatched  whether they were what the device wrote
 * @param usedLen       the length the device put in the used element
 * @param atsTranslationRequests ATS translation requests the device sent
 * @param deviceTlbHits         DMAs its device-TLB answered
 * @param deviceTlbInvalidations device-TLB invalidations the device received (the guest's unmap)
 * @param afterUnmap    what the stale request did (null: not probed)
 * @param problem       why the request did not complete, or null
 */
public record VirtioSample(String device, String bdf, String path, String features, String ring, String buffer,
                           List<String> accesses, int translated, int bypassed, int faulted, int bytesChecked,
                           boolean bytesMatched, int usedLen, long atsTranslationRequests, long deviceTlbHits,
                           long deviceTlbInvalidations, String afterUnmap, String problem) {

    /** Bytes the request asks for. */
    public static final int LENGTH = 64;

    /** The request completed and every byte the device wrote is in the guest's buffer. */
    public boolean ok() {
        return problem == null && faulted == 0 && bytesMatched && usedLen == LENGTH
                && (afterUnmap == null || afterUnmap.startsWith("faulted"));
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

    /** The samples of every virtio function with a working queue. */
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
        int before = q.accesses().size();
        // virtio_pci_modern: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK
        mmio(mem, bar, VirtioModern.DEVICE_STATUS, 0, 1);
        mmio(mem, bar, VirtioModern.DEVICE_STATUS, VirtioModern.STATUS_ACKNOWLEDGE | VirtioModern.STATUS_DRIVER, 1);
        long offered = 0;
        for (int sel = 0; sel < 2; sel++) {
            mmio(mem, bar, VirtioModern.DEVICE_FEATURE_SELECT, sel, 4);
            offered |= mem.read(PhysAddr.of(bar + VirtioModern.DEVICE_FEATURE), 4) << (32 * sel);
        }
        long wanted = offered & (VirtioModern.F_VERSION_1 | VirtioModern.F_ACCESS_PLATFORM);
        for (int sel = 0; sel < 2; sel++) {
            mmio(mem, bar, VirtioModern.DRIVER_FEATURE_SELECT, sel, 4);
            mmio(mem, bar, VirtioModern.DRIVER_FEATURE, wanted >>> (32 * sel), 4);
        }
        mmio(mem, bar, VirtioModern.DEVICE_STATUS, VirtioModern.STATUS_ACKNOWLEDGE | VirtioModern.STATUS_DRIVER
                | VirtioModern.STATUS_FEATURES_OK, 1);
        if ((mem.read(PhysAddr.of(bar + VirtioModern.DEVICE_STATUS), 1) & VirtioModern.STATUS_FEATURES_OK) == 0) {
            return failed(f, bdf, "the device refused the features (FEATURES_OK did not stick)");
        }
        boolean dmaApi = (wanted & VirtioModern.F_ACCESS_PLATFORM) != 0; // vring_use_dma_api
        String features = String.format(Locale.ROOT, "offered 0x%x, negotiated 0x%x (VERSION_1%s)", offered, wanted,
                dmaApi ? ", ACCESS_PLATFORM" : "; no ACCESS_PLATFORM: the driver gives guest-physical addresses");
        // queue 0 in the driver's coherent queue memory
        DriverDma.Buffer vq = bufs.get(0);
        mmio(mem, bar, VirtioModern.QUEUE_SELECT, 0, 2);
        int size = (int) mem.read(PhysAddr.of(bar + VirtioModern.QUEUE_SIZE), 2);
        long ringBase = dmaApi ? vq.dma() : vq.phys();
        long descAt = 0;
        long availAt = 16L * size;
        long usedAt = (availAt + 6 + 2L * size + 3) & ~3L;
        mmio(mem, bar, VirtioModern.QUEUE_DESC, ringBase + descAt, 8);
        mmio(mem, bar, VirtioModern.QUEUE_DRIVER, ringBase + availAt, 8);
        mmio(mem, bar, VirtioModern.QUEUE_DEVICE, ringBase + usedAt, 8);
        mmio(mem, bar, VirtioModern.QUEUE_ENABLE, 1, 2);
        mmio(mem, bar, VirtioModern.DEVICE_STATUS, VirtioModern.STATUS_ACKNOWLEDGE | VirtioModern.STATUS_DRIVER
                | VirtioModern.STATUS_FEATURES_OK | VirtioModern.STATUS_DRIVER_OK, 1);
        byte[] zero = new byte[(int) (usedAt + 6 + 8L * size)];
        mem.writeBytes(PhysAddr.of(vq.phys()), zero, 0, zero.length); // vring_init on zeroed memory
        String ring = String.format(Locale.ROOT, "desc 0x%x, avail 0x%x, used 0x%x (%s; GPA 0x%x), %d entries",
                ringBase + descAt, ringBase + availAt, ringBase + usedAt, dmaApi ? "DMA addresses" : "guest-physical",
                vq.phys(), size);
        // the buffer
        long page = ops.allocPages(1);
        if (page < 0) {
            return failed(f, bdf, "the guest kernel has no free page");
        }
        DmaPort port = f.dma();
        AtsEndpoint ats = port == null ? null : port.ats();
        boolean atsOn = ats != null && ats.active();
        DeviceTlb tlb = ats == null ? null : ats.deviceTlb();
        long treqBefore = ats == null ? 0 : ats.translationRequests();
        long hitsBefore = tlb == null ? 0 : tlb.hits();
        long invBefore = tlb == null ? 0 : tlb.invalidations();
        try {
            byte[] old = new byte[LENGTH];
            Arrays.fill(old, (byte) 0xee);
            mem.writeBytes(PhysAddr.of(page), old, 0, LENGTH);
            long addr = dmaApi ? ops.map(pd.rid(), page, LENGTH, DmaOps.Direction.FROM_DEVICE) : page;
            if (addr == DmaOps.MAPPING_ERROR) {
                return failed(f, bdf, "dma_map_single failed");
            }
            String buffer = String.format(Locale.ROOT, "0x%x (%s; GPA 0x%x), %d B device-writable", addr,
                    dmaApi && viommu != null ? "IOVA from the guest's DMA API" : dmaApi ? "dma-direct" : "guest-physical",
                    page, LENGTH);
            // bus mastering (virtio_pci_probe: pci_set_master)
            f.configWrite(PciRegs.COMMAND, f.configRead(PciRegs.COMMAND, 2) | PciRegs.COMMAND_MASTER, 2);
            post(mem, vq.phys(), availAt, size, 0, addr, 1);
            mmio(mem, bar, VirtioModern.NOTIFY + 4L * mem.read(PhysAddr.of(bar + VirtioModern.QUEUE_NOTIFY_OFF), 2),
                    0, 2);
            int usedIdx = (int) mem.read(PhysAddr.of(vq.phys() + usedAt + 2), 2);
            int usedId = (int) mem.read(PhysAddr.of(vq.phys() + usedAt + 4), 4);
            int usedLen = (int) mem.read(PhysAddr.of(vq.phys() + usedAt + 8), 4);
            byte[] got = new byte[LENGTH];
            mem.readBytes(PhysAddr.of(page), got, 0, LENGTH);
            byte[] wrote = q.lastFill();
            boolean matched = usedIdx == 1 && usedId == 0 && Arrays.equals(wrote, got);
            List<VirtioModern.Access> during = q.accesses().subList(before, q.accesses().size());
            if (dmaApi) {
                ops.unmap(pd.rid(), addr, LENGTH, DmaOps.Direction.FROM_DEVICE);
            }
            kernel.takeInterrupts();
            String afterUnmap = null;
            int mark = q.accesses().size();
            if (dmaApi && viommu != null) {
                // a stale request: the unmapped IOVA posted again
                post(mem, vq.phys(), availAt, size, 0, addr, 2);
                mmio(mem, bar, VirtioModern.NOTIFY, 0, 2);
                kernel.takeInterrupts(); // dmar_fault logs the vIOMMU's fault record
                byte[] again = new byte[LENGTH];
                mem.readBytes(PhysAddr.of(page), again, 0, LENGTH);
                List<VirtioModern.Access> stale = q.accesses().subList(mark, q.accesses().size());
                boolean faulted = stale.stream().anyMatch(a -> !a.ok() && a.what().equals("buffer"));
                afterUnmap = faulted && Arrays.equals(again, got)
                        ? "faulted in the vIOMMU" + (atsOn ? " (ATS: the device-TLB entry was invalidated, the"
                        + " translation request got no permission)" : "") + "; the page kept its bytes"
                        : "NOT refused: " + stale;
            }
            mmio(mem, bar, VirtioModern.DEVICE_STATUS, 0, 1); // the queue torn down (virtio reset)
            int translated = (int) during.stream().filter(VirtioModern.Access::translated).count();
            String path = !dmaApi ? (viommu == null ? "no vIOMMU" : "bypass")
                    : viommu == null ? "no vIOMMU" : atsOn ? "vIOMMU (ATS)" : "vIOMMU";
            return new VirtioSample(f.typeName(), bdf, path, features, ring, buffer,
                    during.stream().map(Object::toString).toList(), translated, during.size() - translated,
                    (int) during.stream().filter(a -> !a.ok()).count(), LENGTH, matched, usedLen,
                    ats == null ? 0 : ats.translationRequests() - treqBefore, tlb == null ? 0 : tlb.hits() - hitsBefore,
                    tlb == null ? 0 : tlb.invalidations() - invBefore, afterUnmap,
                    usedIdx == 1 ? null : "the device returned no used entry (used idx " + usedIdx + ")");
        } finally {
            ops.freePages(page, 1);
        }
    }

    /** Descriptor {@code id} device-writable at {@code addr}, the avail ring's next entry, avail idx = {@code idx}. */
    private static void post(AddressSpace mem, long ring, long availAt, int size, int id, long addr, int idx) {
        mem.write(PhysAddr.of(ring + 16L * id), addr, 8);
        mem.write(PhysAddr.of(ring + 16L * id + 8), LENGTH, 4);
        mem.write(PhysAddr.of(ring + 16L * id + 12), VirtioModern.DESC_F_WRITE, 2);
        mem.write(PhysAddr.of(ring + availAt + 4 + 2L * ((idx - 1) % size)), id, 2);
        mem.write(PhysAddr.of(ring + availAt + 2), idx, 2); // virtio_wmb, then the index
    }

    private static void mmio(AddressSpace mem, long bar, long offset, long value, int size) {
        if (size == 8) {
            mem.write(PhysAddr.of(bar + offset), value & 0xffff_ffffL, 4); // vp_iowrite64_twopart
            mem.write(PhysAddr.of(bar + offset + 4), value >>> 32, 4);
        } else {
            mem.write(PhysAddr.of(bar + offset), value, size);
        }
    }

    private static VirtioSample failed(PciFunction f, String bdf, String why) {
        return new VirtioSample(f.typeName(), bdf, null, null, null, null, List.of(), 0, 0, 0, 0, false, 0, 0, 0, 0,
                null, why);
    }
}
