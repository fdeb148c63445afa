package io.viommu.machine;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.EduDevice;
import io.viommu.machine.device.MachineLog;
import io.viommu.memory.Iova;
import io.viommu.pci.DmaFault;
import io.viommu.pci.DmaRemapper;
import io.viommu.pci.PciRegs;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class EduDeviceTest {
    static final long BAR = 0xfea0_0000L;
    final List<String> stdout = new ArrayList<>();
    final List<String> errors = new ArrayList<>();
    final MachineLog log = new MachineLog() {
        @Override
        public void stdout(String line) {
            stdout.add(line);
        }

        @Override
        public void guestError(String message) {
            errors.add(message);
        }
    };

    Machine boot(String... devices) throws Exception {
        List<String> args = new ArrayList<>(List.of("-nodefaults"));
        for (String d : devices) {
            args.add("-device");
            args.add(d);
        }
        Machine m = MachineBuilder.fromCommandLine(args, log);
        MachineTest.cf8Write(m, 1, 0, 0x10, BAR, 4);
        MachineTest.cf8Write(m, 1, 0, PciRegs.COMMAND, PciRegs.COMMAND_MEMORY | PciRegs.COMMAND_MASTER, 2);
        return m;
    }

    @Test
    void registersAnswerAsQemuEdu() throws Exception {
        Machine m = boot("edu");
        var mem = m.memory();
        assertThat(mem.read(BAR, 4)).isEqualTo(0x010000edL);
        mem.write(BAR + 4, 0x12345678L, 4);
        assertThat(mem.read(BAR + 4, 4)).isEqualTo(0xedcba987L);
        // Values below observed with QEMU 7.2 for the same accesses.
        assertThat(mem.read(BAR, 2)).isZero();           // refused by the bus
        assertThat(mem.read(BAR, 8)).isEqualTo(-1L);     // 8 bytes below 0x80: all ones
        assertThat(mem.read(BAR + 2, 4)).isZero();       // unaligned
        assertThat(mem.read(BAR + 0x0c, 4)).isEqualTo(0xffff_ffffL);
        assertThat(mem.read(BAR + 0x40000, 4)).isEqualTo(0xffff_ffffL); // buffer is not in the BAR
        mem.write(BAR + 4, 1, 8); // splits into 0x04 and 0x08 writes
        assertThat(mem.read(BAR + 4, 4)).isEqualTo(0xffff_fffeL);
        mem.write(BAR + 0x80, 0x1122334455667788L, 8);
        mem.write(BAR + 0x80, 0xaabbccddL, 4);
        assertThat(mem.read(BAR + 0x80, 8)).isEqualTo(0xaabbccddL);
        assertThat(mem.read(BAR + 0x84, 8)).isEqualTo(0x0000_0000_ffff_ffffL);
    }

    @Test
    void factorialCompletesAtOnceAndWrapsAt32Bits() throws Exception {
        Machine m = boot("edu");
        m.memory().write(BAR + 8, 13, 4);
        assertThat(m.memory().read(BAR + 0x20, 4)).isZero();
        assertThat(m.memory().read(BAR + 8, 4)).isEqualTo(0x7328cc00L); // QEMU 7.2 value
        m.memory().write(BAR + 0x20, 0xffff_ffffL, 4);
        assertThat(m.memory().read(BAR + 0x20, 4)).isEqualTo(0x80L);
        m.memory().write(BAR + 8, 0xffff_ffffL, 4);
        assertThat(m.memory().read(BAR + 0x24, 4)).isEqualTo(EduDevice.FACT_IRQ);
    }

    @Test
    void dmaRoundTripThroughRamWithInterruptOnGsi21() throws Exception {
        Machine m = boot("intel-iommu", "edu");
        m.memory().write(0x100000, 0x8877665544332211L, 8);
        var mem = m.memory();
        mem.write(BAR + 0x80, 0x100000, 8);
        mem.write(BAR + 0x88, 0x40000, 8);
        mem.write(BAR + 0x90, 8, 8);
        mem.write(BAR + 0x98, 1, 8);
        mem.write(BAR + 0x80, 0x40000, 8);
        mem.write(BAR + 0x88, 0x200000, 8);
        mem.write(BAR + 0x98, 7, 8);
        assertThat(mem.read(0x200000, 8)).isEqualTo(0x8877665544332211L);
        assertThat(mem.read(BAR + 0x98, 8)).isEqualTo(6);
        assertThat(mem.read(BAR + 0x24, 4)).isEqualTo(EduDevice.DMA_IRQ);
        assertThat(m.interrupts().lineLevel(21)).isTrue();
        mem.write(BAR + 0x64, EduDevice.DMA_IRQ, 4);
        assertThat(m.interrupts().lineLevel(21)).isFalse();
    }

    @Test
    void ramSideAddressIsClampedToDmaMaskWithQemusMessage() throws Exception {
        Machine m = boot("edu");
        EduDevice edu = (EduDevice) m.devices().get(0);
        edu.state().buffer[4] = 0x44;
        var mem = m.memory();
        mem.write(BAR + 0x80, 0x40004, 8);
        mem.write(BAR + 0x88, 0x10200000L, 8);
        mem.write(BAR + 0x90, 1, 8);
        mem.write(BAR + 0x98, 3, 8);
        assertThat(mem.read(0x200000, 1)).isEqualTo(0x44);
        assertThat(stdout).containsExactly("EDU: clamping DMA 0x0000000010200000 to 0x0000000000200000!");
        mem.write(BAR + 0x88, 0x10000000L, 8);
        mem.write(BAR + 0x98, 3, 8);
        assertThat(stdout.get(1)).isEqualTo("EDU: clamping DMA 0x0000000010000000 to 0000000000000000!");
    }

    @Test
    void outOfRangeDmaIsRefusedInsteadOfAborting() throws Exception {
        Machine m = boot("edu");
        var mem = m.memory();
        mem.write(0x100000, -1L, 8);
        mem.write(BAR + 0x80, 0x40000, 8);
        mem.write(BAR + 0x88, 0x100000, 8);
        mem.write(BAR + 0x90, 4096, 8); // QEMU 7.2 hw_error()s on this (end must be < 0x41000)
        mem.write(BAR + 0x98, 3, 8);
        assertThat(mem.read(0x100000, 8)).isEqualTo(-1L);
        assertThat(mem.read(BAR + 0x98, 8)).isEqualTo(2);
        assertThat(errors).hasSize(1);
        mem.write(BAR + 0x90, 0, 8); // a zero count too
        mem.write(BAR + 0x98, 1, 8);
        assertThat(errors).hasSize(2);
        assertThat(EduDevice.inBuffer(0x40000, 4095)).isTrue();
        assertThat(EduDevice.inBuffer(0x40000, -1L)).isFalse();
    }

    @Test
    void dmaWithBusMasteringOffFillsBufferWithZerosAsQemu() throws Exception {
        Machine m = boot("edu");
        EduDevice edu = (EduDevice) m.devices().get(0);
        java.util.Arrays.fill(edu.state().buffer, (byte) 0x11);
        m.memory().write(0x100000, -1L, 8);
        MachineTest.cf8Write(m, 1, 0, PciRegs.COMMAND, PciRegs.COMMAND_MEMORY, 2);
        var mem = m.memory();
        mem.write(BAR + 0x80, 0x100000, 8);
        mem.write(BAR + 0x88, 0x40000, 8);
        mem.write(BAR + 0x90, 16, 8);
        mem.write(BAR + 0x98, 1, 8);
        assertThat(edu.lastDma().masterDisabled()).isTrue();
        assertThat(java.util.Arrays.copyOf(edu.state().buffer, 16)).containsOnly(0);
        assertThat(edu.state().buffer[16]).isEqualTo((byte) 0x11);
    }

    @Test
    void dmaGoesThroughTheRemapperAndAFaultMovesNothing() throws Exception {
        Machine m = boot("edu");
        EduDevice edu = (EduDevice) m.devices().get(0);
        DmaRemapper faulting = req -> new DmaFault(req.requester(), req.iova(), req.access(), 5,
                "write to read-only page", true);
        edu.connect(new io.viommu.pci.DmaPort(edu.address(), m.memory(), faulting, edu::busMasterEnabled),
                m.interrupts());
        edu.state().buffer[0] = 0x5a;
        var mem = m.memory();
        mem.write(BAR + 0x80, 0x40000, 8);
        mem.write(BAR + 0x88, 0x300000, 8);
        mem.write(BAR + 0x90, 4, 8);
        mem.write(BAR + 0x98, 3, 8);
        assertThat(mem.read(0x300000, 4)).isZero();
        assertThat(edu.lastDma().fault().reason()).isEqualTo(5);
        assertThat(edu.lastDma().fault().requester().toString()).isEqualTo("00:01.0");
        assertThat(edu.lastDma().fault().iova()).isEqualTo(new Iova(0x300000));
    }

    @Test
    void msiIsSentInsteadOfIntxOnceEnabled() throws Exception {
        Machine m = boot("edu");
        MachineTest.cf8Write(m, 1, 0, 0x44, 0xfee0_0000L, 4);
        MachineTest.cf8Write(m, 1, 0, 0x4c, 0x41, 4);
        MachineTest.cf8Write(m, 1, 0, 0x40, 0x0081_0005L, 4);
        m.memory().write(BAR + 0x60, 1, 4);
        assertThat(m.interrupts().lineLevel(21)).isFalse();
        assertThat(m.interrupts().msiLog()).singleElement()
                .satisfies(msi -> {
                    assertThat(msi.address()).isEqualTo(0xfee0_0000L);
                    assertThat(msi.data()).isEqualTo(0x41);
                    assertThat(msi.source().toString()).isEqualTo("00:01.0");
                });
    }

    @Test
    void barMovesWithItsRegisterAndRamHidesABarProgrammedOverIt() throws Exception {
        Machine m = boot("edu");
        MachineTest.cf8Write(m, 1, 0, 0x10, 0xfeb0_0000L, 4);
        assertThat(m.memory().read(0xfeb0_0000L, 4)).isEqualTo(0x010000edL);
        assertThat(m.memory().read(BAR, 4)).isZero();
        MachineTest.cf8Write(m, 1, 0, 0x10, 0x0100_0000L, 4);
        assertThat(m.memory().read(0x0100_0000L, 4)).isZero(); // QEMU 7.2: RAM wins
    }
}
