package io.viommu.vtd.notify;

/**
 * What a consumer wants to hear about (QEMU IOMMUNotifierFlag).
 * <ul>
 * <li>{@link #MAP} with {@link #UNMAP}: a shadowing consumer (VFIO): it is told every mapping
 *     and every change, kept exact by diffing against what it was told. Needs caching mode:
 *     without CM the guest does not invalidate when it makes an entry present.</li>
 * <li>{@link #UNMAP} alone: a consumer that caches translations it asked for (vhost without
 *     ATS): told which ranges the guest invalidated in the IOTLB.</li>
 * <li>{@link #DEVIOTLB_UNMAP}: a device with a device-IOTLB (ATS): told what the guest's
 *     device-TLB invalidation descriptors name. Needs device-iotlb.</li>
 * </ul>
 */
public enum NotifierFlag {
    MAP, UNMAP, DEVIOTLB_UNMAP
}
