package io.viommu.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Requester-id aliasing behind conventional PCI, held against QEMU 7.2 over qtest
 * ({@code pci_device_iommu_address_space}): an edu at 01:01.0 behind a bridge at 00:02.0 DMAs
 * through intel-iommu with the alias's context entry only — behind a pcie-pci-bridge (a PCIe
 * bridge of type 7) the alias is (its secondary bus, 00.0), behind a pci-bridge on pcie.0 the
 * bridge's own 00:02.0. The guest (the script) numbers the bridge's buses, programs its window,
 * writes a context entry for the alias only and a page table mapping IOVA 0x1000 to GPA
 * 0x200000; the edu copies IOVA 0x1000 to IOVA 0x1010, then writes unmapped IOVA 0x5000, whose
 * fault record names the alias as source id. Both peers answer every command alike.
 */
class DmaAliasConformanceTest {

    static List<String> script(int aliasBus, int aliasDevfn) {
        List<String> s = new ArrayList<>();
        // root table 0x100000: bus 0 -> 0x101000, bus 1 -> 0x102000
        s.add("writeq 0x100000 0x101001");
        s.add("writeq 0x100010 0x102001");
        long ctx = (aliasBus == 0 ? 0x101000L : 0x102000L) + 16L * aliasDevfn;
        s.add(String.format("writeq 0x%x 0x103001", ctx));
        s.add(String.format("writeq 0x%x 0x101", ctx + 8));
        s.add("writeq 0x103000 0x104003");
        s.add("writeq 0x104000 0x105003");
        s.add("writeq 0x105008 0x200003");
        s.add("write 0x200000 0x10 0x00112233445566778899aabbccddeeff");
        s.add("writeq 0xfed90020 0x100000");
        s.add("writel 0xfed90018 0x40000000");
        s.add("readl 0xfed9001c");
        s.add("writel 0xfed90018 0x80000000");
        s.add("readl 0xfed9001c");
        s.add("writeq 0xfed90028 0xa000000000000000");
        s.add("readq 0xfed90028");
        s.add("writeq 0xfed900f8 0x9000000000000000");
        s.add("readq 0xfed900f8");
        // the bridge at 00:02.0: buses 0 -> 1..1, memory window 0xc0000000-0xc00fffff, memory + bus master
        s.add("outl 0xcf8 0x80001018");
        s.add("outl 0xcfc 0x00010100");
        s.add("outl 0xcf8 0x80001020");
        s.add("outl 0xcfc 0xc000c000");
        s.add("outl 0xcf8 0x80001004");
        s.add("outw 0xcfc 0x0006");
        // the edu at 01:01.0: BAR0 0xc0000000, memory + bus master
        s.add("outl 0xcf8 0x80010810");
        s.add("outl 0xcfc 0xc0000000");
        s.add("outl 0xcf8 0x80010804");
        s.add("outw 0xcfc 0x0006");
        s.add("outl 0xcf8 0x80010800");
        s.add("inl 0xcfc");
        s.add("readl 0xc0000000");
        // IOVA 0x1000 -> the edu's buffer -> IOVA 0x1010
        s.add("writeq 0xc0000080 0x1000");
        s.add("writeq 0xc0000088 0x40000");
        s.add("writeq 0xc0000090 0x10");
        s.add("writeq 0xc0000098 0x1");
        s.add("#settle");
        s.add("readq 0xc0000098");
        s.add("writeq 0xc0000080 0x40000");
        s.add("writeq 0xc0000088 0x1010");
        s.add("writeq 0xc0000098 0x3");
        s.add("#settle");
        s.add("readq 0xc0000098");
        s.add("read 0x200010 0x10");
        // IOVA 0x5000 is not mapped: a fault record with the alias as source id
        s.add("writeq 0xc0000088 0x5000");
        s.add("writeq 0xc0000098 0x3");
        s.add("#settle");
        s.add("readl 0xfed90034");
        s.add("readq 0xfed90228");
        return s;
    }

    static List<String> run(QtestPeer peer, List<String> script) {
        List<String> replies = new ArrayList<>();
        for (String c : script) {
            if (c.equals("#settle")) {
                peer.settle();
            } else {
                replies.add(c + " -> " + peer.cmd(c));
            }
        }
        return replies;
    }

    @ParameterizedTest
    @CsvSource({
        "pcie-pci-bridge,1,0",
        "'pci-bridge,chassis_nr=1',0,16",
    })
    void theIommuSeesTheBridgesAlias(String bridge, int aliasBus, int aliasDevfn) {
        String[] args = {"-device", "intel-iommu", "-device", bridge + ",id=b,addr=02.0",
            "-device", "edu,bus=b,addr=01.0"};
        List<String> s = script(aliasBus, aliasDevfn);
        List<String> qemu;
        try (QemuPeer q = Differential.qemu(args)) {
            qemu = run(q, s);
        }
        List<String> model;
        try (ViommuPeer v = Differential.viommu(args)) {
            model = run(v, s);
        }
        assertThat(model).isEqualTo(qemu);
        assertThat(qemu).as("the copy landed").contains("read 0x200010 0x10 -> OK 0x00112233445566778899aabbccddeeff");
        assertThat(qemu.getLast()).as("source id: the alias")
                .endsWith(String.format("%04x", aliasBus << 8 | aliasDevfn));
    }
}
