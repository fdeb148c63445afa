package io.viommu.pci;

/**
 * Where an IOMMU sees a function's DMA come from, as QEMU 7.2's
 * {@code pci_device_iommu_address_space} (hw/pci/pci.c) decides it: walking up from the
 * function's bus, each conventional (non-Express) bus masks the ids below it — behind a
 * PCIe-to-PCI bridge (pcie-pci-bridge: an Express bridge of type 7) as (its secondary bus,
 * devfn 00.0), PCIe-to-PCI/X bridge spec 2.3; behind any other bridge (pci-bridge) as the
 * bridge's own bus and devfn. The outermost alias wins. Express buses forward ids unchanged.
 * Linux's {@code pci_for_each_dma_alias} walks the same rules (linux.driver.DmaAliases).
 * Bus numbers are read when asked: the guest numbers buses after the devices are realized.
 *
 * @param bus   the bus whose number is the alias's bus
 * @param devfn the alias's devfn on it
 */
public record DmaAlias(PciBus bus, int devfn) {
    /** The alias of a function at {@code devfn} on {@code bus} (itself when no conventional bus is on the way). */
    public static DmaAlias of(PciBus bus, int devfn) {
        PciBus aliasBus = bus;
        int aliasDevfn = devfn;
        for (PciBus b = bus; b != null && b.parentBridge() != null; b = b.parentBridge().bus()) {
            if (!b.isExpress()) {
                PciBridge parent = b.parentBridge();
                if (parent.portType() == PcieCapability.PortType.PCIE_TO_PCI_BRIDGE) {
                    aliasBus = b;
                    aliasDevfn = 0;
                } else {
                    aliasBus = parent.bus();
                    aliasDevfn = parent.devfn();
                }
            }
        }
        return new DmaAlias(aliasBus, aliasDevfn);
    }

    /** Whether the alias differs from the function's own place. */
    public boolean aliased(PciBus ownBus, int ownDevfn) {
        return bus != ownBus || devfn != ownDevfn;
    }

    public RequesterId rid() {
        return RequesterId.of(bus.busNumber(), devfn);
    }
}
