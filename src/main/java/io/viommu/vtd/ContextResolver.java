package io.viommu.vtd;

/**
 * The context step of DMA remapping: requester id -> the entry that says how its requests
 * translate, through the context cache. Legacy mode and scalable mode are the two
 * implementations; the translation core holds the one its root table (RTADDR.TTM) selects.
 */
sealed interface ContextResolver permits LegacyContextResolver, ScalableContextResolver {
    /** Context cache entries per unit (bounded LRU; QEMU keeps one per device address space). */
    int CACHE_ENTRIES = 1024;

    /** The root table SRTP latched. */
    void setRootTable(long rootTable);

    /** Through the context cache; only successful results are cached. */
    ContextResult resolve(int sid);

    /** Read afresh from the tables: no cache is consulted or filled (for the notifier). */
    ContextResult fetch(int sid);

    boolean cached(int sid);

    /** Global (and, as QEMU performs it, domain-selective) context-cache invalidation. */
    void invalidateAll();

    /** Device-selective with function mask {@code fm} (VT-d 10.4.7 FM: masks SID bits 2, 2:1, 2:0). */
    void invalidateDevice(int sid, int fm);

    /** CAP.SAGAW supports a table of {@code levels} levels (bit 1 = 3-level ... bit 3 = 5-level). */
    static boolean levelsSupported(long cap, int levels) {
        return CapReg.supportsAgaw(cap, levels - 2);
    }
}
