package io.viommu.tour;

import io.viommu.host.HostPlanner;
import io.viommu.host.HostReader;
import io.viommu.host.HostReport;
import io.viommu.host.ModelHost;
import io.viommu.linux.Kernel;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.machine.device.MachineLog;
import java.util.ArrayList;
import java.util.List;

/** What the steps share: booting the tour's host, drawing a kernel's topology, QEMU's command line as typed. */
final class Walkthroughs {
    static final String QEMU = "qemu-system-x86_64";

    private Walkthroughs() {
    }

    /** The tour's host booted with {@code cmdline} as its kernel command line, its drivers loaded as udev loads them. */
    static Kernel bootHost(TourInputs in, String cmdline) {
        List<String> argv = new ArrayList<>(List.of(in.hostMachine().trim().split("\\s+")));
        argv.add("-append");
        argv.add(cmdline);
        try {
            Kernel k = Kernel.boot(MachineBuilder.build(argv, MachineLog.SILENT).machine());
            k.drivers().coldplug(); // udev at boot: each device's driver loaded by its modalias
            return k;
        } catch (MachineConfigException e) {
            throw new IllegalStateException("the tour's host does not build: " + e.getMessage(), e);
        }
    }

    /** The tour's host after GRUB was edited (step 1): booted with the IOMMU line. */
    static Kernel bootHost(TourInputs in) {
        return bootHost(in, in.iommuOnLine());
    }

    /**
     * The host's root hands both edus (no host driver) to vfio-pci: {@code new_id} with their ids
     * makes vfio-pci probe every unbound device that matches. The root shell, for more commands.
     */
    static TourShell edusOnVfioPci(Kernel host, StepLog log) {
        TourShell sh = new TourShell(host, "host#");
        log.run(sh, "modprobe vfio-pci");
        log.run(sh, "echo 1234 11e8 > /sys/bus/pci/drivers/vfio-pci/new_id");
        return sh;
    }

    /**
     * The tour's host booted, both edus handed to vfio-pci ({@link #edusOnVfioPci}), and the check
     * that edu 07.0 is on vfio-pci now: the start of every step that assigns 07.0.
     */
    static Kernel hostWithEdu07OnVfioPci(TourInputs in, StepLog log) {
        Kernel host = bootHost(in);
        TourShell sh = edusOnVfioPci(host, log);
        String drv = log.run(sh, "readlink /sys/bus/pci/devices/0000:00:07.0/driver");
        log.expect(drv.strip().endsWith("/drivers/vfio-pci"), "the unbound edu 07.0 is taken by vfio-pci at once (new_id"
                + " probes it)", drv);
        return host;
    }

    /** What {@code host report} sees on a booted kernel (a host or a guest). */
    static HostReport report(Kernel k, String name) {
        return HostPlanner.plan(HostReader.read(new ModelHost(k, name)));
    }

    /** The command line as a person types it: words with spaces or quotes in single quotes. */
    static String typed(List<String> args) {
        StringBuilder sb = new StringBuilder(QEMU);
        for (String a : args) {
            sb.append(' ').append(a.matches("[A-Za-z0-9_.,:=/+@%-]+") ? a : "'" + a.replace("'", "'\\''") + "'");
        }
        return sb.toString();
    }

    static List<String> args(String line) {
        return List.of(line.trim().split("\\s+"));
    }

    static String lines(List<String> ls) {
        StringBuilder sb = new StringBuilder();
        ls.forEach(l -> sb.append(l).append('\n'));
        return sb.toString();
    }
}
