package io.viommu.memory;

/**
 * A memory-mapped register block as seen from its own base: {@code offset} is relative to
 * the start of the region. Sizes are 1, 2, 4 or 8. Implementations decide what an access of
 * an unsupported size or offset does (usually: reads 0, write ignored), and never throw.
 */
public interface Mmio {
    long load(long offset, int size);

    void store(long offset, long value, int size);
}
