package io.viommu.tour;

import io.viommu.linux.Kernel;
import io.viommu.vmm.RunReport;
import io.viommu.vmm.VmRun;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Step 6: an assigned device behind the vIOMMU. With {@code caching-mode=on} the guest
 * invalidates after every map, the VMM traps that and mirrors the guest's mapping into the host
 * IOMMU through VFIO: one DMA is followed from the guest's IOVA down to the host frame. Without
 * caching mode QEMU refuses the VM: it could not see the guest's new mappings.
 */
final class CachingModeStep extends TourStep {
    static final String EDU = "0000:00:07.0";
    static final String VM = "-M q35,accel=kvm,kernel-irqchip=split -m 512M -nodefaults"
            + " -device intel-iommu,intremap=on,caching-mode=on -device vfio-pci,host=00:07.0";

    CachingModeStep() {
        super(6, "a VM with vfio-pci and caching-mode=on, and without caching mode",
                "001 (With Assigned Devices), 002");
    }

    @Override
    public void run(TourInputs in, StepLog log) {
        Kernel host = Walkthroughs.hostWithEdu07OnVfioPci(in, log);
        List<String> args = Walkthroughs.args(VM);
        RunReport r = VmRun.run(host, new VmRun.Options("the tour's host", args, false, VmRun.Workload.NONE, 0, 0));
        log.shown("host#", Walkthroughs.typed(args), Walkthroughs.lines(r.warnings()) + (r.ok() ? "" : r.failure() + "\n"));
        if (log.expect(r.ok() && r.samples().size() == 1 && r.samples().get(0).ok(), "the VM runs and the device's DMA lands in the guest page",
                r.failure())) {
            RunReport.Sample s = r.samples().get(0);
            log.shown("guest", "(the guest kernel maps one page with dma_map_single and the device DMAs to it)", path(s));
            log.expect(s.viommuGpa() != null && s.hostPhysical() != null && s.bytesMatched(),
                    "guest IOVA → GPA (vIOMMU) → host-physical (host unit), the bytes identical", path(s));
            log.expect(r.counts().invalidationsTrapped() > 0 && r.counts().hostMapCalls() > 0,
                    "the VMM trapped the guest's invalidations and made host VFIO MAP_DMA calls ("
                            + r.counts().invalidationsTrapped() + " trapped, " + r.counts().hostMapCalls() + " MAP_DMA)", r.counts().toString());
            log.expect(s.afterUnmap() != null && s.afterUnmap().contains("faults"),
                    "after the guest's dma_unmap_single the same DMA faults in the host unit", s.afterUnmap());
            log.figure("step6-host", "The host: edu 07.0 on vfio-pci, in the VM", Walkthroughs.report(host, "the tour's host"),
                    Map.of(EDU, "assigned to the VM"), dmaPath(s));
        }
        log.say("The same VM without caching-mode=on:");
        List<String> noCm = Walkthroughs.args(VM.replace(",caching-mode=on", ""));
        try (TourVm vm = TourVm.start(host, noCm, log)) {
            log.expect(!vm.running() && vm.refusal.contains("We need to set caching-mode=on for intel-iommu to enable device"
                            + " assignment with IOMMU protection."),
                    "QEMU refuses: an assigned device behind the vIOMMU needs caching-mode=on", String.join("\n", vm.stderr));
        }
    }

    /** The DMA sample's path as text, one level a line. */
    static String path(RunReport.Sample s) {
        StringBuilder sb = new StringBuilder();
        sb.append("guest IOVA       ").append(s.iova()).append("   (").append(s.guestBdf()).append(" in the VM)\n");
        if (s.viommuGpa() != null) {
            sb.append("-> GPA           ").append(s.viommuGpa()).append("   the vIOMMU's translation\n");
        }
        sb.append("-> VMM vaddr     ").append(s.processVaddr()).append("   the VMM process's page\n");
        if (s.hostMapping() != null) {
            sb.append("   host VFIO mapping: ").append(s.hostMapping()).append('\n');
        }
        sb.append("-> host-physical ").append(s.hostPhysical()).append("   the host unit's translation of (RID ")
                .append(s.hostRid()).append(", IOVA)\n");
        sb.append("bytes: ").append(s.bytesChecked()).append(s.bytesMatched() ? " identical" : " DIFFERENT").append('\n');
        if (s.deviceDma() != null) {
            sb.append("the device's own DMA: ").append(s.deviceDma()).append('\n');
        }
        if (s.afterUnmap() != null) {
            sb.append("after unmap: ").append(s.afterUnmap()).append('\n');
        }
        return sb.toString();
    }

    static List<String> dmaPath(RunReport.Sample s) {
        List<String> p = new ArrayList<>();
        p.add("device " + s.host() + " in the VM as " + s.guestBdf() + ": DMA to guest IOVA " + s.iova());
        if (s.viommuGpa() != null) {
            p.add("vIOMMU (the guest's tables): GPA " + s.viommuGpa());
        }
        p.add("VMM process: vaddr " + s.processVaddr());
        p.add("host VT-d unit (VFIO's mapping, RID " + s.hostRid() + "): host-physical " + s.hostPhysical());
        p.add("host memory: the guest's page");
        return p;
    }
}
