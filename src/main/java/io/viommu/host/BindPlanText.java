package io.viommu.host;

import io.viommu.host.BindPlan.Finding;
import io.viommu.host.BindPlan.Member;
import io.viommu.host.BindPlan.Target;
import java.util.List;

/** The human form of a {@link BindPlan}: per device its group and members, the findings with fixes, then the commands. */
public final class BindPlanText {
    private BindPlanText() {
    }

    public static String format(BindPlan p) {
        StringBuilder sb = new StringBuilder();
        sb.append("viommu host plan: ").append(p.source()).append(" (for ").append(p.use())
                .append(p.force() ? ", --force" : "").append(p.vfs() == null ? "" : ", --vfs " + p.vfs()).append(")\n");
        if (!p.hostFindings().isEmpty()) {
            sb.append("\nHost\n");
            findings(sb, p.hostFindings());
        }
        for (Target t : p.targets()) {
            sb.append('\n');
            if (t.device() == null) {
                sb.append(t.given()).append(": not found\n");
            } else {
                sb.append(t.device()).append(t.given().equals(t.device()) ? "" : " (" + t.given() + ")").append("  ")
                        .append(t.description()).append("\n  IOMMU group ")
                        .append(t.group() == null ? "none" : t.group().toString()).append('\n');
                if (!t.members().isEmpty()) {
                    sb.append("  functions that leave the host:\n");
                    for (Member m : t.members()) {
                        sb.append(String.format("    %s  %s  %-28s driver %-10s -> %s%n", m.address(), m.id(),
                                clip(m.description(), 28), m.driver() == null ? "none" : m.driver(), m.action()));
                        for (String u : m.uses()) {
                            sb.append("        in use: ").append(u).append('\n');
                        }
                    }
                }
                if (!t.bridges().isEmpty()) {
                    sb.append("  bridges in the group, which stay with the host: ").append(String.join(" ", t.bridges())).append('\n');
                }
            }
            findings(sb, t.findings());
        }
        sb.append('\n');
        if (p.ready()) {
            sb.append("Commands, in order (what `viommu host apply` does, journaled and undone on failure):\n");
            for (int i = 0; i < p.commands().size(); i++) {
                sb.append(String.format("  %2d  %s%n", i + 1, p.commands().get(i)));
            }
            if (p.commands().isEmpty()) {
                sb.append("  (none: every function is on vfio-pci already)\n");
            }
            alternatives(sb, p);
            sb.append("\nTo keep it across reboots (offered, not done):\n");
            p.persistence().forEach(l -> sb.append("  - ").append(l).append('\n'));
            sb.append("\nVerdict: ready; apply with `viommu host apply ").append(String.join(" ", p.requested()))
                    .append(p.force() ? " --force" : "").append(p.vfs() == null ? "" : " --vfs " + p.vfs())
                    .append(" --yes` (dry run without --yes)\n");
        } else {
            long n = p.hostFindings().stream().filter(f -> f.severity() == BindPlan.Severity.BLOCKER).count()
                    + p.targets().stream().flatMap(t -> t.findings().stream()).filter(f -> f.severity() == BindPlan.Severity.BLOCKER).count();
            sb.append("Verdict: refused, ").append(n).append(n == 1 ? " blocker" : " blockers")
                    .append(" (above); nothing would be written\n");
        }
        return sb.toString();
    }

    private static void alternatives(StringBuilder sb, BindPlan p) {
        List<String> bdfs = p.targets().stream().flatMap(t -> t.members().stream())
                .filter(m -> m.action().equals("bind vfio-pci")).map(Member::address).toList();
        if (bdfs.isEmpty()) {
            return;
        }
        if (p.use().equals("libvirt")) {
            sb.append("  the same with libvirt (per function):");
            bdfs.forEach(b -> sb.append(" virsh nodedev-detach pci_").append(b.replaceAll("[^0-9a-f]", "_")).append(" --driver vfio;"));
            sb.append('\n');
        } else if (p.use().equals("dpdk")) {
            sb.append("  the same with DPDK's tool: dpdk-devbind.py").append(p.force() ? " --force" : "").append(" -b vfio-pci ")
                    .append(String.join(" ", bdfs)).append('\n');
        }
    }

    private static void findings(StringBuilder sb, List<Finding> fs) {
        for (Finding f : fs) {
            sb.append("  ").append(f.severity().name().toLowerCase()).append(": ").append(f.what()).append('\n');
            if (!f.fix().isEmpty()) {
                sb.append("      fix: ").append(f.fix()).append('\n');
            }
        }
    }

    private static String clip(String s, int n) {
        return s == null ? "" : s.length() <= n ? s : s.substring(0, n - 1) + "~";
    }
}
