package io.viommu.host;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.fixtures.LinuxCapture;
import io.viommu.linux.Kernel;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import java.nio.file.Path;

/**
 * A model host with every shape the host report draws: a root port per device, a switch with two
 * downstream ports, a PCIe-to-PCI bridge with conventional devices behind it (one group for all),
 * a root port without ACS holding a multifunction device, an SR-IOV PF with VFs, a NIC handed to
 * vfio-pci, and a kernel command line carrying HTML ({@link #HOSTILE_ARG}).
 */
final class TopologyHost {
    /** A vfio argument (kept by the scan) that would run script if a page printed it unescaped. */
    static final String HOSTILE_ARG = "vfio-pci.ids=<script>window.pwned=1</script>&amp;x='y'";

    static final String ARGS = "-machine q35 -m 1G -append \"console=ttyS0 intel_iommu=on " + HOSTILE_ARG
            + "\" -device intel-iommu,intremap=off,caching-mode=on"
            + " -device pcie-root-port,id=rp1,chassis=1,slot=1 -device igb-82576,bus=rp1"
            + " -device pcie-root-port,id=rp2,chassis=2,slot=2 -device x3130-upstream,id=up,bus=rp2"
            + " -device xio3130-downstream,id=dn1,bus=up,chassis=3,slot=0"
            + " -device xio3130-downstream,id=dn2,bus=up,chassis=4,slot=0"
            + " -device e1000e,bus=dn1 -device e1000e,bus=dn2"
            + " -device pcie-pci-bridge,id=pb,bus=pcie.0 -device e1000,bus=pb,addr=1 -device edu,bus=pb,addr=2"
            + " -device ioh3420,id=rp3,chassis=5,slot=5,disable-acs=on"
            + " -device e1000e,bus=rp3,addr=0.0,multifunction=on -device e1000e,bus=rp3,addr=0.1"
            + " -device pcie-root-port,id=rp4,chassis=6,slot=6 -device e1000e,bus=rp4";

    private TopologyHost() {
    }

    /** Boots {@link #ARGS}, enables 2 VFs, gives the NIC behind rp4 to vfio-pci, exports the tree to DIR. */
    static Kernel export(Path dir) throws Exception {
        Kernel k = Kernel.boot(MachineBuilder.fromCommandLine(LinuxCapture.shellSplit(ARGS), MachineLog.SILENT));
        assertThat(k.drivers().loadModule("igb")).isZero();
        assertThat(k.drivers().loadModule("e1000e")).isZero();
        assertThat(k.drivers().loadModule("vfio-pci")).isZero();
        assertThat(k.sysfs().write("/sys/bus/pci/devices/0000:01:00.0/sriov_numvfs", "2\n").ok()).isTrue();
        String nic = k.drivers().devices().stream().filter(d -> d.driver() != null && d.driver().name().equals("e1000e"))
                .reduce((a, b) -> b).orElseThrow().name();
        String d = "/sys/bus/pci/devices/" + nic + "/";
        assertThat(k.sysfs().write(d + "driver_override", "vfio-pci\n").ok()).isTrue();
        assertThat(k.sysfs().write(d + "driver/unbind", nic + "\n").ok()).isTrue();
        assertThat(k.sysfs().write("/sys/bus/pci/drivers_probe", nic + "\n").ok()).isTrue();
        k.exportTo(dir);
        return k;
    }

    static HostReport report(Path dir) throws Exception {
        export(dir);
        return HostPlanner.plan(HostReader.read(new SavedTree(dir)));
    }
}
