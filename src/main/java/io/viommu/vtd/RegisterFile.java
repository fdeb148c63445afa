package io.viommu.vtd;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;

/**
 * Storage of a register block with per-byte masks built from a {@link VtdRegisters.Register}
 * table. Every guest write goes through {@link #write32}/{@link #write64}, which apply
 * {@code new = ((old & ~wmask) | (val & wmask)) & ~(w1c & val)}; guest reads mask out
 * write-only bits. Raw accessors are for the device's own updates (status bits, records).
 * All offsets must be 4-byte aligned and inside the block; callers check.
 */
final class RegisterFile {
    private static final VarHandle I32 = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle I64 = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final int size;
    private final byte[] csr;
    private final byte[] wmask;
    private final byte[] w1cmask;
    private final byte[] womask;
    private final List<VtdRegisters.Register> table;

    RegisterFile(int size, List<VtdRegisters.Register> table) {
        this.size = size;
        this.table = List.copyOf(table);
        csr = new byte[size];
        wmask = new byte[size];
        w1cmask = new byte[size];
        womask = new byte[size];
        reset();
    }

    int size() {
        return size;
    }

    void reset() {
        Arrays.fill(csr, (byte) 0);
        Arrays.fill(wmask, (byte) 0);
        Arrays.fill(w1cmask, (byte) 0);
        Arrays.fill(womask, (byte) 0);
        for (VtdRegisters.Register r : table) {
            if (r.width() == 8) {
                I64.set(csr, r.offset(), r.reset());
                I64.set(wmask, r.offset(), r.writeMask());
                I64.set(w1cmask, r.offset(), r.w1cMask());
                I64.set(womask, r.offset(), r.writeOnlyMask());
            } else {
                I32.set(csr, r.offset(), (int) r.reset());
                I32.set(wmask, r.offset(), (int) r.writeMask());
                I32.set(w1cmask, r.offset(), (int) r.w1cMask());
                I32.set(womask, r.offset(), (int) r.writeOnlyMask());
            }
        }
    }

    /** Guest write of 4 bytes through the masks (QEMU vtd_set_long). */
    void write32(int off, int val) {
        int old = (int) I32.get(csr, off);
        int wm = (int) I32.get(wmask, off);
        int w1c = (int) I32.get(w1cmask, off);
        I32.set(csr, off, ((old & ~wm) | (val & wm)) & ~(w1c & val));
    }

    /** Guest write of 8 bytes through the masks (QEMU vtd_set_quad). */
    void write64(int off, long val) {
        long old = (long) I64.get(csr, off);
        long wm = (long) I64.get(wmask, off);
        long w1c = (long) I64.get(w1cmask, off);
        I64.set(csr, off, ((old & ~wm) | (val & wm)) & ~(w1c & val));
    }

    /** Guest read of 4 bytes: write-only bits read as zero. */
    int read32(int off) {
        return (int) I32.get(csr, off) & ~(int) I32.get(womask, off);
    }

    long read64(int off) {
        return (long) I64.get(csr, off) & ~(long) I64.get(womask, off);
    }

    int raw32(int off) {
        return (int) I32.get(csr, off);
    }

    long raw64(int off) {
        return (long) I64.get(csr, off);
    }

    void setRaw32(int off, int v) {
        I32.set(csr, off, v);
    }

    void setRaw64(int off, long v) {
        I64.set(csr, off, v);
    }

    /** Clears then sets bits of a 32-bit register (QEMU vtd_set_clear_mask_long). */
    int clearSet32(int off, int clear, int set) {
        int v = (raw32(off) & ~clear) | set;
        setRaw32(off, v);
        return v;
    }

    long clearSet64(int off, long clear, long set) {
        long v = (raw64(off) & ~clear) | set;
        setRaw64(off, v);
        return v;
    }

    /** The raw contents, one long per 8 bytes (for snapshots). */
    long[] snapshot() {
        long[] out = new long[size / 8];
        for (int i = 0; i < out.length; i++) {
            out[i] = raw64(i * 8);
        }
        return out;
    }

    void restore(long[] quads) {
        for (int i = 0; i < quads.length && i * 8 + 8 <= size; i++) {
            setRaw64(i * 8, quads[i]);
        }
    }
}
