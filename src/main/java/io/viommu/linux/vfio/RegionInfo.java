package io.viommu.linux.vfio;

/**
 * {@code VFIO_DEVICE_GET_REGION_INFO} ({@code struct vfio_region_info}): where a region lives in
 * the device file ({@code offset}, index << 40 for vfio-pci), its size and what may be done
 * with it.
 */
public record RegionInfo(int index, int flags, long size, long offset) {
    public static final int FLAG_READ = 1 << 0;
    public static final int FLAG_WRITE = 1 << 1;
    public static final int FLAG_MMAP = 1 << 2;
    public static final int FLAG_CAPS = 1 << 3;
}
