package io.viommu.linux.driver;

import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code nvme} (drivers/nvme/host/pci.c): the NVMe class and QEMU's 1b36:0010;
 * sriov_configure = pci_sriov_configure_simple; a DMA-API driver ({@link DriverDma#nvme()}).
 * A VF of QEMU's nvme is offline until the PF assigns it resources (NVMe virtualization
 * management, which Linux does not do), so its probe ends with "Device not ready; aborting
 * initialisation, CSTS=0x2" and the driver lets go of it, as in the t5 capture. Controller
 * instance numbers (nvme0, nvme1, ...) are per driver, so per kernel.
 */
final class NvmeDriver {
    private NvmeDriver() {
    }

    private static final int REDHAT = 0x1b36;
    /** NVME_QUIRK_BOGUS_NID, the driver_data of QEMU's controller entry. */
    private static final long NVME_QUIRK_BOGUS_NID = 1L << 18;
    private static final int CLASS_STORAGE_EXPRESS = 0x010802;

    static final DriverModule MODULE = DriverModule.pciDriver("nvme", "nvme", params -> create());

    private static PciDriver create() {
        BitSet instances = new BitSet();
        Map<PciDevice, Integer> ctrl = new HashMap<>();
        return DriverDma.nvme().around(new PciDriver("nvme", "nvme", false, List.of(
                PciDeviceId.device(REDHAT, 0x0010, NVME_QUIRK_BOGUS_NID),
                PciDeviceId.classMatch(CLASS_STORAGE_EXPRESS, 0xffffff)),
                (c, dev) -> probe(c, dev, instances, ctrl),
                (c, dev) -> {
                    Integer n = ctrl.remove(dev);
                    if (n != null) {
                        instances.clear(n);
                    }
                },
                DriverCore::sriovConfigureSimple));
    }

    private static int probe(DriverCore core, PciDevice dev, BitSet instances, Map<PciDevice, Integer> ctrl) {
        int n = instances.nextClearBit(0);
        instances.set(n);
        ctrl.put(dev, n);
        if (dev.isVirtfn() && "nvme-vf".equals(dev.function().qemuType())) {
            // nvme_reset_work: CSTS.CFS on an offline secondary controller; nvme_remove_dead_ctrl
            // then releases the driver (device_release_driver) from a work item.
            core.schedule(() -> {
                if (dev.driver() != null && dev.driver().name().equals("nvme")) {
                    core.log(KernelMessage.ERR, "nvme nvme" + n + ": Device not ready; aborting initialisation, CSTS=0x2");
                    core.deviceReleaseDriver(dev);
                }
            });
        }
        return 0;
    }
}
