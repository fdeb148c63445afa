package io.viommu.cli;

import io.viommu.host.HostFiles;
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
import picocli.CommandLine.Option;

/** {@code viommu host report --html FILE}: the host scan as one self-contained page. */
final class HostReportCommand {
    private HostReportCommand() {
    }

    @Command(name = "report", mixinStandardHelpOptions = true,
            description = {"Write the scan as one self-contained HTML page: the PCI topology with IOMMU groups as"
                    + " boxes, assignable devices marked, blockers with their reason; the scan tables; the host's"
                    + " IOMMU, interrupt remapping and kernel arguments.",
                    "The page fetches nothing and runs no script. Reads /sys, /proc and /dev only.",
                    "Exit status: 0 page written, 1 the host could not be read or FILE not written, 2 usage error."})
    static final class Report implements Callable<Integer> {
        @Option(names = "--html", paramLabel = "FILE", required = true,
                description = "Write the page to FILE (- for standard output).")
        Path html;

        @Option(names = "--sysfs", paramLabel = "DIR",
                description = "Read a saved tree (DIR/sys/..., DIR/proc/...) instead of the live host.")
        Path sysfs;

        @Override
        public Integer call() {
            String bad = HostCommand.checkTree(sysfs);
            if (bad != null) {
                System.err.println("viommu host report: " + bad);
                return 2;
            }
            HostFiles fs = HostCommand.source(sysfs);
            if (!fs.exists(Path.of("/sys/bus/pci")) && !fs.exists(Path.of("/proc/cmdline"))) {
                System.err.println("viommu host report: " + fs.describe() + " has neither /sys/bus/pci nor /proc/cmdline");
                return 1;
            }
            HostReport report = HostPlanner.plan(HostReader.read(fs));
            String page = HostReportHtml.format(report);
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
