package io.viommu.host;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.driver.AcsCheck;
import io.viommu.linux.acpi.DmarTable;
import io.viommu.pci.PcieCapability.PortType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ParsersTest {
    private static byte[] config(String tree, String path) throws IOException {
        return Files.readAllBytes(Path.of(tree).resolve("sys/devices/pci0000:00").resolve(path).resolve("config"));
    }

    @Test
    void rootPortConfigYieldsPortTypeSecondaryBusAndEnabledAcs() throws IOException {
        PciConfig c = PciConfig.parse(config(Trees.INTEL_VTD.toString(), "0000:00:01.0"));
        assertThat(c.isBridge()).isTrue();
        assertThat(c.secondaryBus()).isEqualTo(1);
        assertThat(c.pcieType()).isEqualTo(PortType.ROOT_PORT);
        assertThat(c.acs()).isNotNull();
        assertThat(c.acs().enabled(AcsCheck.REQ_ACS_FLAGS)).isTrue();
        assertThat(c.capabilities()).containsExactly("PCIe", "PM", "MSI", "ACS", "AER");
    }

    @Test
    void sriovPfConfigYieldsVfCountsOffsetStrideAndFlr() throws IOException {
        PciConfig c = PciConfig.parse(config(Trees.INTEL_VTD.toString(), "0000:00:02.0/0000:02:00.0"));
        assertThat(c.flr()).isTrue();
        assertThat(c.ari()).isTrue();
        assertThat(c.sriov()).isEqualTo(new PciConfig.Sriov(63, 2, 128, 2, 0x10ed, true));
    }

    @Test
    void firstSixtyFourBytesOnlyMeansCapabilitiesUnknownNotAbsent() throws IOException {
        byte[] full = config(Trees.INTEL_VTD.toString(), "0000:00:01.0");
        PciConfig c = PciConfig.parse(Arrays.copyOf(full, 64));
        assertThat(c.capabilitiesReadable()).isFalse();
        assertThat(c.isBridge()).isTrue();
        assertThat(c.acs()).isNull();
        assertThat(c.pcieType()).isNull();
    }

    @Test
    void capabilityListThatLoopsEndsWithoutHanging() {
        byte[] b = new byte[256];
        b[0x06] = 0x10;          // status: capability list
        b[0x34] = 0x40;
        b[0x40] = 0x01;          // PM
        b[0x41] = 0x40;          // next -> itself
        PciConfig c = PciConfig.parse(b);
        assertThat(c.pm()).isTrue();
        assertThat(c.capabilities()).hasSizeLessThanOrEqualTo(48);
    }

    @Test
    void dmarTableDecodesWidthFlagsDrhdRmrrAndAtsr() throws IOException {
        HostReport.Dmar d = HostReport.Dmar.of(DmarTable.read(Files.readAllBytes(Trees.INTEL_VTD.resolve("sys/firmware/acpi/tables/DMAR"))));
        assertThat(d.problems()).isEmpty();
        assertThat(d.oemId()).isEqualTo("INTEL");
        assertThat(d.hostAddressWidth()).isEqualTo(46);
        assertThat(d.interruptRemapping()).isTrue();
        assertThat(d.dmaControlOptIn()).isTrue();
        assertThat(d.x2apicOptOut()).isFalse();
        assertThat(d.drhds()).containsExactly(new HostReport.Drhd(0, 0xfbffc000L, true, java.util.List.of("IOAPIC 8", "HPET 0")));
        assertThat(d.rmrrs()).containsExactly(new HostReport.Rmrr(0, 0x3e2e0000L, 0x3e2fffffL, java.util.List.of("endpoint 00:14.0")));
        assertThat(d.atsrs()).containsExactly(new HostReport.Atsr(0, true, java.util.List.of()));
    }

    @Test
    void dmarStructureWithBadLengthIsReportedNotThrown() throws IOException {
        byte[] t = Files.readAllBytes(Trees.INTEL_VTD.resolve("sys/firmware/acpi/tables/DMAR"));
        t[48 + 2] = 2; // first structure claims length 2
        HostReport.Dmar d = HostReport.Dmar.of(DmarTable.read(t));
        assertThat(d.drhds()).isEmpty();
        assertThat(d.problems()).singleElement().asString().contains("bad length 2");
        HostReport.Dmar junk = HostReport.Dmar.of(DmarTable.read(new byte[10]));
        assertThat(junk.problems()).isNotEmpty();
        assertThat(junk.hostAddressWidth()).isZero();
    }

    @Test
    void cmdlineLastSwitchWinsModuleParamsIgnoreDashesAndInitArgsAreIgnored() {
        KernelCmdline c = KernelCmdline.parse("quiet intel_iommu=off intel_iommu=on,sm_on vfio-iommu-type1.allow-unsafe-interrupts=1"
                + " -- intel_iommu=off");
        assertThat(HostPlanner.intelIommuSwitch(c)).contains(true);
        assertThat(c.has("intel_iommu", "sm_on")).isTrue();
        assertThat(c.value("vfio_iommu_type1.allow_unsafe_interrupts")).contains("1");
        assertThat(c.relevant()).containsExactly("intel_iommu=off", "intel_iommu=on,sm_on",
                "vfio-iommu-type1.allow-unsafe-interrupts=1");
    }

    @Test
    void vtdFeatureNamesComeFromCapAndEcapBits() {
        assertThat(VtdFeatures.names(0x8d2078c106f0466L, 0xf020dfL))
                .contains("SAGAW=48", "MGAW=48", "QI", "IR", "PT").doesNotContain("CM", "SMTS");
        assertThat(VtdFeatures.cachingMode(0x00d2008c40660462L | io.viommu.vtd.CapReg.CM)).isTrue();
    }
}
