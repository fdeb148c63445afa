package io.viommu.machine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.machine.device.MachineLog;
import io.viommu.memory.PhysAddr;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code -bios} image as QEMU 7.2 maps it ({@code x86_bios_rom_init}). Found by the
 * differential suite: a queue at IQA 0xfffff000 reads the HALT.bin bytes 0xf4 in QEMU, which
 * decode as interrupt-entry-cache descriptors (type 4) and are processed, not as zeros.
 */
class BiosRomTest {
    @TempDir
    Path dir;

    private Path image(int size) throws Exception {
        byte[] b = new byte[size];
        java.util.Arrays.fill(b, (byte) 0xf4);
        b[0] = 0x11;
        b[Math.max(0, size - (128 << 10))] = 0x22;
        Path p = dir.resolve("bios.bin");
        Files.write(p, b);
        return p;
    }

    private Machine machine(Path bios) throws MachineConfigException {
        return MachineBuilder.fromCommandLine(List.of("-machine", "q35", "-bios", bios.toString(), "-device", "intel-iommu"),
                MachineLog.SILENT);
    }

    @Test
    void biosImageEndsAt4GiBAndItsLast128KiBEndAt1MiB() throws Exception {
        // QEMU 7.2 with a 256 KiB image: read 0xfffc0000 -> 0x11, 0xfffe0000 -> 0x22,
        // 0xe0000 -> 0x22 (the isa-bios alias), 0xc0000 -> 0x00.
        Machine m = machine(image(256 << 10));
        assertThat(m.memory().read(PhysAddr.of(0xfffc_0000L), 1)).isEqualTo(0x11);
        assertThat(m.memory().read(PhysAddr.of(0xfffe_0000L), 1)).isEqualTo(0x22);
        assertThat(m.memory().read(PhysAddr.of(0xe_0000L), 1)).isEqualTo(0x22);
        assertThat(m.memory().read(PhysAddr.of(0xf_0000L), 8)).isEqualTo(0xf4f4_f4f4_f4f4_f4f4L);
        assertThat(m.memory().read(PhysAddr.of(0xc_0000L), 1)).isZero();
        assertThat(m.memory().read(PhysAddr.of(0xfffb_fff8L), 8)).isZero();
    }

    @Test
    void writesToTheBiosRomAreDropped() throws Exception {
        // QEMU 7.2: write 0xfffff000 / 0xf0000 then read returns the image bytes unchanged.
        Machine m = machine(image(64 << 10));
        m.memory().write(PhysAddr.of(0xffff_f000L), 0x1122_3344L, 4);
        m.memory().writeBytes(PhysAddr.of(0xf_0004L), new byte[] {1, 2, 3, 4}, 0, 4);
        assertThat(m.memory().read(PhysAddr.of(0xffff_f000L), 4)).isEqualTo(0xf4f4_f4f4L);
        assertThat(m.memory().read(PhysAddr.of(0xf_0004L), 4)).isEqualTo(0xf4f4_f4f4L);
    }

    @Test
    void aMissingOrOddSizedBiosIsRefusedWithQemusMessage() throws Exception {
        // QEMU 7.2: "qemu: could not load PC BIOS '/nonexistent'" (also for a 1000-byte file), exit 1.
        assertThatThrownBy(() -> machine(dir.resolve("nonexistent")))
                .isInstanceOf(MachineConfigException.class)
                .hasMessage("qemu: could not load PC BIOS '" + dir.resolve("nonexistent") + "'");
        Path small = dir.resolve("small.bin");
        Files.write(small, new byte[1000]);
        assertThatThrownBy(() -> machine(small)).hasMessage("qemu: could not load PC BIOS '" + small + "'");
    }

    @Test
    void closingTheMachineGivesBackItsRamAndItsFirmwareImage() throws Exception {
        Machine m = machine(image(256 << 10));
        m.ram().writeLong(PhysAddr.of(0x1000), 7);
        assertThat(m.memory().read(PhysAddr.of(0xfffc_0000L), 1)).isEqualTo(0x11);
        m.close();
        assertThat(m.ram().isClosed()).isTrue();
        assertThatThrownBy(() -> m.memory().read(PhysAddr.of(0xfffc_0000L), 1)).isInstanceOf(IllegalStateException.class);
        m.close(); // idempotent
    }

    @Test
    void closingAMachineLeavesRamItDoesNotOwn() {
        io.viommu.memory.PhysicalMemory backing = new io.viommu.memory.PhysicalMemory(256L << 20);
        Machine m = Machine.q35(256L << 20, SmpTopology.SINGLE, GuestOptions.NONE, backing);
        m.memory().write(PhysAddr.of(0x2000), 5, 8);
        m.close();
        assertThat(backing.isClosed()).isFalse();
        assertThat(backing.readLong(PhysAddr.of(0x2000))).isEqualTo(5);
    }
}
