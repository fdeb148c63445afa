package io.viommu.linux.sysfs;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.driver.Errno;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** bind, unbind, new_id, remove_id, driver_override, drivers_probe, modules and DMA ownership. */
class DriverBindingTest {
    static final String DEV = "/sys/bus/pci/devices/";
    static final String DRV = "/sys/bus/pci/drivers/";
    static final String E1 = "0000:01:00.0";

    /** t6's machine: e1000e at 00:02.0 (default NIC), 01:00.0 and 02:00.0 behind root ports. */
    static SysfsTree t6() throws Exception {
        return LinuxFixture.load("t6-vfio.txt").boot();
    }

    @Test
    void loadingAModuleCreatesItsDriverDirectoryAndProbesMatchingDevices() throws Exception {
        SysfsTree sys = t6();
        assertThat(sys.exists(DRV + "e1000e")).isFalse();
        assertThat(sys.drivers().loadModule("e1000e")).isZero();
        assertThat(sys.list(DRV + "e1000e").orElseThrow())
                .containsExactly("0000:00:02.0", E1, "0000:02:00.0", "bind", "new_id", "remove_id", "uevent", "unbind");
        assertThat(sys.drivers().loadModule("e1000e")).isZero(); // already loaded
        assertThat(sys.drivers().loadModule("no_such_module")).isEqualTo(Errno.ENOENT.negative());
        assertThat(sys.drivers().unloadModule("e1000e")).isZero();
        assertThat(sys.exists(DRV + "e1000e")).isFalse();
        assertThat(sys.exists(DEV + E1 + "/driver")).isFalse();
        assertThat(sys.drivers().unloadModule("pcieport")).isEqualTo(Errno.EPERM.negative()); // built in
    }

    @Test
    void busWideAutoprobeOffLoadsDriversWithoutProbing() throws Exception {
        SysfsTree sys = t6();
        assertThat(sys.read("/sys/bus/pci/drivers_autoprobe").text()).isEqualTo("1\n");
        sys.write("/sys/bus/pci/drivers_autoprobe", "0");
        sys.drivers().loadModule("e1000e");
        assertThat(sys.list(DRV + "e1000e").orElseThrow()).noneMatch(n -> n.startsWith("0000:"));
        assertThat(sys.write("/sys/bus/pci/drivers_probe", E1 + "\n").ok()).isTrue();
        assertThat(sys.readlink(DEV + E1 + "/driver")).hasValueSatisfying(l -> l.endsWith("/e1000e"));
        assertThat(sys.write("/sys/bus/pci/drivers_probe", "0000:09:00.0").error()).isEqualTo(Errno.ENODEV);
    }

    @Test
    void bindFailsWithEnodevForAMissingOrNonMatchingDeviceAndEbusyWhenBound() throws Exception {
        SysfsTree sys = t6();
        sys.drivers().loadModule("e1000e");
        sys.drivers().loadModule("e1000");
        assertThat(sys.write(DRV + "e1000e/bind", "0000:05:00.0").error()).isEqualTo(Errno.ENODEV);
        assertThat(sys.write(DRV + "e1000/bind", E1).error()).isEqualTo(Errno.ENODEV); // 10d3 is not e1000's
        assertThat(sys.write(DRV + "e1000e/bind", E1).error()).isEqualTo(Errno.EBUSY);
        assertThat(sys.write(DRV + "e1000e/bind", "0000:00:1f.0").error()).isEqualTo(Errno.ENODEV);
    }

    @Test
    void aProbeThatRefusesIsTheBindError() throws Exception {
        SysfsTree sys = LinuxFixture.load("t3-legacy.txt").boot();
        // the pcie-pci-bridge matches pcieport's class entry, but pcie_portdrv_probe wants a port
        assertThat(sys.exists(DEV + "0000:00:03.0/driver")).isFalse();
        assertThat(sys.write(DRV + "pcieport/bind", "0000:00:03.0").error()).isEqualTo(Errno.ENODEV);
        sys.drivers().loadModule("vfio-pci");
        sys.write(DEV + "0000:00:03.0/driver_override", "vfio-pci");
        assertThat(sys.write(DRV + "vfio-pci/bind", "0000:00:03.0").error()).isEqualTo(Errno.EINVAL); // not type 0
    }

    @Test
    void unbindOnlyFromTheBoundDriver() throws Exception {
        SysfsTree sys = t6();
        sys.drivers().loadModule("e1000e");
        sys.drivers().loadModule("vfio-pci");
        assertThat(sys.write(DRV + "vfio-pci/unbind", E1).error()).isEqualTo(Errno.ENODEV);
        assertThat(sys.write(DRV + "e1000e/unbind", "nonsense").error()).isEqualTo(Errno.ENODEV);
        assertThat(sys.write(DRV + "e1000e/unbind", E1).count()).isEqualTo(12);
    }

    @Test
    void driverOverrideStoresUpToTheFirstNewlineAndClearsOnEmptyOrNewline() throws Exception {
        SysfsTree sys = t6();
        String f = DEV + E1 + "/driver_override";
        assertThat(sys.write(f, "vfio-pci\nignored").count()).isEqualTo(16);
        assertThat(sys.read(f).text()).isEqualTo("vfio-pci\n");
        assertThat(sys.write(f, "\n").ok()).isTrue();
        assertThat(sys.read(f).text()).isEqualTo("(null)\n");
        sys.write(f, "pci-stub");
        assertThat(sys.write(f, new byte[] {0, 'x'}).ok()).isTrue(); // empty C string
        assertThat(sys.read(f).text()).isEqualTo("(null)\n");
        assertThat(sys.write(f, "a".repeat(4094)).ok()).isTrue();
        assertThat(sys.write(f, "a".repeat(4095)).error()).isEqualTo(Errno.EINVAL);
        assertThat(sys.write(f, "a".repeat(10_000)).error()).isEqualTo(Errno.EINVAL); // a page reaches the store
    }

    @Test
    void anOverrideLimitsBindingToThatDriverAndVfioPciMatchesOnlyThroughIt() throws Exception {
        SysfsTree sys = t6();
        sys.drivers().loadModule("vfio-pci");
        assertThat(sys.write(DRV + "vfio-pci/bind", E1).error()).isEqualTo(Errno.ENODEV);
        sys.write(DEV + E1 + "/driver_override", "vfio-pci");
        sys.drivers().loadModule("e1000e"); // probes, but not the overridden device
        assertThat(sys.exists(DEV + E1 + "/driver")).isFalse();
        assertThat(sys.write(DRV + "e1000e/bind", E1).error()).isEqualTo(Errno.ENODEV);
        assertThat(sys.write("/sys/bus/pci/drivers_probe", E1).ok()).isTrue();
        assertThat(sys.readlink(DEV + E1 + "/driver")).hasValueSatisfying(l -> l.endsWith("/vfio-pci"));
    }

    @Test
    void newIdParsesHexFieldsRejectsKnownIdsAndProbesUnboundDevices() throws Exception {
        SysfsTree sys = t6();
        sys.drivers().loadModule("e1000e");
        sys.drivers().loadModule("vfio-pci");
        String newId = DRV + "vfio-pci/new_id";
        assertThat(sys.write(newId, "8086").error()).isEqualTo(Errno.EINVAL);
        assertThat(sys.write(newId, "8086,10d3").error()).isEqualTo(Errno.EINVAL);
        assertThat(sys.write(DRV + "e1000e/new_id", "8086 10d3").error()).isEqualTo(Errno.EEXIST);
        assertThat(sys.write(DRV + "e1000e/new_id", "0x8086 0x10d3 ffffffff ffffffff 0 0 3").ok()).isTrue(); // 7 fields: no EEXIST
        assertThat(sys.write(DRV + "e1000e/new_id", "8086 1234 ffffffff ffffffff 0 0 99").error()).isEqualTo(Errno.EINVAL); // driver_data
        sys.write(DRV + "e1000e/unbind", E1);
        assertThat(sys.write(newId, "8086 10d3\n").count()).isEqualTo(10);
        assertThat(sys.readlink(DEV + E1 + "/driver")).hasValueSatisfying(l -> l.endsWith("/vfio-pci"));
        assertThat(sys.readlink(DEV + "0000:02:00.0/driver")).hasValueSatisfying(l -> l.endsWith("/e1000e")); // bound: untouched
        assertThat(sys.write(newId, "8086 10d3").error()).isEqualTo(Errno.EEXIST); // now a dynamic id
    }

    @Test
    void removeIdDropsOnlyDynamicIds() throws Exception {
        SysfsTree sys = t6();
        sys.drivers().loadModule("pci-stub");
        String rm = DRV + "pci-stub/remove_id";
        assertThat(sys.write(rm, "8086 10d3").error()).isEqualTo(Errno.ENODEV);
        assertThat(sys.write(rm, "x").error()).isEqualTo(Errno.EINVAL);
        sys.write(DRV + "pci-stub/new_id", "8086 10d3 ffffffff ffffffff 20000 ffffff");
        assertThat(sys.list(DRV + "pci-stub").orElseThrow()).contains(E1, "0000:00:02.0");
        assertThat(sys.write(rm, "8086 10d3 1 1").error()).isEqualTo(Errno.ENODEV); // subsystem ids differ
        assertThat(sys.write(rm, "8086 10d3").ok()).isTrue();
        assertThat(sys.write(rm, "8086 10d3").error()).isEqualTo(Errno.ENODEV);
        assertThat(sys.list(DRV + "pci-stub").orElseThrow()).contains(E1); // removing an id does not unbind
    }

    @Test
    void moduleIdsParameterAddsDynamicIds() throws Exception {
        SysfsTree sys = t6();
        sys.drivers().loadModule("vfio-pci", Map.of("ids", "8086:10d3,bogus"));
        assertThat(sys.list(DRV + "vfio-pci").orElseThrow()).contains("0000:00:02.0", E1, "0000:02:00.0");
        assertThat(sys.drivers().log()).anyMatch(m -> m.text().equals("vfio_pci: invalid id string \"bogus\""));
        assertThat(sys.drivers().log()).anyMatch(m -> m.text().equals("vfio_pci: add [8086:10d3[ffffffff:ffffffff]] class 0x000000/00000000"));
    }

    @Test
    void aDmaApiDriverCannotBindIntoAGroupVfioOwnsButDmaManagedDriversCan() throws Exception {
        SysfsTree sys = t6();
        sys.drivers().loadModule("vfio-pci");
        sys.drivers().loadModule("e1000e");
        sys.drivers().loadModule("pci-stub");
        int group = 6; // 01:00.0 alone
        assertThat(sys.drivers().groupViable(group)).isFalse();
        assertThat(sys.drivers().claimDmaOwner(group, "container")).isEqualTo(Errno.EPERM.negative());
        sys.write(DRV + "e1000e/unbind", E1);
        assertThat(sys.drivers().groupViable(group)).isTrue();
        assertThat(sys.drivers().claimDmaOwner(group, "container")).isZero();
        assertThat(sys.write(DRV + "e1000e/bind", E1).error()).isEqualTo(Errno.EBUSY);
        assertThat(sys.write("/sys/bus/pci/drivers_probe", E1).error()).isEqualTo(Errno.EBUSY);
        sys.write(DEV + E1 + "/driver_override", "pci-stub");
        assertThat(sys.write(DRV + "pci-stub/bind", E1).ok()).isTrue();
        sys.write(DRV + "pci-stub/unbind", E1);
        sys.write(DEV + E1 + "/driver_override", "\n");
        sys.drivers().releaseDmaOwner(group, "container");
        assertThat(sys.write(DRV + "e1000e/bind", E1).ok()).isTrue();
    }

    @Test
    void uioPciGenericTakesTheDefaultDomainLikeADmaApiDriver() throws Exception {
        SysfsTree sys = t6();
        sys.drivers().loadModule("uio_pci_generic");
        assertThat(sys.drivers().claimDmaOwner(6, "c")).isZero();
        sys.write(DEV + E1 + "/driver_override", "uio_pci_generic");
        assertThat(sys.write(DRV + "uio_pci_generic/bind", E1).error()).isEqualTo(Errno.EBUSY);
        sys.drivers().releaseDmaOwner(6, "c");
        assertThat(sys.write(DRV + "uio_pci_generic/bind", E1).ok()).isTrue(); // e1000e masks INTx
        assertThat(sys.drivers().groupViable(6)).isFalse();
    }

    @Test
    void resetTakesOnlyOneAndResetMethodSelectsAmongUsableMethods() throws Exception {
        SysfsTree sys = t6();
        String d = DEV + E1 + "/";
        assertThat(sys.read(d + "reset_method").text()).isEqualTo("pm bus\n");
        assertThat(sys.write(d + "reset", "1\n").count()).isEqualTo(2);
        assertThat(sys.write(d + "reset", "2").error()).isEqualTo(Errno.EINVAL);
        assertThat(sys.write(d + "reset", "yes").error()).isEqualTo(Errno.EINVAL);
        assertThat(sys.write(d + "reset_method", "flr").error()).isEqualTo(Errno.EINVAL); // no FLR on e1000e
        assertThat(sys.write(d + "reset_method", "bogus").error()).isEqualTo(Errno.EINVAL);
        assertThat(sys.write(d + "reset_method", "bus pm\n").ok()).isTrue();
        assertThat(sys.read(d + "reset_method").text()).isEqualTo("bus pm\n");
        assertThat(sys.write(d + "reset_method", "\n").ok()).isTrue();
        assertThat(sys.read(d + "reset_method").data()).isEmpty();
        assertThat(sys.write(d + "reset", "1").error()).isEqualTo(Errno.ENOTTY);
        assertThat(sys.write(d + "reset_method", "default").ok()).isTrue();
        assertThat(sys.read(d + "reset_method").text()).isEqualTo("pm bus\n");
        assertThat(sys.exists(DEV + "0000:00:1f.2/reset")).isFalse();
    }

    @Test
    void groupTypeChangesOnlyForAnUnboundSingleDeviceGroup() throws Exception {
        SysfsTree sys = t6();
        sys.drivers().loadModule("e1000e");
        assertThat(sys.write("/sys/kernel/iommu_groups/6/type", "bogus").error()).isEqualTo(Errno.EINVAL);
        assertThat(sys.write("/sys/kernel/iommu_groups/5/type", "identity").error()).isEqualTo(Errno.EINVAL); // 3 devices
        assertThat(sys.write("/sys/kernel/iommu_groups/6/type", "identity").error()).isEqualTo(Errno.EBUSY);
        assertThat(sys.write("/sys/kernel/iommu_groups/6/type", "DMA-FQ\n").ok()).isTrue(); // DMA -> DMA-FQ while bound
        assertThat(sys.read("/sys/kernel/iommu_groups/6/type").text()).isEqualTo("DMA-FQ\n");
        sys.write(DRV + "e1000e/unbind", E1);
        assertThat(sys.write("/sys/kernel/iommu_groups/6/type", "identity").ok()).isTrue();
        assertThat(sys.read("/sys/kernel/iommu_groups/6/type").text()).isEqualTo("identity\n");
    }
}
