package io.viommu.cli;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code viommu qtest [QEMU arguments]}: QEMU's qtest protocol on stdin/stdout. */
@Command(name = "qtest", mixinStandardHelpOptions = true,
        description = {
            "Serve QEMU's qtest protocol on stdin/stdout for a q35 machine built from QEMU-style arguments.",
            "For example:",
            "  viommu qtest --explain -machine q35 -m 256M -device intel-iommu -device edu < script",
            "Accepted: -machine/-M q35[,...]  -m SIZE  -device intel-iommu[,...]",
            "  -device edu[,dma_mask=N][,bus=pcie.0][,addr=SLOT[.FN]][,id=ID]",
            "  -bios FILE (mapped read-only below 4 GiB and, its last 128 KiB, below 1 MiB)",
            "Ignored: -display -nodefaults -monitor -serial -qtest -d -D -accel",
            "With --host \"HOST ARGS\": a host machine (its kernel command line from -append, default",
            "  intel_iommu=on) is booted with the Linux model, --host-setup's lines run in its root shell,",
            "  and the arguments are a VM run by a VMM process of that host: -device vfio-pci,host=BB:DD.F",
            "  assigns a host device through the host's VFIO, e.g.",
            "  viommu qtest --host \"$(cat host.args)\" --host-setup host-setup.sh -M q35 -m 128M \\",
            "      -device vfio-pci,host=0000:00:04.0 -qtest stdio < script",
            "With --host-sysfs DIR instead of --host: the host is a model of the machine saved in DIR by",
            "  `viommu host snapshot DIR` (rehearse an assignment on a model of your own host).",
            "With --via \"VM ARGS\" [--via-setup FILE] (repeatable, outermost first): nested VMs; each --via is a",
            "  VM level whose VMM runs on the level below and whose guest kernel (the model) runs the setup",
            "  and the next VMM; the arguments are the innermost VM, e.g.",
            "  viommu qtest --host \"$(cat host.args)\" --host-setup host-setup.sh --via \"-M q35 -m 512M",
            "      -device intel-iommu,caching-mode=on -device vfio-pci,host=0000:00:04.0,addr=04.0",
            "      -append intel_iommu=on\" --via-setup via-setup.sh -M q35 -m 128M -device vfio-pci,host=0000:00:04.0",
            "Exit status: 0 at end of input, 1 when QEMU would refuse the arguments."},
        parameterListHeading = "%nQEMU arguments:%n")
public final class QtestCommand implements Callable<Integer> {
    @Parameters(arity = "0..*", paramLabel = "QEMU_ARG",
            description = "QEMU command-line arguments (options starting with '-' included).")
    List<String> qemuArgs = new ArrayList<>();

    @Option(names = "--explain",
            description = "After each command that made the model do something, say on stderr what it did"
                    + " (DMA translations and their results, faults recorded, VT-d and PCI state changes);"
                    + " stdout stays exactly the qtest protocol.")
    boolean explain;

    @Option(names = "--host", paramLabel = "ARGS",
            description = "QEMU-style arguments of the physical host the VM runs on (one string).")
    String host;

    @Option(names = "--host-sysfs", paramLabel = "DIR",
            description = "Instead of --host: a model of the real host saved in DIR by `viommu host snapshot`"
                    + " (its PCI functions, bus numbers, ACS, SR-IOV, VT-d unit and driver bindings);"
                    + " what the model cannot reproduce is said on stderr.")
    java.nio.file.Path hostSysfs;

    @Option(names = "--vmm-memlock", paramLabel = "KIB",
            description = "With --host or --host-sysfs: run the VMM as an unprivileged user (no CAP_IPC_LOCK) whose"
                    + " RLIMIT_MEMLOCK is KIB KiB, as `ulimit -l KIB; su USER -c 'qemu-system-x86_64 ...'` does"
                    + " (or 'unlimited'); without it the VMM runs as root, as in the captures.")
    String vmmMemlock;

    @Option(names = "--host-setup", paramLabel = "FILE",
            description = "With --host: the host root's commands before the VM starts, one a line.")
    java.nio.file.Path hostSetup;

    @Option(names = "--host-dmesg", paramLabel = "FILE",
            description = "With --host: the host kernel's log, written when the run ends.")
    java.nio.file.Path hostDmesg;

    /** One intermediate VM: {@code --via ARGS [--via-setup FILE] [--via-err FILE] [--via-dmesg FILE]}. */
    static final class ViaOption {
        @Option(names = "--via", required = true, paramLabel = "ARGS",
                description = "With --host: one VM level between the host and the VM served, its QEMU argv in one word"
                        + " (quote it), as that level's QEMU gets it; repeat for each level, outermost first. Its guest"
                        + " kernel (the model) boots with its -append; -kernel/-initrd are noted, not read.")
        String args;

        @Option(names = "--via-setup", paramLabel = "FILE",
                description = "The commands that level's guest root ran before starting the next VMM (as --host-setup).")
        java.nio.file.Path setup;

        @Option(names = "--via-err", paramLabel = "FILE", description = "Write that level's VMM's stderr to FILE.")
        java.nio.file.Path stderr;

        @Option(names = "--via-dmesg", paramLabel = "FILE", description = "Write that level's guest kernel log to FILE.")
        java.nio.file.Path dmesg;
    }

    @picocli.CommandLine.ArgGroup(exclusive = false, multiplicity = "0..*")
    List<ViaOption> vias = new ArrayList<>();

    @Override
    public Integer call() {
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false,
                StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        if (host != null && hostSysfs != null) {
            System.err.println("viommu qtest: --host and --host-sysfs are alternatives: give one");
            return 2;
        }
        io.viommu.vmm.Vmm.Privileges privileges = io.viommu.vmm.Vmm.Privileges.ROOT;
        if (vmmMemlock != null) {
            if (host == null && hostSysfs == null) {
                System.err.println("viommu qtest: --vmm-memlock needs --host or --host-sysfs");
                return 2;
            }
            String v = vmmMemlock.trim();
            if (v.equals("unlimited")) {
                privileges = io.viommu.vmm.Vmm.Privileges.user(Long.MAX_VALUE);
            } else if (v.matches("\\d{1,15}")) {
                privileges = io.viommu.vmm.Vmm.Privileges.user(Long.parseLong(v) * 1024);
            } else {
                // busybox/bash ulimit's complaint about the value
                System.err.println("viommu qtest: --vmm-memlock: invalid number '" + vmmMemlock + "' (KiB or unlimited)");
                return 2;
            }
        }
        if (hostSysfs != null) {
            int rc = QtestHost.runRecorded(hostSysfs, hostSetup, hostDmesg, qemuArgs, in, out, System.err, explain,
                    privileges);
            out.flush();
            return rc;
        }
        if (!vias.isEmpty()) {
            if (host == null) {
                System.err.println("viommu qtest: --via needs --host (the physical host under the first VM level)");
                return 2;
            }
            List<QtestHost.Via> levels = new ArrayList<>();
            for (ViaOption v : vias) {
                List<String> a = QtestHost.splitArgs("--via", v.args, System.err);
                if (a == null) {
                    return 2;
                }
                levels.add(new QtestHost.Via(a, v.setup, v.stderr, v.dmesg));
            }
            io.viommu.linux.Kernel k;
            try {
                k = QtestHost.bootHost(host);
            } catch (io.viommu.machine.config.MachineConfigException e) {
                System.err.println("viommu qtest: --host: " + e.getMessage());
                return 1;
            }
            int rc = QtestHost.runNested(k, hostSetup, hostDmesg, levels, qemuArgs, in, out, System.err, explain,
                    privileges);
            out.flush();
            return rc;
        }
        if (host != null) {
            int rc = QtestHost.run(host, hostSetup, hostDmesg, qemuArgs, in, out, System.err, explain, privileges);
            out.flush();
            return rc;
        }
        if (hostSetup != null || hostDmesg != null) {
            System.err.println("viommu qtest: --host-setup and --host-dmesg need --host or --host-sysfs");
            return 2;
        }
        int rc = QtestServer.serve(qemuArgs, in, out, System.err, explain);
        out.flush();
        return rc;
    }
}
