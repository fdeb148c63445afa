package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * An assigned device behind a PCIe-to-PCI bridge in the VM (QEMU's pci_device_iommu_address_space:
 * its DMA reaches the vIOMMU as the bridge's alias, (secondary bus, 00.0)): the guest writes a
 * context entry for the alias only; the VMM's listener mirrors that entry's mappings into the
 * host VFIO container, so the edu's copy through IOVA 0x1000 lands in the guest page the alias's
 * tables name, and an unmapped IOVA faults in the host unit. The emulated side of the same
 * rule is held against QEMU 7.2 (conformance.DmaAliasConformanceTest).
 */
class VmmBridgeAliasTest {
    static final String SCRIPT = String.join("\n",
            // root table 0x100000: bus 1 -> context table 0x102000; alias 01:00.0 -> SL 0x103000
            "writeq 0x100010 0x102001",
            "writeq 0x102000 0x103001",
            "writeq 0x102008 0x101",
            "writeq 0x103000 0x104003",
            "writeq 0x104000 0x105003",
            "writeq 0x105008 0x200003",
            "write 0x200000 0x10 0x00112233445566778899aabbccddeeff",
            // the bridge at 00:02.0: buses 0 -> 1..1, window 0xc0000000-0xc00fffff, memory + bus master
            "outl 0xcf8 0x80001018",
            "outl 0xcfc 0x00010100",
            "outl 0xcf8 0x80001020",
            "outl 0xcfc 0xc000c000",
            "outl 0xcf8 0x80001004",
            "outw 0xcfc 0x0006",
            "writeq 0xfed90020 0x100000",
            "writel 0xfed90018 0x40000000",
            "writel 0xfed90018 0x80000000",
            "writeq 0xfed90028 0xa000000000000000",
            "writeq 0xfed900f8 0x9000000000000000",
            // the assigned edu at 01:01.0: BAR0, memory + bus master
            "outl 0xcf8 0x80010810",
            "outl 0xcfc 0xc0000000",
            "outl 0xcf8 0x80010804",
            "outw 0xcfc 0x0006",
            "readl 0xc0000000",
            // IOVA 0x1000 -> buffer -> IOVA 0x1010; then to the unmapped 0x5000
            "writeq 0xc0000080 0x1000",
            "writeq 0xc0000088 0x40000",
            "writeq 0xc0000090 0x10",
            "writeq 0xc0000098 0x1",
            "writeq 0xc0000080 0x40000",
            "writeq 0xc0000088 0x1010",
            "writeq 0xc0000098 0x3",
            "read 0x200010 0x10",
            "writeq 0xc0000088 0x5000",
            "writeq 0xc0000098 0x3",
            "readl 0xfed90034") + "\n";

    @Test
    void anAssignedDeviceBehindAPcieToPciBridgeIsTranslatedAsTheBridgesAlias() throws Exception {
        List<String> argv = List.of("-M", "q35", "-accel", "tcg", "-S", "-display", "none", "-nodefaults", "-m", "128M",
                "-device", "intel-iommu,caching-mode=on", "-device", "pcie-pci-bridge,id=b,addr=02.0",
                "-device", "vfio-pci,host=0000:00:04.0,bus=b,addr=01.0");
        VmmFixtureTest.Run r = VmmFixtureTest.run(VmmFixtureTest.fixtureHost(), argv, SCRIPT);
        List<String> out = r.out().lines().toList();
        assertThat(r.err()).doesNotContain("bypasses");
        assertThat(out).contains("OK 0x00112233445566778899aabbccddeeff", "OK 0x00000000010000ed");
        assertThat(out.getLast()).as("the VM's unit records nothing").isEqualTo("OK 0x0000000000000000");
        assertThat(r.dmesg()).contains("DMAR: [DMA Write NO_PASID] Request device [00:04.0] fault addr 0x5000 "
                + "[fault reason 0x05] PTE Write access is not set");
    }
}
