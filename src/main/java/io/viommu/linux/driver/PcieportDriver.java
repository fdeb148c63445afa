package io.viommu.linux.driver;

import io.viommu.pci.PcieCapability;
import java.util.List;

/**
 * {@code pcieport} (built in, drivers/pci/pcie/portdrv_pci.c): PCI bridge class, binds only
 * root, upstream and downstream ports and event collectors ({@code pcie_portdrv_probe};
 * -ENODEV for PCIe-to-PCI and conventional bridges); driver_managed_dma.
 */
final class PcieportDriver {
    private PcieportDriver() {
    }

    static final DriverModule MODULE = DriverModule.builtinPciDriver(Drivers.PCIEPORT,
            params -> new PciDriver(Drivers.PCIEPORT, null, true, List.of(
                    PciDeviceId.classMatch(0x060400, 0xffffff), PciDeviceId.classMatch(0x060401, 0xffffff),
                    PciDeviceId.classMatch(0x080700, 0xffffff)),
                    PcieportDriver::probe, null, null));

    private static int probe(DriverCore core, PciDevice dev) {
        PcieCapability.PortType t = dev.function().portType();
        if (t == null || !(t == PcieCapability.PortType.ROOT_PORT || t == PcieCapability.PortType.UPSTREAM_PORT
                || t == PcieCapability.PortType.DOWNSTREAM_PORT || t == PcieCapability.PortType.RC_EVENT_COLLECTOR)) {
            return Errno.ENODEV.negative();
        }
        return 0;
    }
}
