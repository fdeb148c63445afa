package io.viommu.pci;

import io.viommu.memory.Mmio;

/**
 * A function's MSI-X state as QEMU 7.2's hw/pci/msix.c keeps it: the capability in config space
 * ({@link MsixCapability}), the vector table and the pending-bit array in a BAR, and the
 * optional vector notifiers through which vfio-pci learns which vectors the guest uses.
 *
 * <pre>
 *  table entry (16 bytes): +0 message address low, +4 address high, +8 data, +12 vector control
 *                          (bit 0: masked; every vector starts masked)
 *  PBA: one bit per vector, set while a masked vector has a message pending
 * </pre>
 * A vector is masked while MSI-X is off, the function mask (control bit 14) is set, or its
 * own mask bit is set ({@code msix_is_masked}). {@link #notify} of a masked vector only sets its
 * pending bit; unmasking a pending vector sends its message then ({@code msix_handle_mask_update}).
 * A device sends only for vectors it marked used ({@code msix_vector_use}).
 */
public final class MsixTable {
    public static final int ENTRY_SIZE = 16;
    public static final int ENTRY_ADDRESS_LO = 0;
    public static final int ENTRY_ADDRESS_HI = 4;
    public static final int ENTRY_DATA = 8;
    public static final int ENTRY_VECTOR_CONTROL = 12;
    public static final int VECTOR_MASKED = 1;

    /** Where a message goes: a DWORD write of {@code data} to {@code address} on the bus-master path. */
    public interface MessageSender {
        void send(long address, int data);
    }

    /** vfio-pci's vector notifiers ({@code msix_set_vector_notifiers}): a vector unmasked (use) or masked (release). */
    public interface VectorNotifier {
        void use(int vector, long address, int data);

        void release(int vector);
    }

    private final ConfigSpace config;
    private final int cap;
    private final int entries;
    private final int tableBir;
    private final long tableOffset;
    private final int pbaBir;
    private final long pbaOffset;
    private final byte[] table;
    private final boolean[] pending;
    private final boolean[] used;
    private final MessageSender sender;
    private boolean functionMasked = true;
    private boolean pbaEnabled = true;
    private VectorNotifier notifier;

    /** {@code msix_init}: the capability declared at {@code cap}, every vector masked. */
    public MsixTable(ConfigSpace config, int cap, int entries, int tableBir, long tableOffset, int pbaBir,
                     long pbaOffset, MessageSender sender) {
        this.config = config;
        this.cap = cap;
        this.entries = entries;
        this.tableBir = tableBir;
        this.tableOffset = tableOffset;
        this.pbaBir = pbaBir;
        this.pbaOffset = pbaOffset;
        this.sender = sender;
        this.table = new byte[entries * ENTRY_SIZE];
        this.pending = new boolean[entries];
        this.used = new boolean[entries];
        MsixCapability.declare(config, cap, entries, tableBir, (int) tableOffset, pbaBir, (int) pbaOffset);
        for (int v = 0; v < entries; v++) {
            table[v * ENTRY_SIZE + ENTRY_VECTOR_CONTROL] = VECTOR_MASKED;
        }
    }

    public int capability() {
        return cap;
    }

    public int entries() {
        return entries;
    }

    public int tableBir() {
        return tableBir;
    }

    public long tableOffset() {
        return tableOffset;
    }

    public int pbaBir() {
        return pbaBir;
    }

    public long pbaOffset() {
        return pbaOffset;
    }

    /** The table's size in bytes. */
    public long tableSize() {
        return (long) entries * ENTRY_SIZE;
    }

    /** The PBA's size in bytes (QWORDs of 64 bits). */
    public long pbaSize() {
        return ((entries + 63) / 64) * 8L;
    }

    private int control() {
        return (int) config.get(cap + MsixCapability.CONTROL, 2);
    }

    public boolean enabled() {
        return (control() & MsixCapability.CONTROL_ENABLE) != 0;
    }

    /** !enabled or the function mask set ({@code msix_update_function_masked}). */
    private boolean computeFunctionMasked() {
        int c = control();
        return (c & MsixCapability.CONTROL_ENABLE) == 0 || (c & MsixCapability.CONTROL_MASKALL) != 0;
    }

    private boolean vectorMasked(int vector, boolean fmask) {
        return fmask || (table[vector * ENTRY_SIZE + ENTRY_VECTOR_CONTROL] & VECTOR_MASKED) != 0;
    }

    /** msix_is_masked. */
    public boolean isMasked(int vector) {
        return vectorMasked(vector, functionMasked);
    }

    public boolean isPending(int vector) {
        return pending[vector];
    }

    public long address(int vector) {
        return entryLong(vector, ENTRY_ADDRESS_LO) | entryLong(vector, ENTRY_ADDRESS_HI) << 32;
    }

    public int data(int vector) {
        return (int) entryLong(vector, ENTRY_DATA);
    }

    private long entryLong(int vector, int off) {
        return tableLoad((long) vector * ENTRY_SIZE + off);
    }

    /** msix_vector_use / msix_vector_unuse: only used vectors send. */
    public void use(int vector) {
        if (vector >= 0 && vector < entries) {
            used[vector] = true;
        }
    }

    public void unuse(int vector) {
        if (vector >= 0 && vector < entries) {
            used[vector] = false;
            pending[vector] = false;
        }
    }

    /** msix_notify: the vector's message, or its pending bit while it is masked. */
    public void notify(int vector) {
        if (vector < 0 || vector >= entries || !used[vector]) {
            return;
        }
        if (isMasked(vector)) {
            pending[vector] = true;
            return;
        }
        sender.send(address(vector), data(vector));
    }

    /** Whether the PBA is decoded here (vfio-pci turns it off until a masked vector fires). */
    public void setPbaEnabled(boolean on) {
        pbaEnabled = on;
    }

    public void clearPending(int vector) {
        pending[vector] = false;
    }

    /**
     * {@code msix_reset} (from {@code pci_do_device_reset} on a system or bus reset): nothing
     * pending ({@code msix_clear_all_vectors}; the vectors the device uses stay in use), MSI-X enable and the
     * function mask cleared, the table and the PBA zeroed, then every vector masked one by one
     * ({@code msix_mask_all}, each a mask update: a vector notifier still set hears its release).
     * As in QEMU the cached function mask is left as it was until the next control write.
     */
    public void reset() {
        java.util.Arrays.fill(pending, false);
        int control = control();
        int writable = (int) config.writeMask(cap + MsixCapability.CONTROL, 2);
        config.set(cap + MsixCapability.CONTROL, 2, control & ~(writable & 0xff00));
        java.util.Arrays.fill(table, (byte) 0);
        for (int v = 0; v < entries; v++) {
            boolean wasMasked = isMasked(v);
            table[v * ENTRY_SIZE + ENTRY_VECTOR_CONTROL] |= VECTOR_MASKED;
            maskUpdate(v, wasMasked);
        }
    }

    // ---------------------------------------------------------------- config space

    /** msix_write_config, after a config write reached the capability. */
    public void configWritten(int offset, int len) {
        int enablePos = cap + MsixCapability.CONTROL + 1;
        if (enablePos < offset || enablePos >= offset + len) {
            return;
        }
        boolean wasMasked = functionMasked;
        functionMasked = computeFunctionMasked();
        if (!enabled() || functionMasked == wasMasked) {
            return;
        }
        for (int v = 0; v < entries; v++) {
            maskUpdate(v, vectorMasked(v, wasMasked));
        }
    }

    /** msix_handle_mask_update. */
    private void maskUpdate(int vector, boolean wasMasked) {
        boolean masked = isMasked(vector);
        if (masked == wasMasked) {
            return;
        }
        if (notifier != null) {
            if (masked) {
                notifier.release(vector);
            } else {
                notifier.use(vector, address(vector), data(vector));
            }
        }
        if (!masked && pending[vector]) {
            pending[vector] = false;
            notify(vector);
        }
    }

    /** msix_set_vector_notifiers: {@code use} called at once for every unmasked vector when enabled. */
    public void setNotifiers(VectorNotifier n) {
        notifier = n;
        int c = control();
        if ((c & (MsixCapability.CONTROL_ENABLE | MsixCapability.CONTROL_MASKALL)) == MsixCapability.CONTROL_ENABLE) {
            for (int v = 0; v < entries; v++) {
                if (!isMasked(v)) {
                    n.use(v, address(v), data(v));
                }
            }
        }
    }

    /** msix_unset_vector_notifiers. */
    public void unsetNotifiers() {
        VectorNotifier n = notifier;
        int c = control();
        if (n != null && (c & (MsixCapability.CONTROL_ENABLE | MsixCapability.CONTROL_MASKALL)) == MsixCapability.CONTROL_ENABLE) {
            for (int v = 0; v < entries; v++) {
                if (!isMasked(v)) {
                    n.release(v);
                }
            }
        }
        notifier = null;
    }

    // ---------------------------------------------------------------- the BAR

    /**
     * The BAR {@code bir} as the function decodes it: the table (and the PBA while decoded)
     * over {@code under}, QEMU's msix_table_mmio / msix_pba_mmio subregions. Table accesses are
     * 4 or 8 bytes (8 as two DWORDs); others read 0 and are dropped.
     */
    public Mmio overlay(int bir, Mmio under) {
        if (bir != tableBir && bir != pbaBir) {
            return under;
        }
        return new Mmio() {
            @Override
            public long load(long offset, int size) {
                if (bir == tableBir && inside(offset, size, tableOffset, tableSize())) {
                    return size == 8 ? tableLoad(offset - tableOffset) | tableLoad(offset - tableOffset + 4) << 32
                            : size == 4 ? tableLoad(offset - tableOffset) : 0;
                }
                if (bir == pbaBir && pbaEnabled && inside(offset, size, pbaOffset, pbaSize())) {
                    return pbaLoad(offset - pbaOffset, size);
                }
                return under == null ? 0 : under.load(offset, size);
            }

            @Override
            public void store(long offset, long value, int size) {
                if (bir == tableBir && inside(offset, size, tableOffset, tableSize())) {
                    if (size == 4 || size == 8) {
                        tableStore(offset - tableOffset, value & 0xffff_ffffL);
                        if (size == 8) {
                            tableStore(offset - tableOffset + 4, value >>> 32);
                        }
                    }
                    return;
                }
                if (bir == pbaBir && pbaEnabled && inside(offset, size, pbaOffset, pbaSize())) {
                    return; // msix_pba_mmio_write: read-only
                }
                if (under != null) {
                    under.store(offset, value, size);
                }
            }
        };
    }

    private static boolean inside(long offset, int size, long start, long length) {
        return offset >= start && offset + size <= start + length;
    }

    /** msix_table_mmio_read, one DWORD. */
    public long tableLoad(long off) {
        int o = (int) (off & ~3L);
        return (table[o] & 0xffL) | (table[o + 1] & 0xffL) << 8 | (table[o + 2] & 0xffL) << 16 | (table[o + 3] & 0xffL) << 24;
    }

    /** msix_table_mmio_write, one DWORD: the entry changed, then the vector's mask update. */
    public void tableStore(long off, long value) {
        int o = (int) (off & ~3L);
        int vector = o / ENTRY_SIZE;
        boolean wasMasked = isMasked(vector);
        for (int i = 0; i < 4; i++) {
            table[o + i] = (byte) (value >>> (8 * i));
        }
        maskUpdate(vector, wasMasked);
    }

    /** msix_pba_mmio_read. */
    public long pbaLoad(long off, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            int bitBase = (int) (off + i) * 8;
            int b = 0;
            for (int bit = 0; bit < 8; bit++) {
                int vector = bitBase + bit;
                if (vector < entries && pending[vector]) {
                    b |= 1 << bit;
                }
            }
            v |= (long) b << (8 * i);
        }
        return v;
    }
}
