package io.viommu.linux.iommu;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import io.viommu.linux.acpi.DmarTable;
import io.viommu.linux.driver.ReservedRegion.Type;
import io.viommu.linux.driver.ReservedRegion;
import io.viommu.machine.Machine;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Topology;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The one reserved-region rule, held to Linux 6.1:
 * <ul>
 * <li>drivers/iommu/intel/iommu.c, intel_iommu_get_resv_regions: for_each_rmrr_units /
 *     for_each_active_dev_scope, {@code if (i_dev != device && !is_downstream_to_pci_bridge(device,
 *     i_dev)) continue;}, type {@code device_rmrr_is_relaxable(device) ? IOMMU_RESV_DIRECT_RELAXABLE
 *     : IOMMU_RESV_DIRECT} (IS_USB_DEVICE / IS_GFX_DEVICE); under CONFIG_INTEL_IOMMU_FLOPPY_WA
 *     {@code (pdev->class >> 8) == PCI_CLASS_BRIDGE_ISA} adds {@code 0, 1UL << 24,
 *     IOMMU_RESV_DIRECT_RELAXABLE}; then {@code IOAPIC_RANGE_START, IOAPIC_RANGE_END -
 *     IOAPIC_RANGE_START + 1, IOMMU_RESV_MSI};</li>
 * <li>drivers/iommu/intel/iommu.c, is_downstream_to_pci_bridge: {@code pbridge->subordinate &&
 *     pbridge->subordinate->number <= pdev->bus->number && pbridge->subordinate->busn_res.end >=
 *     pdev->bus->number};</li>
 * <li>drivers/iommu/iommu.c, iommu_get_group_resv_regions -> iommu_insert_device_resv_regions ->
 *     iommu_insert_resv_region: insert before the first {@code nr->start < iter->start ||
 *     (nr->start == iter->start && nr->type <= iter->type)}, then merge regions of
 *     {@code new->type} unless {@code iter->start > top_end + 1}.</li>
 * </ul>
 * Before this rule existed once, the driver matched an RMRR only when its scope named the device
 * itself and neither copy merged.
 */
class ReservedRegionsTest {
    static final RequesterId ROOT_PORT = RequesterId.parse("00:03.0");
    static final RequesterId NIC = RequesterId.parse("01:00.0");
    static final RequesterId VGA = RequesterId.parse("00:04.0");

    static Machine machine() throws Exception {
        return MachineBuilder.fromCommandLine(List.of("-nodefaults", "-m", "256M", "-device", "intel-iommu",
                "-device", "pcie-root-port,id=rp,chassis=1,slot=1,addr=0x3", "-device", "e1000e,bus=rp",
                "-device", "VGA,addr=0x4"), MachineLog.SILENT);
    }

    static DmarTable.Scope scope(int type, RequesterId rid) {
        return new DmarTable.Scope(type, 0, rid.bus(), List.<int[]>of(new int[] {rid.device(), rid.function()}));
    }

    static DmarTable.Structure rmrr(long base, long limit, DmarTable.Scope... scopes) {
        return new DmarTable.Structure(DmarTable.TYPE_RMRR, 0, 0, 0, base, limit, List.of(scopes));
    }

    static DmarTable table(DmarTable.Structure... rmrrs) {
        return new DmarTable(0, 1, "", "", 0, "", 0, 38, 0, List.of(rmrrs), List.of());
    }

    @Test
    void anRmrrNamingABridgeCoversTheDevicesBelowItAndAdjacentRegionsOfOneTypeMerge() throws Exception {
        Topology t = Kernel.boot(machine()).topology();
        DmarTable dmar = table(
                rmrr(0x7000_0000L, 0x7000_ffffL, scope(DmarTable.SCOPE_BRIDGE, ROOT_PORT)),
                rmrr(0x7001_0000L, 0x7001_ffffL, scope(DmarTable.SCOPE_ENDPOINT, NIC)));
        // the NIC: the first RMRR through is_downstream_to_pci_bridge, the second by name; touching
        // (start == top_end + 1) regions of one type merge
        assertThat(ReservedRegions.ofGroup(t, dmar, List.of(NIC))).containsExactly(
                new ReservedRegion(0x7000_0000L, 0x7001_ffffL, Type.DIRECT), ReservedRegion.INTEL_MSI);
        // the root port: i_dev == device for the first; it is not below its own secondary bus
        assertThat(ReservedRegions.ofGroup(t, dmar, List.of(ROOT_PORT))).containsExactly(
                new ReservedRegion(0x7000_0000L, 0x7000_ffffL, Type.DIRECT), ReservedRegion.INTEL_MSI);
        // a device elsewhere: only the interrupt window
        assertThat(ReservedRegions.ofGroup(t, dmar, List.of(VGA))).containsExactly(ReservedRegion.INTEL_MSI);
    }

    @Test
    void graphicsDevicesGetRelaxableRmrrsAndTypesSortAtOneStart() throws Exception {
        Topology t = Kernel.boot(machine()).topology();
        DmarTable dmar = table(
                rmrr(0x6000_0000L, 0x6000_ffffL, scope(DmarTable.SCOPE_ENDPOINT, VGA)),
                rmrr(0x6000_0000L, 0x6000_0fffL, scope(DmarTable.SCOPE_ENDPOINT, NIC)));
        assertThat(ReservedRegions.ofGroup(t, dmar, List.of(VGA, NIC))).containsExactly(
                new ReservedRegion(0x6000_0000L, 0x6000_0fffL, Type.DIRECT), // same start: lower type first
                new ReservedRegion(0x6000_0000L, 0x6000_ffffL, Type.DIRECT_RELAXABLE),
                ReservedRegion.INTEL_MSI); // once per group: one type, the same range
    }

    @Test
    void aScopeOfTheWrongKindOrNamingNoDeviceIsNotActive() throws Exception {
        Topology t = Kernel.boot(machine()).topology();
        DmarTable dmar = table(
                rmrr(0x7000_0000L, 0x7000_ffffL, scope(DmarTable.SCOPE_ENDPOINT, ROOT_PORT)), // a bridge as endpoint
                rmrr(0x7100_0000L, 0x7100_ffffL, scope(DmarTable.SCOPE_ENDPOINT, RequesterId.parse("00:1e.0"))));
        assertThat(ReservedRegions.ofGroup(t, dmar, List.of(NIC, ROOT_PORT))).containsExactly(ReservedRegion.INTEL_MSI);
    }

    @Test
    void insertionMergesOverlapsOfTheNewTypeOnly() {
        List<ReservedRegion> l = new ArrayList<>();
        ReservedRegions.insert(l, new ReservedRegion(0x5000, 0x5fff, Type.DIRECT));
        ReservedRegions.insert(l, new ReservedRegion(0x1000, 0x3fff, Type.DIRECT));
        ReservedRegions.insert(l, new ReservedRegion(0x2000, 0x2fff, Type.RESERVED));
        ReservedRegions.insert(l, new ReservedRegion(0x3000, 0x4fff, Type.DIRECT)); // bridges the two DIRECT ones
        assertThat(l).containsExactly(new ReservedRegion(0x1000, 0x5fff, Type.DIRECT),
                new ReservedRegion(0x2000, 0x2fff, Type.RESERVED));
        ReservedRegions.insert(l, new ReservedRegion(0x7000, 0x7fff, Type.DIRECT)); // a gap: kept apart
        assertThat(l).hasSize(3);
    }
}
