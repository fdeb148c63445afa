package io.viommu.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.viommu.memory.Mmio;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PciFunctionTest {
    static final Mmio NOTHING = new Mmio() {
        @Override
        public long load(long offset, int size) {
            return 0;
        }

        @Override
        public void store(long offset, long value, int size) {
        }
    };

    static final class Dev extends PciFunction {
        Dev() {
            super("dev", 0x1234, 0x5678, 0x00ff00, 1, false, ConfigSpace.CONVENTIONAL_SIZE);
            setInterruptPin(1);
            addMsi(0x40, true);
            registerBar(0, Bar.Kind.MEMORY32, 1 << 20, false, NOTHING, AccessRules.ANY);
            registerBar(2, Bar.Kind.MEMORY64, 1L << 32, true, NOTHING, AccessRules.ANY);
            registerBar(4, Bar.Kind.IO, 32, false, NOTHING, AccessRules.ANY);
        }
    }

    @Test
    void allOnesWrittenToBarReadsBackTheSizeMaskWithTypeBits() {
        Dev d = new Dev();
        d.configWrite(0x10, 0xffff_ffffL, 4);
        assertThat(d.configRead(0x10, 4)).isEqualTo(0xfff0_0000L);
        d.configWrite(0x18, 0xffff_ffffL, 4);
        d.configWrite(0x1c, 0xffff_ffffL, 4);
        assertThat(d.configRead(0x18, 4)).isEqualTo(0x0000_000cL); // 4 GiB: low dword all type bits
        assertThat(d.configRead(0x1c, 4)).isEqualTo(0xffff_ffffL);
        d.configWrite(0x20, 0xffff_ffffL, 4);
        assertThat(d.configRead(0x20, 4)).isEqualTo(0xffff_ffe1L); // as QEMU's ICH9 AHCI BAR4
    }

    @Test
    void barDecodesOnlyWithMemoryEnabledAndNotAtZeroOrAfterSizing() {
        Dev d = new Dev();
        d.configWrite(0x10, 0xfea0_0000L, 4);
        assertThat(d.barAddress(0)).isEqualTo(Bar.UNMAPPED);
        d.configWrite(PciRegs.COMMAND, PciRegs.COMMAND_MEMORY, 2);
        assertThat(d.barAddress(0)).isEqualTo(0xfea0_0000L);
        d.configWrite(0x10, 0xffff_ffffL, 4); // sizing leaves 0xfff00000: ends at 4G-1 -> unmapped
        assertThat(d.barAddress(0)).isEqualTo(Bar.UNMAPPED);
        d.configWrite(0x10, 0, 4);
        assertThat(d.barAddress(0)).isEqualTo(Bar.UNMAPPED);
        d.configWrite(0x18, 0x0000_000cL, 4);
        d.configWrite(0x1c, 0x2, 4);
        assertThat(d.barAddress(2)).isEqualTo(0x2_0000_0000L);
    }

    @Test
    void commandRegisterKeepsOnlyQemuWritableBits() {
        Dev d = new Dev();
        d.configWrite(PciRegs.COMMAND, 0xffff, 2);
        assertThat(d.command()).isEqualTo(0x0507); // QEMU 7.2 reads back 0x0507 on every function
    }

    @Test
    void msiCapabilityIsLinkedAndMaskedLikeQemuMsiInit() {
        Dev d = new Dev();
        assertThat(d.configRead(PciRegs.CAPABILITY_LIST, 1)).isEqualTo(0x40);
        assertThat(d.configRead(PciRegs.STATUS, 2)).isEqualTo(PciRegs.STATUS_CAP_LIST);
        assertThat(d.configRead(0x40, 4)).isEqualTo(0x0080_0005L); // QEMU edu: 05 00 80 00
        d.configWrite(0x40, 0xffff_ffffL, 4);
        assertThat(d.configRead(0x40, 4)).isEqualTo(0x0081_0005L); // only the enable bit
        d.configWrite(0x44, 0xffff_ffffL, 4);
        assertThat(d.configRead(0x44, 4)).isEqualTo(0xffff_fffcL);
    }

    @Test
    void intxFollowsDisableBitAndStatusShowsPendingInterrupt() {
        Dev d = new Dev();
        List<Boolean> line = new ArrayList<>();
        d.plugged(RequesterId.of(0, 1, 0), (f, level) -> line.add(level));
        d.setIntx(true);
        assertThat(d.configRead(PciRegs.STATUS, 2) & PciRegs.STATUS_INTERRUPT).isNotZero();
        d.configWrite(PciRegs.COMMAND, PciRegs.COMMAND_INTX_DISABLE, 2);
        d.configWrite(PciRegs.COMMAND, 0, 2);
        assertThat(line).containsExactly(true, false, true);
    }

    @Test
    void enablingMsiDeassertsIntx() {
        Dev d = new Dev();
        List<Boolean> line = new ArrayList<>();
        d.plugged(RequesterId.of(0, 1, 0), (f, level) -> line.add(level));
        d.setIntx(true);
        d.configWrite(0x42, MsiCapability.CONTROL_ENABLE, 2);
        assertThat(line).containsExactly(true, false);
        assertThat(d.configRead(PciRegs.STATUS, 2) & PciRegs.STATUS_INTERRUPT).isZero();
    }

    @Test
    void msiIsDroppedWhileBusMasteringIsOff() {
        Dev d = new Dev();
        List<Long> sent = new ArrayList<>();
        d.plugged(RequesterId.of(0, 1, 0), (f, level) -> { });
        d.connect(null, (addr, data, src) -> sent.add(addr));
        d.configWrite(0x44, 0xfee0_0000L, 4);
        d.configWrite(0x42, MsiCapability.CONTROL_ENABLE, 2);
        d.msiNotify();
        d.configWrite(PciRegs.COMMAND, PciRegs.COMMAND_MASTER, 2);
        d.msiNotify();
        assertThat(sent).containsExactly(0xfee0_0000L);
    }

    @Test
    void busRefusesAnOccupiedSlotWithQemusMessageAndAllocatesFirstFreeSlot() throws Exception {
        PciBus bus = new PciBus("pcie.0", 0, (f, l) -> { });
        bus.plug(new Dev(), 0);
        assertThat(bus.plug(new Dev(), -1)).isEqualTo(RequesterId.of(0, 1, 0));
        bus.plug(new Dev(), 2 << 3 | 1);
        // QEMU 7.2 (-device edu,addr=1.1 -device edu) picks slot 1 for the second one and then
        // refuses it: a single-function function 0 cannot join a populated function 1.
        assertThatThrownBy(() -> bus.plug(new Dev(), -1))
                .hasMessage("PCI: 2.0 indicates single function, but 2.1 is already populated.");
        Dev named = new Dev();
        named.setId("x");
        bus.plug(named, 5 << 3);
        assertThatThrownBy(() -> bus.plug(new Dev(), 1 << 3))
                .hasMessage("PCI: slot 1 function 0 not available for dev, in use by dev,id=(null)");
        assertThatThrownBy(() -> bus.plug(new Dev(), 5 << 3))
                .hasMessage("PCI: slot 5 function 0 not available for dev, in use by dev,id=x");
    }
}
