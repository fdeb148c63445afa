package io.viommu.host;

import io.viommu.host.HostReport.AcsHop;
import io.viommu.host.HostReport.Check;
import io.viommu.host.HostReport.Device;
import io.viommu.host.HostReport.Group;
import io.viommu.host.HostReport.Reason;
import io.viommu.host.HostReport.Unit;
import java.util.List;

/** The human-readable form of a {@link HostReport}: checks, IOMMU, interrupt remapping, groups, devices. */
public final class HostReportText {
    private HostReportText() {
    }

    public static String format(HostReport r) {
        StringBuilder sb = new StringBuilder();
        HostReport.Host h = r.host();
        sb.append("viommu host scan: ").append(r.source()).append('\n');
        sb.append("  kernel ").append(h.kernel().isEmpty() ? "?" : h.kernel()).append(", CPU ")
                .append(h.cpuModel().isEmpty() ? "?" : h.cpuModel()).append(" (").append(h.cpuVendor()).append(", ")
                .append(h.cpus()).append(" CPUs").append(h.hypervisor() ? ", running under a hypervisor" : "").append(")\n");
        sb.append("  IOMMU-related kernel arguments: ").append(h.cmdline().isEmpty() ? "none" : String.join(" ", h.cmdline()))
                .append('\n');
        sb.append("\nChecks\n");
        for (Check c : r.checks()) {
            sb.append(String.format("  %-4s  %s%n", c.status(), c.title()));
            wrap(sb, c.detail(), "        ");
        }
        HostReport.Iommu io = r.iommu();
        sb.append("\nIOMMU: ").append(io.enabled() ? "enabled (" + io.vendor() + ")" : "NONE").append('\n');
        if (!io.enabled()) {
            sb.append("  why:\n");
            for (String why : io.reasons()) {
                wrap(sb, "- " + why, "    ", "      ");
            }
        }
        if (io.dmar() != null) {
            HostReport.Dmar d = io.dmar();
            sb.append(String.format("  DMAR: OEM %s, host address width %d, flags 0x%x%s%n", d.oemId(), d.hostAddressWidth(),
                    d.flags(), d.interruptRemapping() ? " (INTR_REMAP)" : ""));
            for (HostReport.Drhd u : d.drhds()) {
                sb.append(String.format("    DRHD base 0x%x segment %d%s %s%n", u.registerBase(), u.segment(),
                        u.includePciAll() ? " INCLUDE_PCI_ALL" : "", String.join(", ", u.scopes())));
            }
            for (HostReport.Rmrr u : d.rmrrs()) {
                sb.append(String.format("    RMRR 0x%x-0x%x %s%n", u.base(), u.limit(), String.join(", ", u.scopes())));
            }
            for (HostReport.Atsr u : d.atsrs()) {
                sb.append(String.format("    ATSR segment %d%s%s%n", u.segment(), u.allPorts() ? " ALL_PORTS" : "",
                        u.scopes().isEmpty() ? "" : " " + String.join(", ", u.scopes())));
            }
        }
        for (Unit u : io.units()) {
            sb.append("  ").append(u.name()).append(" (").append(u.kind()).append(")");
            if (u.address() != null) {
                sb.append(" at ").append(u.address());
            }
            if (u.cap() != null) {
                sb.append(" cap ").append(u.cap()).append(" ecap ").append(u.ecap());
            }
            sb.append('\n');
            if (!u.features().isEmpty()) {
                sb.append("    ").append(String.join(" ", u.features())).append('\n');
            }
        }
        sb.append("\nInterrupt remapping: ").append(r.interruptRemapping().state()).append('\n');
        for (String why : r.interruptRemapping().reasons()) {
            wrap(sb, "- " + why, "    ", "      ");
        }
        sb.append("\nIOMMU groups: ").append(r.groups().isEmpty() ? "none" : r.groups().size()).append('\n');
        for (Group g : r.groups()) {
            sb.append(String.format("  group %d (%s)%s: %s%n", g.id(), g.type() == null ? "?" : g.type(),
                    g.viable() ? "" : " [host drivers: " + String.join(", ", g.driversInUse()) + "]",
                    String.join(" ", g.devices())));
        }
        sb.append("\nDevices\n");
        for (Device d : r.devices()) {
            sb.append(String.format("  %s %s [%s] %s%n", d.address(), d.id(), d.classCode().substring(2), d.description()));
            sb.append("      driver ").append(d.driver() == null ? "none" : d.driver())
                    .append(", IOMMU group ").append(d.group() == null ? "none" : d.group())
                    .append(d.pcieType() == null ? "" : ", " + d.pcieType())
                    .append(d.multifunction() ? ", multifunction" : "").append('\n');
            if (!d.capabilities().isEmpty()) {
                sb.append("      capabilities: ").append(String.join(" ", d.capabilities())).append('\n');
            }
            sb.append("      reset: ").append(d.reset().methods().isEmpty() ? "none" : String.join(" ", d.reset().methods()))
                    .append(d.reset().source().equals("inferred") ? " (inferred)" : "").append('\n');
            if (d.sriov() != null) {
                sb.append(String.format("      SR-IOV: %d of %d VFs enabled%s%n", d.sriov().numVfs(), d.sriov().totalVfs(),
                        d.sriov().vfs().isEmpty() ? "" : ": " + String.join(" ", d.sriov().vfs())));
            }
            if (d.physfn() != null) {
                sb.append("      VF of ").append(d.physfn()).append('\n');
            }
            if (!d.hostUses().isEmpty()) {
                sb.append("      host uses: ").append(String.join(", ", d.hostUses())).append('\n');
            }
            for (AcsHop hop : d.acsPath()) {
                wrap(sb, "above: " + hop.bridge() + " " + hop.type() + (hop.acsCap() == null ? ""
                        : " ACS cap " + hop.acsCap() + " ctrl " + hop.acsCtrl()) + ": " + hop.effect(), "      ", "        ");
            }
            HostReport.Assignment a = d.assignment();
            sb.append("      assignment: ").append(a.verdict().toUpperCase())
                    .append(a.mustGoWith().isEmpty() ? "" : " with " + String.join(", ", a.mustGoWith())).append('\n');
            for (Reason why : a.reasons()) {
                wrap(sb, why.severity().name().toLowerCase() + ": " + why.message(), "        ", "          ");
            }
            if (!a.steps().isEmpty()) {
                sb.append("        steps:\n");
                a.steps().forEach(st -> sb.append("          ").append(st).append('\n'));
                sb.append("        QEMU: ").append(String.join(" ", a.qemu())).append('\n');
                sb.append("        libvirt:\n");
                for (String line : a.libvirt().split("\n")) {
                    sb.append("          ").append(line).append('\n');
                }
            }
        }
        sb.append("\nVerdict: ").append(r.summary().verdict()).append('\n');
        return sb.toString();
    }

    private static void wrap(StringBuilder sb, String text, String indent) {
        wrap(sb, text, indent, indent);
    }

    /** Word-wraps at 100 columns so long reasons stay readable in a terminal. */
    private static void wrap(StringBuilder sb, String text, String first, String rest) {
        int width = 100;
        String indent = first;
        StringBuilder line = new StringBuilder(indent);
        for (String w : List.of(text.split(" "))) {
            if (line.length() > indent.length() && line.length() + 1 + w.length() > width) {
                sb.append(line).append('\n');
                indent = rest;
                line = new StringBuilder(indent);
            }
            if (line.length() > indent.length()) {
                line.append(' ');
            }
            line.append(w);
        }
        sb.append(line).append('\n');
    }
}
