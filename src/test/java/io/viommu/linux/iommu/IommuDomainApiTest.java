package io.viommu.linux.iommu;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.PciFunction;
import io.viommu.vtd.ContextEntry;
import io.viommu.vtd.notify.Permission;
import org.junit.jupiter.api.Test;

/** The IOMMU-domain API VFIO uses: unmanaged domains, group attach/detach, map/unmap. */
class IommuDomainApiTest {

    @Test
    void anUnmanagedDomainAttachedToAGroupTranslatesItsMappingsAndDetachRestoresTheDefault() throws Exception {
        Guest g = Guest.boot(null, Guest.CM, "edu");
        IntelIommuDriver drv = g.driver();
        PciFunction edu = g.device("edu");
        IommuGroup grp = g.group(edu.address());
        IommuDomain def = drv.domainOf(grp);

        IommuDomain d = drv.allocateDomain(DomainType.UNMANAGED).orElseThrow();
        assertThat(d.domainId()).isZero();
        assertThat(drv.attachGroup(grp, d)).isZero();
        assertThat(d.domainId()).isNotZero().isNotEqualTo(def.domainId());
        assertThat(d.attachedDevices()).contains(edu.address());
        long[] ce = DriverBootTest.context(g, edu.address());
        assertThat(ContextEntry.domainId(ce[1])).isEqualTo(d.domainId());
        assertThat(def.domainId()).as("the default domain's id is released").isZero();

        PhysAddr buf = g.buffer(0x3c);
        IommuCounters before = g.counters();
        assertThat(d.map(Iova.of(0x10_0000), buf, 4096, Permission.READ_WRITE)).isZero();
        assertThat(g.counters().minus(before).iotlbPage()).isEqualTo(1); // caching mode: PSI of the new page
        assertThat(d.iovaToPhys(Iova.of(0x10_0123))).hasValue(buf.checkedAdd(0x123));
        byte[] b = new byte[1];
        assertThat(g.deviceRead(edu, Iova.of(0x10_0000), b).ok()).isTrue();
        assertThat(b[0]).isEqualTo((byte) 0x3c);

        assertThat(d.unmap(Iova.of(0x10_0000), 4096)).isEqualTo(4096);
        assertThat(g.deviceRead(edu, Iova.of(0x10_0000), b).fault()).isNotNull();

        drv.detachGroup(grp);
        assertThat(drv.domainOf(grp)).isSameAs(def);
        assertThat(ContextEntry.domainId(DriverBootTest.context(g, edu.address())[1])).isEqualTo(def.domainId());
        assertThat(d.domainId()).isZero();
    }

    @Test
    void mapRefusesMisalignmentAndAddressesBeyondTheAperture() throws Exception {
        Guest g = Guest.boot(null, Guest.NO_CM, "edu");
        IommuDomain d = g.driver().allocateDomain(DomainType.UNMANAGED).orElseThrow();
        PhysAddr buf = g.buffer(0);
        assertThat(d.map(Iova.of(0x1234), buf, 4096, Permission.READ_WRITE)).isEqualTo(-22);
        assertThat(d.map(Iova.of(0x1000), buf, 100, Permission.READ_WRITE)).isEqualTo(-22);
        assertThat(d.apertureEnd()).isEqualTo(Iova.of((1L << 39) - 1));
        assertThat(d.map(Iova.of(1L << 39), buf, 4096, Permission.READ_WRITE)).isEqualTo(-14);
        assertThat(g.driver().identityDomain().map(Iova.of(0x1000), buf, 4096, Permission.READ_WRITE)).isEqualTo(-22);
        assertThat(g.driver().allocateDomain(DomainType.BLOCKED)).isEmpty();
    }

    @Test
    void mappingAnAlreadyMappedPageKeepsTheOldPteAndWarns() throws Exception {
        Guest g = Guest.boot(null, Guest.NO_CM, "edu");
        IommuDomain d = g.driver().allocateDomain(DomainType.UNMANAGED).orElseThrow();
        PhysAddr a = g.buffer(0);
        PhysAddr b = g.buffer(0);
        assertThat(d.map(Iova.of(0x2000), a, 4096, Permission.READ_WRITE)).isZero();
        assertThat(d.map(Iova.of(0x2000), b, 4096, Permission.READ_WRITE)).isZero();
        assertThat(d.iovaToPhys(Iova.of(0x2000))).hasValue(a);
        assertThat(g.driver().messages()).anyMatch(m -> m.startsWith("DMAR: ERROR: DMA PTE for vPFN 0x2 already set"));
    }

    @Test
    void reservedRegionsOfAnEndpointGroupAreTheMsiWindowAndThereIsNoInterruptRemapping() throws Exception {
        Guest g = Guest.boot(null, Guest.NO_CM, "edu");
        IommuGroup grp = g.group(g.device("edu").address());
        assertThat(g.driver().reservedRegions(grp)).extracting(r -> r.sysfsLine().strip())
                .containsExactly("0x00000000fee00000 0x00000000feefffff msi");
        assertThat(g.driver().hasInterruptRemapping()).isFalse();
    }
}
