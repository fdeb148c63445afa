package io.viommu.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.viommu.machine.Machine;
import io.viommu.machine.MachineLog;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Topology;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class DmarTableTest {
    /** Serialises a table the way firmware lays it out (VT-d spec 8.1), for the parser. */
    static byte[] bytes(DmarTable t) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (DmarTable.Structure s : t.structures()) {
            ByteArrayOutputStream scopes = new ByteArrayOutputStream();
            for (DmarTable.Scope sc : s.scopes()) {
                le(scopes, sc.type(), 1);
                le(scopes, 6 + 2 * sc.path().size(), 1);
                le(scopes, 0, 2);
                le(scopes, sc.enumerationId(), 1);
                le(scopes, sc.startBus(), 1);
                for (int[] p : sc.path()) {
                    le(scopes, p[0], 1);
                    le(scopes, p[1], 1);
                }
            }
            int fixed = s.type() == DmarTable.TYPE_DRHD ? 16 : 8;
            le(body, s.type(), 2);
            le(body, fixed + scopes.size(), 2);
            le(body, s.flags(), 1);
            le(body, 0, 1);
            le(body, s.segment(), 2);
            if (s.type() == DmarTable.TYPE_DRHD) {
                le(body, s.a(), 8);
            }
            body.writeBytes(scopes.toByteArray());
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes("DMAR".getBytes(StandardCharsets.US_ASCII));
        le(out, DmarTable.HEADER_SIZE + body.size(), 4);
        le(out, t.revision(), 1);
        le(out, 0, 1);
        out.writeBytes(String.format("%-6s%-8s", t.oemId(), t.oemTableId()).getBytes(StandardCharsets.US_ASCII));
        le(out, t.oemRevision(), 4);
        out.writeBytes(String.format("%-4s", t.creatorId()).getBytes(StandardCharsets.US_ASCII));
        le(out, t.creatorRevision(), 4);
        le(out, t.hostAddressWidth(), 1);
        le(out, t.flags(), 1);
        out.writeBytes(new byte[10]);
        out.writeBytes(body.toByteArray());
        return out.toByteArray();
    }

    static void le(ByteArrayOutputStream o, long v, int n) {
        for (int i = 0; i < n; i++) {
            o.write((int) (v >>> (8 * i)) & 0xff);
        }
    }

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
    void parsingTheSerialisedTableGivesTheSameTable() throws Exception {
        DmarTable t = DmarTable.of(machine("-device intel-iommu,intremap=off,device-iotlb=on,aw-bits=48"));
        DmarTable p = DmarTable.parse(bytes(t));
        assertThat(p.length()).isEqualTo(t.length());
        assertThat(p.hostAddressWidth()).isEqualTo(47);
        assertThat(p.acpiLine(0x3ffe23a3L)).isEqualTo(t.acpiLine(0x3ffe23a3L))
                .isEqualTo("ACPI: DMAR 0x000000003FFE23A3 000070 (v01 BOCHS  BXPC     00000001 BXPC 00000001)");
        assertThat(p.structures()).extracting(DmarTable.Structure::type, DmarTable.Structure::flags,
                DmarTable.Structure::a).containsExactlyElementsOf(t.structures().stream()
                .map(s -> org.assertj.core.groups.Tuple.tuple(s.type(), s.flags(), s.a())).toList());
        assertThat(p.of(DmarTable.TYPE_DRHD).get(0).scopes()).extracting(DmarTable.Scope::devfn)
                .containsExactlyElementsOf(t.of(DmarTable.TYPE_DRHD).get(0).scopes().stream()
                        .map(DmarTable.Scope::devfn).toList());
    }

    @Test
    void truncatedOrForeignTablesAreRejected() throws Exception {
        byte[] b = bytes(DmarTable.of(machine("-device intel-iommu,intremap=off")));
        assertThatThrownBy(() -> DmarTable.parse(java.util.Arrays.copyOf(b, 40)))
                .isInstanceOf(IllegalArgumentException.class);
        b[0] = 'X';
        assertThatThrownBy(() -> DmarTable.parse(b)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void nvmeVfsOfTheSriovCaptureGetGroupsSixAndSeven() throws Exception {
        // t5-sriov: after `echo 2 > sriov_numvfs` Linux printed groups 6 and 7 for 01:00.1 and 01:00.2.
        var c = LinuxFixtureTest.read(LinuxFixtureTest.FIXTURES.resolve("t5-sriov.txt"));
        Kernel k = Kernel.boot(Machine.fromCommandLine(c.qemuArgs(), MachineLog.SILENT));
        IommuGroupsTest.enableVfs(k, "01:00.0", 2);
        assertThat(k.groups().groupOf(RequesterId.parse("01:00.1")).orElseThrow().id()).isEqualTo(6);
        assertThat(k.groups().groupOf(RequesterId.parse("01:00.2")).orElseThrow().id()).isEqualTo(7);
        List<String> after = LinuxFixtureTest.block(java.nio.file.Files.readAllLines(
                LinuxFixtureTest.FIXTURES.resolve("t5-sriov.txt")), "=== GROUPS-AFTER");
        List<String> ours = BootReport.groupLines(k).stream().map(l -> l.replaceFirst(" type=\\S+", "")).toList();
        assertThat(ours).containsExactlyElementsOf(after);
        Topology.Function vf = k.topology().function(RequesterId.parse("01:00.1")).orElseThrow();
        assertThat(vf.virtualFunction()).isTrue();
    }
}
