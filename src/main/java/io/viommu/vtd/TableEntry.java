package io.viommu.vtd;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.PhysAddr;

/**
 * A flyweight over one entry of a VT-d structure in guest memory (root, context, PASID
 * directory and PASID entries, paging entries), for inspection and tests: {@link #wrap} binds
 * it to an address, {@link #quad} reads it, {@code toString()} prints every field. Decoding
 * is each entry type's tiny static methods over raw quads, which the walks call directly
 * (allocating nothing).
 */
public abstract sealed class TableEntry<T extends TableEntry<T>>
        permits RootEntry, ContextEntry, ScalableRootEntry, ScalableContextEntry, PasidDirEntry, PasidEntry,
        SlPte, FlPte {
    private AddressSpace memory;
    private long address;

    /** Points this flyweight at the entry stored at {@code address}. */
    @SuppressWarnings("unchecked")
    public final T wrap(AddressSpace memory, long address) {
        this.memory = memory;
        this.address = address;
        return (T) this;
    }

    /** Quad {@code i} of the entry: bytes 8i..8i+7, little endian. */
    public final long quad(int i) {
        return memory.read(PhysAddr.of(address + 8L * i), 8);
    }

    /** Where the entry is bound. */
    protected final long boundAddress() {
        return address;
    }

    @Override
    public final String toString() {
        return memory == null ? getClass().getSimpleName() + "[unbound]" : fields();
    }

    /** Every field of the bound entry. */
    protected abstract String fields();
}
