package io.viommu.memory;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PhysicalMemoryTest {
    @Test
    void untouchedMemoryReadsZeroAndAllocatesNothing() {
        PhysicalMemory m = new PhysicalMemory(PhysAddr.LIMIT);
        assertThat(m.readLong(PhysAddr.of(0xF_FFFF_F000L))).isZero();
        assertThat(m.allocatedChunks()).isZero();
    }

    @Test
    void accessesAreLittleEndianAndMayCrossChunks() {
        PhysicalMemory m = new PhysicalMemory(1L << 40);
        long a = PhysicalMemory.CHUNK_SIZE - 3;
        m.writeLong(PhysAddr.of(a), 0x1122334455667788L);
        assertThat(m.read(PhysAddr.of(a), 1)).isEqualTo(0x88);
        assertThat(m.read(PhysAddr.of(a + 7), 1)).isEqualTo(0x11);
        assertThat(m.readLong(PhysAddr.of(a))).isEqualTo(0x1122334455667788L);
        assertThat(m.read(PhysAddr.of(a + 2), 4)).isEqualTo(0x33445566L);
        assertThat(m.allocatedChunks()).isEqualTo(2);
    }

    @Test
    void accessBeyondRamIsNotDecodedAndDropped() {
        PhysicalMemory m = new PhysicalMemory(1 << 20);
        m.writeLong(PhysAddr.of((1 << 20) - 4), -1L);
        assertThat(m.readLong(PhysAddr.of((1 << 20) - 4))).isZero();
        assertThat(m.probe(PhysAddr.of((1 << 20) - 4), 8)).isEqualTo(AddressSpace.Status.DECODE_ERROR);
        assertThat(m.probe(PhysAddr.of((1 << 20) - 8), 8)).isEqualTo(AddressSpace.Status.OK);
    }

    @Test
    void bulkCopyRoundTripsAcrossChunks() {
        PhysicalMemory m = new PhysicalMemory(1L << 30);
        byte[] src = new byte[10000];
        for (int i = 0; i < src.length; i++) {
            src[i] = (byte) (i * 7);
        }
        m.writeBytes(PhysAddr.of(PhysicalMemory.CHUNK_SIZE - 5000), src, 0, src.length);
        byte[] dst = new byte[src.length];
        m.readBytes(PhysAddr.of(PhysicalMemory.CHUNK_SIZE - 5000), dst, 0, dst.length);
        assertThat(dst).isEqualTo(src);
        m.fill(PhysAddr.of(PhysicalMemory.CHUNK_SIZE - 10), 20, (byte) 0xAB);
        assertThat(m.read(PhysAddr.of(PhysicalMemory.CHUNK_SIZE + 9), 1)).isEqualTo(0xAB);
        assertThat(m.read(PhysAddr.of(PhysicalMemory.CHUNK_SIZE + 10), 1)).isEqualTo(src[5010] & 0xff);
    }
}
