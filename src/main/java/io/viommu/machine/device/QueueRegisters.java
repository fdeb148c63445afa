package io.viommu.machine.device;

import io.viommu.memory.Mmio;
import java.util.function.IntUnaryOperator;
import java.util.function.ObjIntConsumer;

/**
 * What the Intel NIC models share: a BAR of 32-bit registers, and descriptor rings described by
 * base (low, high), length in bytes (a multiple of 128), head and tail registers, with 16-byte
 * descriptors in little-endian layout (82574L and 82576 datasheets: "Transmit/Receive
 * Descriptor Ring Structure"). The ring is empty when head equals tail, or when tail points
 * past the ring (QEMU's {@code e1000e_ring_empty}); head wraps to 0 at the end of the ring.
 */
final class QueueRegisters {
    static final int DESC_LEN = 16;

    private final int[] regs;

    QueueRegisters(int barSize) {
        this.regs = new int[barSize / 4];
    }

    int get(int off) {
        return regs[off >> 2];
    }

    void set(int off, int v) {
        regs[off >> 2] = v;
    }

    void clear() {
        java.util.Arrays.fill(regs, 0);
    }

    /**
     * The BAR as the bus sees it: every access in range goes to the DWORD register it falls in
     * ({@code read} and {@code write} take the register offset); outside, reads 0 and writes drop.
     */
    Mmio bar(IntUnaryOperator read, ObjIntConsumer<Integer> write) {
        int size = regs.length * 4;
        return new Mmio() {
            @Override
            public long load(long offset, int len) {
                if (offset < 0 || offset + len > size) {
                    return 0;
                }
                return read.applyAsInt((int) offset & ~3) & 0xffff_ffffL;
            }

            @Override
            public void store(long offset, long value, int len) {
                if (offset >= 0 && offset + len <= size) {
                    write.accept((int) value, (int) offset & ~3);
                }
            }
        };
    }

    /** The ring's base address from its low and high registers. */
    long base(int bal, int bah) {
        return (get(bal) & 0xffff_ffffL) | (get(bah) & 0xffff_ffffL) << 32;
    }

    /** The address of the descriptor at the ring's head. */
    long head(int bal, int bah, int dh) {
        return base(bal, bah) + (long) DESC_LEN * get(dh);
    }

    boolean empty(int dh, int dt, int dlen) {
        return get(dh) == get(dt) || get(dt) >= get(dlen) / DESC_LEN;
    }

    void advance(int dh, int dlen) {
        set(dh, get(dh) + 1);
        if (get(dh) * DESC_LEN >= get(dlen)) {
            set(dh, 0);
        }
    }

    static int le32(byte[] b, int off) {
        return (b[off] & 0xff) | (b[off + 1] & 0xff) << 8 | (b[off + 2] & 0xff) << 16 | (b[off + 3] & 0xff) << 24;
    }

    static long le64(byte[] b, int off) {
        return (le32(b, off) & 0xffff_ffffL) | (long) le32(b, off + 4) << 32;
    }

    static void put32(byte[] b, int off, int v) {
        for (int i = 0; i < 4; i++) {
            b[off + i] = (byte) (v >>> (8 * i));
        }
    }
}
