package io.viommu.cli;

import io.viommu.linux.Kernel;
import io.viommu.linux.shell.RootShell;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.machine.device.MachineLog;
import io.viommu.vmm.Vmm;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code viommu qtest --host "ARGS" [--host-setup FILE] [--host-dmesg FILE] VM-ARGS}: the host
 * machine booted with the kernel model, the setup lines run by its root shell, then a VMM
 * ({@link Vmm}) started with the VM's arguments and qtest served against the VM's machine. The
 * VMM's stderr is QEMU's; the host kernel's log goes to {@code --host-dmesg} when the run ends
 * (also after a refusal).
 */
final class QtestHost {
    private QtestHost() {
    }

    static int run(String hostArgs, Path setup, Path dmesg, List<String> vmArgs, BufferedReader in,
                   PrintStream out, PrintStream err, boolean explain) {
        return run(hostArgs, setup, dmesg, vmArgs, in, out, err, explain, Vmm.Privileges.ROOT);
    }

    static int run(String hostArgs, Path setup, Path dmesg, List<String> vmArgs, BufferedReader in,
                   PrintStream out, PrintStream err, boolean explain, Vmm.Privileges privileges) {
        Kernel k;
        try {
            k = bootHost(hostArgs);
        } catch (MachineConfigException e) {
            err.println("viommu qtest: --host: " + e.getMessage());
            return 1;
        }
        return run(k, setup, dmesg, vmArgs, in, out, err, explain, privileges);
    }

    /** As {@link #run(String, Path, Path, List, BufferedReader, PrintStream, PrintStream, boolean)} on a model of a saved host. */
    static int runRecorded(Path tree, Path setup, Path dmesg, List<String> vmArgs, BufferedReader in,
                           PrintStream out, PrintStream err, boolean explain, Vmm.Privileges privileges) {
        Kernel k = bootRecorded(tree, err);
        return k == null ? 1 : run(k, setup, dmesg, vmArgs, in, out, err, explain, privileges);
    }

    /** The model of the host saved in {@code tree}, its notes on stderr; null (reason printed) when there is none. */
    static Kernel bootRecorded(Path tree, PrintStream err) {
        io.viommu.host.RecordedHost.Booted b;
        try {
            b = io.viommu.host.RecordedHost.boot(tree);
        } catch (io.viommu.host.RecordedHost.TreeException e) {
            err.println("viommu: --host-sysfs " + e.getMessage());
            return null;
        }
        for (String n : b.notes()) {
            err.println("viommu: --host-sysfs " + tree + ": " + n);
        }
        return b.kernel();
    }

    private static int run(Kernel k, Path setup, Path dmesg, List<String> vmArgs, BufferedReader in,
                           PrintStream out, PrintStream err, boolean explain, Vmm.Privileges privileges) {
        int rc = runSetup(k, setup, err);
        if (rc == 0) {
            rc = runVm(k, vmArgs, in, out, err, explain, privileges);
        }
        out.flush();
        err.flush();
        if (!writeDmesg(k, dmesg, err)) {
            return 1;
        }
        return rc;
    }

    /** {@code --host-dmesg FILE}: the host kernel's log in dmesg's format (nothing when null); false when it cannot be written. */
    static boolean writeDmesg(Kernel k, Path dmesg, PrintStream err) {
        if (dmesg == null) {
            return true;
        }
        try {
            Files.write(dmesg, k.log().dmesgLines(), StandardCharsets.UTF_8);
            return true;
        } catch (IOException e) {
            err.println("viommu: --host-dmesg " + dmesg + ": cannot write: " + e.getMessage());
            return false;
        }
    }

    /**
     * A VM's arguments given in one word ({@code --nest}, {@code --via}), split as a shell splits
     * them (quotes and backslashes; the capture tool does the same). Null (the reason printed)
     * when they do not split or hold a {@code ;} or redirection.
     */
    static List<String> splitArgs(String option, String words, PrintStream err) {
        List<io.viommu.linux.shell.ShellLine> lines;
        try {
            lines = io.viommu.linux.shell.ShellLine.parse(words);
        } catch (io.viommu.linux.shell.ShellLine.SyntaxError e) {
            err.println("viommu: " + option + " \"" + words + "\": does not split into arguments (" + e.getMessage() + ")");
            return null;
        }
        if (lines.size() != 1 || lines.get(0).redirect() != null) {
            err.println("viommu: " + option + " \"" + words + "\": one VM's QEMU arguments expected"
                    + (lines.isEmpty() ? " (none given)" : " (no ';', '#' or '>': quote them)"));
            return null;
        }
        return lines.get(0).words();
    }

    /** The host: its machine from {@code hostArgs} (-append defaulting to intel_iommu=on), booted. */
    static Kernel bootHost(String hostArgs) throws MachineConfigException {
        return io.viommu.host.ModelHost.bootKernel(hostArgs);
    }

    static int runSetup(Kernel k, Path setup, PrintStream err) {
        return runSetup(k, setup, err, "--host-setup");
    }

    /** {@code setup}'s lines run by {@code k}'s root shell, their output on {@code err}; 0 when all succeeded. */
    static int runSetup(Kernel k, Path setup, PrintStream err, String option) {
        if (setup == null) {
            return 0;
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(setup, StandardCharsets.UTF_8);
        } catch (IOException e) {
            err.println("viommu: " + option + " " + setup + ": cannot read: " + e.getMessage());
            return 1;
        }
        RootShell.Run run = new RootShell(k).runScript(lines);
        for (RootShell.Result r : run.results()) {
            err.print(r.output());
        }
        return run.ok() ? 0 : 1;
    }

    /** The VMM's life: start (QEMU's refusal: its text, 1), the qtest chardev's reset, the script, the end. */
    static int runVm(Kernel k, List<String> vmArgs, BufferedReader in, PrintStream out, PrintStream err,
                     boolean explain) {
        return runVm(k, vmArgs, in, out, err, explain, Vmm.Privileges.ROOT);
    }

    static int runVm(Kernel k, List<String> vmArgs, BufferedReader in, PrintStream out, PrintStream err,
                     boolean explain, Vmm.Privileges privileges) {
        return runVm(k, vmArgs, in, out, err, explain, privileges, v -> v::runHost);
    }

    /** One intermediate VM of {@code qtest --via}: its argv, its root's setup, where its VMM's stderr and its kernel's log go. */
    record Via(List<String> args, Path setup, Path stderr, Path dmesg) {
    }

    /**
     * {@code qtest --host ... --via ARGS [--via-setup FILE] ... VM-ARGS}: the host booted and set
     * up; each --via a VM whose VMM is a process of the level below ({@link io.viommu.vmm.Nest}),
     * the same kernel model booted on it with its -append, its setup lines run by its root; then
     * the innermost VMM on the last level's kernel serves qtest. Between two commands every
     * level's kernel takes its interrupts and every VMM handles its eventfds, bottom up. An
     * intermediate VMM's refusal is its QEMU text on stderr, status 1.
     */
    static int runNested(Kernel host, Path setup, Path dmesg, List<Via> vias, List<String> vmArgs, BufferedReader in,
                         PrintStream out, PrintStream err, boolean explain, Vmm.Privileges privileges) {
        int rc = runSetup(host, setup, err);
        io.viommu.vmm.Nest nest = io.viommu.vmm.Nest.on(host);
        List<List<String>> viaErr = new ArrayList<>();
        try {
            for (int i = 0; rc == 0 && i < vias.size(); i++) {
                Via v = vias.get(i);
                List<String> lines = new ArrayList<>();
                viaErr.add(lines);
                io.viommu.vmm.Nest.Level l;
                try {
                    l = nest.push(v.args(), false, lines::add);
                } catch (MachineConfigException e) {
                    err.println(e.getMessage()); // the intermediate QEMU's refusal: nothing above it runs
                    rc = 1;
                    break;
                } catch (io.viommu.vmm.ManagedBinding.ManagedException e) {
                    throw new IllegalStateException(e); // not managed: cannot happen
                }
                for (String n : l.vmm().commandLine().noEffect()) {
                    err.println("viommu: note: --via L" + (i + 1) + ": " + n);
                }
                if (v.setup() != null) {
                    rc = runSetup(nest.top(), v.setup(), err, "--via-setup");
                }
            }
            if (rc == 0) {
                rc = runVm(nest.top(), vmArgs, in, out, err, explain, privileges, vmm -> () -> nest.runAll(vmm));
            }
        } finally {
            List<io.viommu.vmm.Nest.Level> ls = nest.levels();
            for (int i = 0; i < vias.size(); i++) {
                Via v = vias.get(i);
                if (v.stderr() != null) {
                    writeLines(v.stderr(), i < viaErr.size() ? viaErr.get(i) : List.of(), "--via-err", err);
                }
                if (v.dmesg() != null && i < ls.size()) {
                    writeLines(v.dmesg(), ls.get(i).guest().kernel().log().dmesgLines(), "--via-dmesg", err);
                }
            }
            nest.shutdown();
        }
        out.flush();
        err.flush();
        return writeDmesg(host, dmesg, err) ? rc : 1;
    }

    private static void writeLines(Path file, List<String> lines, String option, PrintStream err) {
        try {
            Files.write(file, lines, StandardCharsets.UTF_8);
        } catch (IOException e) {
            err.println("viommu: " + option + " " + file + ": cannot write: " + e.getMessage());
        }
    }

    static int runVm(Kernel k, List<String> vmArgs, BufferedReader in, PrintStream out, PrintStream err,
                     boolean explain, Vmm.Privileges privileges, java.util.function.Function<Vmm, Runnable> pump) {
        Vmm vmm;
        try {
            vmm = Vmm.start(k, vmArgs, QtestServer.machineLog(out, err), err::println, privileges);
        } catch (MachineConfigException e) {
            err.println(e.getMessage());
            return 1;
        }
        try {
            // (qtest_event(CHR_EVENT_OPENED) resets nothing in 7.2: the one reset was the machine's)
            // between two commands the host's CPU takes what was delivered to it, e.g. the host
            // unit's fault event after an assigned device's DMA to an unmapped IOVA (dmar_fault
            // prints the DMAR lines and clears the record, as the real host did during the script)
            // or the assigned device's interrupt (vfio-pci's handler signals the VMM's eventfd),
            // then the VMM's main loop handles its eventfds (an INTx's IRQ raise line comes after
            // the reply of the command that caused it, as with QEMU)
            // a guest-requested system reset (ICH9 RST_CNT) is carried out first, as QEMU's main
            // loop does after the iteration that ran the command
            Runnable hostTurn = pump.apply(vmm);
            Runnable afterCommand = () -> {
                vmm.handleResetRequest();
                hostTurn.run();
            };
            return QtestServer.serveMachine(vmm.machine(), in, out, err, explain, afterCommand,
                    () -> vmm.hardwareError().isPresent() ? 134 : -1);
        } finally {
            vmm.shutdown();
        }
    }
}
