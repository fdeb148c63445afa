package io.viommu.pci;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ConfigSpaceTest {
    @Test
    void guestWriteChangesOnlyWritableBits() {
        ConfigSpace c = new ConfigSpace(ConfigSpace.CONVENTIONAL_SIZE);
        c.define(0x40, 4, 0x0000_0001, 0x0000_ff80, 0);
        c.write(0x40, 0xffff_ffffL, 4);
        assertThat(c.read(0x40, 4)).isEqualTo(0xff81L);
        c.write(0x40, 0, 4);
        assertThat(c.read(0x40, 4)).isEqualTo(0x1L);
    }

    @Test
    void writeOneClearsW1cBitsAndWriteZeroLeavesThem() {
        ConfigSpace c = new ConfigSpace(ConfigSpace.CONVENTIONAL_SIZE);
        c.define(PciRegs.STATUS, 2, PciRegs.STATUS_REC_MASTER_ABORT | PciRegs.STATUS_CAP_LIST, 0,
                PciRegs.STATUS_W1C);
        c.write(PciRegs.STATUS, 0, 2);
        assertThat(c.read(PciRegs.STATUS, 2)).isEqualTo(PciRegs.STATUS_REC_MASTER_ABORT | PciRegs.STATUS_CAP_LIST);
        c.write(PciRegs.STATUS, 0xffff, 2);
        assertThat(c.read(PciRegs.STATUS, 2)).isEqualTo(PciRegs.STATUS_CAP_LIST);
    }

    @Test
    void unalignedAccessesReadLittleEndianBytesAndPastTheEndReadsAllOnes() {
        ConfigSpace c = new ConfigSpace(ConfigSpace.CONVENTIONAL_SIZE);
        c.define(0, 4, 0x11e8_1234L, 0, 0);
        assertThat(c.read(1, 2)).isEqualTo(0xe812L);
        assertThat(c.read(0xfe, 4)).isEqualTo(0xffff_0000L);
    }
}
