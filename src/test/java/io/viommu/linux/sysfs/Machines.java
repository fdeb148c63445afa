package io.viommu.linux.sysfs;

import io.viommu.linux.Kernel;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import java.util.ArrayList;
import java.util.List;

/**
 * Small machines for sysfs tests, booted by the kernel model (no -append: Debian's 6.1 enables
 * VT-d by default, so groups are Linux's).
 */
final class Machines {
    private Machines() {
    }

    static final String NVME = "nvme,serial=deadbeef,subsys=s0,bus=rp1,sriov_max_vfs=4,sriov_vq_flexible=8,"
            + "sriov_vi_flexible=4,max_ioqpairs=10";

    /** -nodefaults, a root port rp1 at 00:01.0, then the given devices. */
    static SysfsTree boot(String... devices) throws Exception {
        List<String> args = new ArrayList<>(List.of("-nodefaults", "-device", "intel-iommu",
                "-device", "pcie-root-port,id=rp1,chassis=1,slot=1"));
        for (String d : devices) {
            args.add("-device");
            args.add(d);
        }
        return Kernel.boot(MachineBuilder.fromCommandLine(args, MachineLog.SILENT)).sysfs();
    }

    /** An nvme PF with 4 VFs at 01:00.0. */
    static SysfsTree nvme() throws Exception {
        return boot("nvme-subsys,id=s0", NVME);
    }

    /** The 82576 PF (8 VFs, offset 0x80, stride 2) at 01:00.0. */
    static SysfsTree igb() throws Exception {
        return boot("igb-82576,bus=rp1");
    }
}
