package io.viommu.vmm.libvirt;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** What {@code viommu run --domain} reads from a Domain besides the argv. */
class DomainTest {
    private static final Path CASES = Path.of("src/test/resources/libvirt/cases");

    @Test
    void managedYesAndNoAreKeptPerHostdevWithTheirGuestAddresses() throws Exception {
        Domain d = LibvirtDomain.parse(CASES.resolve("hostdev-guest-addr.xml"));
        assertThat(d.hostdevs()).hasSize(2);
        assertThat(d.hostdevs().get(0).managed()).isTrue();
        assertThat(d.hostdevs().get(0).source().bdf()).isEqualTo("0000:06:12.5");
        assertThat(d.hostdevs().get(0).guestAddress()).map(Domain.PciAddress::bdf).contains("0000:00:05.0");
        assertThat(d.hostdevs().get(1).managed()).isFalse();
        assertThat(d.hostdevs().get(1).guestAddress()).isEmpty();
        assertThat(d.managedHostdevs()).extracting(h -> h.source().bdf()).containsExactly("0000:06:12.5");
    }

    @Test
    void theIommuOptionsAreTheXmlsAndAbsentOnesStayAbsent() throws Exception {
        Domain d = LibvirtDomain.parse(CASES.resolve("virtio-ats.xml"));
        Domain.Iommu i = d.iommu().orElseThrow();
        assertThat(i.intremap()).isTrue();
        assertThat(i.iotlb()).isTrue();
        assertThat(i.cachingMode()).isNull();
        assertThat(i.eim()).isNull();
        assertThat(d.ioapic()).isEqualTo("qemu");
        assertThat(d.nets().get(0).iommu()).isTrue();
        assertThat(d.disks().get(0).ats()).isTrue();
    }

    @Test
    void anInterfaceWithoutMacGetsANamedStandInAndTheArgvCarriesIt() throws Exception {
        Domain d = LibvirtDomain.parse("""
                <domain type='qemu'><name>nomac</name><memory unit='MiB'>64</memory>
                <os><type machine='q35'>hvm</type></os>
                <devices><interface type='user'><model type='virtio'/></interface></devices></domain>""");
        assertThat(d.warnings()).anySatisfy(w -> assertThat(w).startsWith("viommu: note: <interface> (line 3) has no <mac")
                .contains("52:54:00:12:34:56"));
        assertThat(d.toQemuArgv()).anySatisfy(a -> assertThat(a).contains("\"mac\":\"52:54:00:12:34:56\""));
    }

    @Test
    void aVirtioDiskWithoutTargetNameIsNamedNotACrash() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> LibvirtDomain.parse("""
                <domain type='qemu'><name>d</name><memory unit='MiB'>64</memory>
                <os><type machine='q35'>hvm</type></os>
                <devices><disk type='file' device='disk'><source file='/x.img'/><target bus='virtio'/></disk></devices>
                </domain>""")).isInstanceOf(LibvirtException.class)
                .hasMessage("viommu: <target dev='null'> of <disk> (line 3) is not translated: viommu translates"
                        + " virtio disk names vda, vdb, ...");
    }
}
