package io.viommu.machine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.machine.config.QemuCommandLine;
import io.viommu.machine.device.MachineLog;
import io.viommu.machine.device.Mch;
import io.viommu.memory.PhysAddr;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class MachineTest {
    /** A machine as QEMU builds it with {@code -nodefaults} (the values below were read that way). */
    static Machine machine(String... args) throws MachineConfigException {
        java.util.List<String> all = new java.util.ArrayList<>(List.of("-nodefaults"));
        all.addAll(List.of(args));
        return MachineBuilder.fromCommandLine(all, MachineLog.SILENT);
    }

    static long cf8Read(Machine m, int dev, int fn, int reg, int size) {
        m.io().out(0xcf8, 0x8000_0000L | dev << 11 | fn << 8 | (reg & 0xfc), 4);
        return m.io().in(0xcfc + (reg & 3), size);
    }

    static void cf8Write(Machine m, int dev, int fn, int reg, long v, int size) {
        m.io().out(0xcf8, 0x8000_0000L | dev << 11 | fn << 8 | (reg & 0xfc), 4);
        m.io().out(0xcfc + (reg & 3), v, size);
    }

    static long cf8Read(Machine m, io.viommu.pci.RequesterId rid, int reg, int size) {
        m.io().out(0xcf8, 0x8000_0000L | (long) rid.value() << 8 | (reg & 0xfc), 4);
        return m.io().in(0xcfc + (reg & 3), size);
    }

    static void cf8Write(Machine m, io.viommu.pci.RequesterId rid, int reg, long v, int size) {
        m.io().out(0xcf8, 0x8000_0000L | (long) rid.value() << 8 | (reg & 0xfc), 4);
        m.io().out(0xcfc + (reg & 3), v, size);
    }

    static void enableEcam(Machine m) {
        cf8Write(m, 0, 0, Mch.PCIEXBAR, 0xb000_0001L, 4);
    }

    @Test
    void ecamIsOffUntilPciexbarIsEnabledAsWithoutFirmwareInQemu() throws Exception {
        Machine m = machine();
        assertThat(m.memory().read(PhysAddr.of(0xb000_0000L), 4)).isZero();
        assertThat(cf8Read(m, 0, 0, Mch.PCIEXBAR, 4)).isEqualTo(0xb000_0000L);
        enableEcam(m);
        assertThat(m.memory().read(PhysAddr.of(0xb000_0000L), 4)).isEqualTo(0x29c0_8086L);
    }

    @Test
    void pciexbarLengthAndAddressMaskFollowQemu() throws Exception {
        // Checked with QEMU 7.2: 0xbc000003 (128 MiB) maps at 0xb4000000, 0xbc000005 (64 MiB) at
        // 0xb0000000, and the reserved length leaves the window where it was.
        Machine m = machine();
        cf8Write(m, 0, 0, Mch.PCIEXBAR, 0xbc00_0003L, 4);
        assertThat(m.host().ecamBase()).isEqualTo(0xb400_0000L);
        assertThat(m.host().ecamSize()).isEqualTo(128L << 20);
        cf8Write(m, 0, 0, Mch.PCIEXBAR, 0xbc00_0005L, 4);
        assertThat(m.host().ecamBase()).isEqualTo(0xb000_0000L);
        assertThat(m.host().ecamSize()).isEqualTo(64L << 20);
        cf8Write(m, 0, 0, Mch.PCIEXBAR, 0xb000_0007L, 4);
        assertThat(m.host().ecamSize()).isEqualTo(64L << 20);
    }

    @Property(tries = 200)
    void ecamAndCf8ReadTheSameBytes(@ForAll @IntRange(min = 0, max = 6) int which,
                                    @ForAll @IntRange(min = 0, max = 255) int reg,
                                    @ForAll @IntRange(min = 0, max = 2) int sizeLog) throws Exception {
        int[][] fns = {{0, 0}, {1, 0}, {2, 0}, {0x1f, 0}, {0x1f, 1}, {0x1f, 2}, {0x1f, 3}};
        Machine m = machine("-device", "edu");
        enableEcam(m);
        int size = 1 << sizeLog;
        int dev = fns[which][0];
        int fn = fns[which][1];
        int r = reg & -size;
        long viaEcam = m.memory().read(PhysAddr.of(0xb000_0000L | dev << 15 | fn << 12 | r), size);
        assertThat(viaEcam).isEqualTo(cf8Read(m, dev, fn, r, size));
    }

    @Test
    void unalignedConfigAccessesSplitLikeQemu() throws Exception {
        Machine m = machine("-device", "edu");
        enableEcam(m);
        // Values read from QEMU 7.2 for the same accesses.
        assertThat(m.memory().read(PhysAddr.of(0xb000_8000L), 8)).isEqualTo(0x0010_0000_11e8_1234L);
        assertThat(m.memory().read(PhysAddr.of(0xb000_8002L), 4)).isEqualTo(0x0000_11e8L);
        assertThat(m.memory().read(PhysAddr.of(0xb000_8001L), 2)).isEqualTo(0xe812L);
        assertThat(m.memory().read(PhysAddr.of(0xb000_80feL), 4)).isEqualTo(0xffff_0000L);
        m.io().out(0xcf8, 0x8000_0002L, 4);
        assertThat(m.io().in(0xcfd, 4)).isEqualTo(0xff29_c029L);
        assertThat(m.io().in(0xcf8, 2)).isEqualTo(0x0002L);
        m.io().out(0xcf8, 0x1234, 2); // narrow writes do not reach CONFIG_ADDRESS
        assertThat(m.io().in(0xcf8, 4)).isEqualTo(0x8000_0002L);
    }

    @Test
    void configSpacesMatchQemuDump() throws Exception {
        // Dwords read from QEMU 7.2 (-machine q35 -nodefaults, HALT firmware, -device edu).
        Machine m = machine("-device", "edu");
        long[][] expect = {
            {0x00, 0, 0x00, 0x29c08086L}, {0x00, 0, 0x08, 0x06000000L}, {0x00, 0, 0x2c, 0x11001af4L},
            {0x00, 0, 0x50, 0x00000010L}, {0x00, 0, 0x60, 0xb0000000L}, {0x00, 0, 0x9c, 0x00380200L},
            {0x1f, 0, 0x00, 0x29188086L}, {0x1f, 0, 0x08, 0x06010002L}, {0x1f, 0, 0x0c, 0x00800000L},
            {0x1f, 0, 0x40, 0x00000001L}, {0x1f, 0, 0x60, 0x80808080L}, {0x1f, 0, 0x68, 0x80808080L},
            {0x1f, 2, 0x00, 0x29228086L}, {0x1f, 2, 0x04, 0x00100000L}, {0x1f, 2, 0x08, 0x01060102L},
            {0x1f, 2, 0x20, 0x00000001L}, {0x1f, 2, 0x34, 0x00000080L}, {0x1f, 2, 0x3c, 0x00000100L},
            {0x1f, 2, 0x80, 0x0080a805L}, {0x1f, 2, 0x90, 0x00000040L}, {0x1f, 2, 0xa8, 0x00100012L},
            {0x1f, 2, 0xac, 0x00000048L}, {0x1f, 3, 0x00, 0x29308086L}, {0x1f, 3, 0x08, 0x0c050002L},
            {0x1f, 3, 0x20, 0x00000001L}, {0x1f, 3, 0x3c, 0x00000100L},
            {0x01, 0, 0x00, 0x11e81234L}, {0x01, 0, 0x04, 0x00100000L}, {0x01, 0, 0x08, 0x00ff0010L},
            {0x01, 0, 0x34, 0x00000040L}, {0x01, 0, 0x3c, 0x00000100L}, {0x01, 0, 0x40, 0x00800005L},
            {0x02, 0, 0x00, 0xffffffffL},
        };
        for (long[] e : expect) {
            assertThat(cf8Read(m, (int) e[0], (int) e[1], (int) e[2], 4))
                    .as("%02x.%d reg 0x%02x", e[0], e[1], e[2]).isEqualTo(e[3]);
        }
    }

    @Test
    void ramEndsAtItsSizeAndDefaultIs128MiB() throws Exception {
        Machine m = machine();
        m.memory().write(PhysAddr.of(0x7ff_fffeL), 0x1122_3344L, 4); // QEMU 7.2: upper half dropped
        assertThat(m.memory().read(PhysAddr.of(0x7ff_fffcL), 4)).isEqualTo(0x3344_0000L);
        assertThat(machine("-m", "256M").ram().size()).isEqualTo(256L << 20);
        assertThat(machine("-m", "1G").ram().size()).isEqualTo(1L << 30);
        assertThat(machine("-m", "512").ram().size()).isEqualTo(512L << 20);
    }

    @Test
    void unassignedMemoryReadsZeroAndUnassignedPortsReadAllOnes() throws Exception {
        Machine m = machine();
        assertThat(m.memory().read(PhysAddr.of(0xc000_0000L), 4)).isZero();
        assertThat(m.io().in(0x1234, 2)).isEqualTo(0xffffL);
        m.memory().write(PhysAddr.of(0xc0000), 0x1234_5678L, 4); // QEMU: PAM hole at reset, write dropped
        assertThat(m.memory().read(PhysAddr.of(0xc0000), 4)).isZero();
    }

    @Test
    void devicesArePlacedInOrderFromSlotOneAndAtTheirAddr() throws Exception {
        Machine m = machine("-device", "edu,addr=3", "-device", "edu", "-device", "edu,addr=1f.1,bus=pcie.0");
        assertThat(m.devices()).extracting(f -> f.address().toString())
                .containsExactly("00:03.0", "00:01.0", "00:1f.1");
    }

    @Test
    void refusedDevicesCarryQemusExactText() {
        // Each text printed by qemu-system-x86_64 7.2 for the same command line.
        assertThatThrownBy(() -> machine("-device", "foo"))
                .hasMessage("qemu-system-x86_64: -device foo: 'foo' is not a valid device model name");
        assertThatThrownBy(() -> machine("-device", "edu,foo=1"))
                .hasMessage("qemu-system-x86_64: -device edu,foo=1: Property 'edu.foo' not found");
        assertThatThrownBy(() -> machine("-device", "edu,addr=1", "-device", "edu,addr=1"))
                .hasMessage("qemu-system-x86_64: -device edu,addr=1: PCI: slot 1 function 0 not available"
                        + " for edu, in use by edu,id=(null)");
        assertThatThrownBy(() -> machine("-device", "edu,addr=0"))
                .hasMessage("qemu-system-x86_64: -device edu,addr=0: PCI: slot 0 function 0 not available"
                        + " for edu, in use by mch,id=(null)");
        assertThatThrownBy(() -> machine("-device", "edu,addr=1f"))
                .hasMessage("qemu-system-x86_64: -device edu,addr=1f: PCI: slot 31 function 0 not"
                        + " available for edu, in use by ICH9-LPC,id=(null)");
        assertThatThrownBy(() -> machine("-device", "edu,addr=20"))
                .hasMessage("qemu-system-x86_64: -device edu,addr=20: Property 'edu.addr' doesn't take value '20'");
        assertThatThrownBy(() -> machine("-device", "edu,bus=pcie.1"))
                .hasMessage("qemu-system-x86_64: -device edu,bus=pcie.1: Bus 'pcie.1' not found");
        assertThatThrownBy(() -> machine("-device", "edu,dma_mask=zz"))
                .hasMessage("qemu-system-x86_64: -device edu,dma_mask=zz: Parameter 'dma_mask' expects integer");
        assertThatThrownBy(() -> machine("-device", "edu,id=x", "-device", "edu,id=x"))
                .hasMessage("qemu-system-x86_64: -device edu,id=x: Duplicate ID 'x' for device");
        assertThatThrownBy(() -> machine("-device", "intel-iommu", "-device", "intel-iommu"))
                .hasMessage("qemu-system-x86_64: -device intel-iommu: QEMU does not support multiple vIOMMUs for x86 yet.");
        assertThatThrownBy(() -> machine("-device"))
                .hasMessage("qemu-system-x86_64: -device: requires an argument");
    }

    @Test
    void thirtyOneEdusDoNotFitLikeInQemu() {
        String[] args = new String[62];
        for (int i = 0; i < 31; i++) {
            args[2 * i] = "-device";
            args[2 * i + 1] = "edu";
        }
        assertThatThrownBy(() -> machine(args)).hasMessage(
                "qemu-system-x86_64: -device edu: PCI: no slot/function available for edu, all in use or reserved");
    }

    @Test
    void emulatedDevicesBeforeAndAfterIntelIommuAreBothCovered() throws Exception {
        // QEMU 7.2 sets bus-master address spaces up at machine done (pcibus_machine_done):
        // checked with QEMU 7.2, an edu listed first DMAs through the vIOMMU and faults in it
        Machine m = machine("-device", "edu", "-device", "intel-iommu", "-device", "edu");
        assertThat(m.devices().get(0).dma().isTranslated()).isTrue();
        assertThat(m.devices().get(1).dma().isTranslated()).isTrue();
        assertThat(m.memory().lookup(PhysAddr.of(0xfed9_0000L)).name()).isEqualTo("intel-iommu");
    }

    @Test
    void ignoredQemuOptionsAreAccepted() throws Exception {
        Machine m = machine("-machine", "q35,accel=tcg", "-M", "q35", "-display", "none", "-nodefaults",
                "-monitor", "none", "-serial", "none", "-qtest", "stdio", "-d", "guest_errors",
                "-D", "log", "-accel", "tcg");
        assertThat(m.ram().size()).isEqualTo(QemuCommandLine.DEFAULT_RAM);
        assertThatThrownBy(() -> machine("-machine", "pc")).isInstanceOf(MachineConfigException.class);
    }

    @Test
    void intxOfSlotOneReachesGsi21() {
        assertThat(Machine.intxGsi(1, 1)).isEqualTo(21); // QEMU 7.2: edu at 00:01.0 raises IRQ 21
        assertThat(Machine.intxGsi(2, 1)).isEqualTo(22);
        assertThat(Machine.intxGsi(4, 1)).isEqualTo(20);
    }
}
