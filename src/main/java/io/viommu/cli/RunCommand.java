package io.viommu.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.viommu.linux.Kernel;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.vmm.RunReport;
import io.viommu.vmm.VmRun;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code viommu run --host "ARGS" [--host-setup FILE] [--host-dmesg FILE] [--managed]
 * [--workload none|nic-ring|static] [--json] VM-ARGS}: a modelled host, a VM with its devices,
 * the guest kernel booted on it, a workload, and a report of every level ({@link VmRun}).
 */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {
            "Run a VM on a modelled host: the host booted from --host (the Linux model, -append defaulting to"
                    + " intel_iommu=on) and set up by --host-setup; with --managed every endpoint in each assigned"
                    + " device's IOMMU group bound to vfio-pci first, as libvirt's managed='yes' does, and given back"
                    + " afterwards and on any failure; the VMM started with the VM's QEMU arguments; the guest (the same"
                    + " kernel model) booted on the VM; the workload run.",
            "The report shows the host side (device, group, driver, host IOMMU domain, the VMM's VFIO mappings),"
                    + " the VM side (topology, vIOMMU, each assigned device's guest BDF, group and driver), one DMA per"
                    + " assigned device followed from guest IOVA to GPA to host-physical (the host unit's own"
                    + " translation; the bytes written there are read back in guest RAM), the counts at each level,"
                    + " every option without effect on the model and every warning.",
            "Workloads: none (boot, bind, one DMA sample per assigned device); nic-ring (a NIC ring through the"
                    + " guest's DMA API on an assigned edu, e1000e or 82576 VF); static (the same ring mapped once by a DPDK-style process"
                    + " through the guest's VFIO; needs a vIOMMU).",
            "Example:",
            "  viommu run --host \"-M q35 -m 2G -device intel-iommu,caching-mode=on -device edu,addr=04.0\" --managed \\",
            "    -M q35 -m 128M -nodefaults -device intel-iommu,caching-mode=on -device vfio-pci,host=0000:00:04.0",
            "Exit status: 0 ok, 1 refused or failed (QEMU's or libvirt's message on stderr), 2 usage error."},
        parameterListHeading = "%nVM arguments (QEMU's):%n")
public final class RunCommand implements Callable<Integer> {
    @Option(names = "--host", paramLabel = "ARGS",
            description = "The host machine's QEMU arguments, in one word (quote it).")
    String hostArgs;

    @Option(names = "--host-sysfs", paramLabel = "DIR",
            description = "Instead of --host: a model of the host saved in DIR by `viommu host snapshot`.")
    Path hostSysfs;

    @Option(names = "--host-setup", paramLabel = "FILE",
            description = "Lines the host's root shell runs before the VM starts (modprobe, echo > /sys/..., ...).")
    Path hostSetup;

    @Option(names = "--host-dmesg", paramLabel = "FILE",
            description = "Write the host kernel's log to FILE when the run ends (also on failure).")
    Path hostDmesg;

    @Option(names = "--managed", description = "Bind each assigned device's group to vfio-pci for the run and give it"
            + " back afterwards, as libvirt's managed='yes'.")
    boolean managed;

    @Option(names = "--domain", paramLabel = "FILE.xml", description = "libvirt domain XML instead of VM arguments:"
            + " translated as libvirt 9.0 does (see domxml-to-native); managed='yes' hostdevs are bound as --managed.")
    Path domain;

    @Option(names = "--workload", paramLabel = "W", description = "none, nic-ring or static (default: none).")
    String workload = "none";

    @Option(names = "--packets", paramLabel = "N", description = "Packets of the nic-ring/static workloads (default: ${DEFAULT-VALUE}).")
    int packets = 512;

    @Option(names = "--ring", paramLabel = "N", description = "Ring slots of the nic-ring/static workloads (default: ${DEFAULT-VALUE}).")
    int ring = 64;

    @Option(names = "--nest", paramLabel = "ARGS", description = "Nested assignment: the QEMU arguments of a VM that"
            + " the VM below runs, in one word (quote it); repeat for each level deeper. The VM arguments are L1's"
            + " (a vIOMMU in caching mode, the device assigned); each --nest level assigns the device by its BDF in"
            + " the level below, whose kernel binds it to vfio-pci (with --managed) and whose VMM starts it.")
    List<String> nest = new ArrayList<>();

    @Option(names = "--nest-setup", paramLabel = "FILE", description = "Commands the root of a VM level runs in its"
            + " shell before the next level's VMM starts (as --host-setup; e.g. binding the device to its own"
            + " vfio-pci by hand): the first --nest-setup runs in L1, the second in L2, ...; one more than --nest"
            + " runs in the innermost VM before its workload (e.g. VFIO's no-IOMMU mode in a VM without a vIOMMU).")
    List<Path> nestSetup = new ArrayList<>();

    @Option(names = "--json", description = "Print the report as one JSON document on stdout.")
    boolean json;

    @Parameters(arity = "0..*", paramLabel = "VM_ARG", description = "The VM's QEMU arguments.")
    List<String> vmArgs = new ArrayList<>();

    /** The host as the report names it: its QEMU arguments, or the saved tree it models. */
    private String hostDescription() {
        return hostSysfs != null ? "--host-sysfs " + hostSysfs : hostArgs;
    }

    @Override
    public Integer call() {
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        PrintStream err = System.err;
        if (domain != null) {
            if (!vmArgs.isEmpty()) {
                err.println("viommu run: --domain and VM arguments are alternatives: the domain XML describes the VM");
                return 2;
            }
            io.viommu.vmm.libvirt.Domain d;
            try {
                d = io.viommu.vmm.libvirt.LibvirtDomain.parse(domain);
            } catch (io.viommu.vmm.libvirt.LibvirtException e) {
                err.println("error: " + e.getMessage()); // as virsh reports libvirt's refusal
                return 1;
            } catch (RuntimeException e) {
                err.println("viommu run: --domain " + domain + ": cannot translate (" + e + ")");
                return 1;
            }
            d.warnings().forEach(err::println);
            vmArgs = new ArrayList<>(d.toQemuArgv());
            if (!d.managedHostdevs().isEmpty()) {
                // libvirt's managed='yes': detached to vfio-pci before the start, reattached after
                if (!managed && d.managedHostdevs().size() < d.hostdevs().size()) {
                    err.println("viommu: note: --domain " + domain + ": some <hostdev> are managed='yes' and some"
                            + " not; run binds the groups of every assigned device, as --managed does");
                }
                managed = true;
            }
        }
        VmRun.Workload w = switch (workload) {
            case "none" -> VmRun.Workload.NONE;
            case "nic-ring" -> VmRun.Workload.NIC_RING;
            case "static" -> VmRun.Workload.STATIC;
            default -> null;
        };
        if (w == null) {
            err.println("viommu run: --workload " + workload + ": unknown workload (none, nic-ring or static)");
            return 2;
        }
        if (hostArgs != null && hostSysfs != null) {
            err.println("viommu run: --host and --host-sysfs are alternatives: give one");
            return 2;
        }
        if (hostSysfs == null && (hostArgs == null || hostArgs.isBlank())) {
            err.println("viommu run: --host \"ARGS\" (or --host-sysfs DIR) is required: the host whose devices the VM"
                    + " is given, e.g. --host \"-M q35 -m 2G -device intel-iommu,caching-mode=on -device edu,addr=04.0\"");
            return 2;
        }
        if (nestSetup.size() > nest.size() + 1) {
            err.println("viommu run: " + nestSetup.size() + " --nest-setup for " + nest.size() + " --nest: the i-th"
                    + " --nest-setup runs in level i before level i+1 starts (the last level's before its workload),"
                    + " so there is at most one per level");
            return 2;
        }
        for (String n : nest) {
            if (n.isBlank()) {
                err.println("viommu run: --nest needs the nested VM's QEMU arguments in one word, e.g. --nest \"-M q35"
                        + " -m 128M -device intel-iommu,caching-mode=on -device vfio-pci,host=0000:00:04.0\"");
                return 2;
            }
        }
        if (packets < 1 || packets > 1_000_000 || ring < 1 || ring > 4096) {
            err.println("viommu run: --packets must be 1..1000000 and --ring 1..4096");
            return 2;
        }
        Kernel host;
        if (hostSysfs != null) {
            host = QtestHost.bootRecorded(hostSysfs, err);
            if (host == null) {
                return hostFailed("viommu run: --host-sysfs " + hostSysfs + ": no model host (the reason is above)",
                        true, out, err);
            }
        } else {
            try {
                host = QtestHost.bootHost(hostArgs);
            } catch (MachineConfigException e) {
                return hostFailed("viommu run: --host: " + e.getMessage(), false, out, err);
            } catch (RuntimeException e) {
                return hostFailed("viommu run: --host: cannot model this host (" + e + ")", false, out, err);
            }
        }
        int rc = QtestHost.runSetup(host, hostSetup, err);
        if (rc == 0 && (!nest.isEmpty() || !nestSetup.isEmpty())) {
            rc = runNested(host, w, out, err);
        } else if (rc == 0) {
            rc = runOn(host, w, out, err);
        } else {
            hostFailed("viommu run: --host-setup " + hostSetup + ": a line failed (its output is above)", true, out, err);
        }
        return QtestHost.writeDmesg(host, hostDmesg, err) ? rc : 1;
    }

    /**
     * The run ended before the VM: the message on stderr (unless the shell printed its own), and with
     * --json still one document on stdout.
     */
    private int hostFailed(String message, boolean printed, PrintStream out, PrintStream err) {
        if (!printed) {
            err.println(message);
        }
        if (json) {
            out.println(toJson(new RunReport(vmArgs, false, message, new RunReport.Host(hostDescription(), false, List.of()),
                    null, List.of(), List.of(), List.of(), List.of(), null, null, List.of(), List.of())));
            out.flush();
        }
        return 1;
    }

    /** The VM on a booted, set-up host: the report on {@code out}, a failure's message also on {@code err}. */
    int runOn(Kernel host, VmRun.Workload w, PrintStream out, PrintStream err) {
        List<String> args = FirmwareFiles.withoutMissing(vmArgs);
        RunReport report = VmRun.run(host, new VmRun.Options(hostDescription(), args, managed, w, packets, ring));
        report = FirmwareFiles.noted(report, vmArgs);
        if (json) {
            out.println(toJson(report));
        } else {
            out.print(RunReportText.render(report));
        }
        out.flush();
        if (!report.ok()) {
            err.println(report.failure());
        }
        return report.ok() ? 0 : 1;
    }

    /** {@code --nest}: L1 from the VM arguments, each --nest one level deeper ({@link io.viommu.vmm.NestedRun}). */
    int runNested(Kernel host, VmRun.Workload w, PrintStream out, PrintStream err) {
        List<List<String>> levels = new ArrayList<>();
        levels.add(FirmwareFiles.withoutMissing(vmArgs));
        for (String n : nest) {
            List<String> a = QtestHost.splitArgs("--nest", n, err);
            if (a == null) {
                return 2;
            }
            levels.add(FirmwareFiles.withoutMissing(a));
        }
        List<List<String>> setups = new ArrayList<>();
        for (Path f : nestSetup) {
            try {
                setups.add(java.nio.file.Files.readAllLines(f, java.nio.charset.StandardCharsets.UTF_8));
            } catch (java.io.IOException e) {
                err.println("viommu run: --nest-setup " + f + ": cannot read: " + e.getMessage());
                return 2;
            }
        }
        io.viommu.vmm.NestedReport report = io.viommu.vmm.NestedRun.run(host,
                new io.viommu.vmm.NestedRun.Options(hostDescription(), levels, managed, w, packets, ring, setups));
        if (json) {
            out.println(toJson(report));
        } else {
            out.print(NestedReportText.render(report));
        }
        out.flush();
        if (!report.ok()) {
            err.println(report.failure());
        }
        return report.ok() ? 0 : 1;
    }

    static String toJson(Object r) {
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(r);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
