package io.viommu.vtd;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.MsiAddress;

/**
 * Interrupt remapping of one VT-d unit (VT-d spec chapter 5 and 9.10), modelled on QEMU 7.2's
 * {@code vtd_interrupt_remap_msi}, {@code vtd_remap_irq_get} and {@code vtd_irte_get}, with the
 * spec's fault recording where QEMU 7.2 only prints a message.
 *
 * <p>An interrupt request is the DWORD write of an MSI: {@code address} in 0xFEEx_xxxx and
 * {@code data}. Remappable format (spec 5.1.2.2):
 * <pre>
 *  address 31:20  0xFEE
 *          19:5   HANDLE[14:0]
 *          4      interrupt format (1 = remappable, 0 = compatibility)
 *          3      SHV (subhandle valid: index = handle + data[15:0])
 *          2      HANDLE[15]
 *          1:0    ignored
 *  data    15:0   subhandle when SHV, 31:16 reserved then
 * </pre>
 * The checks, in QEMU's order: remapping off (GSTS.IRES = 0) passes the message unchanged;
 * address bits 63:32 non-zero or 31:20 not 0xFEE is fault 0x20; compatibility format passes
 * only with GSTS.CFIS (else 0x25; QEMU 7.2 passes it always); index >= IRT size is 0x21; an
 * unreadable entry 0x23; then, qualified by IRTE.FPD, not present 0x22, reserved bits 0x24,
 * source-id mismatch 0x26; finally, with SHV, data bits 31:16 set is 0x20 (after the entry
 * was fetched, as QEMU checks it).
 *
 * <p>Faults are recorded in the unit's fault recording registers with the interrupt index in
 * FRCD bits 63:48 (spec 10.4.14; index 0 for 0x20 and 0x25), T = 0 and the requester id, and
 * raise the fault event like DMA faults do. Deviation: QEMU 7.2 records none of them.
 * IRTE.IM (posted) is read as remapped format, as QEMU 7.2 does (CAP.PI = 0; the spec would
 * call the bit reserved).
 *
 * <p>Hit path (cached entry, see {@link InterruptEntryCache}) allocates nothing.
 */
public final class InterruptRemapping implements InvalidationListener {
    /** {@link #remap} result: the target received the remapped interrupt. */
    public static final int DELIVERED = 0;
    /** {@link #remap} result: the message goes on unchanged (remapping off or compatibility format allowed). */
    public static final int PASS_THROUGH = -1;
    /** Requester id unknown (QEMU X86_IOMMU_SID_INVALID): source validation is skipped. */
    public static final int NO_SOURCE = -1;

    /** GSTS.CFIS, bit 23 (same position as GCMD.CFI): compatibility-format interrupts allowed. */
    public static final int GSTS_CFIS = VtdRegisters.GCMD_CFI;

    static final long MSI_ADDR_HI_MASK = 0xffff_ffff_0000_0000L;
    static final long MSI_ADDR_REMAPPABLE = 1L << 4;
    static final long MSI_ADDR_SHV = 1L << 3;
    static final long MSI_ADDR_HANDLE_15 = 1L << 2;
    static final int MSI_DATA_SUBHANDLE = 0xffff;
    static final int MSI_DATA_RESERVED = 0xffff_0000;

    /** What interrupt remapping reads of the unit's state (latched by SIRTP, IRE and CFI). */
    interface UnitView {
        boolean enabled();

        /** GSTS.CFIS: compatibility-format interrupts pass. */
        boolean compatibilityFormatAllowed();

        long tableBase();

        int tableSize();

        boolean extendedInterruptMode();
    }

    private final UnitView unit;
    private final AddressSpace memory;
    private final FaultRecorder recorder;
    private final VtdTrace trace;
    private InterruptEntryCache cache = new InterruptEntryCache(0);
    private final long[] entry = new long[2];
    private long remapped;
    private long passedThrough;
    private long blocked;

    InterruptRemapping(UnitView unit, AddressSpace memory, FaultRecorder recorder, VtdTrace trace) {
        this.unit = unit;
        this.memory = memory;
        this.recorder = recorder;
        this.trace = trace;
    }

    // ---- decoders of the remappable MSI address ----

    /** Whether the address is in remappable format (bit 4). */
    public static boolean isRemappable(long address) {
        return (address & MSI_ADDR_REMAPPABLE) != 0;
    }

    public static boolean subhandleValid(long address) {
        return (address & MSI_ADDR_SHV) != 0;
    }

    /** HANDLE[15] (bit 2) : HANDLE[14:0] (bits 19:5). */
    public static int handle(long address) {
        return (int) ((address >>> 5) & 0x7fff) | ((address & MSI_ADDR_HANDLE_15) != 0 ? 0x8000 : 0);
    }

    /** The remappable-format address for {@code handle} (what a driver programs). */
    public static long remappableAddress(int handle, boolean shv) {
        return MsiAddress.FIRST | ((long) (handle & 0x7fff) << 5) | MSI_ADDR_REMAPPABLE
                | (shv ? MSI_ADDR_SHV : 0) | ((handle & 0x8000) != 0 ? MSI_ADDR_HANDLE_15 : 0);
    }

    // ---- configuration and state ----

    /**
     * Sets the interrupt entry cache size (viommu extension {@code iec-entries}; 0, the
     * default, reads every IRTE from memory as QEMU 7.2 does). Empties the cache.
     */
    public void setEntryCacheCapacity(int entries) {
        cache = new InterruptEntryCache(entries);
    }

    public int entryCacheCapacity() {
        return cache.capacity();
    }

    /** Whether the entry for {@code index} is cached. */
    public boolean entryCached(int index) {
        return cache.contains(index);
    }

    public int entryCacheSize() {
        return cache.size();
    }

    public long cacheHits() {
        return cache.hits();
    }

    /** Interrupts delivered through an IRTE, passed through unchanged, and blocked (faulted). */
    public long remappedCount() {
        return remapped;
    }

    public long passedThroughCount() {
        return passedThrough;
    }

    public long blockedCount() {
        return blocked;
    }

    // ---- InvalidationListener: IEC descriptors, SIRTP, resets ----

    @Override
    public void interruptEntryCache(boolean global, int index, int indexMask) {
        if (global) {
            cache.invalidateAll();
        } else {
            cache.invalidate(index, indexMask);
        }
    }

    @Override
    public void cachesReset() {
        cache.invalidateAll();
    }

    // ---- the remapping path ----

    /**
     * Remaps one interrupt request. Never throws for guest input.
     *
     * @param address     the MSI address (64 bits)
     * @param data        the MSI data
     * @param requesterId the requester id, or {@link #NO_SOURCE}
     * @param target      receives the interrupt when an IRTE was used
     * @return {@link #DELIVERED}, {@link #PASS_THROUGH}, or the fault reason (0x20-0x26) when
     *         the interrupt was blocked (recorded unless FPD suppressed it)
     */
    public int remap(long address, int data, int requesterId, InterruptTarget target) {
        try {
            return doRemap(address, data, requesterId, target);
        } catch (RuntimeException e) {
            trace.guestError("internal error in interrupt remapping: " + e);
            blocked++;
            return FaultReason.IR_REQUEST_RESERVED.code();
        }
    }

    private int doRemap(long address, int data, int sid, InterruptTarget target) {
        if (!unit.enabled()) {
            passedThrough++;
            return PASS_THROUGH;
        }
        if ((address & MSI_ADDR_HI_MASK) != 0) {
            trace.errorReportOnce("remap_msi:hi", String.format(
                    "vtd_interrupt_remap_msi: MSI address high 32 bits non-zero detected: address=0x%x", address));
            return fault(sid, FaultReason.IR_REQUEST_RESERVED, 0, false);
        }
        if (!MsiAddress.contains(address)) { // QEMU: addr.__head != 0xfee (the high half is zero here)
            trace.errorReportOnce("remap_msi:lo", String.format(
                    "vtd_interrupt_remap_msi: MSI address low 32 bit invalid: 0x%x", address));
            return fault(sid, FaultReason.IR_REQUEST_RESERVED, 0, false);
        }
        if (!isRemappable(address)) {
            if (unit.compatibilityFormatAllowed()) {
                passedThrough++;
                return PASS_THROUGH;
            }
            return fault(sid, FaultReason.IR_COMPATIBILITY_BLOCKED, 0, false);
        }
        boolean shv = subhandleValid(address);
        int index = handle(address);
        if (shv) {
            index = (index + (data & MSI_DATA_SUBHANDLE)) & 0xffff; // QEMU's uint16_t index wraps
        }
        int fr = fetchEntry(index, sid);
        if (fr != 0) {
            boolean fpd = Irte.faultProcessingDisabled(entry[0]);
            FaultReason reason = FaultReason.ofCode(fr);
            return fault(sid, reason, index, fpd && reason.qualified());
        }
        long lo = entry[0];
        if (shv && (data & MSI_DATA_RESERVED) != 0) {
            trace.errorReportOnce("remap_msi:data", String.format(
                    "vtd_interrupt_remap_msi: invalid IR MSI (sid=%d, address=0x%x, data=0x%x)", sid, address, data));
            return fault(sid, FaultReason.IR_REQUEST_RESERVED, 0, false);
        }
        // Without SHV the data should carry the IRTE's vector and trigger mode (spec 5.1.5.1);
        // QEMU only traces a mismatch and uses the IRTE's values.
        remapped++;
        target.remapped(Irte.vector(lo), Irte.destination(lo, unit.extendedInterruptMode()),
                Irte.logicalDestination(lo), Irte.deliveryMode(lo), Irte.levelTriggered(lo),
                Irte.redirectionHint(lo), sid, index);
        return DELIVERED;
    }

    /**
     * vtd_irte_get: fills {@link #entry} and returns 0, or a fault reason. On a fault after the
     * entry was read, {@code entry[0]} holds it (for FPD); before, it is 0.
     */
    private int fetchEntry(int index, int sid) {
        entry[0] = 0;
        entry[1] = 0;
        if (!cache.lookup(index, entry)) {
            if (index >= unit.tableSize()) {
                trace.errorReportOnce("irte_get:index",
                        String.format("vtd_irte_get: index too large: ind=0x%x", index));
                return FaultReason.IR_INDEX_BEYOND_TABLE.code();
            }
            long addr = Irte.address(unit.tableBase(), index);
            if (memory.probe(PhysAddr.of(addr), Irte.SIZE) != AddressSpace.Status.OK) {
                trace.errorReportOnce("irte_get:read",
                        String.format("vtd_irte_get: read failed: ind=0x%x addr=0x%x", index, addr));
                return FaultReason.IR_TABLE_ACCESS.code();
            }
            entry[0] = memory.read(PhysAddr.of(addr), 8);
            entry[1] = memory.read(PhysAddr.of(addr + 8), 8);
            if (!Irte.isPresent(entry[0])) {
                trace.errorReportOnce("irte_get:present", String.format(
                        "vtd_irte_get: detected non-present IRTE (index=%d, high=0x%x, low=0x%x)",
                        index, entry[1], entry[0]));
                return FaultReason.IR_ENTRY_NOT_PRESENT.code();
            }
            if (Irte.hasReservedBits(entry[0], entry[1])) {
                trace.errorReportOnce("irte_get:reserved", String.format(
                        "vtd_irte_get: detected non-zero reserved IRTE (index=%d, high=0x%x, low=0x%x)",
                        index, entry[1], entry[0]));
                return FaultReason.IR_ENTRY_RESERVED.code();
            }
            cache.put(index, entry[0], entry[1]);
        }
        if (sid != NO_SOURCE && !Irte.sourceAllowed(entry[1], sid)) {
            int source = Irte.sourceId(entry[1]);
            switch (Irte.sourceValidationType(entry[1])) { // QEMU 7.2 vtd_irte_get, one site per type
                case Irte.SVT_REQUESTER_ID -> trace.errorReportOnce("irte_get:sid", String.format(
                        "vtd_irte_get: invalid IRTE SID (index=%d, sid=%d, source_id=%d)", index, sid, source));
                case Irte.SVT_BUS_RANGE -> trace.errorReportOnce("irte_get:bus", String.format(
                        "vtd_irte_get: invalid SVT_BUS (index=%d, bus=%d, min=%d, max=%d)",
                        index, (sid >>> 8) & 0xff, source & 0xff, (source >>> 8) & 0xff));
                default -> trace.errorReportOnce("irte_get:svt", String.format(
                        "vtd_irte_get: detected invalid IRTE SVT (index=%d, type=%d)",
                        index, Irte.sourceValidationType(entry[1])));
            }
            return FaultReason.IR_SOURCE_ID_CHECK.code();
        }
        return 0;
    }

    private int fault(int sid, FaultReason reason, int index, boolean suppressed) {
        blocked++;
        if (!suppressed) {
            // An IR fault record: FI 63:48 = interrupt index (spec 10.4.14), T = 0, PV = 0, SID, FR.
            int source = sid == NO_SOURCE ? 0xffff : sid & 0xffff;
            recorder.recordInterruptFault(source, source | ((long) reason.code() << VtdRegisters.FRCD_FR_SHIFT),
                    (long) (index & 0xffff) << 48);
        }
        return reason.code();
    }
}
