package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.BootReport;
import io.viommu.linux.Kernel;
import io.viommu.pci.RequesterId;
import io.viommu.vtd.ContextResult;
import io.viommu.vtd.IntelIommu;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A host device behind a HOST conventional bridge, held against real captures
 * (src/test/resources/vmm/bridge: {@code host.args} a q35 host with a pcie-pci-bridge at 00:03.0
 * and, on its secondary bus 1, QEMU's edu at 01:01.0 and an e1000 at 01:02.0; NAME/{@code
 * capture.sh} the command). Linux 6.1 puts the bridge and its whole secondary bus in one group
 * (the devices behind it reach the IOMMU as the bridge's alias, secondary bus and 00.0, which no
 * ACS can tell apart): the edu can be assigned only when the e1000 has left its driver too, and
 * the host VFIO domain must hold context entries for the alias as well as for the edu, since its
 * DMA arrives as 01:00.0.
 */
class VmmHostBridgeCaptureTest {
    static final Path DIR = VmmFixtureTest.DIR.resolve("bridge");

    static Kernel bridgeHost(String setup) throws Exception {
        return bridgeHost("host.args", setup);
    }

    static Kernel bridgeHost(String args, String setup) throws Exception {
        Kernel k = QtestHost.bootHost(Files.readString(DIR.resolve(args)).trim() + " -nodefaults");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertThat(QtestHost.runSetup(k, DIR.resolve(setup), new PrintStream(err, true, StandardCharsets.UTF_8)))
                .as(err.toString(StandardCharsets.UTF_8)).isZero();
        return k;
    }

    private static List<String> realDevLines(String capture) throws Exception {
        return Files.readAllLines(DIR.resolve(capture).resolve("host-devices.txt")).stream()
                .filter(l -> l.startsWith("DEV ")).toList();
    }

    /**
     * {@code dma}: both functions behind the bridge on vfio-pci; the VM gets the edu and has it
     * copy guest RAM to its buffer and back (the c-dma script): replies, stderr (nothing: a
     * device behind a bridge has a bus reset, so QEMU has no reset warning) and the host's
     * kernel lines as the real run. The host unit's tables, written by the host intel-iommu
     * driver model for the VFIO domain, have the edu's context and its alias's (01:00.0) in the
     * same domain with the same page table.
     */
    @Test
    void theAssignedDevicesDmaIsTranslatedAsTheBridgesAliasInTheHostUnit() throws Exception {
        Kernel k = bridgeHost("host-setup.sh");
        assertThat(BootReport.deviceLines(k)).isEqualTo(realDevLines("dma"));
        IntelIommu unit = k.machine().iommu();
        RequesterId edu = RequesterId.parse("01:01.0");
        RequesterId alias = RequesterId.parse("01:00.0");
        assertThat(VmmFixtureTest.assertCaptureDir(k, DIR.resolve("dma"))).isEmpty();
        assertThat(unit.readContext(edu)).isInstanceOf(ContextResult.Legacy.class);
        ContextResult.Legacy ce = (ContextResult.Legacy) unit.readContext(edu);
        ContextResult.Legacy ca = (ContextResult.Legacy) unit.readContext(alias);
        assertThat(ca.domainId()).isEqualTo(ce.domainId());
        assertThat(ca.secondLevelTable()).isEqualTo(ce.secondLevelTable());
    }

    /**
     * {@code dma-fault}: the same, then the edu writes to 0xC000000, outside the VM's RAM and
     * never mapped in the container: the host unit faults it, and the host kernel's DMAR line
     * names the requester it saw, the bridge's alias 01:00.0, not the edu's 01:01.0.
     */
    @Test
    void aFaultOfTheAssignedDeviceNamesTheBridgesAlias() throws Exception {
        Kernel k = bridgeHost("host-setup.sh");
        assertThat(VmmFixtureTest.assertCaptureDir(k, DIR.resolve("dma-fault"))).isEmpty();
        assertThat(VmmFixtureTest.realDmesg(DIR.resolve("dma-fault"))).contains("DMAR: [DMA Write NO_PASID] Request "
                + "device [01:00.0] fault addr 0xc000000 [fault reason 0x05] PTE Write access is not set");
    }

    /**
     * {@code pci-bridge-dma-fault}: the same with a conventional pci-bridge
     * ({@code host-pci-bridge.args}): the same group, and the alias is now the bridge's own
     * requester id 00:03.0 (a bridge without a PCIe capability takes its downstream requests as
     * its own), which the host's DMAR line names.
     */
    @Test
    void behindAConventionalPciBridgeTheAliasIsTheBridgeItself() throws Exception {
        Kernel k = bridgeHost("host-pci-bridge.args", "host-setup.sh");
        assertThat(BootReport.deviceLines(k)).isEqualTo(realDevLines("pci-bridge-dma-fault"));
        assertThat(VmmFixtureTest.assertCaptureDir(k, DIR.resolve("pci-bridge-dma-fault"))).isEmpty();
        assertThat(VmmFixtureTest.realDmesg(DIR.resolve("pci-bridge-dma-fault"))).contains("DMAR: [DMA Write NO_PASID] "
                + "Request device [00:03.0] fault addr 0xc000000 [fault reason 0x05] PTE Write access is not set");
    }

    /**
     * {@code nonviable}: only the edu on vfio-pci, the e1000 behind the same bridge still on
     * e1000: QEMU's "group 1 is not viable" and exit 1, the group being the bridge's.
     */
    @Test
    void anotherDeviceBehindTheBridgeOnItsDriverMakesTheGroupNotViable() throws Exception {
        Kernel k = bridgeHost("host-setup-nonviable.sh");
        assertThat(BootReport.deviceLines(k)).isEqualTo(realDevLines("nonviable"));
        assertThat(VmmFixtureTest.assertCaptureDir(k, DIR.resolve("nonviable"))).isEmpty();
        assertThat(k.driver(RequesterId.parse("01:02.0"))).contains("e1000");
    }
}
