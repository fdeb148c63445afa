package io.viommu.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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

    @Test
    void closedRamRefusesEveryAccessAndClosingTwiceIsHarmless() {
        PhysicalMemory m = new PhysicalMemory(1L << 30);
        m.writeLong(PhysAddr.of(0x1000), 42);
        assertThat(m.isClosed()).isFalse();
        m.close();
        assertThat(m.isClosed()).isTrue();
        // the chunk that was backed and one that never was: both refused, not read as zero
        assertThatThrownBy(() -> m.readLong(PhysAddr.of(0x1000))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(() -> m.read(PhysAddr.of(0x4000_0000L - 8), 8)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> m.readQuadOrOnes(0x1000)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> m.writeInt(PhysAddr.of(0x2000), 1)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> m.readBytes(PhysAddr.of(0), new byte[16], 0, 16))
                .isInstanceOf(IllegalStateException.class);
        m.close();
        assertThat(m.isClosed()).isTrue();
    }
}
