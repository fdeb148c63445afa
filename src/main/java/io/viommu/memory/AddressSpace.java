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
    long read(PhysAddr addr, int size);

    void write(PhysAddr addr, long value, int size);

    /** Whether a {@code size}-byte access at {@code addr} is decoded by something. */
    Status probe(PhysAddr addr, int size);

    /**
     * An 8-byte read for page walks: the value, or all ones when nothing decodes the address
     * (what QEMU's failed dma_memory_read leaves in a paging entry). One call instead of
     * {@link #probe} then {@link #read}; implementations with a cheaper combined path override it.
     *
     * <p>The one raw-address accessor of this interface, on purpose: it is the inner load of
     * every paging-structure walk (the IOTLB-miss hot loop), whose entry addresses are computed
     * as {@code table | index << 3} and would otherwise be wrapped once per level; through the
     * interface call escape analysis cannot always remove that wrapper. Nothing else should call it.
     */
    default long readQuadOrOnes(long addr) {
        PhysAddr a = new PhysAddr(addr);
        return probe(a, 8) == Status.OK ? read(a, 8) : -1L;
    }

    default void readBytes(PhysAddr addr, byte[] dst, int off, int len) {
        for (int i = 0; i < len; i++) {
            dst[off + i] = (byte) read(new PhysAddr(addr.value() + i), 1);
        }
    }

    default void writeBytes(PhysAddr addr, byte[] src, int off, int len) {
        for (int i = 0; i < len; i++) {
            write(new PhysAddr(addr.value() + i), src[off + i] & 0xff, 1);
        }
    }

    /**
     * Zeroes {@code len} bytes (a freshly allocated page). RAM that was never written reads as
     * zero already, so implementations backed by sparse memory leave it unbacked.
     */
    default void zero(PhysAddr addr, long len) {
        byte[] z = new byte[(int) Math.min(len, 4096)];
        for (long done = 0; done < len; done += z.length) {
            writeBytes(new PhysAddr(addr.value() + done), z, 0, (int) Math.min(z.length, len - done));
        }
    }
}
