package io.viommu.cli;

import io.viommu.linux.BootReport;
import io.viommu.linux.Kernel;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.machine.device.MachineLog;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code viommu boot [QEMU arguments]}: a Linux 6.1 guest's IOMMU boot on that machine. */
@Command(name = "boot", mixinStandardHelpOptions = true,
        description = {
            "Model a Linux 6.1 guest (Debian's 6.1 kernel config) booting on the q35 machine the QEMU"
                    + " arguments describe.",
            "It prints the guest's DMAR/IOMMU dmesg lines, every PCI function with its IOMMU group and"
                    + " driver, and the groups with their default domain type, as real captures show them;"
                    + " a NOTE names every -device the guest does not see.",
            "The kernel command line comes from -append, e.g.:",
            "  viommu boot -machine q35 -m 1G -append \"intel_iommu=on iommu=pt\" \\",
            "    -device intel-iommu,intremap=off,caching-mode=on \\",
            "    -device pcie-root-port,id=rp1,chassis=1,slot=1 -device e1000e,bus=rp1",
            "Kernel options understood: intel_iommu=on|off|igfx_off|sm_on|sm_off|...,"
                    + " iommu=pt|nopt|off, iommu.strict=0|1, iommu.passthrough=0|1, intremap=off, and the"
                    + " labelled out-of-tree what-if pcie_acs_override=downstream|multifunction|id:vvvv:dddd.",
            "With --sysfs-export DIR the booted guest's /sys and /proc subset is written to DIR, so that"
                    + " `viommu host scan --sysfs DIR` answers what could be passed through inside that guest.",
            "Exit status: 0 ok, 1 when QEMU would refuse the arguments or DIR cannot be written, 2 usage"
                    + " error (e.g. DIR exists and is not empty)."},
        parameterListHeading = "%nQEMU arguments:%n")
public final class BootCommand implements Callable<Integer> {
    @Parameters(arity = "0..*", paramLabel = "QEMU_ARG",
            description = "QEMU command-line arguments (options starting with '-' included).")
    List<String> qemuArgs = new ArrayList<>();

    @Option(names = "--sysfs-export", paramLabel = "DIR",
            description = "Also write the guest's /sys and /proc subset (what `host scan` reads) to DIR,"
                    + " a new or empty directory.")
    Path export;

    @Option(names = "--host-sysfs", paramLabel = "DIR",
            description = "Instead of QEMU arguments: boot a model of the host saved in DIR by `viommu host"
                    + " snapshot` (its PCI functions, bus numbers, ACS, SR-IOV, VT-d unit, driver bindings)"
                    + " and report it; what the model cannot reproduce is said on stderr.")
    Path hostSysfs;

    @Option(names = "--host-setup", paramLabel = "FILE",
            description = "Run FILE's lines as the booted kernel's root shell would (modprobe, rmmod,"
                    + " echo > /sys/..., cat, ip, mount; see README), before the report; the first failing"
                    + " line prints the shell's error and ends with exit 1.")
    Path hostSetup;

    @Option(names = "--host-dmesg", paramLabel = "FILE",
            description = "Write the kernel log in dmesg's format to FILE when the run ends (also on failure).")
    Path hostDmesg;

    @Override
    public Integer call() {
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        if (export != null && Files.exists(export) && !emptyDirectory(export)) {
            System.err.println("viommu boot: --sysfs-export " + export + ": exists and is not an empty directory");
            return 2;
        }
        if (hostSysfs != null && !qemuArgs.isEmpty()) {
            System.err.println("viommu boot: --host-sysfs takes no QEMU arguments (the machine is the saved host's)");
            return 2;
        }
        MachineBuilder.Built built = null;
        Kernel k;
        if (hostSysfs != null) {
            k = QtestHost.bootRecorded(hostSysfs, System.err);
            if (k == null) {
                return 1;
            }
        } else try {
            built = MachineBuilder.build(qemuArgs, MachineLog.SILENT);
            k = Kernel.boot(built.machine());
        } catch (MachineConfigException e) {
            System.err.println(e.getMessage()); // QEMU's own text, "qemu-system-x86_64: -device ...: ..."
            return 1;
        } catch (RuntimeException e) {
            // A model bug must not end as a stack trace: say what failed and on which arguments.
            System.err.println("viommu boot: cannot model this machine (" + e + "); arguments: "
                    + String.join(" ", qemuArgs));
            return 1;
        }
        if (built != null) {
            built.commandLine().warnings().forEach(System.err::println);
        }
        int setup = HostSetup.run(k, hostSetup, hostDmesg);
        if (setup != 0) {
            return setup;
        }
        for (String line : BootReport.lines(qemuArgs, k)) {
            out.println(line);
        }
        out.flush();
        if (export != null) {
            try {
                k.exportTo(export);
            } catch (IOException | RuntimeException e) {
                System.err.println("viommu boot: cannot write " + export + ": " + e.getMessage());
                return 1;
            }
            System.err.println("viommu boot: guest /sys and /proc written to " + export
                    + "; scan it with: viommu host scan --sysfs " + export);
        }
        return 0;
    }

    private static boolean emptyDirectory(Path d) {
        if (!Files.isDirectory(d)) {
            return false;
        }
        try (Stream<Path> s = Files.list(d)) {
            return s.findAny().isEmpty();
        } catch (IOException e) {
            return false;
        }
    }
}
