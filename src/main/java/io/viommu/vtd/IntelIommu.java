package io.viommu.vtd;

import static io.viommu.vtd.VtdRegisters.*;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.Iova;
import io.viommu.memory.Mmio;
import io.viommu.pci.DmaRemapper;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.MsiSink;
import io.viommu.pci.PasidPrefix;
import io.viommu.pci.RequesterId;
import io.viommu.pci.TranslationResult;

/**
 * One Intel VT-d remapping unit: the register front. Guest MMIO to its register block (an
 * {@link Mmio} mapped at {@link #DEFAULT_BASE} on q35) comes in; operations go out to the parts
 * that do the work: the translation core ({@link DmaRemapping}: enable translation, set the
 * root table, invalidate caches), the invalidation queue ({@link InvalidationQueue}), the fault
 * ring ({@link FaultRing}, which the core and interrupt remapping record into), the event
 * interrupts ({@link EventInterrupts}) and interrupt remapping ({@link InterruptRemapping}).
 * None of them holds a reference back to this class.
 *
 * <p>Behaviour follows QEMU 7.2's hw/i386/intel_iommu.c, used as the oracle and checked
 * against qemu-system-x86_64 over qtest; where the model differs on purpose the comment says
 * so (grep "Deviation"). Not thread-safe: the machine serialises guest accesses and DMA.
 * No guest input makes load/store/translate throw or loop without bound.
 */
public final class IntelIommu implements Mmio, DmaRemapper {
    public static final long DEFAULT_BASE = 0xFED9_0000L;
    public static final int REGISTER_BLOCK_SIZE = 0x1000;
    /**
     * Source id given to the unit's own fault-event and invalidation-completion MSIs. QEMU
     * sends them straight to the APIC (vtd_generate_interrupt); they are not remappable.
     */
    public static final RequesterId EVENT_SOURCE = new RequesterId(0);

    private final VtdConfig config;
    private final RegisterFile regs;
    private final int aw;
    private final TraceRelay trace = new TraceRelay();
    private final EventInterrupts events;
    private final FaultRing faults;
    private final DmaRemapping core;
    private final InvalidationQueue queue;
    private final RegisterInvalidation registerInvalidation;
    private final AtsService ats;
    private final InterruptRemapping irUnit;
    private final CacheInvalidation invalidations;

    // Latched state (QEMU IntelIOMMUState fields outside csr[]).
    private TranslationState translation = TranslationState.DISABLED;
    private boolean interruptRemapping;
    private long irtBase;
    private int irtSize;
    private boolean irtEime;

    /** Origin of the invalidation being reported to listeners (see {@link #invalidationOrigin}). */
    private boolean inGuestStore;

    /**
     * @param config  the unit's options
     * @param memory  the platform's physical address space: root/context/page tables,
     *                invalidation queue and wait-descriptor status writes live here
     * @param msi     where fault-event and invalidation-completion interrupts are sent
     */
    public IntelIommu(VtdConfig config, AddressSpace memory, MsiSink msi) {
        this.config = config;
        this.aw = config.awBits();
        this.regs = new RegisterFile(config.registerBlockSize(), VtdRegisters.table(config));
        this.events = new EventInterrupts(regs, msi, EVENT_SOURCE, trace);
        this.faults = new FaultRing(regs, config.faultRecords(), events, trace);
        this.core = new DmaRemapping(config, memory, faults, trace);
        this.invalidations = new CacheInvalidation(core, trace);
        this.queue = new InvalidationQueue(regs, memory, events, trace, invalidations,
                EcapReg.scalableMode(config.ecap()), aw);
        this.registerInvalidation = new RegisterInvalidation(regs, queue, invalidations, trace);
        this.ats = new AtsService(core, config);
        this.irUnit = new InterruptRemapping(new IrState(), memory, faults, trace);
        invalidations.setAts(ats);
        // Helpers that follow the invalidations (device-TLBs, the interrupt entry cache).
        invalidations.add(ats);
        invalidations.add(irUnit);
    }

    public VtdConfig config() {
        return config;
    }

    public int registerBlockSize() {
        return regs.size();
    }

    public void addInvalidationListener(InvalidationListener l) {
        invalidations.add(l);
    }

    public void removeInvalidationListener(InvalidationListener l) {
        invalidations.remove(l);
    }

    /**
     * For an {@link InvalidationListener} while it is being called: whether the invalidation
     * came from a queued descriptor (and which), a register write (CCMD, IOTLB, GCMD), or a
     * direct call on this class. The map/unmap notifier reports it as the cause of its events.
     */
    public InvalidationOrigin invalidationOrigin() {
        int d = queue.currentDescriptor();
        if (d >= 0) {
            return InvalidationOrigin.queued(d);
        }
        return inGuestStore ? InvalidationOrigin.REGISTER : InvalidationOrigin.DIRECT;
    }

    /**
     * The context of {@code sid} as the translate path resolves it (root entry, context entry,
     * QEMU's checks in QEMU's order; vtd_dev_to_context_entry) in the current root table's
     * mode, read afresh from memory: no cache is consulted or filled and no fault is recorded.
     * For the map/unmap notifier.
     */
    public ContextResult readContext(RequesterId sid) {
        return core.resolver().fetch(sid.value());
    }

    /** The unit's second-level walk (for the notifier's range walks). */
    public SecondLevelWalk secondLevelWalk() {
        return core.walk();
    }

    public void setTrace(VtdTrace trace) {
        this.trace.set(trace);
    }

    /** The unit's trace (whatever {@link #setTrace} set now), for the notifier's QEMU events. */
    public VtdTrace trace() {
        return trace;
    }

    public TranslationState translationState() {
        return translation;
    }

    public QueueState queueState() {
        return queue.state();
    }

    /** Number of translations currently cached. */
    public int iotlbSize() {
        return core.iotlb().size();
    }

    public int iotlbCapacity() {
        return core.iotlb().capacity();
    }

    /** Whether a translation for (sid, iova) is cached (does not touch LRU order). */
    public boolean iotlbContains(RequesterId sid, Iova iova) {
        return core.iotlb().contains(sid.value(), 0, iova.value());
    }

    /** Whether a translation for (sid, pasid, iova) is cached in scalable mode. */
    public boolean iotlbContains(RequesterId sid, int pasid, Iova iova) {
        return core.iotlb().contains(sid.value(), pasid, iova.value());
    }

    public boolean contextCached(RequesterId sid) {
        return core.resolver().cached(sid.value());
    }

    /** Number of PASID-table entries cached (scalable mode). */
    public int pasidCacheSize() {
        return core.scalable().resolver().pasidCacheSize();
    }

    /** System reset (QEMU vtd_reset -> vtd_init): registers to reset values, caches emptied. */
    public void reset() {
        regs.reset();
        core.setRootTable(0, false);
        if (translation != TranslationState.DISABLED) {
            transition(TranslationState.DISABLED, "reset");
        }
        queue.reset();
        interruptRemapping = false;
        faults.setNext(0);
        irtBase = 0;
        irtSize = 0;
        irtEime = false;
        resetCaches();
    }

    // ====================================================================================
    // State snapshot
    // ====================================================================================

    public VtdState snapshot() {
        return new VtdState(regs.snapshot(), core.rootTable(), core.rootScalable(), translation, queue.state(),
                interruptRemapping, queue.base(), queue.head(), queue.tail(), queue.size(), queue.descriptors256(),
                queue.lastDescriptorType(), faults.next(), irtBase, irtSize, irtEime);
    }

    /** Restores a snapshot taken from a unit with the same config; caches start empty. */
    public void restore(VtdState s) {
        long[] r = s.registers();
        if (r.length != regs.size() / 8) {
            throw new IllegalArgumentException("snapshot has " + r.length + " register quads, this unit "
                    + regs.size() / 8);
        }
        regs.restore(r);
        core.setRootTable(s.rootTable(), s.rootScalable());
        if (translation != s.translation()) {
            transition(s.translation(), "restore");
        }
        queue.restore(s);
        interruptRemapping = s.interruptRemapping();
        faults.setNext(s.nextFaultRecord());
        irtBase = s.irtBase();
        irtSize = s.irtSize();
        irtEime = s.irtExtendedInterruptMode();
        resetCaches();
    }

    private void transition(TranslationState next, String reason) {
        if (!translation.canMoveTo(next)) {
            throw new IllegalStateException("translation " + translation + " -> " + next + " (" + reason + ")");
        }
        TranslationState from = translation;
        translation = next;
        core.setEnabled(next == TranslationState.ENABLED);
        trace.transition(from, next, reason);
    }

    // ====================================================================================
    // MMIO
    // ====================================================================================

    /**
     * A guest read. Like QEMU's memory core with this region's ops (valid 4..8 bytes, no
     * unaligned access), an access is cut into naturally aligned pieces no larger than the
     * alignment of their address; pieces under 4 bytes are invalid and read as 0, as does
     * anything past the end of the register block. So {@code readb} reads 0 and a
     * {@code readq} at 0x04 reads two dwords.
     */
    @Override
    public long load(long offset, int size) {
        try {
            if (!validSize(size) || offset < 0 || offset >= REGISTER_BLOCK_SIZE) {
                return 0;
            }
            if (trace.qemuEvents()) {
                trace.qemuEvent("vtd_reg_read", String.format("addr 0x%x size 0x%x", offset, size));
            }
            long result = 0;
            int done = 0;
            while (done < size) {
                long a = offset + done;
                int chunk = pieceSize(a, size - done);
                if (chunk >= 4 && a + chunk <= regs.size()) {
                    long v = readRegister((int) a, chunk);
                    result |= (chunk == 8 ? v : v & 0xffffffffL) << (8 * done);
                }
                done += chunk;
            }
            return result;
        } catch (RuntimeException e) {
            trace.guestError("internal error on load 0x" + Long.toHexString(offset) + ": " + e);
            return 0;
        }
    }

    @Override
    public void store(long offset, long value, int size) {
        inGuestStore = true;
        try {
            if (!validSize(size) || offset < 0 || offset >= REGISTER_BLOCK_SIZE) {
                return;
            }
            if (trace.qemuEvents()) {
                trace.qemuEvent("vtd_reg_write", String.format("addr 0x%x size 0x%x value 0x%x", offset, size,
                        size == 8 ? value : value & ((1L << (8 * size)) - 1)));
            }
            int done = 0;
            while (done < size) {
                long a = offset + done;
                int chunk = pieceSize(a, size - done);
                if (chunk >= 4 && a + chunk <= regs.size()) {
                    long v = value >>> (8 * done);
                    writeRegister((int) a, chunk, chunk == 8 ? v : v & 0xffffffffL);
                }
                done += chunk;
            }
        } catch (RuntimeException e) {
            trace.guestError("internal error on store 0x" + Long.toHexString(offset) + ": " + e);
        } finally {
            inGuestStore = false;
        }
    }

    private static boolean validSize(int size) {
        return size == 1 || size == 2 || size == 4 || size == 8;
    }

    /** QEMU memory_access_size: at most 8, at most the address's alignment, a power of two. */
    private static int pieceSize(long addr, int remaining) {
        int max = 8;
        long align = addr & -addr;
        if (align != 0 && align < max) {
            max = (int) align;
        }
        return Integer.highestOneBit(Math.min(remaining, max));
    }

    /** vtd_mem_read. */
    private long readRegister(int off, int size) {
        if (off == IQA) {
            // QEMU returns the base latched at QIE time plus QS, not the written value.
            long v = queue.base() | (regs.read64(IQA) & IQA_QS);
            return size == 4 ? v & 0xffffffffL : v;
        }
        if (off == IQA + 4) {
            return (queue.base() >>> 32) & 0xffffffffL;
        }
        return size == 4 ? regs.read32(off) & 0xffffffffL : regs.read64(off);
    }

    /** vtd_mem_write: the write goes through the register table, then its side effect runs. */
    private void writeRegister(int off, int size, long val) {
        if (size == 8 && (off == FECTL || off == IECTL || off == IEADDR)) {
            // Deviation: QEMU asserts (aborts) on an 8-byte write to these 32-bit registers;
            // viommu performs it as two 4-byte writes.
            writeRegister(off, 4, val & 0xffffffffL);
            writeRegister(off + 4, 4, val >>> 32);
            return;
        }
        if (off >= FRCD && off < regs.size()) {
            int rel = (off - FRCD) & 0xf;
            plainWrite(off, size, val);
            if ((rel == 8 && size == 8) || rel == 12) {
                faults.updatePpf(); // the F bit (127) may have been cleared
            }
            return;
        }
        switch (off) {
            case GCMD -> {
                regs.write32(GCMD, (int) val);
                handleGcmd();
            }
            case CCMD -> {
                plainWrite(off, size, val);
                if (size == 8) {
                    registerInvalidation.ccmdWritten();
                }
            }
            case CCMD + 4 -> {
                regs.write32(off, (int) val);
                registerInvalidation.ccmdWritten();
            }
            case IOTLB -> {
                plainWrite(off, size, val);
                if (size == 8) {
                    registerInvalidation.iotlbWritten();
                }
            }
            case IOTLB + 4 -> {
                regs.write32(off, (int) val);
                registerInvalidation.iotlbWritten();
            }
            case FSTS -> {
                regs.write32(off, (int) val);
                int fsts = regs.raw32(FSTS);
                events.fstsWritten(fsts);
                queue.fstsWritten(fsts);
            }
            case FECTL -> {
                regs.write32(off, (int) val);
                events.fectlWritten();
            }
            case IQT -> {
                plainWrite(off, size, val);
                queue.tailWritten();
            }
            case IQA -> {
                plainWrite(off, size, val);
                queue.iqaWritten(val);
            }
            case ICS -> {
                regs.write32(off, (int) val);
                events.icsWritten();
            }
            case IECTL -> {
                regs.write32(off, (int) val);
                events.iectlWritten();
            }
            default -> plainWrite(off, size, val);
        }
    }

    private void plainWrite(int off, int size, long val) {
        if (size == 4) {
            regs.write32(off, (int) val);
        } else {
            regs.write64(off, val);
        }
    }

    // ---- GCMD (vtd_handle_gcmd_write) ----

    private void handleGcmd() {
        int status = regs.raw32(GSTS);
        int val = regs.raw32(GCMD);
        if (trace.qemuEvents()) {
            trace.qemuEvent("vtd_reg_write_gcmd", String.format("status 0x%x value 0x%x", status, val));
        }
        int changed = status ^ val;
        if ((changed & GCMD_TE) != 0) {
            handleTe((val & GCMD_TE) != 0);
        }
        if ((val & GCMD_SRTP) != 0) {
            handleSrtp();
        }
        if ((changed & GCMD_QIE) != 0) {
            queue.setEnabled((val & GCMD_QIE) != 0);
        }
        if ((val & GCMD_SIRTP) != 0) {
            handleSirtp();
        }
        // QEMU 7.2 honours IRE only when interrupt remapping is supported (intremap on);
        // SIRTP is latched either way (checked against the binary).
        if ((changed & GCMD_IRE) != 0 && config.intremap()) {
            interruptRemapping = (val & GCMD_IRE) != 0;
            regs.clearSet32(GSTS, GSTS_IRES, interruptRemapping ? GSTS_IRES : 0);
        }
        // CFI/CFIS (spec 10.4.4), only with interrupt remapping support. Deviation: QEMU 7.2
        // ignores CFI (CFIS stays 0, compatibility-format interrupts always pass).
        if ((changed & GCMD_CFI) != 0 && config.intremap()) {
            regs.clearSet32(GSTS, InterruptRemapping.GSTS_CFIS,
                    (val & GCMD_CFI) != 0 ? InterruptRemapping.GSTS_CFIS : 0);
        }
        // WBF, SFL, EAFL: no effect and no status bit, as in QEMU 7.2 (CAP.RWBF = 0,
        // no advanced fault logging).
    }

    private void handleTe(boolean enable) {
        if ((translation == TranslationState.ENABLED) == enable) {
            return;
        }
        if (trace.qemuEvents()) {
            trace.qemuEvent("vtd_dmar_enable", "enable " + (enable ? 1 : 0));
        }
        if (enable) {
            transition(TranslationState.ENABLED, "GCMD.TE=1");
            regs.clearSet32(GSTS, 0, GSTS_TES);
        } else {
            transition(TranslationState.DISABLED, "GCMD.TE=0");
            faults.setNext(0); // QEMU restarts the fault recording index
            regs.clearSet32(GSTS, GSTS_TES, 0);
        }
        resetCaches();
    }

    private void handleSrtp() {
        long rtaddr = regs.raw64(RTADDR);
        boolean scalable = config.scalableMode() && (rtaddr & RTADDR_SMT) != 0;
        core.setRootTable(rtaddr & VtdMath.hawMask(aw) & ~0xfffL, scalable);
        if (trace.qemuEvents()) {
            trace.qemuEvent("vtd_reg_dmar_root", String.format("addr 0x%x scalable %d",
                    rtaddr & VtdMath.hawMask(aw) & ~0xfffL, scalable ? 1 : 0));
        }
        regs.clearSet32(GSTS, 0, GSTS_RTPS);
        resetCaches();
    }

    private void handleSirtp() {
        long irta = regs.raw64(IRTA);
        irtSize = 1 << ((irta & IRTA_SIZE_MASK) + 1);
        irtBase = irta & VtdMath.hawMask(aw) & ~0xfffL;
        irtEime = (irta & IRTA_EIME) != 0;
        regs.clearSet32(GSTS, 0, GSTS_IRTPS);
        invalidations.interruptEntryCache(true, 0, 0);
    }

    // ====================================================================================
    // Invalidation (register, queue, or direct call): the core's caches, then the listeners
    // ====================================================================================

    private void resetCaches() {
        invalidations.cachesReset();
    }

    public void invalidateContextCacheGlobal() {
        invalidations.contextGlobal();
    }

    /** Device-selective context invalidation with function mask {@code fm} (0..3). */
    public void invalidateContextCacheDevice(int sid, int fm) {
        invalidations.contextDevice(sid, fm);
    }

    public void invalidateIotlbGlobal() {
        invalidations.iotlbGlobal();
    }

    public void invalidateIotlbDomain(int domainId) {
        invalidations.iotlbDomain(domainId);
    }

    /** Page-selective: 2^{@code am} pages at {@code addr} (am <= MAMV = 18). */
    public void invalidateIotlbPages(int domainId, Iova addr, int am) {
        if (am < 0 || am > VtdConfig.MAMV) {
            throw new IllegalArgumentException("address mask " + am + " outside 0.." + VtdConfig.MAMV);
        }
        invalidations.iotlbPages(domainId, addr.value(), am);
    }

    // ====================================================================================
    // Translation (the core does it)
    // ====================================================================================

    @Override
    public TranslationResult translate(DmaRequest request) {
        return core.translate(request);
    }

    /**
     * Translates an untranslated request carrying a PASID prefix ({@code prefix} null: none,
     * same as {@link #translate(DmaRequest)}). In legacy mode a request with PASID is blocked
     * and recorded with 0x31 (VT-d 7.1.3: TTM 00b and a request with PASID).
     */
    public TranslationResult translate(DmaRequest request, PasidPrefix prefix) {
        return core.translate(request, prefix);
    }

    /** The unit's ATS translation agent (translation and translated requests, device-TLBs). */
    public AtsService ats() {
        return ats;
    }

    // ====================================================================================
    // Interrupt remapping (state latched by SIRTP/IRE/CFI; the logic is in InterruptRemapping)
    // ====================================================================================

    /** This unit's interrupt remapping (used by the platform for every remappable interrupt). */
    public InterruptRemapping interruptRemapping() {
        return irUnit;
    }

    /** The view interrupt remapping has of the unit. */
    private final class IrState implements InterruptRemapping.UnitView {
        @Override
        public boolean enabled() {
            return interruptRemapping;
        }

        @Override
        public boolean compatibilityFormatAllowed() {
            return (regs.raw32(GSTS) & InterruptRemapping.GSTS_CFIS) != 0;
        }

        @Override
        public long tableBase() {
            return irtBase;
        }

        @Override
        public int tableSize() {
            return irtSize;
        }

        @Override
        public boolean extendedInterruptMode() {
            return irtEime;
        }
    }
}
