package io.viommu.linux.driver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The module registry drivers add themselves to ({@link Drivers}, {@link DriverModule}). */
class DriverRegistryTest {
    private static final List<String> PCI_DRIVERS = List.of("pcieport", "nvme", "e1000e", "e1000", "igb", "igbvf",
            "virtio-pci", "vfio-pci", "pci-stub", "uio_pci_generic");

    @Test
    void everyRegisteredDriverIsMadeByItsModuleUnderItsOwnName() {
        for (String name : PCI_DRIVERS) {
            PciDriver d = Drivers.create(name, Map.of(), null);
            assertThat(d.name()).isEqualTo(name);
            if (!name.equals(Drivers.PCIEPORT)) {
                assertThat(Drivers.driverOfModule(d.module())).as(name).isEqualTo(name);
                assertThat(Drivers.known(Drivers.moduleName(name))).as(name).isTrue();
            }
        }
        assertThat(Drivers.builtinModules()).containsExactly(Drivers.PCIEPORT);
        assertThatThrownBy(() -> Drivers.create("no-such-driver", Map.of(), null))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void eachDriverIsANewInstanceSoPerKernelStateIsNotShared() {
        assertThat(Drivers.create("nvme", Map.of(), null)).isNotSameAs(Drivers.create("nvme", Map.of(), null));
    }

    @Test
    void dependenciesAreRegisteredModules() {
        assertThat(Drivers.dependencies("vfio_pci")).containsExactly("vfio", "vfio_pci_core");
        assertThat(Drivers.dependencies("uio_pci_generic")).containsExactly("uio");
        assertThat(Drivers.softDependenciesPost("vfio")).containsExactly("vfio_iommu_type1");
        for (String m : List.of("vfio_pci", "vfio_pci_core", "vfio_iommu_type1", "vfio_virqfd", "uio_pci_generic")) {
            assertThat(Drivers.dependencies(m)).allSatisfy(dep -> assertThat(Drivers.known(dep)).as(dep).isTrue());
        }
    }

    @Test
    void aModuleCannotBeRegisteredTwice() {
        assertThatThrownBy(() -> Drivers.register(DriverModule.library("vfio")))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
