package io.viommu.linux.iommu;

import io.viommu.linux.acpi.DmarTable;
import io.viommu.linux.driver.ReservedRegion;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Topology;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The reserved regions of an IOMMU group on intel-iommu, the one place the rule lives: sysfs's
 * {@code /sys/kernel/iommu_groups/N/reserved_regions} (the kernel's group view), the driver's
 * direct mappings and IOVA reservations ({@link IntelIommuDriver}) and VFIO type1's valid IOVA
 * ranges all read it from here.
 *
 * <p>Linux 6.1: drivers/iommu/iommu.c iommu_get_group_resv_regions (every member's regions,
 * merged by iommu_insert_device_resv_regions / iommu_insert_resv_region) over
 * drivers/iommu/intel/iommu.c intel_iommu_get_resv_regions (per device).
 */
public final class ReservedRegions {
    private static final int CLASS_BRIDGE_ISA = 0x0601;
    private static final int CLASS_SERIAL_USB = 0x0c03;
    private static final int BASE_CLASS_DISPLAY = 0x03;

    private ReservedRegions() {
    }

    /**
     * iommu_get_group_resv_regions: each member's regions inserted in turn, so the result is
     * sorted by start (then by type) and overlapping or adjacent regions of one type are merged.
     * Members missing from {@code topology} are skipped.
     */
    public static List<ReservedRegion> ofGroup(Topology topology, DmarTable dmar, List<RequesterId> members) {
        List<ReservedRegion> out = new ArrayList<>();
        for (RequesterId rid : members) {
            Optional<Topology.Function> f = topology.function(rid);
            if (f.isEmpty()) {
                continue;
            }
            for (ReservedRegion r : ofDevice(topology, dmar, f.get())) {
                insert(out, r);
            }
        }
        return out;
    }

    /**
     * intel_iommu_get_resv_regions for one device, in Linux's order: every RMRR with an active
     * scope device that is the device or a bridge above it (direct; direct-relaxable for USB and
     * graphics devices, device_rmrr_is_relaxable), the ISA DMA window 0..16 MiB for an ISA bridge
     * (CONFIG_INTEL_IOMMU_FLOPPY_WA, set in Debian's config; direct-relaxable), and the
     * interrupt window IOAPIC_RANGE_START..IOAPIC_RANGE_END (msi).
     */
    public static List<ReservedRegion> ofDevice(Topology topology, DmarTable dmar, Topology.Function f) {
        List<ReservedRegion> out = new ArrayList<>();
        int cls = f.classCode();
        if (dmar != null) {
            for (DmarTable.Structure rmrr : dmar.of(DmarTable.TYPE_RMRR)) {
                for (DmarTable.Scope sc : rmrr.scopes()) { // for_each_active_dev_scope: one region per match
                    Optional<Topology.Function> d = DeviceScope.resolve(topology, sc);
                    if (d.isPresent() && (d.get().rid().equals(f.rid()) || DeviceScope.downstreamOf(f, d.get()))) {
                        boolean relaxable = (cls >> 8) == CLASS_SERIAL_USB || (cls >> 16) == BASE_CLASS_DISPLAY;
                        out.add(new ReservedRegion(rmrr.a(), rmrr.b(),
                                relaxable ? ReservedRegion.Type.DIRECT_RELAXABLE : ReservedRegion.Type.DIRECT));
                    }
                }
            }
        }
        if ((cls >> 8) == CLASS_BRIDGE_ISA) {
            out.add(ReservedRegion.INTEL_ISA_FLOPPY);
        }
        out.add(ReservedRegion.INTEL_MSI);
        return out;
    }

    /**
     * iommu_insert_resv_region: the new region goes before the first one that starts later (or at
     * the same address with a type not lower), then regions of the new one's type that overlap
     * or touch are merged into the first of them; regions of other types are left as they are.
     */
    static void insert(List<ReservedRegion> regions, ReservedRegion add) {
        int at = 0;
        while (at < regions.size()) {
            ReservedRegion it = regions.get(at);
            if (add.start() < it.start() || (add.start() == it.start() && add.type().compareTo(it.type()) <= 0)) {
                break;
            }
            at++;
        }
        regions.add(at, add);
        List<ReservedRegion> stack = new ArrayList<>();
        for (ReservedRegion it : regions) {
            int top = -1;
            if (it.type() == add.type()) {
                for (int i = stack.size() - 1; i >= 0; i--) {
                    if (stack.get(i).type() == it.type()) {
                        top = i;
                        break;
                    }
                }
            }
            if (top < 0 || it.start() > stack.get(top).end() + 1) {
                stack.add(it);
            } else {
                ReservedRegion t = stack.get(top);
                stack.set(top, new ReservedRegion(t.start(), Math.max(t.end(), it.end()), t.type()));
            }
        }
        regions.clear();
        regions.addAll(stack);
    }
}
