package io.viommu.linux.driver;

import io.viommu.pci.PciRegs;
import java.util.List;

/**
 * {@code vfio-pci} (module vfio_pci, drivers/vfio/pci/vfio_pci.c): an override-only id table,
 * driver_managed_dma; probe refuses non-type-0 headers and devices without a group (-EINVAL)
 * and PFs with VFs enabled (-EBUSY); sriov_configure -ENOENT unless {@code enable_sriov} is
 * set (at load or in /sys/module/vfio_pci/parameters); module parameter {@code ids=} ({@code vfio_pci_fill_ids}).
 */
final class VfioPciDriver {
    private VfioPciDriver() {
    }

    static final DriverModule MODULE = DriverModule.pciDriver("vfio_pci", Drivers.VFIO_PCI, params -> {
        return new PciDriver(Drivers.VFIO_PCI, "vfio_pci", true,
                List.of(PciDeviceId.overrideOnly(PciDeviceId.ANY, PciDeviceId.ANY)),
                VfioPciDriver::probe,
                (c, dev) -> c.disableSriov(dev),
                (c, pf, n) -> {
                    // vfio_pci_sriov_configure reads the parameter now (0644: settable at run time)
                    if (!c.moduleFlag("vfio_pci", "enable_sriov")) {
                        return Errno.ENOENT.negative();
                    }
                    return c.sriovConfigureSimple(pf, n);
                });
    }).dependsOn("vfio", "vfio_pci_core").onRegistered((d, params, core) -> Drivers.addIds(d, params, core, "vfio_pci: "));

    /** {@code vfio_pci_probe} / {@code vfio_pci_core_register_device}. */
    private static int probe(DriverCore core, PciDevice dev) {
        if (dev.function().headerLayout() != PciRegs.HEADER_TYPE_NORMAL) {
            return Errno.EINVAL.negative();
        }
        if (dev.sriov() != null && dev.sriov().numVfs() > 0) {
            core.devLog(KernelMessage.WARNING, dev, "Cannot bind to PF with SR-IOV enabled");
            return Errno.EBUSY.negative();
        }
        if (core.groupOf(dev).isEmpty() && !core.moduleFlag("vfio", "enable_unsafe_noiommu_mode")) {
            return Errno.EINVAL.negative(); // vfio_group_find_or_alloc: no group and no noiommu
        }
        return 0;
    }
}
