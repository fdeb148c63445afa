package io.viommu.linux;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.acpi.DmarTable;
import io.viommu.linux.iommu.DomainType;
import io.viommu.linux.iommu.IommuGroup;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Boot lines and domain types for kernel command lines and VT-d options the captures lack. */
class KernelBootTest {
    static final String CM = "-device intel-iommu,intremap=off,caching-mode=on";
    static final String NO_CM = "-device intel-iommu,intremap=off";

    static Kernel boot(String args) throws Exception {
        return IommuGroupsTest.boot(args);
    }

    static List<String> types(Kernel k) {
        return k.groups().groups().stream().map(g -> g.defaultDomain().sysfsName()).distinct().toList();
    }

    @Test
    void withoutIntelIommuOnTheDebianKernelStillEnablesVtdButDoesNotSaySo() throws Exception {
        Kernel k = boot(NO_CM + " -append console=ttyS0");
        assertThat(k.dmesg()).doesNotContain("DMAR: IOMMU enabled");
        assertThat(k.dmesg()).contains("DMAR: Host address width 39", "DMAR: dmar0: Using Queued invalidation",
                "DMAR: Intel(R) Virtualization Technology for Directed I/O");
        assertThat(k.iommuActive()).isTrue();
    }

    @Test
    void defaultOffKernelNeedsIntelIommuOn() throws Exception {
        KernelConfig off = new KernelConfig(false, true, false, false, "6.1.0-test");
        var m = IommuGroupsTest.machine(NO_CM);
        Kernel k = Kernel.boot(m, KernelCommandLine.parse(""), off);
        assertThat(k.iommuActive()).isFalse();
        assertThat(k.dmesg()).contains("DMAR: Host address width 39").doesNotContain("DMAR: No RMRR found");
    }

    @Test
    void intelIommuOffParsesTheTableButStopsBeforeGroups() throws Exception {
        Kernel k = boot(CM + " -append intel_iommu=off");
        assertThat(k.dmesg()).contains("DMAR: IOMMU disabled", "DMAR: Host address width 39")
                .doesNotContain("DMAR: No RMRR found", "DMAR: Intel(R) Virtualization Technology for Directed I/O");
        assertThat(k.groups().groups()).isEmpty();
    }

    @Test
    void iommuPtMakesEveryGroupIdentityAndSkipsThePolicyLine() throws Exception {
        Kernel k = boot(CM + " -append \"intel_iommu=on iommu=pt\"");
        assertThat(k.dmesg()).contains("iommu: Default domain type: Passthrough (set via kernel command line)");
        assertThat(k.dmesg()).noneMatch(l -> l.startsWith("iommu: DMA domain TLB invalidation policy"));
        assertThat(types(k)).containsExactly("identity");
        assertThat(BootReport.groupLines(k)).allMatch(l -> l.contains(" type=identity "));
    }

    @Test
    void iommuPassthroughZeroBeatsAnEarlierIommuPt() throws Exception {
        Kernel k = boot(NO_CM + " -append \"iommu=pt iommu.passthrough=0\"");
        assertThat(k.dmesg()).contains("iommu: Default domain type: Translated (set via kernel command line)",
                "iommu: DMA domain TLB invalidation policy: lazy mode ");
        assertThat(types(k)).containsExactly("DMA-FQ");
    }

    @Test
    void iommuStrictGivesDmaDomainsWithoutCachingMode() throws Exception {
        Kernel k = boot(NO_CM + " -append iommu.strict=1");
        assertThat(k.dmesg()).contains("iommu: Default domain type: Translated ",
                "iommu: DMA domain TLB invalidation policy: strict mode (set via kernel command line)");
        assertThat(types(k)).containsExactly("DMA");
    }

    @Test
    void cachingModeForcesStrictEvenWhenLazyWasAskedFor() throws Exception {
        Kernel k = boot(CM + " -append iommu.strict=0");
        assertThat(k.dmesg()).contains("iommu: DMA domain TLB invalidation policy: lazy mode (set via kernel command line)",
                "DMAR: IOMMU batching disallowed due to virtualization");
        assertThat(types(k)).containsExactly("DMA");
        assertThat(k.strictInvalidation()).isTrue();
    }

    @Test
    void scalableModeUnitWithCachingModeHasNoPasidWarningButStillBatchesNothing() throws Exception {
        Kernel k = boot("-device intel-iommu,intremap=off,caching-mode=on,x-scalable-mode=on");
        assertThat(k.dmesg()).doesNotContain("DMAR: VT-d Scalable Mode not enabled, no PASID allocation")
                .contains("DMAR: IOMMU batching disallowed due to virtualization");
        Kernel off = boot("-device intel-iommu,intremap=off,caching-mode=on,x-scalable-mode=on -append intel_iommu=sm_off");
        assertThat(off.dmesg()).contains("DMAR: Scalable mode is disallowed",
                "DMAR: VT-d Scalable Mode not enabled, no PASID allocation");
    }

    @Test
    void firstLevelCapableScalableUnitKeepsLazyFlushing() throws Exception {
        Kernel k = boot("-device intel-iommu,intremap=off,caching-mode=on,x-scalable-mode=on,x-flts=on");
        assertThat(k.dmesg()).doesNotContain("DMAR: IOMMU batching disallowed due to virtualization");
        assertThat(types(k)).containsExactly("DMA-FQ");
    }

    @Test
    void igfxOffGivesTheDisplayDeviceAnIdentityDomain() throws Exception {
        Kernel k = IommuGroupsTest.boot(NO_CM + " -vga std -append intel_iommu=igfx_off");
        assertThat(k.dmesg()).contains("DMAR: Disable GFX device mapping");
        IommuGroup vga = k.groups().groupOf(io.viommu.pci.RequesterId.parse("00:01.0")).orElseThrow();
        assertThat(vga.defaultDomain()).isEqualTo(DomainType.IDENTITY);
        IommuGroup mch = k.groups().groupOf(io.viommu.pci.RequesterId.parse("00:00.0")).orElseThrow();
        assertThat(mch.defaultDomain()).isEqualTo(DomainType.DMA_FQ);
    }

    @Test
    void unknownIntelIommuOptionIsReportedAndCommaListsWork() throws Exception {
        Kernel k = boot(NO_CM + " -append intel_iommu=on,,bogus,sp_off");
        assertThat(k.dmesg()).containsSubsequence("Kernel command line: intel_iommu=on,,bogus,sp_off",
                "DMAR: IOMMU enabled", "DMAR: Unknown option - 'bogus,sp_off'", "DMAR: Disable supported super page");
    }

    @Test
    void kernelIntremapOffMovesTheTableLinesIntoTheIommuDriver() throws Exception {
        Kernel k = boot(NO_CM + " -append intremap=off");
        assertThat(k.dmesg()).containsSubsequence("iommu: Default domain type: Translated ",
                "DMAR: Host address width 39", "DMAR: No RMRR found");
    }

    @Test
    void malformedEarlyOptionIsReported() throws Exception {
        Kernel k = boot(NO_CM + " -append iommu.strict=maybe");
        assertThat(k.dmesg()).contains("Malformed early option 'iommu.strict'");
    }

    @Test
    void deviceIotlbAddsAnAtsrAndItsLine() throws Exception {
        Kernel k = boot(NO_CM + ",device-iotlb=on");
        assertThat(k.dmesg()).contains("DMAR: ATSR flags: 0x1").doesNotContain("DMAR: No ATSR found");
        assertThat(k.dmarTable().length()).isEqualTo(DmarTable.HEADER_SIZE + 16 + 8 * 5 + 8);
    }

    @Test
    void machineWithoutIommuPrintsOnlyTheCoreLines() throws Exception {
        Kernel k = boot("-append intel_iommu=on");
        assertThat(k.dmesg()).containsExactly("Command line: intel_iommu=on", "Kernel command line: intel_iommu=on",
                "DMAR: IOMMU enabled", "iommu: Default domain type: Translated ",
                "iommu: DMA domain TLB invalidation policy: lazy mode ");
        assertThat(k.dmarTable()).isNull();
    }

    @Test
    void capAndEcapLineComesFromTheUnitsRegisters() throws Exception {
        Kernel k = boot("-device intel-iommu,intremap=off,caching-mode=on,aw-bits=48,device-iotlb=on");
        long cap = k.machine().iommu().load(io.viommu.vtd.VtdRegisters.CAP, 8);
        long ecap = k.machine().iommu().load(io.viommu.vtd.VtdRegisters.ECAP, 8);
        assertThat(k.dmesg()).contains(String.format("DMAR: dmar0: reg_base_addr fed90000 ver 1:0 cap %x ecap %x", cap, ecap));
        assertThat(k.dmesg()).contains("DMAR: Host address width 48");
    }

    @Test
    void reportNotesThatNoCaptureChecksTheInterruptRemappingLine() throws Exception {
        Kernel k = boot("-device intel-iommu");
        assertThat(BootReport.lines(List.of(), k)).anyMatch(l -> l.startsWith("=== NOTE interrupt remapping"));
    }

    @Test
    void groupsAreListedInTheShellsLexicalOrder() throws Exception {
        StringBuilder args = new StringBuilder(NO_CM);
        for (int i = 1; i <= 11; i++) {
            args.append(" -device pcie-root-port,id=rp").append(i).append(",chassis=").append(i).append(",slot=").append(i);
        }
        Kernel k = boot(args.toString());
        List<String> ids = BootReport.groupLines(k).stream().map(l -> l.split(" ")[1]).toList();
        assertThat(ids).containsExactly("0", "1", "10", "11", "12", "2", "3", "4", "5", "6", "7", "8", "9");
    }
}
