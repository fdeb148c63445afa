package io.viommu.cli;

import io.viommu.host.BindPlan;
import io.viommu.host.HostIdentity;
import io.viommu.host.HostSysfs;
import io.viommu.host.HostPlanner;
import io.viommu.host.HostReader;
import io.viommu.host.HostReport;
import io.viommu.host.HostReportHtml;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code viommu host report --html FILE}: the host scan as one self-contained page. */
final class HostReportCommand {
    private HostReportCommand() {
    }

    @Command(name = "report", mixinStandardHelpOptions = true,
            description = {"Write the scan as one self-contained HTML page: the PCI topology with IOMMU groups as"
                    + " boxes, assignable devices marked, blockers with their reason; the scan tables; the host's"
                    + " IOMMU, interrupt remapping and kernel arguments.",
                    "With --plan, a `host plan DEVICE --json` of the same host is drawn in too.",
                    "The page fetches nothing and runs no script. Reads /sys, /proc and /dev only.",
                    "Exit status: 0 page written, 1 the host could not be read, FILE not written or the plan is from"
                            + " another host, 2 usage error (also: PLAN.json not a plan)."})
    static final class Report implements Callable<Integer> {
        @Option(names = "--html", paramLabel = "FILE", required = true,
                description = "Write the page to FILE (- for standard output).")
        Path html;

        @Option(names = "--plan", paramLabel = "PLAN.json",
                description = "Draw this plan (`host plan DEVICE --json`) in: its section, its members marked in the tree."
                        + " It must come from the same host.")
        Path plan;

        @Mixin
        HostView view = new HostView();

        @Override
        public Integer call() {
            String cmd = "viommu host report";
            BindPlan bindPlan = null;
            if (plan != null) {
                bindPlan = HostPlanCommand.readPlan(cmd + ": --plan " + plan, plan);
                if (bindPlan == null) {
                    return 2;
                }
            }
            HostSysfs fs = view.open(cmd);
            if (fs == null) {
                return 2;
            }
            if (bindPlan != null) {
                String other = bindPlan.host().difference(HostIdentity.of(fs));
                if (other != null) {
                    System.err.println(cmd + ": --plan " + plan + ": the plan was made on another host: " + other);
                    return 1;
                }
            }
            if (!fs.exists(Path.of("/sys/bus/pci")) && !fs.exists(Path.of("/proc/cmdline"))) {
                System.err.println("viommu host report: " + fs.describe() + " has neither /sys/bus/pci nor /proc/cmdline");
                return 1;
            }
            HostReport report = HostPlanner.plan(HostReader.read(fs));
            String page = HostReportHtml.format(report, bindPlan);
            if (html.toString().equals("-")) {
                System.out.print(page);
                return 0;
            }
            try {
                Files.writeString(html, page);
            } catch (IOException e) {
                String why = e instanceof NoSuchFileException ? "no such directory " + html.toAbsolutePath().getParent()
                        : e instanceof AccessDeniedException ? "permission denied"
                        : e instanceof FileSystemException f && f.getReason() != null ? f.getReason()
                        : e.toString();
                System.err.println("viommu host report: cannot write " + html + ": " + why);
                return 1;
            }
            System.out.println("wrote " + html + ": " + report.groups().size() + " IOMMU groups, "
                    + report.devices().size() + " PCI functions; " + report.summary().verdict());
            return 0;
        }
    }
}
