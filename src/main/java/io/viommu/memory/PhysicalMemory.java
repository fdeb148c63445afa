package io.viommu.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.nio.ByteOrder;

/**
 * Sparse physical RAM addressable up to 2^52 bytes. Backing is allocated in 2 MiB
 * {@link MemorySegment} chunks on first write; an untouched chunk reads as zero and costs
 * nothing. Accesses are little-endian (all VT-d and PCI structures are) and may be unaligned
 * or cross a chunk boundary. Addresses outside [0, size) are not RAM: reads return 0 and
 * writes are dropped, and {@link #probe} says DECODE_ERROR so a caller can fault.
 *
 * <p>The chunk directory is two-level (bits 51:36, then 35:21) so lookup is two array loads
 * with no boxing; the last chunk used is cached for the common case of locality.
 *
 * <p>The chunks live off the Java heap. {@link #close} gives them back at once (the machine that
 * owns the RAM closes it with itself); RAM that is never closed gives them back when it becomes
 * unreachable, so a process that builds many machines does not keep the RAM of finished ones.
 * Closed RAM refuses every further access with {@link IllegalStateException}.
 */
public final class PhysicalMemory implements AddressSpace, AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    public static final int CHUNK_SHIFT = 21;
    public static final long CHUNK_SIZE = 1L << CHUNK_SHIFT;
    private static final long CHUNK_MASK = CHUNK_SIZE - 1;
    private static final int L2_BITS = 36 - CHUNK_SHIFT; // 15
    private static final int L1_BITS = PhysAddr.MAX_WIDTH - 36; // 16

    private static final ValueLayout.OfShort LE_SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_INT =
            ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_LONG =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final long size;
    private final Arena arena = Arena.ofShared();
    private final Cleaner.Cleanable release;
    private boolean closed;
    private final MemorySegment[][] directory = new MemorySegment[1 << L1_BITS][];
    private long cachedChunkIndex = -1;
    private MemorySegment cachedChunk;
    private long allocatedChunks;

    /** RAM of {@code size} bytes starting at physical address 0. */
    public PhysicalMemory(long size) {
        if (size <= 0 || size > PhysAddr.LIMIT) {
            throw new IllegalArgumentException("RAM size must be in (0, 2^52], got " + size);
        }
        this.size = size;
        Arena a = arena; // the action must not reach this object, or it would never become unreachable
        this.release = CLEANER.register(this, a::close);
    }

    /**
     * Gives the backing memory back now; every later access throws {@link IllegalStateException}.
     * Idempotent. Segments read before (none escape this class) must not be used afterwards.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        cachedChunkIndex = -1;
        cachedChunk = null;
        java.util.Arrays.fill(directory, null);
        release.clean();
    }

    /** Whether {@link #close} was called. */
    public boolean isClosed() {
        return closed;
    }

    private IllegalStateException closedError() {
        return new IllegalStateException("guest RAM of " + size + " bytes was closed (released with its machine)");
    }

    public long size() {
        return size;
    }

    /** Number of 2 MiB chunks actually backed (for tests and reports). */
    public long allocatedChunks() {
        return allocatedChunks;
    }

    public boolean contains(PhysAddr addr, int len) {
        return inRange(addr.value(), len);
    }

    private boolean inRange(long addr, int len) {
        return addr >= 0 && len >= 0 && addr <= size - len;
    }

    @Override
    public Status probe(PhysAddr addr, int len) {
        return inRange(addr.value(), len) ? Status.OK : Status.DECODE_ERROR;
    }

    private MemorySegment chunkForRead(long addr) {
        long idx = addr >>> CHUNK_SHIFT;
        if (idx == cachedChunkIndex) {
            return cachedChunk;
        }
        MemorySegment[] l2 = directory[(int) (idx >>> L2_BITS)];
        if (l2 == null) {
            if (closed) {
                throw closedError();
            }
            return null;
        }
        MemorySegment c = l2[(int) (idx & ((1 << L2_BITS) - 1))];
        if (c != null) {
            cachedChunkIndex = idx;
            cachedChunk = c;
        }
        return c;
    }

    private MemorySegment chunkForWrite(long addr) {
        MemorySegment c = chunkForRead(addr);
        if (c != null) {
            return c;
        }
        long idx = addr >>> CHUNK_SHIFT;
        int i1 = (int) (idx >>> L2_BITS);
        MemorySegment[] l2 = directory[i1];
        if (l2 == null) {
            l2 = new MemorySegment[1 << L2_BITS];
            directory[i1] = l2;
        }
        c = arena.allocate(CHUNK_SIZE, Page.SIZE);
        l2[(int) (idx & ((1 << L2_BITS) - 1))] = c;
        allocatedChunks++;
        cachedChunkIndex = idx;
        cachedChunk = c;
        return c;
    }

    private static boolean crossesChunk(long addr, int len) {
        return ((addr & CHUNK_MASK) + len) > CHUNK_SIZE;
    }

    /** Little-endian 8-byte read; the hot path of page walks. */
    public long readLong(PhysAddr pa) {
        long addr = pa.value();
        if (!inRange(addr, 8)) {
            return 0;
        }
        if (crossesChunk(addr, 8)) {
            return readSlow(addr, 8);
        }
        MemorySegment c = chunkForRead(addr);
        return c == null ? 0 : c.get(LE_LONG, addr & CHUNK_MASK);
    }

    /**
     * {@link #readLong} with one range check, for page walks (the hot loop of a translation
     * miss). Raw address on purpose, see {@link AddressSpace#readQuadOrOnes}.
     */
    @Override
    public long readQuadOrOnes(long addr) {
        if (!inRange(addr, 8)) {
            return -1L;
        }
        if (crossesChunk(addr, 8)) {
            return readSlow(addr, 8);
        }
        MemorySegment c = chunkForRead(addr);
        return c == null ? 0 : c.get(LE_LONG, addr & CHUNK_MASK);
    }

    public int readInt(PhysAddr addr) {
        return (int) load(addr.value(), 4);
    }

    public void writeLong(PhysAddr addr, long value) {
        store(addr.value(), value, 8);
    }

    public void writeInt(PhysAddr addr, int value) {
        store(addr.value(), value & 0xffffffffL, 4);
    }

    @Override
    public long read(PhysAddr addr, int len) {
        return load(addr.value(), len);
    }

    @Override
    public void write(PhysAddr addr, long value, int len) {
        store(addr.value(), value, len);
    }

    // The chunk accessors below take the raw value: they are this class's inside, called per
    // byte or per piece in loops, and never cross the AddressSpace boundary.

    private long load(long addr, int len) {
        if (!inRange(addr, len)) {
            return 0;
        }
        if (crossesChunk(addr, len)) {
            return readSlow(addr, len);
        }
        MemorySegment c = chunkForRead(addr);
        if (c == null) {
            return 0;
        }
        long off = addr & CHUNK_MASK;
        return switch (len) {
            case 1 -> c.get(ValueLayout.JAVA_BYTE, off) & 0xffL;
            case 2 -> c.get(LE_SHORT, off) & 0xffffL;
            case 4 -> c.get(LE_INT, off) & 0xffffffffL;
            case 8 -> c.get(LE_LONG, off);
            default -> throw new IllegalArgumentException("access size " + len);
        };
    }

    private long readSlow(long addr, int len) {
        long v = 0;
        for (int i = 0; i < len; i++) {
            v |= load(addr + i, 1) << (8 * i);
        }
        return v;
    }

    private void store(long addr, long value, int len) {
        if (!inRange(addr, len)) {
            return;
        }
        if (crossesChunk(addr, len)) {
            for (int i = 0; i < len; i++) {
                store(addr + i, (value >>> (8 * i)) & 0xff, 1);
            }
            return;
        }
        MemorySegment c = chunkForWrite(addr);
        long off = addr & CHUNK_MASK;
        switch (len) {
            case 1 -> c.set(ValueLayout.JAVA_BYTE, off, (byte) value);
            case 2 -> c.set(LE_SHORT, off, (short) value);
            case 4 -> c.set(LE_INT, off, (int) value);
            case 8 -> c.set(LE_LONG, off, value);
            default -> throw new IllegalArgumentException("access size " + len);
        }
    }

    @Override
    public void readBytes(PhysAddr pa, byte[] dst, int off, int len) {
        long addr = pa.value();
        int done = 0;
        while (done < len) {
            long a = addr + done;
            int n = (int) Math.min(len - done, CHUNK_SIZE - (a & CHUNK_MASK));
            MemorySegment c = inRange(a, n) ? chunkForRead(a) : null;
            if (c == null) {
                java.util.Arrays.fill(dst, off + done, off + done + n, (byte) 0);
            } else {
                MemorySegment.copy(c, ValueLayout.JAVA_BYTE, a & CHUNK_MASK, dst, off + done, n);
            }
            done += n;
        }
    }

    @Override
    public void writeBytes(PhysAddr pa, byte[] src, int off, int len) {
        long addr = pa.value();
        int done = 0;
        while (done < len) {
            long a = addr + done;
            int n = (int) Math.min(len - done, CHUNK_SIZE - (a & CHUNK_MASK));
            if (inRange(a, n)) {
                MemorySegment c = chunkForWrite(a);
                MemorySegment.copy(src, off + done, c, ValueLayout.JAVA_BYTE, a & CHUNK_MASK, n);
            }
            done += n;
        }
    }

    @Override
    public void zero(PhysAddr pa, long len) {
        fill(pa, len, (byte) 0); // leaves an untouched chunk unallocated
    }

    /** Fills {@code len} bytes with {@code value}. */
    public void fill(PhysAddr pa, long len, byte value) {
        long addr = pa.value();
        long done = 0;
        while (done < len) {
            long a = addr + done;
            long n = Math.min(len - done, CHUNK_SIZE - (a & CHUNK_MASK));
            if (inRange(a, (int) n)) {
                if (value != 0 || chunkForRead(a) != null) {
                    chunkForWrite(a).asSlice(a & CHUNK_MASK, n).fill(value);
                }
            }
            done += n;
        }
    }
}
