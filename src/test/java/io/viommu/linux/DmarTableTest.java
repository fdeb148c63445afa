package io.viommu.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.viommu.fixtures.LinuxCapture;
import io.viommu.linux.acpi.DmarTable;
import io.viommu.machine.Machine;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Topology;
import java.util.List;
import org.junit.jupiter.api.Test;

class DmarTableTest {
    static Machine machine(String args) throws Exception {
        return IommuGroupsTest.machine(args);
    }

    @Test
    void qemuTableHasOneScopePerRootBusFunctionPlusTheIoapic() throws Exception {
        DmarTable t = DmarTable.of(machine("-device intel-iommu,intremap=off -device pcie-root-port,id=rp,chassis=1,slot=1"
                + " -device e1000e,bus=rp"));
        DmarTable.Structure drhd = t.of(DmarTable.TYPE_DRHD).get(0);
        assertThat(drhd.a()).isEqualTo(0xfed90000L);
        assertThat(drhd.scopes()).extracting(DmarTable.Scope::type)
                .containsExactly(DmarTable.SCOPE_IOAPIC, DmarTable.SCOPE_ENDPOINT, DmarTable.SCOPE_BRIDGE,
                        DmarTable.SCOPE_ENDPOINT, DmarTable.SCOPE_ENDPOINT, DmarTable.SCOPE_ENDPOINT);
        assertThat(t.length()).isEqualTo(48 + 16 + 6 * 8);
        assertThat(t.flags()).isZero();
    }

    @Test
    void interruptRemappingSetsTheTableFlags() throws Exception {
        // QEMU 7.2 sets INTR_REMAP only: X2APIC_OPT_OUT is never set, even without eim
        // (DmarTableConformanceTest compares the bytes with QEMU's fw_cfg).
        assertThat(DmarTable.of(machine("-device intel-iommu")).flags()).isEqualTo(DmarTable.FLAG_INTR_REMAP);
        assertThat(DmarTable.of(machine("-device intel-iommu,intremap=off")).flags()).isZero();
    }

    @Test
    void parsingTheFirmwareBytesGivesHeaderStructuresAndScopes() throws Exception {
        // machine.acpi.DmarTable is the one builder (checked against QEMU's fw_cfg bytes); this
        // is the one decoder: what it reads must be what the builder wrote.
        Machine m = machine("-device intel-iommu,intremap=off,device-iotlb=on,aw-bits=48");
        DmarTable p = DmarTable.parse(m.dmarTable());
        assertThat(p.problems()).isEmpty();
        assertThat(p.length()).isEqualTo(m.dmarTable().length).isEqualTo(0x70);
        assertThat(p.hostAddressWidth()).isEqualTo(47);
        assertThat(p.acpiLine(0x3ffe23a3L))
                .isEqualTo("ACPI: DMAR 0x000000003FFE23A3 000070 (v01 BOCHS  BXPC     00000001 BXPC 00000001)");
        assertThat(p.structures()).extracting(DmarTable.Structure::type, DmarTable.Structure::flags,
                DmarTable.Structure::a).containsExactly(
                        org.assertj.core.groups.Tuple.tuple(DmarTable.TYPE_DRHD, 0, 0xfed90000L),
                        org.assertj.core.groups.Tuple.tuple(DmarTable.TYPE_ATSR, DmarTable.ATSR_ALL_PORTS, 0L));
        DmarTable.Scope ioapic = p.of(DmarTable.TYPE_DRHD).get(0).scopes().get(0);
        assertThat(ioapic.type()).isEqualTo(DmarTable.SCOPE_IOAPIC);
        assertThat(ioapic.startBus()).isEqualTo(0xff);
        assertThat(p.of(DmarTable.TYPE_DRHD).get(0).scopes()).extracting(DmarTable.Scope::devfn)
                .containsExactly(0x00, 0x00, 0xf8, 0xfa, 0xfb);
    }

    @Test
    void truncatedOrForeignTablesAreRejected() throws Exception {
        byte[] b = machine("-device intel-iommu,intremap=off").dmarTable();
        assertThatThrownBy(() -> DmarTable.parse(java.util.Arrays.copyOf(b, 40)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a DMAR table");
        assertThatThrownBy(() -> DmarTable.parse(java.util.Arrays.copyOf(b, b.length - 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("table length");
        b[0] = 'X';
        assertThatThrownBy(() -> DmarTable.parse(b)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void readingLenientlyKeepsWhatDecodedAndNamesWhereItStopped() throws Exception {
        byte[] b = machine("-device intel-iommu,intremap=off,device-iotlb=on").dmarTable();
        int atsr = DmarTable.HEADER_SIZE + DmarTable.read(b).structures().get(0).length();
        b[atsr + 2] = 2; // the ATSR claims 2 bytes
        DmarTable t = DmarTable.read(b);
        assertThat(t.of(DmarTable.TYPE_DRHD)).hasSize(1);
        assertThat(t.of(DmarTable.TYPE_ATSR)).isEmpty();
        assertThat(t.problems()).containsExactly("structure at offset " + atsr + " has bad length 2");
        assertThatThrownBy(() -> DmarTable.parse(b)).hasMessage(t.problems().get(0));

        byte[] scope = machine("-device intel-iommu,intremap=off").dmarTable();
        scope[DmarTable.HEADER_SIZE + 16 + 1] = 3; // the first device scope claims 3 bytes
        assertThat(DmarTable.read(scope).problems()).containsExactly("device scope at offset 64 has bad length 3");
        assertThat(DmarTable.read(scope).of(DmarTable.TYPE_DRHD).get(0).scopes()).isEmpty();

        DmarTable junk = DmarTable.read(new byte[10]);
        assertThat(junk.length()).isZero();
        assertThat(junk.structures()).isEmpty();
        assertThat(junk.problems()).containsExactly("not a DMAR table (10 bytes)");
    }

    @Test
    void nvmeVfsOfTheSriovCaptureGetGroupsSixAndSeven() throws Exception {
        // t5-sriov: after `echo 2 > sriov_numvfs` Linux printed groups 6 and 7 for 01:00.1 and 01:00.2.
        LinuxCapture c = LinuxCapture.load("t5-sriov.txt");
        Kernel k = Kernel.boot(MachineBuilder.fromCommandLine(c.qemuArgs(), MachineLog.SILENT));
        IommuGroupsTest.enableVfs(k, "01:00.0", 2);
        assertThat(k.groups().groupOf(RequesterId.parse("01:00.1")).orElseThrow().id()).isEqualTo(6);
        assertThat(k.groups().groupOf(RequesterId.parse("01:00.2")).orElseThrow().id()).isEqualTo(7);
        List<String> after = c.block("=== GROUPS-AFTER");
        List<String> ours = BootReport.groupLines(k).stream().map(l -> l.replaceFirst(" type=\\S+", "")).toList();
        assertThat(ours).containsExactlyElementsOf(after);
        Topology.Function vf = k.topology().function(RequesterId.parse("01:00.1")).orElseThrow();
        assertThat(vf.virtualFunction()).isTrue();
    }
}
