package io.viommu.linux.vfio;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.driver.ReservedRegion;
import io.viommu.linux.iommu.IommuGroup;
import io.viommu.linux.iommu.ReservedRegions;
import io.viommu.pci.RequesterId;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Both users of the reserved-region rule ({@link ReservedRegions}) see the same regions:
 * <ul>
 * <li>sysfs: drivers/iommu/iommu.c iommu_group_show_resv_regions prints
 *     iommu_get_group_resv_regions as {@code "0x%016llx 0x%016llx %s\n"};</li>
 * <li>VFIO type1: drivers/vfio/vfio_iommu_type1.c vfio_iommu_type1_attach_group takes
 *     iommu_get_group_resv_regions and vfio_iommu_resv_exclude cuts every region out of the
 *     valid IOVA list except {@code IOMMU_RESV_DIRECT_RELAXABLE} ({@code if (resv->type ==
 *     IOMMU_RESV_DIRECT_RELAXABLE) continue;});</li>
 * <li>the intel-iommu driver's own use (direct mappings, iova_reserve_iommu_regions).</li>
 * </ul>
 * The q35 LPC function 00:1f.0 is an ISA bridge, so its group also has the floppy window
 * (as the t6 capture's "RESV 5" line shows for real Linux 6.1).
 */
class ReservedRegionCallersTest {
    @Test
    void sysfsAndTheDriverReadTheOneRuleForTheLpcGroup() throws Exception {
        VfioBed bed = VfioBed.standard();
        int lpc = bed.groupOf("0000:00:1f.0");
        IommuGroup g = bed.kernel.groups().group(lpc).orElseThrow();
        List<ReservedRegion> rule = ReservedRegions.ofGroup(bed.kernel.topology(), bed.kernel.dmarTable(), g.devices());
        assertThat(rule).containsExactly(ReservedRegion.INTEL_ISA_FLOPPY, ReservedRegion.INTEL_MSI);
        String sysfs = bed.kernel.sysfs().read("/sys/kernel/iommu_groups/" + lpc + "/reserved_regions").text();
        assertThat(sysfs).isEqualTo("0x0000000000000000 0x0000000000ffffff direct-relaxable\n"
                + "0x00000000fee00000 0x00000000feefffff msi\n");
        assertThat(bed.driver.reservedRegions(g)).isEqualTo(rule);
        assertThat(bed.core.groups().reservedRegions(lpc)).isEqualTo(rule);
    }

    @Test
    void vfioOnTheLpcGroupKeepsTheRelaxableFloppyWindowValid() throws Exception {
        VfioBed bed = VfioBed.standard();
        int lpc = bed.groupOf("0000:00:1f.0");
        for (RequesterId rid : bed.kernel.groups().group(lpc).orElseThrow().devices()) {
            if (!rid.equals(RequesterId.parse("00:1f.0"))) {
                bed.bindVfio("0000:" + rid);
            }
        }
        VfioBed.Open o = bed.open("0000:00:1f.0");
        assertThat(o.container().iommuInfo().iovaRanges()).containsExactly(new IovaRange(0, 0xfedf_ffffL),
                new IovaRange(0xfef0_0000L, (1L << 39) - 1));
    }

    @Test
    void vfioValidIovaRangesAreTheApertureMinusTheNonRelaxableRegions() throws Exception {
        VfioBed bed = VfioBed.standard();
        String edu = "0000:00:01.0";
        VfioBed.Open o = bed.open(edu);
        IommuGroup g = bed.kernel.groups().groupOf(RequesterId.parse("00:01.0")).orElseThrow();
        assertThat(bed.driver.reservedRegions(g)).containsExactly(ReservedRegion.INTEL_MSI);
        assertThat(o.container().iommuInfo().iovaRanges()).containsExactly(new IovaRange(0, 0xfedf_ffffL),
                new IovaRange(0xfef0_0000L, (1L << 39) - 1));
        // the floppy window is direct-relaxable: type1 would not exclude it (vfio_iommu_resv_exclude)
        assertThat(Type1Iommu.exclude(List.of(new IovaRange(0, (1L << 39) - 1)),
                List.of(ReservedRegion.INTEL_ISA_FLOPPY, ReservedRegion.INTEL_MSI)))
                .containsExactly(new IovaRange(0, 0xfedf_ffffL), new IovaRange(0xfef0_0000L, (1L << 39) - 1));
    }
}
