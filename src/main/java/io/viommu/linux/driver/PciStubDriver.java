package io.viommu.linux.driver;

/**
 * {@code pci-stub} (module pci_stub, drivers/pci/pci-stub.c): no id table (ids= / new_id /
 * override only), driver_managed_dma; probe logs "claimed by stub".
 */
final class PciStubDriver {
    private PciStubDriver() {
    }

    static final DriverModule MODULE = DriverModule.pciDriver("pci_stub", "pci-stub",
            params -> new PciDriver("pci-stub", "pci_stub", true, null,
                    (c, dev) -> {
                        c.devLog(KernelMessage.INFO, dev, "claimed by stub");
                        return 0;
                    }, null, null))
            .onRegistered((d, params, core) -> Drivers.addIds(d, params, core, "pci-stub: "));
}
