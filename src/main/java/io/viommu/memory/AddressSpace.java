package io.viommu.memory;

/**
 * Something that answers little-endian loads and stores at physical addresses: RAM, an MMIO
 * region, or a whole machine's dispatching bus. Sizes are 1, 2, 4 or 8 bytes.
 * Implementations never throw for an address they do not decode; they report it through
 * the returned status so that page walks can turn it into the architected fault.
 */
public interface AddressSpace {
    /** Result of an access: OK, or nothing decodes the address (QEMU's MEMTX_DECODE_ERROR). */
    enum Status { OK, DECODE_ERROR }

    /** Reads {@code size} bytes, zero-extended; an undecoded address reads as 0. */
    long read(long addr, int size);

    void write(long addr, long value, int size);

    /** Whether a {@code size}-byte access at {@code addr} is decoded by something. */
    Status probe(long addr, int size);

    /**
     * An 8-byte read for page walks: the value, or all ones when nothing decodes the address
     * (what QEMU's failed dma_memory_read leaves in a paging entry). One call instead of
     * {@link #probe} then {@link #read}; implementations with a cheaper combined path override it.
     */
    default long readQuadOrOnes(long addr) {
        return probe(addr, 8) == Status.OK ? read(addr, 8) : -1L;
    }

    default void readBytes(long addr, byte[] dst, int off, int len) {
        for (int i = 0; i < len; i++) {
            dst[off + i] = (byte) read(addr + i, 1);
        }
    }

    default void writeBytes(long addr, byte[] src, int off, int len) {
        for (int i = 0; i < len; i++) {
            write(addr + i, src[off + i] & 0xff, 1);
        }
    }

    // ------------------------------------------------------------ typed entry points
    // The boundary form: callers name a PhysAddr. The raw-long forms above remain the
    // implementations' primitive (and the page walk's allocation-free path).

    /** {@link #read(long, int)} at a typed address. */
    default long read(PhysAddr addr, int size) {
        return read(addr.value(), size);
    }

    /** {@link #write(long, long, int)} at a typed address. */
    default void write(PhysAddr addr, long value, int size) {
        write(addr.value(), value, size);
    }

    /** {@link #probe(long, int)} at a typed address. */
    default Status probe(PhysAddr addr, int size) {
        return probe(addr.value(), size);
    }

    default void readBytes(PhysAddr addr, byte[] dst, int off, int len) {
        readBytes(addr.value(), dst, off, len);
    }

    default void writeBytes(PhysAddr addr, byte[] src, int off, int len) {
        writeBytes(addr.value(), src, off, len);
    }
}
