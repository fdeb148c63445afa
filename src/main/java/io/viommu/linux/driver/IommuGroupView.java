package io.viommu.linux.driver;

import io.viommu.pci.RequesterId;
import io.viommu.pci.Topology;
import java.util.List;
import java.util.OptionalInt;

/**
 * What the driver core and sysfs need from the IOMMU group code (Linux drivers/iommu/iommu.c):
 * which group a device is in, each group's members, default domain type and reserved regions.
 * The group computation itself lives elsewhere; the kernel model talks to it only through this
 * view.
 *
 * <p>Life cycle, as Linux's {@code iommu_probe_device}/{@code iommu_release_device}: the view is
 * built over the boot topology and must already place every boot device. The driver core then
 * calls {@link #deviceAdded} for each device it adds later (SR-IOV VFs, in VF order) with the
 * re-scanned topology, and {@link #deviceRemoved} when it removes one. Linux never renumbers a
 * group: existing assignments must stay, a new group takes the lowest free number.
 */
public interface IommuGroupView {
    /** The group of a device, empty when it has none (no IOMMU, or not translated). */
    OptionalInt groupOf(RequesterId rid);

    /** Every group number, ascending. */
    List<Integer> groups();

    /**
     * The default domain type as sysfs names it: {@code identity}, {@code DMA}, {@code DMA-FQ},
     * {@code unmanaged}, {@code blocked}.
     */
    String type(int group);

    /** Members in the order they were added. */
    List<RequesterId> members(int group);

    /** Reserved regions, sorted by start, as {@code reserved_regions} lists them. */
    List<ReservedRegion> reservedRegions(int group);

    /** A device appeared (an SR-IOV VF): assign it a group. {@code topology} already contains it. */
    default void deviceAdded(Topology topology, RequesterId rid) {
    }

    /** A device went away: drop it from its group, freeing the group when it was the last member. */
    default void deviceRemoved(Topology topology, RequesterId rid) {
    }

    /**
     * Changes a group's default domain type after sysfs checked the request
     * ({@code iommu_change_dev_def_domain}); {@code type} is {@code identity}, {@code DMA},
     * {@code DMA-FQ} or {@code auto}. Returns 0 or a negative errno. The default refuses.
     */
    default int changeDefaultDomain(int group, String type) {
        return Errno.EINVAL.negative();
    }
}
