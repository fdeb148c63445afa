package io.viommu.vmm;

import io.viommu.linux.driver.DmaOps;
import io.viommu.linux.driver.DriverDma;
import io.viommu.linux.driver.PciDevice;
import io.viommu.machine.AddressMap;
import io.viommu.machine.device.Endpoints;
import io.viommu.memory.Iova;
import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.Bar;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import io.viommu.pci.RequesterId;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The device DMA of a {@link DmaSample} for an assigned NIC: one frame through the NIC's own
 * descriptor rings, driven as the guest's driver drives them — register stores to the VM's
 * BAR0, which reach the host NIC through VFIO. The rings are the guest driver's ({@code tx-ring}
 * and {@code rx-ring} of its {@link DriverDma}) when one is bound, else pages mapped for the
 * sample; the frame sits in a page mapped TO_DEVICE, and the RX descriptor points at the
 * sample's page (its guest IOVA). The host NIC reads the TX descriptor and the frame and
 * writes the frame and the descriptors, every access translated by the HOST unit with what
 * the VMM mirrored; the frame comes back through MAC loopback (e1000e) or the 82576's switch
 * to the VF's own MAC (what its PF's driver gave it; the mailbox is not modelled).
 */
final class NicSample {
    static final int FRAME = DmaSample.LENGTH;

    private NicSample() {
    }

    /** The NIC behind the host end of {@code dev}, or null when it is not an e1000e or an 82576 VF. */
    static PciFunction hostNic(Vmm vmm, VfioPciDevice dev) {
        RequesterId rid = dev.vfioDevice().pciDevice().rid();
        return vmm.host().machine().rootBus().allBuses().stream().flatMap(b -> b.functions().stream())
                .filter(f -> rid.equals(f.address()))
                .filter(f -> f instanceof Endpoints.E1000e || f instanceof Endpoints.Igb82576Vf)
                .findFirst().orElse(null);
    }

    /** A ring or buffer page: guest-physical, its DMA address, and whether the sample mapped it. */
    private record Page2(long phys, long dma, int pages, DmaOps.Direction dir, boolean own) {
    }

    /**
     * Moves one frame into {@code rxIova} (the guest page {@code rxPage}); a line for the report,
     * or null when the device is not one of the modelled NICs.
     */
    static String ringDma(Guest guest, Guest.AssignedView view, Iova rxIova, long rxPage) {
        Vmm vmm = guest.vmm();
        VfioPciDevice dev = view.device();
        PciFunction nic = hostNic(vmm, dev);
        if (nic == null) {
            return null;
        }
        long bar = dev.barAddress(0);
        if (bar < 0 || bar == Bar.UNMAPPED) {
            return "not issued: BAR0 of the guest's NIC is not placed";
        }
        RequesterId rid = view.guestRid();
        DmaOps ops = guest.kernel().drivers().dmaOps();
        List<Page2> taken = new ArrayList<>();
        try {
            Page2 tx = ring(guest, view, ops, rid, "tx-ring", taken);
            Page2 rx = ring(guest, view, ops, rid, "rx-ring", taken);
            Page2 buf = map(ops, rid, DmaOps.Direction.TO_DEVICE, taken);
            if (tx == null || rx == null || buf == null) {
                return "not issued: the guest could not map the rings";
            }
            AddressMap mem = vmm.machine().memory();
            dev.configWrite(PciRegs.COMMAND, dev.configRead(PciRegs.COMMAND, 2) | PciRegs.COMMAND_MEMORY
                    | PciRegs.COMMAND_MASTER, 2);
            boolean vf = nic instanceof Endpoints.Igb82576Vf;
            byte[] dst = vf ? ((Endpoints.Igb82576Vf) nic).core().mac() : e1000eMac(mem, bar);
            byte[] frame = frame(dst, rid);
            mem.writeBytes(PhysAddr.of(buf.phys()), frame, 0, FRAME);
            oneFrame(mem, bar, tx, rx, buf, rxIova, vf);
            vmm.host().takeInterrupts();
            byte[] got = new byte[FRAME];
            mem.readBytes(PhysAddr.of(rxPage), got, 0, FRAME);
            long txStatus = mem.read(PhysAddr.of(tx.phys() + 12), 4);
            String kind = vf ? "82576 VF" : "e1000e";
            if (!Arrays.equals(frame, got)) {
                return "bytes differ in guest RAM: the " + kind + "'s frame did not arrive (a fault in the host unit?)";
            }
            return String.format("ok: %s moved a %d-byte frame from its TX ring (IOVA 0x%x) through %s into the RX"
                    + " buffer at IOVA 0x%x, landed at GPA 0x%x, bytes identical; TX descriptor written back %s",
                    kind, FRAME, tx.dma(), vf ? "the PF's switch" : "MAC loopback", rxIova.value(), rxPage,
                    (txStatus & 1) != 0 ? "with DD" : "without DD");
        } finally {
            for (Page2 p : taken) {
                ops.unmap(rid, p.dma(), (long) p.pages() * Page.SIZE, p.dir());
                ops.freePages(p.phys(), p.pages());
            }
        }
    }

    /** The guest driver's ring when it is bound and has one; else a page mapped for the sample. */
    private static Page2 ring(Guest guest, Guest.AssignedView view, DmaOps ops, RequesterId rid, String name,
                              List<Page2> taken) {
        PciDevice pd = guest.kernel().drivers().device(view.guestBdf()).orElse(null);
        DriverDma dma = pd == null || pd.driver() == null ? null : pd.driver().dma();
        if (dma != null) {
            for (DriverDma.Buffer b : dma.buffers(pd)) {
                if (b.spec().name().equals(name)) {
                    return new Page2(b.phys(), b.dma(), b.spec().pages(), b.spec().dir(), false);
                }
            }
        }
        return map(ops, rid, DmaOps.Direction.BIDIRECTIONAL, taken);
    }

    private static Page2 map(DmaOps ops, RequesterId rid, DmaOps.Direction dir, List<Page2> taken) {
        long phys = ops.allocPages(1);
        if (phys < 0) {
            return null;
        }
        long dma = ops.map(rid, phys, Page.SIZE, dir);
        if (dma == DmaOps.MAPPING_ERROR) {
            ops.freePages(phys, 1);
            return null;
        }
        Page2 p = new Page2(phys, dma, 1, dir, true);
        taken.add(p);
        return p;
    }

    /** A frame to {@code dst} from a locally administered source, ethertype 0x88b5 (local experimental). */
    static byte[] frame(byte[] dst, RequesterId rid) {
        byte[] f = DmaSample.pattern(0x3c, rid);
        System.arraycopy(dst, 0, f, 0, 6);
        byte[] src = {0x02, 0, 0, 0, 0, 1};
        System.arraycopy(src, 0, f, 6, 6);
        f[12] = (byte) 0x88;
        f[13] = (byte) 0xb5;
        return f;
    }

    /** RAL0/RAH0, as the e1000e driver reads its MAC. */
    private static byte[] e1000eMac(AddressMap mem, long bar) {
        long lo = mem.read(PhysAddr.of(bar + 0x5400), 4);
        long hi = mem.read(PhysAddr.of(bar + 0x5404), 4);
        byte[] m = new byte[6];
        for (int i = 0; i < 4; i++) {
            m[i] = (byte) (lo >>> (8 * i));
        }
        m[4] = (byte) hi;
        m[5] = (byte) (hi >>> 8);
        return m;
    }

    private static void reg(AddressMap mem, long bar, int off, long v) {
        mem.write(PhysAddr.of(bar + off), v & 0xffff_ffffL, 4);
    }

    /**
     * One frame through queue 0: the TX descriptor (e1000e legacy; 82576 VF advanced data with
     * PAYLEN) and one RX descriptor, both rings programmed (8 descriptors, head and tail 0),
     * reception and transmission enabled (e1000e: RCTL with MAC loopback and TCTL; VF: RXDCTL
     * and TXDCTL), RDT then TDT moved past the descriptor, and the queues stopped again.
     */
    private static void oneFrame(AddressMap mem, long bar, Page2 tx, Page2 rx, Page2 buf, Iova rxIova, boolean vf) {
        mem.write(PhysAddr.of(tx.phys()), buf.dma(), 8);
        mem.write(PhysAddr.of(tx.phys() + 8), (vf ? 0x2b30_0000L : 0x0b00_0000L) | FRAME, 4); // EOP IFCS RS (DEXT DTYP)
        mem.write(PhysAddr.of(tx.phys() + 12), vf ? (long) FRAME << 14 : 0, 4); // PAYLEN
        mem.write(PhysAddr.of(rx.phys()), rxIova.value(), 8);
        mem.write(PhysAddr.of(rx.phys() + 8), 0, 8);
        for (int[] ring : new int[][] {{0x3800, 0}, {0x2800, 1}}) {
            long dma = ring[1] == 0 ? tx.dma() : rx.dma();
            reg(mem, bar, ring[0], dma);
            reg(mem, bar, ring[0] + 4, dma >>> 32);
            reg(mem, bar, ring[0] + 8, 0x80);
            reg(mem, bar, ring[0] + 0x10, 0);
            reg(mem, bar, ring[0] + 0x18, 0);
        }
        int[] enable = vf ? new int[] {0x3828, 1 << 25, 0x2828, 1 << 25} // TXDCTL, RXDCTL: ENABLE
                : new int[] {0x100, 0x805a, 0x400, 0x2}; // RCTL: EN UPE MPE MAC-loopback BAM; TCTL: EN
        reg(mem, bar, enable[0], enable[1]);
        reg(mem, bar, enable[2], enable[3]);
        reg(mem, bar, 0x2818, 1); // RDT
        reg(mem, bar, 0x3818, 1); // TDT
        reg(mem, bar, enable[0], 0);
        reg(mem, bar, enable[2], 0);
    }
}
