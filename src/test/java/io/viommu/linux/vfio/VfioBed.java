package io.viommu.linux.vfio;

import io.viommu.linux.driver.DriverCore;
import io.viommu.linux.driver.IommuGroupView;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.driver.ReservedRegion;
import io.viommu.linux.driver.StaticGroupView;
import io.viommu.machine.EduDevice;
import io.viommu.machine.Machine;
import io.viommu.machine.MachineLog;
import io.viommu.pci.PciFunction;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Topology;
import io.viommu.vtd.VtdRegisters;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.function.Function;

/**
 * A machine (256 MiB, -nodefaults, the given devices), the kernel's driver core with one IOMMU
 * group per device (a stand-in group view), a frame allocator over 64..192 MiB, the VT-d
 * stand-in backend and VFIO; plus helpers a test needs: binding to vfio-pci, the edu device,
 * the unit's fault records.
 */
final class VfioBed {
    static final long FRAMES_BASE = 0x0400_0000L;
    static final long FRAMES_SIZE = 0x0800_0000L;

    final Machine machine;
    final DriverCore core;
    final PageFrames frames;
    final VtdStandInBackend backend;
    final Vfio vfio;
    final UserProcess root;

    private VfioBed(Machine machine, Function<Topology, IommuGroupView> groups) {
        this.machine = machine;
        this.core = DriverCore.boot(machine, groups);
        this.frames = new PageFrames(machine.ram(), FRAMES_BASE, FRAMES_SIZE);
        this.backend = machine.iommu() == null ? null : new VtdStandInBackend(machine.iommu(), frames, core.groups());
        this.vfio = new Vfio(core, machine, backend);
        this.root = UserProcess.root("dpdk", frames);
    }

    static VfioBed create(Machine m, Function<Topology, IommuGroupView> groups) {
        return new VfioBed(m, groups);
    }

    /** {@code -device intel-iommu,<iommuProps>} then the devices. */
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
        Machine m = Machine.fromCommandLine(args, MachineLog.SILENT);
        boolean iommu = iommuProps != null;
        return new VfioBed(m, t -> iommu ? StaticGroupView.onePerDevice(t, "DMA") : new NoGroups());
    }

    /** intel-iommu with interrupt remapping, edu at 00:01.0 (group 1), an e1000e at 00:02.0 (group 2). */
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

    /** A group view for a machine without an IOMMU: no device has a group. */
    static final class NoGroups implements IommuGroupView {
        @Override
        public OptionalInt groupOf(RequesterId rid) {
            return OptionalInt.empty();
        }

        @Override
        public List<Integer> groups() {
            return List.of();
        }

        @Override
        public String type(int group) {
            return "";
        }

        @Override
        public List<RequesterId> members(int group) {
            return List.of();
        }

        @Override
        public List<ReservedRegion> reservedRegions(int group) {
            return List.of();
        }
    }
}
