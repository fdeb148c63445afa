package io.viommu.linux.sysfs;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.KernelMessage;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** sriov_numvfs and the other SR-IOV files: Linux's check order and what enabling does. */
class SriovNumvfsTest {
    static final String PF = "/sys/bus/pci/devices/0000:01:00.0/";
    static final String NUMVFS = PF + "sriov_numvfs";

    @Test
    void anythingThatIsNotAU16IsEinvalBeforeAnyOtherCheck() throws Exception {
        SysfsTree sys = Machines.nvme();
        for (String bad : new String[] {"abc\n", "-1\n", "65536\n", " 2\n", "2 \n", "2\n\n", "0x\n", "\n", "1e3\n", "2,3\n"}) {
            assertThat(sys.write(NUMVFS, bad).error()).as(bad).isEqualTo(Errno.EINVAL);
        }
    }

    @Test
    void aboveTheVfLimitIsErangeEvenWithoutADriver() throws Exception {
        SysfsTree sys = Machines.nvme();
        assertThat(sys.write(NUMVFS, "5\n").error()).isEqualTo(Errno.ERANGE);
        assertThat(sys.write(NUMVFS, "65535\n").error()).isEqualTo(Errno.ERANGE);
    }

    @Test
    void theCurrentValueIsAcceptedWithoutADriverAsANoOp() throws Exception {
        SysfsTree sys = Machines.nvme();
        assertThat(sys.write(NUMVFS, "0\n").count()).isEqualTo(2);
    }

    @Test
    void withoutAPfDriverOrWithoutSriovConfigureItIsEnoent() throws Exception {
        SysfsTree sys = Machines.nvme();
        assertThat(sys.write(NUMVFS, "2\n").error()).isEqualTo(Errno.ENOENT);
        assertThat(sys.drivers().log()).extracting(KernelMessage::text)
                .contains("pci 0000:01:00.0: no driver bound to device; cannot configure SR-IOV");
        sys.drivers().loadModule("pci-stub");
        sys.write(PF + "driver_override", "pci-stub\n");
        assertThat(sys.write("/sys/bus/pci/drivers/pci-stub/bind", "0000:01:00.0").ok()).isTrue();
        assertThat(sys.write(NUMVFS, "2\n").error()).isEqualTo(Errno.ENOENT);
    }

    @Test
    void radixPrefixesAndAPlusSignAreAcceptedAsKstrtou16DoesWithBaseZero() throws Exception {
        SysfsTree sys = Machines.nvme();
        sys.drivers().loadModule("nvme");
        assertThat(sys.write(NUMVFS, "+0x2").ok()).isTrue();
        assertThat(sys.read(NUMVFS).text()).isEqualTo("2\n");
        assertThat(sys.write(NUMVFS, "0").ok()).isTrue();
        assertThat(sys.write(NUMVFS, "03\n").ok()).isTrue(); // octal
        assertThat(sys.read(NUMVFS).text()).isEqualTo("3\n");
    }

    @Test
    void enablingWhileEnabledIsEbusyAndDisablingRemovesTheVfsAndFreesTheirGroups() throws Exception {
        SysfsTree sys = Machines.nvme();
        sys.drivers().loadModule("nvme");
        assertThat(sys.write(NUMVFS, "2\n").ok()).isTrue();
        assertThat(sys.list(PF).orElseThrow()).contains("virtfn0", "virtfn1").doesNotContain("virtfn2");
        assertThat(sys.write(NUMVFS, "3\n").error()).isEqualTo(Errno.EBUSY);
        assertThat(sys.drivers().log()).extracting(KernelMessage::text)
                .contains("nvme 0000:01:00.0: 2 VFs already enabled. Disable before enabling 3 VFs");
        assertThat(sys.write(NUMVFS, "0\n").ok()).isTrue();
        assertThat(sys.read(NUMVFS).text()).isEqualTo("0\n");
        assertThat(sys.exists("/sys/bus/pci/devices/0000:01:00.1")).isFalse();
        assertThat(sys.list(PF).orElseThrow()).noneMatch(n -> n.startsWith("virtfn"));
        assertThat(sys.list("/sys/kernel/iommu_groups").orElseThrow()).containsExactly("0", "1", "2", "3");
        assertThat(sys.drivers().log()).extracting(KernelMessage::text)
                .contains("pci 0000:01:00.1: Removing from iommu group 4", "pci 0000:01:00.2: Removing from iommu group 5");
        assertThat(sys.drivers().topology().functions()).noneMatch(f -> f.virtualFunction());
        assertThat(sys.write(NUMVFS, "3\n").ok()).isTrue();
        // the freed ids 4 and 5 are reused, the third VF takes the next free one
        assertThat(sys.readlink("/sys/bus/pci/devices/0000:01:00.1/iommu_group")).hasValueSatisfying(l -> l.endsWith("/4"));
        assertThat(sys.readlink("/sys/bus/pci/devices/0000:01:00.3/iommu_group")).hasValueSatisfying(l -> l.endsWith("/6"));
    }

    @Test
    void enablingWritesNumVfsAndVfEnableThroughThePfsConfigSpace() throws Exception {
        SysfsTree sys = Machines.nvme();
        sys.drivers().loadModule("nvme");
        sys.write(NUMVFS, "2\n");
        byte[] sriov = sys.read(PF + "config", 0x120, 0x20).data();
        int ctrl = (sriov[8] & 0xff) | (sriov[9] & 0xff) << 8;
        int numVfs = (sriov[0x10] & 0xff) | (sriov[0x11] & 0xff) << 8;
        assertThat(ctrl & 0x9).isEqualTo(0x9); // VF Enable | VF MSE
        assertThat(numVfs).isEqualTo(2);
        assertThat(ctrl & 0x10).isEqualTo(0x10); // ARI Capable Hierarchy: the root port forwards ARI
    }

    @Test
    void igbLowersTheLimitToSevenWhileBoundAndItsVfsLandAtOffset128Stride2() throws Exception {
        SysfsTree sys = Machines.igb();
        assertThat(sys.read(PF + "sriov_totalvfs").text()).isEqualTo("8\n");
        sys.drivers().loadModule("igb");
        assertThat(sys.read(PF + "sriov_totalvfs").text()).isEqualTo("7\n");
        assertThat(sys.write(NUMVFS, "8\n").error()).isEqualTo(Errno.ERANGE);
        sys.drivers().loadModule("igbvf");
        assertThat(sys.write(NUMVFS, "3\n").ok()).isTrue();
        assertThat(sys.readlink(PF + "virtfn2")).contains("../0000:01:10.4");
        assertThat(sys.readlink("/sys/bus/pci/devices/0000:01:10.4/driver")).hasValueSatisfying(l -> l.endsWith("/igbvf"));
        assertThat(sys.read("/sys/bus/pci/devices/0000:01:10.4/device").text()).isEqualTo("0x10ca\n");
        assertThat(sys.read("/sys/bus/pci/devices/0000:01:10.4/vendor").text()).isEqualTo("0x8086\n");
        // unbinding igb disables SR-IOV (igb_remove) and restores TotalVFs (pci_iov_remove)
        assertThat(sys.write("/sys/bus/pci/drivers/igb/unbind", "0000:01:00.0").ok()).isTrue();
        assertThat(sys.read(PF + "sriov_totalvfs").text()).isEqualTo("8\n");
        assertThat(sys.read(NUMVFS).text()).isEqualTo("0\n");
        assertThat(sys.exists("/sys/bus/pci/devices/0000:01:10.0")).isFalse();
    }

    @Test
    void withAutoprobeOffVfsStayUnboundAndBindOnlyWithAnOverride() throws Exception {
        SysfsTree sys = Machines.igb();
        sys.drivers().loadModule("igb");
        sys.drivers().loadModule("igbvf");
        assertThat(sys.write(PF + "sriov_drivers_autoprobe", "0\n").ok()).isTrue();
        assertThat(sys.read(PF + "sriov_drivers_autoprobe").text()).isEqualTo("0\n");
        sys.write(NUMVFS, "2\n");
        String vf = "/sys/bus/pci/devices/0000:01:10.0/";
        assertThat(sys.exists(vf + "driver")).isFalse();
        assertThat(sys.write("/sys/bus/pci/drivers/igbvf/bind", "0000:01:10.0").error()).isEqualTo(Errno.ENODEV);
        sys.write(vf + "driver_override", "igbvf");
        assertThat(sys.write("/sys/bus/pci/drivers/igbvf/bind", "0000:01:10.0").ok()).isTrue();
    }

    @Test
    void autoprobeTakesKstrtoboolValues() throws Exception {
        SysfsTree sys = Machines.nvme();
        String f = PF + "sriov_drivers_autoprobe";
        for (String[] c : new String[][] {{"off", "0"}, {"on", "1"}, {"N", "0"}, {"yes", "1"}, {"f", "0"}, {"T\n", "1"}}) {
            assertThat(sys.write(f, c[0]).ok()).as(c[0]).isTrue();
            assertThat(sys.read(f).text()).as(c[0]).isEqualTo(c[1] + "\n");
        }
        for (String bad : new String[] {"o", "2", "x", "\n", " 1"}) {
            assertThat(sys.write(f, bad).error()).as(bad).isEqualTo(Errno.EINVAL);
        }
    }

    @Test
    void vfioPciCannotTakeAPfWithVfsAndConfiguresVfsOnlyWithEnableSriov() throws Exception {
        SysfsTree sys = Machines.igb();
        sys.drivers().loadModule("igb");
        sys.drivers().loadModule("vfio-pci");
        sys.write(NUMVFS, "1\n");
        sys.write("/sys/bus/pci/drivers/igb/unbind", "0000:01:00.0"); // disables the VFs
        sys.write(PF + "driver_override", "vfio-pci");
        assertThat(sys.write("/sys/bus/pci/drivers/vfio-pci/bind", "0000:01:00.0").ok()).isTrue();
        assertThat(sys.write(NUMVFS, "1\n").error()).isEqualTo(Errno.ENOENT); // enable_sriov=0

        SysfsTree withSriov = Machines.igb();
        withSriov.drivers().loadModule("vfio-pci", Map.of("enable_sriov", "1"));
        withSriov.write(PF + "driver_override", "vfio-pci");
        withSriov.write("/sys/bus/pci/drivers/vfio-pci/bind", "0000:01:00.0");
        assertThat(withSriov.write(NUMVFS, "2\n").ok()).isTrue();
        // vfio_pci_bus_notifier steers the new VFs to vfio-pci
        assertThat(withSriov.read("/sys/bus/pci/devices/0000:01:10.0/driver_override").text()).isEqualTo("vfio-pci\n");
        assertThat(withSriov.readlink("/sys/bus/pci/devices/0000:01:10.0/driver")).hasValueSatisfying(l -> l.endsWith("/vfio-pci"));

        SysfsTree nvme = Machines.nvme();
        nvme.drivers().loadModule("nvme");
        nvme.drivers().loadModule("vfio-pci");
        nvme.write(NUMVFS, "2\n");
        nvme.write("/sys/bus/pci/drivers/nvme/unbind", "0000:01:00.0"); // nvme leaves SR-IOV enabled
        assertThat(nvme.drivers().log()).extracting(KernelMessage::text)
                .contains("nvme 0000:01:00.0: driver left SR-IOV enabled after remove"); // still bound while removing
        nvme.write(PF + "driver_override", "vfio-pci");
        assertThat(nvme.write("/sys/bus/pci/drivers/vfio-pci/bind", "0000:01:00.0").error()).isEqualTo(Errno.EBUSY);
        // and with no PF driver the VFs cannot be disabled through sysfs
        assertThat(nvme.write(NUMVFS, "0\n").error()).isEqualTo(Errno.ENOENT);
    }
}
