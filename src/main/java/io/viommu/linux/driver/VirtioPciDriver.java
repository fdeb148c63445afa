package io.viommu.linux.driver;

import java.util.List;

/**
 * {@code virtio-pci} (module virtio_pci, drivers/virtio/virtio_pci_common.c): vendor 1af4, probe
 * only device ids 0x1000..0x107f ({@code virtio_pci_probe}'s range check); a DMA-API driver
 * (virtqueues, {@link DriverDma#virtio()}).
 */
final class VirtioPciDriver {
    private VirtioPciDriver() {
    }

    private static final int QUMRANET = 0x1af4;

    static final DriverModule MODULE = DriverModule.pciDriver("virtio_pci", "virtio-pci",
            params -> DriverDma.virtio().around(new PciDriver("virtio-pci", "virtio_pci", false,
                    List.of(PciDeviceId.device(QUMRANET, PciDeviceId.ANY)),
                    (c, dev) -> {
                        int d = dev.function().deviceId();
                        return d < 0x1000 || d > 0x107f ? Errno.ENODEV.negative() : 0;
                    }, null, null)));
}
