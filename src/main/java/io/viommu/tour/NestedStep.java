package io.viommu.tour;

import io.viommu.linux.Kernel;
import io.viommu.vmm.NestedReport;
import io.viommu.vmm.NestedRun;
import io.viommu.vmm.VmRun;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Step 9: nested assignment. The host gives its edu to an L1 VM with a vIOMMU in caching mode
 * and interrupt remapping (kernel-irqchip=split); L1's kernel binds the device to its own
 * vfio-pci (its root types the sysfs commands, as step 3 on the host) and L1's QEMU hands it on to L2 by
 * its BDF in L1.
 * Per level: the device's BDF, group and driver, and what the level's VMM did (mappings held,
 * invalidations trapped, VFIO calls). One DMA of L2's guest is followed down to the host frame
 * (bytes compared), and a DMA to an IOVA nobody mapped is stopped by the host's unit (L0). Then
 * the NIC ring in L2 against the same in L1: what each level's VMM pays per packet.
 */
final class NestedStep extends TourStep {
    static final String EDU = "0000:00:07.0";
    /** The edu in L1: the first free slot of L1's q35 (the vIOMMU is no PCI function). */
    static final String IN_L1 = "0000:00:01.0";
    static final String L1 = "-M q35,accel=kvm,kernel-irqchip=split -m 512M -nodefaults -append intel_iommu=on"
            + " -device intel-iommu,intremap=on,caching-mode=on -device vfio-pci,host=00:07.0";
    static final String L2 = "-M q35,accel=kvm -m 128M -nodefaults -append intel_iommu=on"
            + " -device intel-iommu,caching-mode=on -device vfio-pci,host=00:01.0";
    /** What L1's root types to hand its device to vfio-pci (step 3's sysfs way), before starting L2. */
    static final List<String> L1_SETUP = List.of("modprobe vfio-pci",
            "echo vfio-pci > /sys/bus/pci/devices/" + IN_L1 + "/driver_override",
            "echo " + IN_L1 + " > /sys/bus/pci/drivers_probe");
    static final int PACKETS = 128;
    static final int RING = 32;

    NestedStep() {
        super(9, "nested: L1 (vIOMMU, caching mode) hands the host's device on to L2", "001 (Use Case 3: Nested Guest Device Assignment), 002");
    }

    @Override
    public void run(TourInputs in, StepLog log) {
        Kernel host = Walkthroughs.hostWithEdu07OnVfioPci(in, log);
        List<String> l1 = Walkthroughs.args(L1);
        List<String> l2 = Walkthroughs.args(L2);
        NestedReport r = NestedRun.run(host, new NestedRun.Options("the tour's host", List.of(l1, l2), false,
                VmRun.Workload.NIC_RING, PACKETS, RING, List.of(L1_SETUP)));
        NestedReport.Level lv1 = r.levels().size() > 1 ? r.levels().get(1) : null;
        NestedReport.Level lv2 = r.levels().size() > 2 ? r.levels().get(2) : null;
        log.shown("host#", Walkthroughs.typed(l1), (lv1 == null ? "" : Walkthroughs.lines(lv1.stderr()))
                + (lv1 != null && lv1.device() != null ? "(L1 runs; its kernel booted: the L1# lines below are typed inside it)\n" : ""));
        log.say("In L1 the device is a PCI device of its own, behind L1's vIOMMU. L1's root hands it to its own vfio-pci"
                + " the sysfs way (as step 3 does on the host), and L1's QEMU names it by its BDF in L1.");
        if (lv1 != null) {
            for (NestedReport.SetupLine x : lv1.setup()) {
                log.shown("L1#", x.command(), x.output());
            }
        }
        log.shown("L1#", Walkthroughs.typed(l2), (lv2 == null ? "" : Walkthroughs.lines(lv2.stderr()))
                + (r.ok() ? "" : r.failure() + "\n"));
        if (!log.expect(r.ok(), "L1 and L2 run, L2's DMA lands and the stray DMA is stopped", r.failure())) {
            return;
        }
        log.shown("viommu", "every level: the device as its kernel sees it, and the VMM that runs it", levels(r));
        NestedReport.Device d0 = r.levels().get(0).device();
        NestedReport.Device d1 = lv1.device();
        NestedReport.Device d2 = lv2.device();
        log.expect(d0.bdf().equals(EDU) && "vfio-pci".equals(d0.driver()) && d0.group() != null,
                "L0: 07.0 in its own IOMMU group, on the host's vfio-pci", String.valueOf(d0));
        log.expect(d1.bdf().equals(IN_L1) && "vfio-pci".equals(d1.driver()) && d1.group() != null,
                "L1: the device is " + IN_L1 + " in an IOMMU group of L1's vIOMMU, on L1's vfio-pci", String.valueOf(d1));
        log.expect(d2.driver() == null && d2.group() != null, "L2: the device (" + d2.bdf() + ") has an IOMMU group of L2's"
                + " vIOMMU and no driver (the guest kernel has none for an edu)", String.valueOf(d2));
        log.expect(lv1.viommu() != null && lv1.viommu().cachingMode() && lv1.viommu().intremap(),
                "L1's vIOMMU: caching-mode=on, intremap=on", String.valueOf(lv1.viommu()));
        for (NestedReport.Level l : List.of(lv1, lv2)) {
            NestedReport.VmmSide v = l.vmm();
            log.expect(v.invalidationsTrapped() > 0 && v.mapCalls() > 0 && v.mappings() == 1,
                    l.level() + "'s VMM (a process of " + v.runsOn() + ") trapped its VM's invalidations and mirrored the"
                            + " DMA page into " + v.runsOn() + "'s VFIO: 1 mapping held, " + v.mapCalls() + " MAP_DMA",
                    String.valueOf(v));
        }
        NestedReport.Dma dma = r.dma();
        log.shown("L2", "(L2's kernel maps one page with dma_map_single; the physical edu DMAs to it)", path(dma));
        log.expect(dma.hops().stream().map(NestedReport.Hop::level).toList().equals(List.of("L2", "L1", "L0"))
                        && dma.hops().stream().allMatch(NestedReport.Hop::ok),
                "L2's IOVA → L2 GPA (L2's vIOMMU) → L1 GPA (L1's vIOMMU) → host-physical (the host unit): every hop the frame"
                        + " the VMM above holds the page at", path(dma));
        log.expect(dma.bytesMatched() && dma.bytesChecked() > 0 && dma.deviceDma() != null && dma.deviceDma().startsWith("ok"),
                "the bytes at the host frame are the bytes in L2's page, and the edu's own DMA lands there too",
                path(dma));
        NestedReport.Stray s = r.stray();
        log.shown("L2", "(the edu, driven from L2, DMAs to IOVA " + s.iova() + ", which L2 never mapped)", stray(s));
        log.expect(!s.landed() && "L2".equals(s.firstUnmapped()) && s.stoppedAt().startsWith("L0: the host's VT-d unit"),
                "the stray DMA reaches no memory: the chain breaks at L2, the host's unit (L0) stops it", stray(s));
        String line = "DMAR: [DMA Write NO_PASID] Request device [00:07.0] fault addr " + s.iova()
                + " [fault reason 0x05] PTE Write access is not set";
        log.expect(s.hostLog().stream().anyMatch(l -> l.endsWith(line)), "the host logs: " + line,
                String.join("\n", s.hostLog()));
        log.expect(lv1.faults().isEmpty() && lv2.faults().isEmpty(),
                "L1's and L2's kernels log no fault: no vIOMMU sees the physical device's DMA",
                String.join("\n", lv1.faults()) + String.join("\n", lv2.faults()));
        log.figure("step9-host", "The host: edu 07.0 on vfio-pci, given to L1, handed on to L2",
                Walkthroughs.report(host, "the tour's host"), Map.of(EDU, "in L1 as " + d1.bdf().substring(5) + ", in L2 as "
                        + d2.bdf().substring(5)), dmaPath(dma));
        cost(in, log, r, l1);
    }

    /** The NIC ring in L2 (this run) against the same in L1 alone. */
    private static void cost(TourInputs in, StepLog log, NestedReport nested, List<String> l1) {
        log.say("The NIC ring (a map per refill, an unmap per completion) in L2, and the same in L1 alone: every level's"
                + " VMM traps each of L2's invalidations and makes its own VFIO calls.");
        Kernel fresh = Walkthroughs.bootHost(in); // a host like this step's, its edus on vfio-pci the same way
        Walkthroughs.edusOnVfioPci(fresh, new StepLog());
        NestedReport one = NestedRun.run(fresh, new NestedRun.Options(
                "the tour's host", List.of(l1), true, PACKETS, RING));
        NestedReport.Workload w2 = nested.workload();
        NestedReport.Workload w1 = one.workload();
        if (!log.expect(one.ok() && w1 != null && w2 != null, "the NIC ring runs in L1 alone too", one.failure())) {
            return;
        }
        StringBuilder t = new StringBuilder();
        t.append(String.format(Locale.ROOT, "%-14s %-6s %14s %18s %22s%n", "ring runs in", "VMM of", "traps/packet",
                "VFIO calls/packet", "(MAP_DMA + UNMAP_DMA)"));
        for (NestedReport.Workload w : List.of(w1, w2)) {
            for (NestedReport.LevelCost c : w.levels()) {
                t.append(String.format(Locale.ROOT, "%-14s %-6s %14.2f %18.2f %22s%n", w.runsIn(), c.level(),
                        c.trapsPerPacket(), c.vfioCallsPerPacket(), String.format(Locale.ROOT, "(%.2f + %.2f)",
                                c.mapCallsPerPacket(), c.unmapCallsPerPacket())));
            }
        }
        for (NestedReport.Workload w : List.of(w1, w2)) {
            t.append(String.format(Locale.ROOT, "ring in %s: the host unit's IOTLB invalidations %.2f per packet%n",
                    w.runsIn(), w.hostIotlbInvalidationsPerPacket()));
        }
        log.shown("host#", "viommu run --nest --workload nic-ring (" + PACKETS + " packets, ring " + RING + "): in L1, then in L2",
                t.toString());
        // Linux 6.1 invalidates the IOTLB after every unmap, and after a map only when the unit has
        // caching mode (__mapping_notify_one); the tour's host unit, like a physical one, has not
        NestedReport.LevelCost bottom = w2.levels().get(0);
        double expectedInv = w2.hostCachingMode() ? bottom.vfioCallsPerPacket() : bottom.unmapCallsPerPacket();
        log.expect(w2.hostIotlbInvalidationsPerPacket() == expectedInv
                        && w1.hostIotlbInvalidationsPerPacket() == w2.hostIotlbInvalidationsPerPacket(),
                "the host unit is invalidated once per host UNMAP_DMA (" + String.format(Locale.ROOT, "%.2f", expectedInv)
                        + " per packet, at either depth): its Linux flushes on unmap, and on map only under caching mode,"
                        + " which the host's " + (w2.hostCachingMode() ? "unit has (so on maps too)" : "unit (like a physical"
                        + " one) has not"), t.toString());
        double traps = w1.levels().get(0).trapsPerPacket();
        log.expect(w2.delivered() == PACKETS && w1.delivered() == PACKETS && w2.dmaFaults() == 0,
                "every packet delivered intact at both depths", w1 + "\n" + w2);
        log.expect(w2.levels().size() == 2 && w2.levels().stream().allMatch(c -> c.trapsPerPacket() == traps) && traps >= 2,
                "in L2 both VMMs trap what L1's VMM alone traps per packet (" + String.format(Locale.ROOT, "%.2f", traps)
                        + "): the cost is paid once per level", t.toString());
        double[][] v = new double[2][2];
        v[0][0] = traps;
        v[0][1] = w1.levels().get(0).vfioCallsPerPacket();
        for (NestedReport.LevelCost c : w2.levels()) {
            v[1][0] += c.trapsPerPacket();
            v[1][1] += c.vfioCallsPerPacket();
        }
        log.chart("step9-cost", "Per-packet cost of the NIC ring, all VMMs together", "per packet",
                List.of("ring in L1", "ring in L2"), List.of("traps", "VFIO calls"), v);
    }

    static String levels(NestedReport r) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%-5s %-14s %-7s %-10s %-22s %9s %12s %10s%n", "level", "device", "group",
                "driver", "its VMM runs on", "mappings", "inval.trap", "VFIO calls"));
        for (NestedReport.Level l : r.levels()) {
            NestedReport.Device d = l.device();
            NestedReport.VmmSide v = l.vmm();
            b.append(String.format(Locale.ROOT, "%-5s %-14s %-7s %-10s %-22s %9s %12s %10s%n", l.level(),
                    d == null ? "-" : d.bdf(), d == null || d.group() == null ? "-" : d.group().toString(),
                    d == null || d.driver() == null ? "none" : d.driver(),
                    v == null ? "(the host)" : v.runsOn() + "'s VFIO", v == null ? "-" : Integer.toString(v.mappings()),
                    v == null ? "-" : Long.toString(v.invalidationsTrapped()),
                    v == null ? "-" : v.mapCalls() + "+" + v.unmapCalls()));
        }
        b.append("(mappings: held in the VMM's VFIO container while L2's DMA page was mapped; VFIO calls: MAP_DMA+UNMAP_DMA)\n");
        return b.toString();
    }

    static String path(NestedReport.Dma d) {
        StringBuilder b = new StringBuilder("IOVA ").append(d.iova()).append(" for L2's page at GPA ").append(d.gpa())
                .append(" (the same IOVA at every level: each VMM shadows it unchanged)\n");
        for (NestedReport.Hop h : d.hops()) {
            b.append(String.format(Locale.ROOT, "%-3s %s  -> %s  (must be %s) %s, by %s%n", h.level(), h.bdf(),
                    h.output() == null ? "NO MAPPING" : h.output(), h.expected(), h.ok() ? "ok" : "WRONG", h.translatedBy()));
        }
        b.append("bytes: ").append(d.bytesChecked()).append(" written at host-physical ").append(d.hostPhysical())
                .append(", read in L2's page: ").append(d.bytesMatched() ? "identical" : "DIFFERENT").append('\n');
        if (d.deviceDma() != null) {
            b.append("the edu's own DMA: ").append(d.deviceDma()).append('\n');
        }
        return b.toString();
    }

    static String stray(NestedReport.Stray s) {
        StringBuilder b = new StringBuilder();
        s.mappedAt().forEach(m -> b.append(m).append('\n'));
        b.append("stopped at ").append(s.stoppedAt()).append('\n');
        s.hostLog().forEach(l -> b.append("host dmesg: ").append(l).append('\n'));
        return b.toString();
    }

    static List<String> dmaPath(NestedReport.Dma d) {
        List<String> p = new ArrayList<>();
        p.add("edu in L2 as " + d.hops().get(0).bdf() + ": DMA to L2 IOVA " + d.iova());
        for (NestedReport.Hop h : d.hops()) {
            p.add(h.level().equals("L0") ? "host VT-d unit (RID " + h.bdf().substring(5) + "): host-physical " + h.output()
                    : h.level() + "'s vIOMMU (" + h.bdf().substring(5) + "): " + h.level() + " GPA " + h.output()
                            + (h.vmmVaddr() == null ? "" : ", its VMM's page at " + h.vmmVaddr()));
        }
        p.add("host memory: L2's page");
        return p;
    }
}
