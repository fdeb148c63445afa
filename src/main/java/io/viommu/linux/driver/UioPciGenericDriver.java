package io.viommu.linux.driver;

import io.viommu.pci.PciRegs;

/**
 * {@code uio_pci_generic} (drivers/uio/uio_pci_generic.c): no id table; takes the default DMA
 * domain like any DMA-API driver but maps nothing itself; probe -ENODEV when the function has
 * an INTx pin but cannot mask INTx.
 */
final class UioPciGenericDriver {
    private UioPciGenericDriver() {
    }

    static final DriverModule MODULE = DriverModule.pciDriver("uio_pci_generic", "uio_pci_generic",
            params -> new PciDriver("uio_pci_generic", "uio_pci_generic", false, null,
                    UioPciGenericDriver::probe, null, null))
            .dependsOn("uio");

    /** {@code probe}: a function with an INTx pin must support INTx masking. */
    private static int probe(DriverCore core, PciDevice dev) {
        var cfg = core.config();
        var rid = dev.rid();
        int pin = (int) cfg.read(rid, PciRegs.INTERRUPT_PIN, 1);
        if (pin == 0) {
            core.devLog(KernelMessage.WARNING, dev, "No IRQ assigned to device: no support for interrupts?");
            return 0;
        }
        // pci_intx_mask_supported: toggle INTx Disable, see whether it sticks, restore.
        long orig = cfg.read(rid, PciRegs.COMMAND, 2);
        cfg.write(rid, PciRegs.COMMAND, orig ^ PciRegs.COMMAND_INTX_DISABLE, 2);
        long now = cfg.read(rid, PciRegs.COMMAND, 2);
        boolean supported = ((now ^ orig) & PciRegs.COMMAND_INTX_DISABLE) != 0
                && ((now ^ orig) & ~PciRegs.COMMAND_INTX_DISABLE) == 0;
        cfg.write(rid, PciRegs.COMMAND, orig, 2);
        return supported ? 0 : Errno.ENODEV.negative();
    }
}
