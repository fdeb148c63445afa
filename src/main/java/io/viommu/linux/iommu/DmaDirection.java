package io.viommu.linux.iommu;

import io.viommu.vtd.notify.Permission;

/**
 * enum dma_data_direction, with the IOMMU permission dma_info_to_prot gives each: the device
 * reads a TO_DEVICE buffer and writes a FROM_DEVICE one.
 */
public enum DmaDirection {
    BIDIRECTIONAL(Permission.READ_WRITE),
    TO_DEVICE(Permission.READ_ONLY),
    FROM_DEVICE(Permission.WRITE_ONLY);

    private final Permission permission;

    DmaDirection(Permission permission) {
        this.permission = permission;
    }

    public Permission permission() {
        return permission;
    }
}
