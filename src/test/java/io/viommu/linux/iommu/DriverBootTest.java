package io.viommu.linux.iommu;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.pci.RequesterId;
import io.viommu.vtd.ContextEntry;
import io.viommu.vtd.RootEntry;
import io.viommu.vtd.VtdRegisters;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** intel_iommu_init through the registers: what the unit and its tables in RAM show afterwards. */
class DriverBootTest {

    static long[] context(Guest g, RequesterId rid) {
        long root = g.driver().rootTable().value() + 16L * rid.bus();
        long rootLo = g.ram(root, 8);
        assertThat(RootEntry.isPresent(rootLo)).as("root entry of bus %d", rid.bus()).isTrue();
        long at = ContextEntry.address(RootEntry.contextTable(rootLo), rid.devfn());
        return new long[] {g.ram(at, 8), g.ram(at + 8, 8)};
    }

    @Test
    void bootEnablesQueuedInvalidationRootTableAndTranslationAsGstsShows() throws Exception {
        Guest g = Guest.boot(null, Guest.NO_CM, "edu");
        var unit = g.machine.iommu();
        long gsts = unit.load(VtdRegisters.GSTS, 4);
        assertThat(gsts & VtdRegisters.GSTS_TES).isNotZero();
        assertThat(gsts & VtdRegisters.GSTS_QIES).isNotZero();
        assertThat(gsts & VtdRegisters.GSTS_RTPS).isNotZero();
        assertThat(unit.load(VtdRegisters.RTADDR, 8)).isEqualTo(g.driver().rootTable().value());
        assertThat(g.driver().queuedInvalidation()).isTrue();
        assertThat(g.kernel.dmesg()).contains("DMAR: dmar0: Using Queued invalidation",
                "DMAR: Intel(R) Virtualization Technology for Directed I/O");
        // iommu_set_root_entry: one global context and one global IOTLB invalidation, each with its wait
        IommuCounters c = g.counters();
        assertThat(c.contextGlobal()).isEqualTo(1);
        assertThat(c.iotlbGlobal()).isEqualTo(1);
        assertThat(c.waitDescriptors()).isEqualTo(2);
        assertThat(c.descriptors()).isEqualTo(4);
        // the unit consumed every descriptor: head caught up with the tail written by the driver
        assertThat(unit.load(VtdRegisters.IQH, 8)).isEqualTo(unit.load(VtdRegisters.IQT, 8)).isEqualTo(4L << 4);
    }

    @Test
    void contextEntriesInRamPointEachDeviceAtItsGroupsDomainWithIdsFromOne() throws Exception {
        Guest g = Guest.boot(null, Guest.NO_CM, "edu", "e1000e");
        List<Integer> ids = new ArrayList<>();
        for (IommuGroup grp : g.kernel.groups().groups()) {
            IommuDomain d = g.driver().domainOf(grp);
            assertThat(d.type()).isEqualTo(DomainType.DMA_FQ);
            ids.add(d.domainId());
            for (RequesterId rid : grp.devices()) {
                long[] ce = context(g, rid);
                assertThat(ContextEntry.isPresent(ce[0])).isTrue();
                assertThat(ContextEntry.faultProcessingDisabled(ce[0])).isFalse();
                assertThat(ContextEntry.translationType(ce[0])).isEqualTo(ContextEntry.TT_MULTI_LEVEL);
                assertThat(ContextEntry.domainId(ce[1])).isEqualTo(d.domainId());
                assertThat(ContextEntry.addressWidthField(ce[1])).isEqualTo(1); // 39-bit, 3 levels
                assertThat(ContextEntry.secondLevelTable(ce[0])).isEqualTo(((DmarDomain) d).pgd().value());
            }
        }
        // 6.1 legacy mode reserves only id 0 (id 1 is FLPT_DEFAULT_DID only with scalable mode)
        List<Integer> expected = new ArrayList<>();
        for (int i = 1; i <= ids.size(); i++) {
            expected.add(i);
        }
        assertThat(ids).isEqualTo(expected);
        // the identity domain exists (si_domain_init) but no group uses it, so it has no id
        assertThat(g.driver().identityDomain().domainId()).isZero();
    }

    @Test
    void devicesWithoutAGroupHaveNoContextEntry() throws Exception {
        Guest g = Guest.boot(null, Guest.NO_CM, "edu");
        long rootLo = g.ram(g.driver().rootTable().value() + 16L * 5, 8);
        assertThat(RootEntry.isPresent(rootLo)).isFalse();
    }

    @Test
    void cachingModeInvalidatesEveryNewContextEntryDeviceSelectivelyWithDomainZero() throws Exception {
        Guest cm = Guest.boot(null, Guest.CM, "edu", "e1000e");
        int entries = 0;
        for (IommuGroup grp : cm.kernel.groups().groups()) {
            entries += grp.devices().size();
        }
        IommuCounters c = cm.counters();
        assertThat(c.contextDevice()).isEqualTo(entries);
        assertThat(c.iotlbDomain()).isEqualTo(entries);
        // the last descriptor pair in the queue is the last device's context invalidation: DID 0
        long q = cm.machine.iommu().load(VtdRegisters.IQA, 8) & ~0xfffL;
        int tail = (int) (cm.machine.iommu().load(VtdRegisters.IQT, 8) >>> 4);
        long cc = cm.ram(q + 16L * (tail - 4), 8);
        assertThat(cc & 0xf).isEqualTo(1);          // context-cache descriptor
        assertThat((cc >>> 4) & 3).isEqualTo(3);    // device-selective
        assertThat((cc >>> 16) & 0xffff).isZero();  // DID 0

        Guest noCm = Guest.boot(null, Guest.NO_CM, "edu", "e1000e");
        assertThat(noCm.counters().contextDevice()).isZero();
        assertThat(noCm.counters().iotlbDomain()).isZero();
    }

    @Test
    void cachingModeBootSaysStrictAndBuildsDmaNotDmaFqDomains() throws Exception {
        Guest g = Guest.boot(null, Guest.CM, "edu");
        assertThat(g.kernel.dmesg()).contains("DMAR: IOMMU batching disallowed due to virtualization",
                "DMAR: VT-d Scalable Mode not enabled, no PASID allocation");
        for (IommuGroup grp : g.kernel.groups().groups()) {
            assertThat(g.driver().domainOf(grp).type()).isEqualTo(DomainType.DMA);
        }
    }

    @Test
    void iommuPtWritesPassThroughContextEntriesThatShareTheIdentityDomain() throws Exception {
        Guest g = Guest.boot("iommu=pt", Guest.CM, "edu", "e1000e");
        int did = g.driver().identityDomain().domainId();
        assertThat(did).isEqualTo(1);
        for (IommuGroup grp : g.kernel.groups().groups()) {
            assertThat(g.driver().domainOf(grp)).isSameAs(g.driver().identityDomain());
            for (RequesterId rid : grp.devices()) {
                long[] ce = context(g, rid);
                assertThat(ContextEntry.translationType(ce[0])).isEqualTo(ContextEntry.TT_PASS_THROUGH);
                assertThat(ContextEntry.domainId(ce[1])).isEqualTo(did);
            }
        }
    }

    @Test
    void intelIommuOffLeavesTheUnitUntouched() throws Exception {
        Guest g = Guest.boot("intel_iommu=off", Guest.CM, "edu");
        assertThat(g.kernel.iommuDriver()).isNull();
        assertThat(g.machine.iommu().load(VtdRegisters.GSTS, 4)).isZero();
        assertThat(g.machine.iommu().load(VtdRegisters.RTADDR, 8)).isZero();
        assertThat(g.dma().translated(g.device("edu").address())).isFalse();
    }

    @Test
    void theIsaBridgeGroupGetsItsFloppyWindowMappedOneToOne() throws Exception {
        Guest g = Guest.boot(null, Guest.NO_CM);
        IommuGroup lpc = g.group(RequesterId.parse("00:1f.0"));
        IommuDomain d = g.driver().domainOf(lpc);
        assertThat(d.iovaToPhys(io.viommu.memory.Iova.of(0x12345))).hasValue(io.viommu.memory.PhysAddr.of(0x12345));
        assertThat(d.iovaToPhys(io.viommu.memory.Iova.of(0xffffff))).hasValue(io.viommu.memory.PhysAddr.of(0xffffff));
        assertThat(d.iovaToPhys(io.viommu.memory.Iova.of(0x1000000))).isEmpty();
        assertThat(g.driver().reservedRegions(lpc)).extracting(r -> r.sysfsLine().strip())
                .containsExactly("0x0000000000000000 0x0000000000ffffff direct-relaxable",
                        "0x00000000fee00000 0x00000000feefffff msi");
    }

    @Test
    void deviceDmaAfterBootWithoutAMappingFaultsAndIsRecorded() throws Exception {
        Guest g = Guest.boot(null, Guest.NO_CM, "edu");
        var edu = g.edu();
        var out = g.eduReadFromRam(edu, io.viommu.memory.Iova.of(0x200000), 8);
        assertThat(out.fault()).isNotNull();
        assertThat(out.fault().reason()).isEqualTo(6); // read not permitted: non-present PTE
        assertThat(g.machine.iommu().load(VtdRegisters.FSTS, 4) & VtdRegisters.FSTS_PPF).isNotZero();
    }
}
