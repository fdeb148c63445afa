package io.viommu.cli;

import io.viommu.vmm.RunReport;
import java.util.List;
import java.util.Locale;

/** The human report of {@code viommu run}: what each level did, in the order the data flows. */
final class RunReportText {
    private RunReportText() {
    }

    static String render(RunReport r) {
        StringBuilder b = new StringBuilder();
        RunReport.Host h = r.host();
        b.append("viommu run: a host (the kernel model on a modelled q35), a VMM process with the VM, the same kernel\n"
                + "model booted as the guest, and each assigned device's DMA followed from the guest down to the host.\n\n");
        b.append("HOST  ").append(h.args()).append('\n');
        b.append("  IOMMU: ").append(h.iommu() ? "intel-iommu active (the host's own VT-d unit translates every DMA"
                + " of its devices)" : "not active").append('\n');
        for (RunReport.HostDevice d : h.devices()) {
            b.append("  ").append(d.name()).append("  ").append(d.ids()).append("  IOMMU group ")
                    .append(d.group() == null ? "-" : d.group()).append(" ").append(d.groupMembers())
                    .append("  driver ").append(nz(d.driver())).append('\n');
            b.append("      host IOMMU domain: ").append(d.domain()).append('\n');
            RunReport.Container c = d.container();
            b.append("      the VMM's VFIO container listens on ").append(c.listensOn()).append(": ")
                    .append(c.mappings()).append(" mapping(s), ").append(size(c.bytesMapped())).append('\n');
            for (String m : c.firstMappings()) {
                b.append("        ").append(m).append('\n');
            }
        }
        if (!r.managed().isEmpty()) {
            b.append("  --managed (libvirt managed='yes'): bound to vfio-pci for the run, given back at its end:\n");
            for (RunReport.Managed m : r.managed()) {
                b.append("      ").append(m.device()).append("  ").append(m.previousDriver() == null ? "(no driver)"
                        : m.previousDriver()).append(" -> vfio-pci -> ").append(m.previousDriver() == null ? "(no driver)"
                        : m.previousDriver()).append('\n');
            }
        }
        RunReport.Vm v = r.vm();
        if (v != null) {
            b.append('\n').append("VM  ").append(size(v.ramBytes())).append(" RAM (the VMM process's memory), ")
                    .append(v.cpus()).append(" CPU(s), accel ").append(v.accelerator()).append('\n');
            if (v.viommu() == null) {
                b.append("  vIOMMU: none (assigned devices' DMA reaches guest RAM at its GPA: the VMM mapped all of it)\n");
            } else {
                RunReport.Viommu x = v.viommu();
                b.append(String.format(Locale.ROOT, "  vIOMMU: intel-iommu caching-mode=%s intremap=%s eim=%s"
                        + " device-iotlb=%s aw-bits=%d x-scalable-mode=%s (CAP %s ECAP %s)%n", on(x.cachingMode()),
                        on(x.intremap()), on(x.eim()), on(x.deviceIotlb()), x.awBits(), on(x.scalableMode()), x.cap(),
                        x.ecap()));
            }
            b.append("  guest kernel: ").append(v.guestIommu());
            if (!v.guestModules().isEmpty()) {
                b.append("; coldplug loaded ").append(String.join(", ", v.guestModules()));
            }
            b.append('\n');
            b.append("  PCI functions as the guest enumerated them (BDF, ids, model, guest IOMMU group, guest driver):\n");
            for (RunReport.Function f : v.topology()) {
                String assigned = v.assigned().stream().filter(a -> a.guestBdf().equals(f.bdf())).map(a -> "  <- host "
                        + a.host()).findFirst().orElse("");
                b.append(String.format(Locale.ROOT, "    %s  %s  %-18s group %-3s %s%s%n", f.bdf(), f.ids(),
                        nz(f.model()), f.group() == null ? "-" : f.group(), nz(f.driver()), assigned));
            }
            for (RunReport.Assigned a : v.assigned()) {
                b.append("  assigned: host ").append(a.host()).append(" is ").append(a.guestBdf())
                        .append(" in the VM, guest group ").append(a.guestGroup() == null ? "- (no guest IOMMU)"
                                : a.guestGroup()).append(", guest driver ").append(a.guestDriver() == null
                                ? "none (no in-tree driver; the workload drives it)" : a.guestDriver())
                        .append(", its DMA goes through ").append(a.addressSpace()).append('\n');
            }
        }
        if (!r.samples().isEmpty()) {
            b.append('\n').append("DMA PATH  one page mapped by the guest kernel's DMA API (dma_map_single), ")
                    .append("followed down every level\n");
            for (RunReport.Sample s : r.samples()) {
                b.append("  ").append(s.host()).append(" (").append(s.guestBdf()).append(" in the VM):\n");
                row(b, "guest IOVA", s.iova(), "the DMA address the guest driver was given");
                boolean bypass = v != null && v.assigned().stream().anyMatch(a -> a.guestBdf().equals(s.guestBdf())
                        && a.addressSpace().contains("bypasses"));
                if (s.viommuGpa() != null && bypass) {
                    row(b, "-> GPA", s.viommuGpa(), "what the guest meant: its vIOMMU's translation, which this device"
                            + " BYPASSES (the host sees the IOVA as a GPA)");
                } else if (s.viommuGpa() != null) {
                    row(b, "-> GPA", s.viommuGpa(), "the vIOMMU's translation (the guest's page tables in guest RAM)");
                } else {
                    row(b, "-> GPA", s.gpa(), "no vIOMMU in the path: the DMA address is the GPA");
                }
                row(b, "-> VMM vaddr", s.processVaddr(), "where the VMM process holds that guest page");
                if (s.hostMapping() != null) {
                    row(b, "", "", "host VFIO mapping made for it: " + s.hostMapping());
                }
                if (s.hostPhysical() != null) {
                    row(b, "-> host-physical", s.hostPhysical(), "the HOST unit's translation of (host RID " + s.hostRid()
                            + ", IOVA " + s.iova() + ")");
                    row(b, "", "", s.hostPhysical().equals(s.processFrame())
                            ? "= the host frame behind the VMM's page" : "!= the frame behind the VMM's page ("
                            + s.processFrame() + ")");
                } else {
                    row(b, "-> host unit", "FAULT", s.hostFault());
                }
                if (s.hostPhysical() == null) {
                    b.append("      bytes: none moved (the host unit refused the DMA)\n");
                } else {
                    b.append("      bytes: ").append(s.bytesChecked()).append(" written at the host-physical address, read")
                            .append(" back at the GPA in guest RAM: ").append(s.bytesMatched() ? "identical" : "DIFFERENT")
                            .append('\n');
                }
                if (s.deviceDma() != null) {
                    b.append("      the device's own DMA: ").append(s.deviceDma()).append('\n');
                }
                if (s.afterUnmap() != null) {
                    b.append("      after dma_unmap_single the same DMA ").append(s.afterUnmap()).append('\n');
                }
            }
        }
        if (!r.virtio().isEmpty()) {
            b.append('\n').append("VIRTIO PATH  one request through each virtio device's queues as its guest driver")
                    .append(" makes it, every DMA of the device followed\n");
            for (RunReport.Virtio x : r.virtio()) {
                b.append("  ").append(x.device()).append(" at ").append(x.bdf()).append(":\n");
                if (x.path() == null) {
                    b.append("      not set up: ").append(x.problem()).append('\n');
                    continue;
                }
                irow(b, "DMA path", switch (x.path()) {
                    case "bypass" -> "BYPASSES the vIOMMU: no ACCESS_PLATFORM (iommu_platform=off), the device uses"
                            + " guest-physical addresses on system memory";
                    case "vIOMMU (ATS)" -> "through the vIOMMU's ATS path: translation requests, then translated"
                            + " requests from the device-TLB";
                    case "vIOMMU" -> "through the vIOMMU (each DMA translated by its page tables)";
                    default -> "no vIOMMU: guest-physical addresses";
                });
                irow(b, "request", x.request());
                irow(b, "features", x.features());
                irow(b, "ring", x.ring());
                irow(b, "buffer", x.buffer());
                for (String a : x.accesses()) {
                    irow(b, "", a);
                }
                b.append(String.format(Locale.ROOT, "      DMAs %d (through the vIOMMU %d, bypassing it %d), faults %d;"
                        + " used length %d; bytes: %s: %s%n",
                        x.accesses().size(), x.translated(), x.bypassed(), x.faulted(), x.usedLen(), x.compared(),
                        x.bytesMatched() ? "identical" : "DIFFERENT"));
                if (x.path().equals("vIOMMU (ATS)")) {
                    b.append(String.format(Locale.ROOT, "      ATS translation requests %d, device-TLB hits %d,"
                            + " device-TLB invalidations (the guest's unmap) %d%n", x.atsTranslationRequests(),
                            x.deviceTlbHits(), x.deviceTlbInvalidations()));
                }
                if (x.afterUnmap() != null) {
                    b.append("      the unmapped IOVA posted again: ").append(x.afterUnmap()).append('\n');
                }
            }
        }
        if (!r.interrupts().isEmpty()) {
            b.append('\n').append("INTERRUPT PATH  MSI set up by the guest's driver (pci_alloc_irq_vectors, request_irq),")
                    .append(" raised ").append(r.interrupts().get(0).raised()).append(" times by the device\n");
            for (RunReport.Interrupt i : r.interrupts()) {
                b.append("  ").append(i.host()).append(" (").append(i.guestBdf()).append(" in the VM):\n");
                if (i.deviceMsi() == null) {
                    b.append("      not set up: ").append(i.problem()).append('\n');
                    continue;
                }
                irow(b, "device MSI", i.deviceMsi() + ", as the host kernel programmed it");
                irow(b, "-> host IRTE", i.hostIrte() != null ? "index " + i.hostIrte() + " (the host unit's interrupt"
                        + " remapping)" : "none: the host does not remap interrupts (compatibility format)");
                irow(b, "-> host CPU", nz(i.hostDelivery()) + ": vfio-pci's handler (vfio_msihandler) signals");
                irow(b, "-> VMM eventfd", nz(i.eventfd()));
                irow(b, "-> guest MSI", i.guestMsi() + ", as the guest programmed it, written by the VMM on the"
                        + " device's bus-master space");
                irow(b, "-> vIOMMU IRTE", i.viommuIrte() != null ? "index " + i.viommuIrte() + " (the vIOMMU's"
                        + " interrupt remapping; the guest's intel-iommu driver wrote it)"
                        : "none: the VM does not remap interrupts (compatibility format)");
                irow(b, "-> guest APIC", nz(i.guestDelivery()) + String.format(Locale.ROOT,
                        "; the guest allocated vector 0x%02x on APIC %d", i.guestVector(), i.guestApicId()));
                b.append(String.format(Locale.ROOT, "      raised %d, delivered to the host CPU %d, eventfd signals %d,"
                        + " delivered to the guest APIC %d, handled by the guest's driver %d%s%n", i.raised(),
                        i.hostDelivered(), i.eventfdSignals(), i.guestDelivered(), i.handled(),
                        i.problem() == null ? "" : ": " + i.problem()));
            }
        }
        RunReport.Workload w = r.workload();
        if (w != null) {
            b.append('\n').append("WORKLOAD  ").append(w.name()).append(" on ").append(w.device()).append(": ")
                    .append(w.mapping()).append(", ").append(w.packets()).append(" packets into a ring of ")
                    .append(w.ring()).append('\n');
            b.append(String.format(Locale.ROOT, "  delivered intact %d, DMA faults %d; per packet: maps %.2f,"
                    + " guest IOTLB invalidations %.2f, vIOMMU register accesses (VM exits) %.2f%n", w.delivered(),
                    w.dmaFaults(), w.mapsPerPacket(), w.iotlbInvalidationsPerPacket(), w.vmExitsPerPacket()));
            b.append("  host VFIO MAP_DMA / UNMAP_DMA during the workload: ").append(w.hostMapCalls()).append(" / ")
                    .append(w.hostUnmapCalls()).append('\n');
        }
        RunReport.Counts c = r.counts();
        if (c != null) {
            b.append('\n').append("COUNTS  (the whole run)\n");
            count(b, "guest invalidations the VMM trapped (vIOMMU)", String.valueOf(c.invalidationsTrapped()));
            count(b, "host VFIO MAP_DMA / UNMAP_DMA calls", c.hostMapCalls() + " / " + c.hostUnmapCalls() + "  ("
                    + c.hostPagesMapped() + " pages mapped)");
            count(b, "host IOTLB invalidations (host unit)", String.valueOf(c.hostIotlbInvalidations()));
            count(b, "DMA faults logged by the guest (vIOMMU)", String.valueOf(c.viommuFaults()));
            count(b, "DMA faults logged by the host (host unit)", String.valueOf(c.hostFaults())
                    + (r.samples().stream().anyMatch(x -> x.afterUnmap() != null && x.afterUnmap().startsWith("faults"))
                    ? "  (the after-unmap probes above)" : ""));
            b.append("  (Until the guest turns DMA remapping on, a container maps all guest RAM at its GPA, as QEMU does,\n"
                    + "  and unmaps it when translation starts; after that each MAP/UNMAP mirrors one guest mapping,\n"
                    + "  made when the guest's invalidation traps: caching mode makes it invalidate after a map too.)\n");
        }
        list(b, "OPTIONS WITHOUT EFFECT ON THE MODEL", r.noEffect());
        list(b, "WARNINGS", r.warnings());
        b.append('\n').append("RESULT  ").append(r.ok() ? "ok" : "FAILED: " + r.failure()).append('\n');
        return b.toString();
    }

    private static void row(StringBuilder b, String what, String value, String why) {
        b.append(String.format(Locale.ROOT, "      %-16s %-18s %s%n", what, nz(value), why));
    }

    private static void irow(StringBuilder b, String what, String text) {
        b.append(String.format(Locale.ROOT, "      %-16s %s%n", what, text));
    }

    private static void count(StringBuilder b, String what, String value) {
        b.append(String.format(Locale.ROOT, "  %-46s %s%n", what, value));
    }

    static void list(StringBuilder b, String title, List<String> items) {
        if (items.isEmpty()) {
            return;
        }
        b.append('\n').append(title).append('\n');
        for (String s : items) {
            b.append("  ").append(s).append('\n');
        }
    }

    static String on(boolean v) {
        return v ? "on" : "off";
    }

    static String nz(Object o) {
        return o == null ? "-" : o.toString();
    }

    static String size(long bytes) {
        if (bytes >= (1L << 30) && bytes % (1L << 30) == 0) {
            return (bytes >> 30) + " GiB";
        }
        if (bytes >= (1L << 20) && bytes % (1L << 20) == 0) {
            return (bytes >> 20) + " MiB";
        }
        if (bytes >= 1024 && bytes % 1024 == 0) {
            return (bytes >> 10) + " KiB";
        }
        return bytes + " B";
    }
}
