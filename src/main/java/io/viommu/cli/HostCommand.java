package io.viommu.cli;

import io.viommu.host.HostFiles;
import io.viommu.host.HostPlanner;
import io.viommu.host.HostReader;
import io.viommu.host.HostReport;
import io.viommu.host.HostReportJson;
import io.viommu.host.HostReportText;
import io.viommu.host.HostSnapshotWriter;
import io.viommu.host.RealHost;
import io.viommu.host.SavedTree;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code viommu host scan|snapshot|plan|apply|undo|tree|report}: the host's IOMMU, groups and device
 * assignment (scan, snapshot, plan and tree read only), and handing devices to vfio-pci (apply, undo).
 */
@Command(name = "host", mixinStandardHelpOptions = true,
        description = "Read the host's PCI devices, IOMMU and kernel settings and report what can be assigned to a VM"
                + " with vfio-pci (scan, tree, report); plan, apply and undo handing devices to vfio-pci.",
        subcommands = {HostCommand.Scan.class, HostCommand.Snapshot.class, HostPlanCommand.Plan.class,
                HostPlanCommand.Apply.class, HostPlanCommand.Undo.class, HostPlanCommand.Tree.class,
                HostReportCommand.Report.class})
final class HostCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Where to read from: the live host, or a saved tree. */
    static HostFiles source(Path sysfs) {
        return sysfs == null ? new RealHost() : new SavedTree(sysfs);
    }

    /** A saved tree must at least look like one; anything else is a usage error worth a clear message. */
    static String checkTree(Path sysfs) {
        if (sysfs == null) {
            return null;
        }
        if (!Files.isDirectory(sysfs)) {
            return "--sysfs " + sysfs + ": not a directory";
        }
        if (!Files.isDirectory(sysfs.resolve("sys"))) {
            return "--sysfs " + sysfs + ": no sys/ directory in it (expected a tree like DIR/sys/bus/pci/devices,"
                    + " DIR/proc/cmdline, as `viommu host snapshot DIR` writes)";
        }
        return null;
    }

    @Command(name = "scan", mixinStandardHelpOptions = true,
            description = {"Report per device whether it can be assigned with vfio-pci, and why.",
                    "Shown: hardware virtualization, IOMMU (firmware, kernel, and why not), interrupt remapping,"
                            + " IOMMU groups, ACS, reset methods, SR-IOV, drivers, and per device what must go with"
                            + " it, the commands, and QEMU and libvirt snippets.",
                    "Reads /sys, /proc and /dev only; writes nothing.",
                    "Exit status: 0 report printed, 1 the host could not be read, 2 usage error."})
    static final class Scan implements Callable<Integer> {
        @Option(names = "--json", description = "Print the report as JSON (schema viommu.host-scan/1).")
        boolean json;

        @Option(names = "--sysfs", paramLabel = "DIR",
                description = "Read a saved tree (DIR/sys/..., DIR/proc/...) instead of the live host.")
        Path sysfs;

        @Override
        public Integer call() {
            String bad = checkTree(sysfs);
            if (bad != null) {
                System.err.println("viommu host scan: " + bad);
                return 2;
            }
            HostFiles fs = source(sysfs);
            if (!fs.exists(Path.of("/sys/bus/pci")) && !fs.exists(Path.of("/proc/cmdline"))) {
                System.err.println("viommu host scan: " + fs.describe() + " has neither /sys/bus/pci nor /proc/cmdline");
                return 1;
            }
            HostReport report = HostPlanner.plan(HostReader.read(fs));
            System.out.print(json ? HostReportJson.format(report) + "\n" : HostReportText.format(report));
            return 0;
        }
    }

    @Command(name = "snapshot", mixinStandardHelpOptions = true,
            description = {"Save what `host scan` reads into directory DIR, for `host scan --sysfs DIR`.",
                    "sys/, proc/ and dev/ are laid out as on the host, symlinks kept. Ship it with `tar czf`.",
                    "Run as root to include config space capabilities and the DMAR/IVRS tables.",
                    "--model \"HOST ARGS\" [--host-setup FILE] snapshots a model host (viommu fleet's test fleets).",
                    "Exit status: 0 saved, 1 could not write, 2 usage error (DIR exists and is not empty)."})
    static final class Snapshot implements Callable<Integer> {
        @Parameters(paramLabel = "DIR", description = "New or empty directory to write.")
        Path dir;

        /** --sysfs SRC copies a saved tree; --model (with --host-setup) snapshots a model host, as on a real one. */
        @CommandLine.Mixin
        HostView from;

        @Override
        public Integer call() {
            HostFiles src = from.open("viommu host snapshot");
            if (src == null) {
                return 2;
            }
            try {
                if (Files.exists(dir) && (!Files.isDirectory(dir) || !isEmpty(dir))) {
                    System.err.println("viommu host snapshot: " + dir + " exists and is not an empty directory");
                    return 2;
                }
                List<String> notes = HostSnapshotWriter.write(src, dir);
                notes.forEach(n -> System.err.println("viommu host snapshot: note: " + n));
                System.out.println("saved to " + dir + "; read it back with: viommu host scan --sysfs " + dir);
                return 0;
            } catch (IOException e) {
                System.err.println("viommu host snapshot: cannot write " + dir + ": " + e);
                return 1;
            }
        }

        private static boolean isEmpty(Path d) throws IOException {
            try (var s = Files.list(d)) {
                return s.findAny().isEmpty();
            }
        }
    }
}
