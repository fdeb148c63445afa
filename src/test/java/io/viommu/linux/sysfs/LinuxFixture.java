package io.viommu.linux.sysfs;

import io.viommu.fixtures.LinuxCapture;
import io.viommu.linux.Kernel;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import java.util.List;

/**
 * One capture of ../shared/fixtures/linux ({@link LinuxCapture}) and the kernel model booted
 * from its QEMU command line.
 */
record LinuxFixture(LinuxCapture capture) {
    static LinuxFixture load(String file) {
        return new LinuxFixture(LinuxCapture.load(file));
    }

    /** The lines after {@code header} up to the next "=== " line. */
    List<String> section(String header) {
        return capture.block(header);
    }

    /** The capture's machine booted by the kernel model (its -append is the command line). */
    Kernel kernel() throws Exception {
        return Kernel.boot(MachineBuilder.fromCommandLine(capture.qemuArgs(), MachineLog.SILENT));
    }

    /** The booted kernel's sysfs. */
    SysfsTree boot() throws Exception {
        return kernel().sysfs();
    }

    /** Drops the "[    9.431883] " timestamp of a dmesg line. */
    static String untimed(String l) {
        return l.startsWith("[") && l.indexOf("] ") > 0 ? l.substring(l.indexOf("] ") + 2) : l;
    }
}
