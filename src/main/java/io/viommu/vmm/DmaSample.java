package io.viommu.vmm;

import io.viommu.linux.driver.DmaOps;
import io.viommu.machine.device.EduDevice;
import io.viommu.memory.Iova;
import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaFault;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.PciRegs;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Translation;
import io.viommu.pci.TranslationResult;
import io.viommu.vtd.IntelIommu;
import java.util.Arrays;

/**
 * One DMA of an assigned device into a guest page, followed down every level, and checked byte
 * for byte in guest RAM.
 *
 * <ol>
 * <li>The guest kernel allocates a page (its GPA) and maps it for the device with its DMA API
 *     ({@code dma_map_single}, FROM_DEVICE): with a vIOMMU its intel-iommu driver writes the
 *     second-level PTE in guest RAM and, in caching mode, invalidates; the invalidation traps
 *     into the VMM, whose listener makes the host VFIO MAP_DMA. Without one the DMA address is
 *     the GPA (dma-direct) and the VMM had mapped all guest RAM at its GPA at start.</li>
 * <li>The host-physical address is what the HOST unit itself answers for (host requester id,
 *     guest IOVA) — a real translation, faulting and recording if the mapping is missing.</li>
 * <li>The bytes: a pattern written at that host-physical address (what the device's write does
 *     after the host unit's translation), then read back at the GPA through the VM's memory.
 *     For an edu, the device itself then DMAs a second pattern from its buffer to the IOVA,
 *     driven through the guest's MMIO to its BAR (VM BAR → VFIO region → the host device); for
 *     an e1000e or an 82576 VF, the NIC moves a frame through its own descriptor rings into the
 *     page ({@link NicSample}).</li>
 * <li>The page is unmapped again (in caching mode: one more trapped invalidation and a host
 *     UNMAP_DMA).</li>
 * </ol>
 *
 * @param hostDevice     the host's name of the device ({@code 0000:00:04.0})
 * @param guestRid       its address in the VM
 * @param hostRid        its requester id on the host (what the host unit sees)
 * @param iova           the guest DMA address (guest IOVA, or GPA without a vIOMMU)
 * @param gpa            the guest page the driver mapped
 * @param viommuGpa      what the vIOMMU's own translation of the IOVA gives (null without a vIOMMU or when it faulted)
 * @param hostPhysical   what the host unit's translation gives (null: it faulted)
 * @param hostFault      the host unit's fault, if any
 * @param processFrame   the host frame behind the GPA in the VMM process (what the host-physical must be)
 * @param bytesChecked   bytes compared in guest RAM
 * @param bytesMatched   whether they all arrived
 * @param deviceDma      what the device's own DMA did (null when the device has no DMA engine in the model)
 * @param hostMapping    the VMM's VFIO mapping that covered the IOVA while the page was mapped (null: none)
 * @param afterUnmap     what the host unit does with the same DMA once the guest unmapped the page: a
 *                       fault behind a vIOMMU (the mapping is gone on the host too), the page again
 *                       without one (all guest RAM stays mapped at its GPA)
 */
public record DmaSample(String hostDevice, RequesterId guestRid, RequesterId hostRid, Iova iova, PhysAddr gpa,
                        PhysAddr viommuGpa, PhysAddr hostPhysical, DmaFault hostFault, PhysAddr processFrame,
                        int bytesChecked, boolean bytesMatched, String deviceDma, String hostMapping,
                        String afterUnmap) {

    /** Bytes written by each check. */
    public static final int LENGTH = 64;

    /** True when every byte landed in the guest page and the levels agree. */
    public boolean ok() {
        return bytesMatched && hostPhysical != null && hostPhysical.equals(processFrame)
                && (deviceDma == null || deviceDma.startsWith("ok"));
    }

    /** Takes the sample for one assigned device of the guest. */
    static DmaSample take(Guest guest, Guest.AssignedView view) {
        var kernel = guest.kernel();
        Vmm vmm = guest.vmm();
        VfioPciDevice dev = view.device();
        RequesterId rid = view.guestRid();
        RequesterId hostRid = dev.vfioDevice().pciDevice().rid();
        DmaOps ops = kernel.drivers().dmaOps();
        long ids = dev.configRead(PciRegs.VENDOR_ID, 4);
        boolean edu = ids == ((long) EduDevice.DEVICE_ID << 16 | EduDevice.VENDOR_QEMU);
        if (edu) {
            ops.setMask(rid, EduDevice.DEFAULT_DMA_MASK); // as an edu driver does: its DMA engine has 28 bits
        }
        long page = ops.allocPages(1);
        if (page < 0) {
            throw new IllegalStateException("the guest kernel has no free page for the DMA sample");
        }
        long dma = ops.map(rid, page, Page.SIZE, DmaOps.Direction.FROM_DEVICE);
        try {
            if (dma == DmaOps.MAPPING_ERROR) {
                return new DmaSample(dev.hostName(), rid, hostRid, null, PhysAddr.of(page), null, null, null,
                        vmm.hostFrameOf(page), 0, false, "dma_map_single failed", null, null);
            }
            Iova iova = Iova.of(dma);
            PhysAddr viommuGpa = null;
            IntelIommu viommu = vmm.machine().iommu();
            if (viommu != null) {
                TranslationResult vt = viommu.translate(new DmaRequest(rid, iova, LENGTH, DmaAccess.WRITE));
                viommuGpa = vt instanceof Translation t ? t.output(iova) : null;
            }
            String hostMapping = dev.container().mappings().stream()
                    .filter(m -> Long.compareUnsigned(iova.value() - m.iova().value(), m.size()) < 0)
                    .map(m -> String.format("iova 0x%x size 0x%x -> VMM vaddr 0x%x %s%s", m.iova().value(), m.size(),
                            m.vaddr().value(), m.readable() ? "r" : "-", m.writable() ? "w" : "-"))
                    .findFirst().orElse(null);
            IntelIommu host = vmm.host().machine().iommu();
            TranslationResult ht = host.translate(new DmaRequest(hostRid, iova, LENGTH, DmaAccess.WRITE));
            PhysAddr frame = vmm.hostFrameOf(page);
            if (!(ht instanceof Translation t)) {
                vmm.host().takeInterrupts(); // the host's dmar_fault logs it
                return new DmaSample(dev.hostName(), rid, hostRid, iova, PhysAddr.of(page), viommuGpa, null,
                        (DmaFault) ht, frame, 0, false, null, hostMapping, null);
            }
            PhysAddr hpa = t.output(iova);
            byte[] pattern = pattern(0x5a, rid);
            vmm.host().machine().memory().writeBytes(hpa, pattern, 0, LENGTH);
            byte[] got = new byte[LENGTH];
            vmm.machine().memory().readBytes(PhysAddr.of(page), got, 0, LENGTH);
            boolean matched = Arrays.equals(pattern, got);
            String deviceDma = edu ? eduDma(vmm, dev, iova, page) : NicSample.ringDma(guest, view, iova, page);
            ops.unmap(rid, dma, Page.SIZE, DmaOps.Direction.FROM_DEVICE);
            dma = DmaOps.MAPPING_ERROR;
            // the guest unmapped it: the device's same DMA, asked of the host unit again
            TranslationResult again = host.translate(new DmaRequest(hostRid, iova, LENGTH, DmaAccess.WRITE));
            vmm.host().takeInterrupts(); // a fault: the host's dmar_fault logs it
            String afterUnmap = again instanceof DmaFault f
                    ? String.format("faults in the host unit (reason 0x%x, %s): the guest's unmap reached the host",
                            f.reason(), f.description())
                    : "still reaches host-physical 0x" + Long.toHexString(((Translation) again).output(iova).value())
                            + ": without a vIOMMU in its path all guest RAM stays mapped";
            return new DmaSample(dev.hostName(), rid, hostRid, iova, PhysAddr.of(page), viommuGpa, hpa, null, frame,
                    LENGTH, matched, deviceDma, hostMapping, afterUnmap);
        } finally {
            if (dma != DmaOps.MAPPING_ERROR) {
                ops.unmap(rid, dma, Page.SIZE, DmaOps.Direction.FROM_DEVICE);
            }
            ops.freePages(page, 1);
        }
    }

    /**
     * The edu's own DMA: a pattern in the host edu's buffer, then the guest driver's register
     * stores to the VM BAR (src = buffer, dst = IOVA, count, START|TO_RAM); the host device
     * issues the DMA with its host requester id and the host unit translates it.
     */
    private static String eduDma(Vmm vmm, VfioPciDevice dev, Iova iova, long page) {
        EduDevice hostEdu = vmm.host().machine().devices().stream().filter(EduDevice.class::isInstance)
                .map(EduDevice.class::cast).filter(e -> e.address().equals(dev.vfioDevice().pciDevice().rid()))
                .findFirst().orElse(null);
        long bar = dev.barAddress(0);
        if (hostEdu == null || bar < 0 || bar == io.viommu.pci.Bar.UNMAPPED) {
            return "not issued: BAR0 of the guest's edu is not placed";
        }
        byte[] pattern = pattern(0xa5, dev.address());
        System.arraycopy(pattern, 0, hostEdu.state().buffer, 0, LENGTH);
        var mem = vmm.machine().memory();
        // the driver's probe: memory decode and bus mastering
        dev.configWrite(PciRegs.COMMAND, dev.configRead(PciRegs.COMMAND, 2) | PciRegs.COMMAND_MEMORY
                | PciRegs.COMMAND_MASTER, 2);
        mem.write(PhysAddr.of(bar + EduDevice.REG_DMA_SRC), EduDevice.DMA_BUFFER_BASE, 8);
        mem.write(PhysAddr.of(bar + EduDevice.REG_DMA_DST), iova.value(), 8);
        mem.write(PhysAddr.of(bar + EduDevice.REG_DMA_COUNT), LENGTH, 8);
        mem.write(PhysAddr.of(bar + EduDevice.REG_DMA_CMD), EduDevice.DMA_CMD_START | EduDevice.DMA_CMD_TO_RAM, 8);
        vmm.host().takeInterrupts();
        var o = hostEdu.lastDma();
        byte[] got = new byte[LENGTH];
        mem.readBytes(PhysAddr.of(page), got, 0, LENGTH);
        if (o == null || !o.ok()) {
            return "faulted: " + o;
        }
        return Arrays.equals(pattern, got) ? "ok: edu DMA of " + LENGTH + " B from its buffer to IOVA 0x"
                + Long.toHexString(iova.value()) + " landed at GPA 0x" + Long.toHexString(page) + ", bytes identical" : "bytes differ in guest RAM";
    }

    /** A pattern that names the device and differs per call. */
    static byte[] pattern(int seed, RequesterId rid) {
        byte[] b = new byte[LENGTH];
        for (int i = 0; i < LENGTH; i++) {
            b[i] = (byte) (seed ^ (i * 13) ^ rid.value());
        }
        return b;
    }
}
