package io.viommu.cli;

import io.viommu.host.ConfigCheck;
import io.viommu.host.HostFiles;
import io.viommu.host.HostReader;
import io.viommu.host.HostReportJson;
import io.viommu.host.HostSnapshot;
import io.viommu.host.ModelHost;
import io.viommu.host.RealHost;
import io.viommu.host.SavedTree;
import io.viommu.vmm.libvirt.Domain;
import io.viommu.vmm.libvirt.LibvirtDomain;
import io.viommu.vmm.libvirt.LibvirtException;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code viommu check [--host "ARGS" [--host-setup FILE] | --host-sysfs DIR] [--json] (QEMU-ARGS | --domain FILE.xml)}:
 * a VM configuration linted against a host without running it ({@link ConfigCheck}).
 */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = {
            "Check a VM configuration against a host without starting it: the QEMU arguments given (or the"
                    + " argv libvirt 9.0 builds for --domain FILE.xml) read by the same parser and machine builder"
                    + " as `viommu run`, and each -device vfio-pci held against the host's drivers and IOMMU groups.",
            "Errors (what QEMU 7.2 or libvirt refuses, with its message): vfio-pci with a vIOMMU but no"
                    + " caching-mode=on; intremap=on with kernel-irqchip=on under KVM; a host device that does not"
                    + " exist, has no IOMMU group, is not bound to vfio-pci, or whose group is not viable (members"
                    + " still on host drivers); one host device given twice; iommu_platform=on on a transitional"
                    + " virtio device; any other option QEMU refuses.",
            "Warnings (accepted silently by QEMU 7.2, but the vIOMMU does not do its job): a vfio-pci created"
                    + " before -device intel-iommu (its DMA bypasses the vIOMMU; an emulated device listed before it is"
                    + " still translated); a virtio device without iommu_platform=on; ats=on without device-iotlb=on"
                    + " on the vIOMMU, or off a PCIe port.",
            "Each finding names the device (its id, else its -device text) and the fix: the corrected option, or"
                    + " the command that prepares the host.",
            "The host: --host \"ARGS\" (a model host booted from those QEMU arguments, as `viommu run --host`, with"
                    + " --host-setup lines run in its root shell), --host-sysfs DIR (a tree saved by `viommu host"
                    + " snapshot`), else this machine (read only).",
            "Exit status: 0 no error (warnings allowed), 1 at least one error, 2 usage error."},
        parameterListHeading = "%nVM arguments (QEMU's):%n")
public final class CheckCommand implements Callable<Integer> {
    @Option(names = "--host", paramLabel = "ARGS", description = "A model host: its machine's QEMU arguments, in one"
            + " word (quote it), as for `viommu run --host`.")
    String hostArgs;

    @Option(names = {"--host-sysfs", "--sysfs"}, paramLabel = "DIR",
            description = "A host saved by `viommu host snapshot DIR` (read only).")
    Path hostSysfs;

    @Option(names = "--host-setup", paramLabel = "FILE", description = "With --host: lines the model host's root"
            + " shell runs first (modprobe, echo > /sys/..., ip link set ...), as for `viommu run`.")
    Path hostSetup;

    @Option(names = "--domain", paramLabel = "FILE.xml", description = "A libvirt domain XML instead of QEMU"
            + " arguments: checked as the argv libvirt 9.0 builds for it; managed='yes' hostdevs count as detached"
            + " by libvirt at the start (that device only, as libvirt does).")
    Path domain;

    @Option(names = "--json", description = "Print the findings as one JSON document (schema viommu.check/1).")
    boolean json;

    @Parameters(arity = "0..*", paramLabel = "VM_ARG", description = "The VM's QEMU arguments.")
    List<String> vmArgs = new ArrayList<>();

    @Override
    public Integer call() throws JsonProcessingException {
        String cmd = "viommu check";
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(System.err, true, StandardCharsets.UTF_8);
        if (domain != null && !vmArgs.isEmpty()) {
            err.println(cmd + ": --domain and VM arguments are alternatives: the domain XML describes the VM");
            return 2;
        }
        if (domain == null && vmArgs.isEmpty()) {
            err.println(cmd + ": nothing to check: give the VM's QEMU arguments or --domain FILE.xml");
            return 2;
        }
        if (hostArgs != null && hostSysfs != null) {
            err.println(cmd + ": --host and --host-sysfs are alternatives: give one");
            return 2;
        }
        if (hostSetup != null && hostArgs == null) {
            err.println(cmd + ": --host-setup needs --host (it runs in the model host's root shell)");
            return 2;
        }
        HostFiles fs = host(cmd, err);
        if (fs == null) {
            return 2;
        }
        HostSnapshot s = HostReader.read(fs);
        ConfigCheck.Result r;
        if (domain != null) {
            Domain d;
            try {
                d = LibvirtDomain.parse(domain);
                d.warnings().forEach(err::println);
                r = ConfigCheck.check(s, d);
            } catch (LibvirtException e) {
                r = ConfigCheck.refused(s, "libvirt domain " + domain, "--domain " + domain, "error: " + e.getMessage());
            } catch (RuntimeException e) {
                r = ConfigCheck.refused(s, "libvirt domain " + domain, "--domain " + domain,
                        "viommu check: --domain " + domain + ": cannot translate (" + e + ")");
            }
        } else {
            List<String> args = FirmwareFiles.withoutMissing(vmArgs);
            if (args.size() != vmArgs.size()) {
                // as viommu run: no firmware runs in the model, so a missing image is named, not required
                err.println(cmd + ": note: a -bios file that does not exist here is left out of the check (QEMU"
                        + " on this machine would refuse it: qemu: could not load PC BIOS 'FILE')");
            }
            r = ConfigCheck.check(s, args);
        }
        out.print(json ? HostReportJson.mapper().writeValueAsString(r) + "\n" : format(r));
        return r.ok() ? 0 : 1;
    }

    private HostFiles host(String cmd, PrintStream err) {
        if (hostSysfs != null) {
            String bad = HostCommand.checkTree(hostSysfs);
            if (bad != null) {
                err.println(cmd + ": " + bad.replace("--sysfs", "--host-sysfs"));
                return null;
            }
            return new SavedTree(hostSysfs);
        }
        if (hostArgs == null) {
            return new RealHost();
        }
        List<String> lines = null;
        if (hostSetup != null) {
            try {
                lines = Files.readAllLines(hostSetup, StandardCharsets.UTF_8);
            } catch (IOException e) {
                err.println(cmd + ": --host-setup " + hostSetup + ": cannot read: " + e.getMessage());
                return null;
            }
        }
        ModelHost.Boot b = ModelHost.boot(hostArgs, lines);
        err.print(b.setupOutput());
        if (b.host() == null) {
            err.println(cmd + ": --host: " + b.error());
            return null;
        }
        return b.host();
    }

    /** The human form: a verdict line, then per finding its severity, device, what, QEMU's text and the fix. */
    static String format(ConfigCheck.Result r) {
        StringBuilder sb = new StringBuilder();
        sb.append("viommu check: ").append(r.configuration()).append(" on ").append(r.host()).append('\n');
        for (ConfigCheck.Finding f : r.findings()) {
            sb.append('\n').append(f.severity().name().toLowerCase()).append(": ").append(f.device()).append(": ")
                    .append(f.what()).append('\n');
            if (f.qemu() != null) {
                f.qemu().lines().forEach(l -> sb.append("  says: ").append(l).append('\n'));
            }
            if (f.fix() != null && !f.fix().isEmpty()) {
                sb.append("  fix: ").append(f.fix()).append('\n');
            }
        }
        sb.append(r.findings().isEmpty() ? "" : "\n").append(r.ok() ? "ok" : "refused").append(": ")
                .append(r.errors()).append(r.errors() == 1 ? " error, " : " errors, ").append(r.warnings())
                .append(r.warnings() == 1 ? " warning" : " warnings").append(r.ok() ? (r.warnings() == 0
                        ? "; it starts as given" : "; it starts, but see the warnings")
                        : "; QEMU (or libvirt) would refuse to start it, or the host is not ready").append('\n');
        return sb.toString();
    }
}
