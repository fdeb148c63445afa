package io.viommu.linux.vfio;

import io.viommu.linux.Kernel;
import io.viommu.linux.driver.DriverCore;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.iommu.IntelIommuDriver;
import io.viommu.machine.Machine;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.EduDevice;
import io.viommu.machine.device.MachineLog;
import io.viommu.pci.PciFunction;
import io.viommu.pci.RequesterId;
import io.viommu.vtd.VtdRegisters;
import java.util.ArrayList;
import java.util.List;

/**
 * A machine (256 MiB, -nodefaults, the given devices) booted by the kernel model
 * ({@link Kernel#boot}: real IOMMU groups, the driver core, sysfs) with the vfio module loaded,
 * and a root process whose memory comes from the kernel's user frames; plus helpers a test
 * needs: binding to vfio-pci, the edu device, the unit's fault records.
 */
final class VfioBed {
    final Machine machine;
    final Kernel kernel;
    final DriverCore core;
    final PageFrames frames;
    /** The intel-iommu driver VFIO maps through (null without an active IOMMU). */
    final IntelIommuDriver driver;
    final Vfio vfio;
    final UserProcess root;

    private VfioBed(Machine machine) {
        this.machine = machine;
        this.kernel = Kernel.boot(machine);
        this.core = kernel.drivers();
        this.frames = kernel.userMemory();
        if (core.loadModule("vfio") != 0) {
            throw new IllegalStateException("modprobe vfio");
        }
        this.vfio = kernel.vfio().orElseThrow();
        this.driver = kernel.iommuDriver();
        this.root = UserProcess.root("dpdk", frames);
    }

    /** The kernel model booted on {@code m} (its -append is the command line), then {@code modprobe vfio}. */
    static VfioBed create(Machine m) {
        return new VfioBed(m);
    }

    /** {@code -device intel-iommu,<iommuProps>} (none when null) then the devices. */
    static VfioBed boot(String iommuProps, String... devices) throws Exception {
        List<String> args = new ArrayList<>(List.of("-nodefaults", "-m", "256M"));
        if (iommuProps != null) {
            args.add("-device");
            args.add(iommuProps.isEmpty() ? "intel-iommu" : "intel-iommu," + iommuProps);
        }
        for (String d : devices) {
            args.add("-device");
            args.add(d);
        }
        return new VfioBed(MachineBuilder.fromCommandLine(args, MachineLog.SILENT));
    }

    /**
     * intel-iommu with interrupt remapping, edu at 00:01.0, an e1000e at 00:02.0. Linux's groups:
     * the host bridge 0, edu 1, the e1000e 2 (root-bus endpoints, single function: one each).
     */
    static VfioBed standard() throws Exception {
        return boot("intremap=on", "edu", "e1000e");
    }

    PciDevice device(String bdf) {
        return core.device(bdf).orElseThrow();
    }

    int groupOf(String bdf) {
        return core.groupOf(device(bdf)).orElseThrow();
    }

    /** driver_override=vfio-pci, unbind, bind (the t6 script's steps). */
    void bindVfio(String bdf) {
        core.loadModule("vfio-pci");
        PciDevice d = device(bdf);
        core.setDriverOverride(d, "vfio-pci");
        if (d.driver() != null) {
            core.deviceReleaseDriver(d);
        }
        int rc = core.deviceDriverAttach(core.driver("vfio-pci").orElseThrow(), d);
        if (rc != 0) {
            throw new IllegalStateException("bind " + bdf + " to vfio-pci: " + rc);
        }
    }

    EduDevice edu(String bdf) {
        RequesterId r = RequesterId.parse(bdf.substring(5));
        PciFunction f = machine.rootBus().route(r.bus(), r.devfn());
        return (EduDevice) f;
    }

    /** A full container for one vfio-pci device: group opened, container set, TYPE1v2, device fd. */
    record Open(VfioContainer container, VfioGroup group, VfioDevice device) {
    }

    Open open(String bdf) {
        bindVfio(bdf);
        VfioContainer c = vfio.openContainer(root);
        VfioGroup g = vfio.openGroup(root, "/dev/vfio/" + groupOf(bdf));
        g.setContainer(c);
        c.setIommu(Vfio.TYPE1v2_IOMMU);
        return new Open(c, g, g.deviceFd(bdf));
    }

    /** The first fault record's high quad (F 63, FR 39:32, SID 15:0) and low quad (FI). */
    long[] faultRecord(int index) {
        var unit = machine.iommu();
        long base = VtdRegisters.FRCD + 16L * index;
        return new long[] {unit.load(base, 8), unit.load(base + 8, 8)};
    }
}
