package io.viommu.cli;

import io.viommu.linux.BootReport;
import io.viommu.linux.Kernel;
import io.viommu.machine.Machine;
import io.viommu.machine.MachineConfigException;
import io.viommu.machine.MachineLog;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code viommu boot [QEMU arguments]}: a Linux 6.1 guest's IOMMU boot on that machine. */
@Command(name = "boot", mixinStandardHelpOptions = true,
        description = {
            "Model a Linux 6.1 guest (Debian's 6.1 kernel config) booting on the",
            "q35 machine the QEMU arguments describe; print its DMAR/IOMMU dmesg",
            "lines, every PCI function with its IOMMU group and driver, and the",
            "groups with their default domain type, as real captures show them.",
            "The kernel command line comes from -append, e.g.:",
            "  viommu boot -machine q35 -m 1G -append \"intel_iommu=on iommu=pt\" \\",
            "    -device intel-iommu,intremap=off,caching-mode=on \\",
            "    -device pcie-root-port,id=rp1,chassis=1,slot=1 -device e1000e,bus=rp1",
            "Kernel options understood: intel_iommu=on|off|igfx_off|sm_on|sm_off|...",
            "iommu=pt|nopt|off, iommu.strict=0|1, iommu.passthrough=0|1,",
            "intremap=off, and the labelled out-of-tree what-if",
            "pcie_acs_override=downstream|multifunction|id:vvvv:dddd.",
            "Exit status: 0 ok, 1 when QEMU would refuse the arguments."},
        parameterListHeading = "%nQEMU arguments:%n")
public final class BootCommand implements Callable<Integer> {
    @Parameters(arity = "0..*", paramLabel = "QEMU_ARG",
            description = "QEMU command-line arguments (options starting with '-' included).")
    List<String> qemuArgs = new ArrayList<>();

    @Override
    public Integer call() {
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false,
                StandardCharsets.UTF_8);
        Machine m;
        try {
            m = Machine.fromCommandLine(qemuArgs, MachineLog.SILENT);
        } catch (MachineConfigException e) {
            System.err.println(e.getMessage());
            return 1;
        }
        for (String line : BootReport.lines(qemuArgs, Kernel.boot(m))) {
            out.println(line);
        }
        out.flush();
        return 0;
    }
}
