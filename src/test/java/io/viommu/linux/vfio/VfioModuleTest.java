package io.viommu.linux.vfio;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import io.viommu.linux.driver.Errno;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import java.util.List;
import org.junit.jupiter.api.Test;

/** VFIO and UIO exist in the kernel while their modules are loaded, as on Linux. */
class VfioModuleTest {
    static Kernel boot() throws Exception {
        return Kernel.boot(MachineBuilder.fromCommandLine(List.of("-nodefaults", "-m", "256M", "-device", "intel-iommu",
                "-device", "edu"), MachineLog.SILENT));
    }

    @Test
    void modprobeVfioPciBringsVfioAndType1AndDevVfioWithIt() throws Exception {
        Kernel k = boot();
        assertThat(k.vfio()).isEmpty();
        assertThat(k.sysfs().exists("/sys/module/vfio")).isFalse();
        assertThat(k.drivers().loadModule("vfio-pci")).isZero();
        assertThat(k.drivers().modules()).containsExactly("vfio", "vfio_iommu_type1", "vfio_pci_core", "vfio_pci");
        assertThat(k.vfio()).isPresent();
        assertThat(k.vfio().get().devNodes()).extracting(DevNode::name).containsExactly("vfio");
        assertThat(k.dmesg()).contains("VFIO - User Level meta-driver version: 0.3");
        assertThat(k.sysfs().exists("/sys/module/vfio_iommu_type1")).isTrue();
    }

    @Test
    void vfioCannotBeRemovedWhileVfioPciUsesItAndGoesAwayAfter() throws Exception {
        Kernel k = boot();
        k.drivers().loadModule("vfio-pci");
        assertThat(k.drivers().unloadModule("vfio")).isEqualTo(Errno.EBUSY.negative());
        assertThat(k.drivers().unloadModule("vfio_pci")).isZero();
        assertThat(k.drivers().unloadModule("vfio_pci_core")).isZero();
        assertThat(k.drivers().unloadModule("vfio_iommu_type1")).isZero();
        assertThat(k.drivers().unloadModule("vfio")).isZero();
        assertThat(k.vfio()).isEmpty();
    }

    @Test
    void uioComesWithUioPciGeneric() throws Exception {
        Kernel k = boot();
        assertThat(k.uio()).isEmpty();
        k.drivers().loadModule("uio_pci_generic");
        assertThat(k.drivers().modules()).containsExactly("uio", "uio_pci_generic");
        assertThat(k.uio()).isPresent();
    }

    @Test
    void userMemoryIsAboveTheKernelsPageRegion() throws Exception {
        Kernel k = boot();
        PageFrames f = k.userMemory();
        assertThat(f.allocate().value()).isEqualTo(Kernel.USER_MEMORY_BASE);
        assertThat(f.contains(new io.viommu.memory.PhysAddr(0x0500_0000L + 0x0800_0000L - 4096))).isTrue();
        assertThat(f.contains(new io.viommu.memory.PhysAddr(0x0500_0000L - 4096))).isFalse();
        // disjoint from the page region the intel-iommu driver takes its tables from
        assertThat(k.iommuDriver().pages().end()).isLessThanOrEqualTo(Kernel.USER_MEMORY_BASE);
    }
}
