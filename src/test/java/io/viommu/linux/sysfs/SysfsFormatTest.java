package io.viommu.linux.sysfs;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.driver.Errno;
import org.junit.jupiter.api.Test;

/** What reads return: Linux 6.1's formats, byte for byte, and the tree's layout and links. */
class SysfsFormatTest {
    static final String PF = "/sys/bus/pci/devices/0000:01:00.0/";

    @Test
    void idAttributesUseLinuxFormatsWithTrailingNewline() throws Exception {
        SysfsTree sys = Machines.nvme();
        assertThat(sys.read(PF + "vendor").text()).isEqualTo("0x1b36\n");
        assertThat(sys.read(PF + "device").text()).isEqualTo("0x0010\n");
        assertThat(sys.read(PF + "subsystem_vendor").text()).isEqualTo("0x1af4\n");
        assertThat(sys.read(PF + "subsystem_device").text()).isEqualTo("0x1100\n");
        assertThat(sys.read(PF + "class").text()).isEqualTo("0x010802\n");
        assertThat(sys.read(PF + "revision").text()).isEqualTo("0x02\n");
        assertThat(sys.read(PF + "driver_override").text()).isEqualTo("(null)\n");
        assertThat(sys.read(PF + "modalias").text()).isEqualTo("pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02\n");
        assertThat(sys.read(PF + "uevent").text()).isEqualTo("PCI_CLASS=10802\nPCI_ID=1B36:0010\nPCI_SUBSYS_ID=1AF4:1100\n"
                + "PCI_SLOT_NAME=0000:01:00.0\nMODALIAS=pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02\n");
        sys.drivers().loadModule("nvme");
        assertThat(sys.read(PF + "uevent").text()).startsWith("DRIVER=nvme\nPCI_CLASS=10802\n");
    }

    @Test
    void sriovAttributesOfAPfAsIovDotCFormatsThem() throws Exception {
        SysfsTree sys = Machines.nvme();
        assertThat(sys.read(PF + "sriov_totalvfs").text()).isEqualTo("4\n");
        assertThat(sys.read(PF + "sriov_numvfs").text()).isEqualTo("0\n");
        assertThat(sys.read(PF + "sriov_offset").text()).isEqualTo("1\n");
        assertThat(sys.read(PF + "sriov_stride").text()).isEqualTo("1\n");
        assertThat(sys.read(PF + "sriov_vf_device").text()).isEqualTo("10\n"); // "%x", no 0x
        assertThat(sys.read(PF + "sriov_drivers_autoprobe").text()).isEqualTo("1\n");
        SysfsTree igb = Machines.igb();
        assertThat(igb.read(PF + "sriov_offset").text()).isEqualTo("128\n");
        assertThat(igb.read(PF + "sriov_stride").text()).isEqualTo("2\n");
        assertThat(igb.read(PF + "sriov_vf_device").text()).isEqualTo("10ca\n");
        assertThat(igb.read(PF + "sriov_totalvfs").text()).isEqualTo("8\n");
    }

    @Test
    void functionsWithoutSrIovHaveNoSriovFiles() throws Exception {
        SysfsTree sys = Machines.nvme();
        assertThat(sys.kind("/sys/bus/pci/devices/0000:00:01.0/sriov_numvfs")).isEqualTo(SysfsTree.Kind.MISSING);
    }

    @Test
    void configIsBinaryOfCfgSizeReadThroughConfigCycles() throws Exception {
        SysfsTree sys = Machines.nvme();
        byte[] cfg = sys.read(PF + "config").data();
        assertThat(cfg).hasSize(4096); // PCIe: extended space
        assertThat(cfg[0] & 0xff).isEqualTo(0x36);
        assertThat(cfg[1] & 0xff).isEqualTo(0x1b);
        assertThat(cfg[2] & 0xff).isEqualTo(0x10);
        assertThat(sys.read("/sys/bus/pci/devices/0000:00:1f.0/config").data()).hasSize(256); // conventional
        assertThat(sys.read(PF + "config", 4094, 100).data()).hasSize(2);
        assertThat(sys.read(PF + "config", 4096, 100).data()).isEmpty();
        assertThat(sys.read(PF + "config", 0x2c, 2).data()).containsExactly(0xf4, 0x1a);
    }

    @Test
    void configWritesReachTheFunction() throws Exception {
        SysfsTree sys = Machines.nvme();
        // interrupt line (0x3c) is a plain read/write byte
        assertThat(sys.write(PF + "config", 0x3c, new byte[] {0x0b}).count()).isEqualTo(1);
        assertThat(sys.read(PF + "config", 0x3c, 1).data()).containsExactly(0x0b);
        assertThat(sys.write(PF + "config", 4096, new byte[] {1}).error()).isEqualTo(Errno.EFBIG);
        assertThat(sys.write(PF + "config", 4095, new byte[] {0, 0, 0}).count()).isEqualTo(1);
    }

    @Test
    void resetFilesExistOnlyWithAResetMethodListedInLinuxPriorityOrder() throws Exception {
        SysfsTree sys = Machines.nvme();
        // nvme: FLR in DevCap, No_Soft_Reset in PMCSR (no pm), alone below its root port (bus)
        assertThat(sys.read(PF + "reset_method").text()).isEqualTo("flr bus\n");
        assertThat(sys.kind(PF + "reset")).isEqualTo(SysfsTree.Kind.FILE);
        // the root port is a bridge (no bus reset) without FLR; the LPC bridge has no PM capability
        assertThat(sys.kind("/sys/bus/pci/devices/0000:00:1f.0/reset")).isEqualTo(SysfsTree.Kind.MISSING);
        assertThat(sys.kind("/sys/bus/pci/devices/0000:00:1f.0/reset_method")).isEqualTo(SysfsTree.Kind.MISSING);
    }

    @Test
    void vfsOnThePfsBusGetNoBusResetButTheirOwnFlr() throws Exception {
        SysfsTree sys = Machines.igb();
        sys.drivers().loadModule("igb");
        assertThat(sys.write(PF + "sriov_numvfs", "2\n").ok()).isTrue();
        assertThat(sys.read("/sys/bus/pci/devices/0000:01:10.0/reset_method").text()).isEqualTo("flr\n");
    }

    @Test
    void linksAreRelativeAsKernfsMakesThem() throws Exception {
        SysfsTree sys = Machines.nvme();
        sys.drivers().loadModule("nvme");
        assertThat(sys.readlink("/sys/bus/pci/devices/0000:01:00.0"))
                .contains("../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0");
        assertThat(sys.readlink(PF + "driver")).contains("../../../../bus/pci/drivers/nvme");
        assertThat(sys.readlink(PF + "iommu_group")).contains("../../../../kernel/iommu_groups/3"); // after bus 0's (ICH9's 1f.x share one)
        assertThat(sys.readlink(PF + "subsystem")).contains("../../../../bus/pci");
        assertThat(sys.readlink("/sys/bus/pci/drivers/nvme/0000:01:00.0"))
                .contains("../../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0");
        assertThat(sys.readlink("/sys/kernel/iommu_groups/3/devices/0000:01:00.0"))
                .contains("../../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0");
        assertThat(sys.realpath(PF + "iommu_group/devices/0000:01:00.0/vendor"))
                .contains("/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/vendor");
    }

    @Test
    void driverLinkExistsOnlyWhileBoundAndPortsAreBoundToPcieportAtBoot() throws Exception {
        SysfsTree sys = Machines.nvme();
        assertThat(sys.kind(PF + "driver")).isEqualTo(SysfsTree.Kind.MISSING);
        assertThat(sys.readlink("/sys/bus/pci/devices/0000:00:01.0/driver")).contains("../../../bus/pci/drivers/pcieport");
        assertThat(sys.list("/sys/bus/pci/drivers").orElseThrow()).containsExactly("pcieport");
        assertThat(sys.list("/sys/bus/pci/drivers/pcieport").orElseThrow())
                .containsExactly("0000:00:01.0", "bind", "new_id", "remove_id", "uevent", "unbind");
    }

    @Test
    void iommuGroupFilesListMembersTypeAndReservedRegions() throws Exception {
        SysfsTree sys = Machines.nvme();
        assertThat(sys.list("/sys/kernel/iommu_groups").orElseThrow()).containsExactly("0", "1", "2", "3");
        // no caching mode, no iommu.strict: Debian's lazy default
        assertThat(sys.read("/sys/kernel/iommu_groups/3/type").text()).isEqualTo("DMA-FQ\n");
        assertThat(sys.read("/sys/kernel/iommu_groups/3/reserved_regions").text())
                .isEqualTo("0x00000000fee00000 0x00000000feefffff msi\n");
        // the LPC (ISA) bridge's group carries intel-iommu's floppy window first
        String lpcGroup = sys.readlink("/sys/bus/pci/devices/0000:00:1f.0/iommu_group").orElseThrow();
        String g = lpcGroup.substring(lpcGroup.lastIndexOf('/') + 1);
        assertThat(sys.read("/sys/kernel/iommu_groups/" + g + "/reserved_regions").text()).isEqualTo(
                "0x0000000000000000 0x0000000000ffffff direct-relaxable\n0x00000000fee00000 0x00000000feefffff msi\n");
        assertThat(sys.list("/sys/kernel/iommu_groups/3/devices").orElseThrow()).containsExactly("0000:01:00.0");
        assertThat(sys.list("/sys/kernel/iommu_groups/" + g + "/devices").orElseThrow())
                .containsExactly("0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3");
    }

    @Test
    void deviceDirectoriesNestBelowTheirBridge() throws Exception {
        SysfsTree sys = Machines.nvme();
        assertThat(sys.kind("/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0")).isEqualTo(SysfsTree.Kind.DIRECTORY);
        assertThat(sys.list("/sys/devices/pci0000:00").orElseThrow())
                .containsExactly("0000:00:00.0", "0000:00:01.0", "0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3");
    }

    @Test
    void theDmarUnitAppearsUnderClassIommuWithIntelAttributesAndDeviceLinks() throws Exception {
        SysfsTree sys = Machines.nvme();
        assertThat(sys.readlink("/sys/class/iommu/dmar0")).contains("../../devices/virtual/iommu/dmar0");
        assertThat(sys.read("/sys/class/iommu/dmar0/intel-iommu/address").text()).isEqualTo("fed90000\n");
        assertThat(sys.read("/sys/class/iommu/dmar0/intel-iommu/version").text()).isEqualTo("1:0\n");
        assertThat(sys.read("/sys/class/iommu/dmar0/intel-iommu/cap").text()).matches("[0-9a-f]+\n");
        assertThat(sys.readlink(PF + "iommu")).contains("../../../virtual/iommu/dmar0");
        assertThat(sys.list("/sys/class/iommu/dmar0/devices").orElseThrow()).contains("0000:01:00.0", "0000:00:1f.3");
        SysfsTree noIommu = io.viommu.linux.Kernel.boot(io.viommu.machine.config.MachineBuilder.fromCommandLine(
                java.util.List.of("-nodefaults"), io.viommu.machine.device.MachineLog.SILENT)).sysfs();
        assertThat(noIommu.list("/sys/class").isPresent()).isFalse();
    }
}
