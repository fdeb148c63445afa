package io.viommu.cli;

import io.viommu.vmm.NestedReport;
import io.viommu.vmm.RunReport;
import java.util.List;
import java.util.Locale;

/** The human report of {@code viommu run --nest}: every level from the host up, then the DMA down. */
final class NestedReportText {
    private NestedReportText() {
    }

    static String render(NestedReport r) {
        StringBuilder b = new StringBuilder();
        b.append("viommu run --nest: the host (L0) runs L1's VMM; each VM's kernel (the same model) binds the device it\n"
                + "was given to its own vfio-pci and runs the next level's VMM (the same VMM code, as a user process).\n");
        for (NestedReport.Level l : r.levels()) {
            b.append('\n').append(l.level()).append("  ").append(l.level().equals("L0") ? "host  " : "VM  ")
                    .append(l.args()).append('\n');
            if (l.vmm() != null || !l.level().equals("L0")) {
                String below = "L" + (Integer.parseInt(l.level().substring(1)) - 1);
                b.append("  run by a VMM process of ").append(below).append('\n');
            }
            if (!l.managed().isEmpty()) {
                b.append("  --managed: bound to vfio-pci in the level below for this VM (given back at the end):");
                for (RunReport.Managed m : l.managed()) {
                    b.append(' ').append(m.device()).append(" (was ").append(m.previousDriver() == null ? "unbound"
                            : m.previousDriver()).append(')');
                }
                b.append('\n');
            }
            if (l.viommu() != null) {
                RunReport.Viommu x = l.viommu();
                b.append(String.format(Locale.ROOT, "  vIOMMU: intel-iommu caching-mode=%s intremap=%s eim=%s"
                        + " device-iotlb=%s aw-bits=%d x-scalable-mode=%s%n", RunReportText.on(x.cachingMode()),
                        RunReportText.on(x.intremap()),
                        RunReportText.on(x.eim()), RunReportText.on(x.deviceIotlb()), x.awBits(), RunReportText.on(x.scalableMode())));
            } else if (!l.level().equals("L0") && l.device() != null) {
                b.append("  vIOMMU: none\n");
            }
            b.append("  kernel: ").append(l.iommu()).append('\n');
            NestedReport.Device d = l.device();
            if (d != null) {
                b.append("  device ").append(d.bdf()).append("  ").append(RunReportText.nz(d.ids())).append("  IOMMU group ")
                        .append(d.group() == null ? "- (none)" : d.group() + " " + d.groupMembers()).append("  driver ")
                        .append(d.driver() == null ? "none" : d.driver())
                        .append(d.vfioNode() == null || !d.vfioNode().contains("noiommu-") ? ""
                                : "  (" + d.vfioNode() + ": VFIO's no-IOMMU mode)").append('\n');
            }
            if (l.noIommu() != null) {
                b.append("  ").append(l.noIommu()).append('\n');
            }
            NestedReport.VmmSide v = l.vmm();
            if (v != null) {
                b.append("  its VMM (in ").append(v.runsOn()).append("'s VFIO) listens on ").append(v.listensOn())
                        .append('\n');
                b.append(String.format(Locale.ROOT, "    mappings held: %d, %s%n",
                        v.mappings(), RunReportText.size(v.bytesMapped())));
                for (String m : v.firstMappings()) {
                    b.append("      ").append(m).append('\n');
                }
                b.append(String.format(Locale.ROOT, "    invalidations trapped: %d; VFIO MAP_DMA / UNMAP_DMA calls: %d / %d"
                        + " (%d pages mapped)%n", v.invalidationsTrapped(), v.mapCalls(), v.unmapCalls(), v.pagesMapped()));
            }
            if (!l.log().isEmpty()) {
                b.append("  ").append(l.level()).append("'s kernel about the device:\n");
                for (String x : l.log()) {
                    b.append("    ").append(x).append('\n');
                }
            }
            b.append("  DMA faults logged by ").append(l.level()).append("'s kernel: ").append(l.faults().size()).append('\n');
            for (String f : l.faults()) {
                b.append("    ").append(f).append('\n');
            }
            for (String e : l.stderr()) {
                b.append("  stderr: ").append(e).append('\n');
            }
            if (!l.setup().isEmpty()) {
                boolean innermost = l == r.levels().get(r.levels().size() - 1);
                b.append("  ").append(l.level()).append(innermost ? "'s root, before its DMA sample and workload (--nest-setup):\n"
                        : "'s root, before the next level's VMM (--nest-setup):\n");
                for (NestedReport.SetupLine x : l.setup()) {
                    b.append("    # ").append(x.command()).append(x.ok() ? "" : "   (failed)").append('\n');
                    x.output().lines().forEach(o -> b.append("    ").append(o).append('\n'));
                }
            }
        }
        NestedReport.Dma d = r.dma();
        if (d != null) {
            b.append('\n').append("DMA PATH  the innermost guest maps page ").append(d.gpa()).append(" for ")
                    .append("the device (dma_map_single): IOVA ").append(RunReportText.nz(d.iova()))
                    .append("; every level's shadow keeps that IOVA\n");
            for (NestedReport.Hop h : d.hops()) {
                b.append(String.format(Locale.ROOT, "  %-3s %s  %s -> %s  (must be %s)  %s%n", h.level(), h.bdf(),
                        RunReportText.nz(d.iova()), h.output() == null ? "NO MAPPING" : h.output(), h.expected(), h.ok() ? "ok" : "WRONG"));
                b.append("        by ").append(h.translatedBy());
                if (h.vmmVaddr() != null) {
                    b.append("; its VMM holds that page at ").append(h.vmmVaddr());
                }
                b.append('\n');
                if (h.vmmMapping() != null) {
                    b.append("        ").append(h.vmmMapping()).append('\n');
                }
            }
            b.append("  bytes: ").append(d.bytesChecked()).append(" written at host-physical ").append(RunReportText.nz(d.hostPhysical()))
                    .append(", read back at the innermost GPA ").append(d.gpa()).append(": ")
                    .append(d.bytesMatched() ? "identical" : "DIFFERENT").append('\n');
            if (d.deviceDma() != null) {
                b.append("  the device's own DMA: ").append(d.deviceDma()).append('\n');
            }
        }
        NestedReport.Stray s = r.stray();
        if (s != null && s.iova() == null) {
            b.append('\n').append("STRAY DMA  ").append(s.stoppedAt()).append('\n');
        } else if (s != null) {
            b.append('\n').append("STRAY DMA  the device writes to IOVA ").append(s.iova())
                    .append(", which the innermost guest never mapped\n");
            for (String m : s.mappedAt()) {
                b.append("  ").append(m).append('\n');
            }
            b.append("  the chain breaks at: ").append(RunReportText.nz(s.firstUnmapped())).append('\n');
            b.append("  stopped at ").append(s.stoppedAt()).append('\n');
            b.append("  fault: ").append(s.fault()).append('\n');
            for (String l : s.hostLog()) {
                b.append("  host log: ").append(l).append('\n');
            }
        }
        NestedReport.Unsafe u = r.unsafe();
        if (u != null) {
            b.append('\n').append("UNSAFE DMA  ").append(u.level()).append("'s user space has the device through VFIO's"
                    + " no-IOMMU mode (").append(u.node()).append(", container type VFIO_NOIOMMU_IOMMU: no MAP_DMA)\n");
            b.append("  it gives the device guest-physical ").append(u.gpa()).append(", a page ").append(u.level())
                    .append("'s kernel allocated for itself: ").append(u.bytes()).append(" B DMAed there ")
                    .append(u.landed() ? "landed (nothing in " + u.level() + " checks the address)" : "did NOT land")
                    .append('\n');
            b.append("  host-physical ").append(RunReportText.nz(u.hostPhysical()))
                    .append(": the host's unit maps all of ").append(u.level())
                    .append("'s RAM for its VMM, so it stops nothing inside it\n");
        }
        NestedReport.Workload w = r.workload();
        if (w != null) {
            b.append('\n').append("WORKLOAD  ").append(w.name()).append(" in ").append(w.runsIn()).append("'s guest: ")
                    .append(w.packets()).append(" packets into a ring of ").append(w.ring()).append(", delivered intact ")
                    .append(w.delivered()).append(", DMA faults ").append(w.dmaFaults()).append('\n');
            b.append("  per packet, by the VMM of each level:\n");
            for (NestedReport.LevelCost c : w.levels()) {
                b.append(String.format(Locale.ROOT, "    %-3s traps %.2f, VFIO MAP/UNMAP calls %.2f (%.2f + %.2f)%n",
                        c.level(), c.trapsPerPacket(), c.vfioCallsPerPacket(), c.mapCallsPerPacket(),
                        c.unmapCallsPerPacket()));
            }
            b.append(String.format(Locale.ROOT, "  host IOMMU (IOTLB) invalidations per packet: %.2f (%s)%n",
                    w.hostIotlbInvalidationsPerPacket(), w.hostCachingMode()
                            ? "the host unit has caching mode: Linux invalidates on every map and unmap"
                            : "the host unit has no caching mode: Linux invalidates on unmap only"));
        }
        RunReportText.list(b, "OPTIONS WITHOUT EFFECT ON THE MODEL", r.noEffect());
        RunReportText.list(b, "WARNINGS", r.warnings());
        b.append('\n').append("RESULT  ").append(r.ok() ? "ok" : "FAILED" + (r.failedAt() != null ? " at " + r.failedAt()
                : "") + ": " + r.failure()).append('\n');
        return b.toString();
    }
}
