package io.viommu.linux;

import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.IommuGroupView;
import io.viommu.linux.driver.ReservedRegion;
import io.viommu.linux.iommu.DomainType;
import io.viommu.linux.iommu.IommuGroup;
import io.viommu.linux.iommu.ReservedRegions;
import io.viommu.linux.iommu.IommuGroups;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Topology;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The kernel's IOMMU groups ({@link IommuGroups}, Linux's pci_device_group) as the driver core
 * and sysfs see them. Devices the driver core adds after boot (SR-IOV VFs) are probed into groups
 * by the same algorithm and numbering as at boot ({@link Kernel#probeDevice}); removed devices
 * leave their group and an emptied group frees its id ({@link Kernel#releaseDevice}).
 */
final class KernelGroupView implements IommuGroupView {
    private final Kernel kernel;

    KernelGroupView(Kernel kernel) {
        this.kernel = kernel;
    }

    private Optional<IommuGroup> group(int id) {
        return kernel.groups().group(id);
    }

    @Override
    public OptionalInt groupOf(RequesterId rid) {
        return kernel.groups().groupOf(rid).map(g -> OptionalInt.of(g.id())).orElse(OptionalInt.empty());
    }

    @Override
    public List<Integer> groups() {
        return kernel.groups().groups().stream().map(IommuGroup::id).toList();
    }

    /** The default domain's sysfs name; null for a group without one. */
    @Override
    public String type(int group) {
        return group(group).map(IommuGroup::defaultDomain).map(DomainType::sysfsName).orElse(null);
    }

    @Override
    public List<RequesterId> members(int group) {
        return group(group).map(IommuGroup::devices).orElse(List.of());
    }

    /** iommu_get_group_resv_regions: the one rule, {@link ReservedRegions#ofGroup}. */
    @Override
    public List<ReservedRegion> reservedRegions(int group) {
        return group(group).map(g -> ReservedRegions.ofGroup(kernel.topology(), kernel.dmarTable(), g.devices()))
                .orElse(List.of());
    }

    /** iommu_probe_device from the PCI bus notifier (BUS_NOTIFY_ADD_DEVICE). */
    @Override
    public void deviceAdded(Topology topology, RequesterId rid) {
        topology.function(rid).ifPresent(f -> kernel.probeDevice(topology, f));
    }

    /** iommu_release_device (BUS_NOTIFY_REMOVED_DEVICE). */
    @Override
    public void deviceRemoved(Topology topology, RequesterId rid) {
        kernel.releaseDevice(rid);
    }

    /**
     * iommu_change_dev_def_domain after sysfs's checks: identity, DMA, DMA-FQ, or auto (what the
     * device would get at probe: device_def_domain_type, else the default type).
     */
    @Override
    public int changeDefaultDomain(int group, String type) {
        Optional<IommuGroup> g = group(group);
        if (g.isEmpty()) {
            return Errno.EINVAL.negative();
        }
        DomainType t = switch (type) {
            case "identity" -> DomainType.IDENTITY;
            case "DMA" -> DomainType.DMA;
            case "DMA-FQ" -> DomainType.DMA_FQ;
            case "auto" -> kernel.defaultDomainFor(kernel.topology(), g.get());
            default -> null;
        };
        if (t == null) {
            return Errno.EINVAL.negative();
        }
        g.get().setDefaultDomain(t);
        return 0;
    }
}
