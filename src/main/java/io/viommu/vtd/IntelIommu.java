package io.viommu.vtd;

import static io.viommu.vtd.VtdRegisters.*;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.Iova;
import io.viommu.memory.Mmio;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.DmaFault;
import io.viommu.pci.DmaRemapper;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.MsiAddress;
import io.viommu.pci.MsiSink;
import io.viommu.pci.PasidPrefix;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Translation;
import io.viommu.pci.TranslationResult;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * One Intel VT-d remapping unit in legacy mode: its register block (an {@link Mmio} mapped at
 * {@link #DEFAULT_BASE} on q35) and the DMA-remapping path for the devices it covers.
 *
 * <p>Behaviour follows QEMU 7.2's hw/i386/intel_iommu.c, used as the oracle and checked
 * against qemu-system-x86_64 over qtest; where this class differs on purpose the comment says
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
    private final AddressSpace memory;
    private final MsiSink msi;
    private final RegisterFile regs;
    private final Iotlb iotlb;
    private final ContextCache contextCache = new ContextCache();
    private final int aw;
    private final long cap;
    private final long ecap;
    private final boolean snpAllowed;
    private final boolean tmAllowed;
    private final List<InvalidationListener> listeners = new CopyOnWriteArrayList<>();
    private final InterruptRemapping irUnit;
    private VtdTrace trace = VtdTrace.NONE;
    /** Scalable-mode translation (RTADDR.TTM = 01) and ATS: their own classes, hooked in below. */
    private final ScalableModeTranslator scalable;
    private final AtsService ats;

    // Latched state (QEMU IntelIOMMUState fields outside csr[]).
    private long rootTable;
    private boolean rootScalable;
    private TranslationState translation = TranslationState.DISABLED;
    private QueueState queue = QueueState.DISABLED;
    private boolean interruptRemapping;
    private long iqBase;
    private int iqHead;
    private int iqTail;
    private int iqSize;
    private boolean iqDw;
    private int iqLastDescType;
    private int nextFrcd;
    private long irtBase;
    private int irtSize;
    private boolean irtEime;

    /** Scratch for the context fetch (no allocation on the translate path). */
    private final long[] ctx = new long[2];
    private boolean ctxRead;

    /** Origin of the invalidation being reported to listeners (see {@link #invalidationOrigin}). */
    private boolean inGuestStore;
    private int queuedDescriptor = -1;

    /**
     * @param config  the unit's options
     * @param memory  the platform's physical address space: root/context/page tables,
     *                invalidation queue and wait-descriptor status writes live here
     * @param msi     where fault-event and invalidation-completion interrupts are sent
     */
    public IntelIommu(VtdConfig config, AddressSpace memory, MsiSink msi) {
        this.config = config;
        this.memory = memory;
        this.msi = msi;
        this.aw = config.awBits();
        this.cap = config.cap();
        this.ecap = config.ecap();
        // QEMU 7.2 vtd_init: SNP is not reserved in leaf entries with scalable mode or snoop control;
        // TM is not reserved in leaf entries when device-IOTLB is supported.
        this.snpAllowed = config.scalableMode() || config.snoopControl();
        this.tmAllowed = config.deviceIotlb();
        this.regs = new RegisterFile(config.registerBlockSize(), VtdRegisters.table(config));
        this.iotlb = new Iotlb(config.iotlbEntries());
        this.scalable = new ScalableModeTranslator(this, config, memory);
        this.ats = new AtsService(this, config, memory);
        listeners.add(scalable);
        listeners.add(ats);
        // Interrupt remapping hangs off the invalidation hooks (IEC descriptors, SIRTP, resets).
        this.irUnit = new InterruptRemapping(this, memory);
        listeners.add(irUnit);
    }

    public VtdConfig config() {
        return config;
    }

    public int registerBlockSize() {
        return regs.size();
    }

    public void addInvalidationListener(InvalidationListener l) {
        listeners.add(l);
    }

    public void removeInvalidationListener(InvalidationListener l) {
        listeners.remove(l);
    }

    /**
     * For an {@link InvalidationListener} while it is being called: whether the invalidation
     * came from a queued descriptor (and which), a register write (CCMD, IOTLB, GCMD), or a
     * direct call on this class. The map/unmap notifier reports it as the cause of its events.
     */
    public InvalidationOrigin invalidationOrigin() {
        if (queuedDescriptor >= 0) {
            return InvalidationOrigin.queued(queuedDescriptor);
        }
        return inGuestStore ? InvalidationOrigin.REGISTER : InvalidationOrigin.DIRECT;
    }

    /**
     * The context entry of {@code sid} as the translate path resolves it (root entry, context
     * entry, QEMU's checks in QEMU's order; vtd_dev_to_context_entry), read afresh from
     * memory: no cache is consulted or filled and no fault is recorded. Fills
     * {@code out[0..1]} with the entry (zero if it was not read) and returns 0, or the
     * fault reason that a DMA from {@code sid} would get. For the map/unmap notifier.
     */
    public int readContextEntry(RequesterId sid, long[] out) {
        int fr = fetchContext(sid.value());
        out[0] = ctx[0];
        out[1] = ctx[1];
        return fr;
    }

    /** The address space the unit reads its tables from (for the notifier's page walks). */
    public AddressSpace tableMemory() {
        return memory;
    }

    public void setTrace(VtdTrace trace) {
        this.trace = trace == null ? VtdTrace.NONE : trace;
    }

    public TranslationState translationState() {
        return translation;
    }

    public QueueState queueState() {
        return queue;
    }

    /** Number of translations currently cached. */
    public int iotlbSize() {
        return iotlb.size();
    }

    public int iotlbCapacity() {
        return iotlb.capacity();
    }

    /** Whether a translation for (sid, iova) is cached (does not touch LRU order). */
    public boolean iotlbContains(RequesterId sid, Iova iova) {
        return iotlb.contains(sid.value(), iova.value());
    }

    public boolean contextCached(RequesterId sid) {
        return contextCache.contains(sid.value());
    }

    /** System reset (QEMU vtd_reset -> vtd_init): registers to reset values, caches emptied. */
    public void reset() {
        regs.reset();
        rootTable = 0;
        rootScalable = false;
        if (translation != TranslationState.DISABLED) {
            transition(TranslationState.DISABLED, "reset");
        }
        if (queue != QueueState.DISABLED) {
            transition(QueueState.DISABLED, "reset");
        }
        interruptRemapping = false;
        iqBase = 0;
        iqHead = 0;
        iqTail = 0;
        iqSize = 0;
        iqDw = false;
        iqLastDescType = InvalidationDescriptor.TYPE_NONE;
        nextFrcd = 0;
        irtBase = 0;
        irtSize = 0;
        irtEime = false;
        resetCaches();
    }

    // ====================================================================================
    // State snapshot
    // ====================================================================================

    public VtdState snapshot() {
        return new VtdState(regs.snapshot(), rootTable, rootScalable, translation, queue, interruptRemapping,
                iqBase, iqHead, iqTail, iqSize, iqDw, iqLastDescType, nextFrcd, irtBase, irtSize, irtEime);
    }

    /** Restores a snapshot taken from a unit with the same config; caches start empty. */
    public void restore(VtdState s) {
        long[] r = s.registers();
        if (r.length != regs.size() / 8) {
            throw new IllegalArgumentException("snapshot has " + r.length + " register quads, this unit "
                    + regs.size() / 8);
        }
        regs.restore(r);
        rootTable = s.rootTable();
        rootScalable = s.rootScalable();
        if (translation != s.translation()) {
            transition(s.translation(), "restore");
        }
        if (queue != s.queue()) {
            if (queue.canMoveTo(s.queue())) {
                transition(s.queue(), "restore");
            } else {
                transition(QueueState.ENABLED, "restore");
                transition(s.queue(), "restore");
            }
        }
        interruptRemapping = s.interruptRemapping();
        iqBase = s.iqBase();
        iqHead = s.iqHead();
        iqTail = s.iqTail();
        iqSize = s.iqSize();
        iqDw = s.iqDescriptor256();
        iqLastDescType = s.iqLastDescriptorType();
        nextFrcd = s.nextFaultRecord();
        irtBase = s.irtBase();
        irtSize = s.irtSize();
        irtEime = s.irtExtendedInterruptMode();
        resetCaches();
    }

    // ====================================================================================
    // Lifecycles
    // ====================================================================================

    private void transition(TranslationState next, String reason) {
        if (!translation.canMoveTo(next)) {
            throw new IllegalStateException("translation " + translation + " -> " + next + " (" + reason + ")");
        }
        TranslationState from = translation;
        translation = next;
        trace.transition(from, next, reason);
    }

    private void transition(QueueState next, String reason) {
        if (!queue.canMoveTo(next)) {
            throw new IllegalStateException("queued invalidation " + queue + " -> " + next + " (" + reason + ")");
        }
        QueueState from = queue;
        queue = next;
        trace.transition(from, next, reason);
    }

    private boolean dmarEnabled() {
        return translation == TranslationState.ENABLED;
    }

    private boolean qiEnabled() {
        return queue != QueueState.DISABLED;
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
            long v = iqBase | (regs.read64(IQA) & IQA_QS);
            return size == 4 ? v & 0xffffffffL : v;
        }
        if (off == IQA + 4) {
            return (iqBase >>> 32) & 0xffffffffL;
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
                updatePpf(); // the F bit (127) may have been cleared
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
                    handleCcmd();
                }
            }
            case CCMD + 4 -> {
                regs.write32(off, (int) val);
                handleCcmd();
            }
            case IOTLB -> {
                plainWrite(off, size, val);
                if (size == 8) {
                    handleIotlb();
                }
            }
            case IOTLB + 4 -> {
                regs.write32(off, (int) val);
                handleIotlb();
            }
            case FSTS -> {
                regs.write32(off, (int) val);
                handleFsts();
            }
            case FECTL -> {
                regs.write32(off, (int) val);
                handleFectl();
            }
            case IQT -> {
                plainWrite(off, size, val);
                handleIqt();
            }
            case IQA -> {
                plainWrite(off, size, val);
                iqDw = EcapReg.scalableMode(ecap) && (val & IQA_DW) != 0;
            }
            case ICS -> {
                regs.write32(off, (int) val);
                handleIcs();
            }
            case IECTL -> {
                regs.write32(off, (int) val);
                handleIectl();
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
        int changed = status ^ val;
        if ((changed & GCMD_TE) != 0) {
            handleTe((val & GCMD_TE) != 0);
        }
        if ((val & GCMD_SRTP) != 0) {
            handleSrtp();
        }
        if ((changed & GCMD_QIE) != 0) {
            handleQie((val & GCMD_QIE) != 0);
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
        if (dmarEnabled() == enable) {
            return;
        }
        if (enable) {
            transition(TranslationState.ENABLED, "GCMD.TE=1");
            regs.clearSet32(GSTS, 0, GSTS_TES);
        } else {
            transition(TranslationState.DISABLED, "GCMD.TE=0");
            nextFrcd = 0; // QEMU restarts the fault recording index
            regs.clearSet32(GSTS, GSTS_TES, 0);
        }
        resetCaches();
    }

    private void handleSrtp() {
        long rtaddr = regs.raw64(RTADDR);
        rootTable = rtaddr & VtdMath.hawMask(aw) & ~0xfffL;
        rootScalable = config.scalableMode() && (rtaddr & RTADDR_SMT) != 0;
        regs.clearSet32(GSTS, 0, GSTS_RTPS);
        resetCaches();
    }

    private void handleSirtp() {
        long irta = regs.raw64(IRTA);
        irtSize = 1 << ((irta & IRTA_SIZE_MASK) + 1);
        irtBase = irta & VtdMath.hawMask(aw) & ~0xfffL;
        irtEime = (irta & IRTA_EIME) != 0;
        regs.clearSet32(GSTS, 0, GSTS_IRTPS);
        for (InvalidationListener l : listeners) {
            l.interruptEntryCache(true, 0, 0);
        }
    }

    private void handleQie(boolean enable) {
        if (enable == qiEnabled()) {
            return;
        }
        if (enable) {
            long iqa = regs.raw64(IQA);
            iqBase = iqa & VtdMath.hawMask(aw) & ~0xfffL;
            iqSize = 1 << ((int) (iqa & IQA_QS) + 8 - (iqDw ? 1 : 0));
            transition(QueueState.ENABLED, "GCMD.QIE=1");
            regs.clearSet32(GSTS, 0, GSTS_QIES);
            if (iqTail != 0 && (regs.raw32(FSTS) & FSTS_IQE) == 0) {
                // A tail written before enabling is processed at once (QEMU allows it for Windows).
                fetchDescriptors();
            }
        } else if (iqTail == iqHead && iqLastDescType == InvalidationDescriptor.TYPE_WAIT) {
            regs.setRaw64(IQH, 0);
            iqHead = 0;
            transition(QueueState.DISABLED, "GCMD.QIE=0");
            regs.clearSet32(GSTS, GSTS_QIES, 0);
        } else {
            // QEMU vtd_queued_inv_disable_check: QI stays on unless the queue is drained and the
            // last descriptor processed was a wait descriptor.
            trace.guestError(String.format("QI disable refused: head=%d tail=%d last descriptor type=%d",
                    iqHead, iqTail, iqLastDescType));
        }
    }

    // ---- register-based invalidation (vtd_handle_ccmd_write / vtd_handle_iotlb_write) ----

    private void handleCcmd() {
        long val = regs.raw64(CCMD);
        if ((val & CCMD_ICC) == 0) {
            return;
        }
        if (qiEnabled()) {
            // ICC stays set: QEMU ignores register-based invalidation while QI is enabled.
            trace.guestError("register-based context invalidation while queued invalidation is enabled");
            return;
        }
        long caig;
        long cirg = val & CCMD_CIRG_MASK;
        if (cirg == CCMD_CIRG_GLOBAL || cirg == CCMD_CIRG_DOMAIN) {
            // QEMU performs (and reports) a domain-selective request as global.
            invalidateContextCacheGlobal();
            caig = CCMD_CAIG_GLOBAL;
        } else if (cirg == CCMD_CIRG_DEVICE) {
            invalidateContextCacheDevice(ccmdSid(val), ccmdFm(val));
            caig = CCMD_CAIG_DEVICE;
        } else {
            trace.guestError("CCMD with CIRG=0");
            caig = 0;
        }
        regs.clearSet64(CCMD, CCMD_ICC, 0);
        regs.clearSet64(CCMD, CCMD_CAIG_MASK, caig);
    }

    private void handleIotlb() {
        long val = regs.raw64(IOTLB);
        if ((val & IOTLB_IVT) == 0) {
            return;
        }
        if (qiEnabled()) {
            trace.guestError("register-based IOTLB invalidation while queued invalidation is enabled");
            return;
        }
        long iaig;
        long iirg = val & IOTLB_IIRG_MASK;
        if (iirg == IOTLB_IIRG_GLOBAL) {
            invalidateIotlbGlobal();
            iaig = IOTLB_IAIG_GLOBAL;
        } else if (iirg == IOTLB_IIRG_DOMAIN) {
            invalidateIotlbDomain(iotlbDid(val));
            iaig = IOTLB_IAIG_DOMAIN;
        } else if (iirg == IOTLB_IIRG_PAGE) {
            long iva = regs.raw64(IVA);
            int am = ivaAm(iva);
            if (am > VtdConfig.MAMV) {
                trace.guestError("IVA.AM " + am + " above MAMV");
                iaig = 0;
            } else {
                invalidateIotlbPages(iotlbDid(val), ivaAddr(iva), am);
                iaig = IOTLB_IAIG_PAGE;
            }
        } else {
            trace.guestError("IOTLB invalidation with IIRG=0");
            iaig = 0;
        }
        regs.clearSet64(IOTLB, IOTLB_IVT, 0);
        regs.clearSet64(IOTLB, IOTLB_IAIG_MASK, iaig);
    }

    // ---- status / event registers ----

    private void handleFsts() {
        int fsts = regs.raw32(FSTS);
        if ((regs.raw32(FECTL) & ECTL_IP) != 0 && (fsts & (FSTS_PFO | FSTS_PPF | FSTS_IQE)) == 0) {
            regs.clearSet32(FECTL, ECTL_IP, 0);
        }
        if (queue == QueueState.ERROR && (fsts & FSTS_IQE) == 0) {
            transition(QueueState.ENABLED, "FSTS.IQE cleared");
        }
    }

    private void handleFectl() {
        int fectl = regs.raw32(FECTL);
        if ((fectl & ECTL_IP) != 0 && (fectl & ECTL_IM) == 0) {
            sendMsi(FEADDR, FEDATA);
            regs.clearSet32(FECTL, ECTL_IP, 0);
        }
    }

    private void handleIcs() {
        if ((regs.raw32(IECTL) & ECTL_IP) != 0 && (regs.raw32(ICS) & ICS_IWC) == 0) {
            regs.clearSet32(IECTL, ECTL_IP, 0);
        }
    }

    private void handleIectl() {
        int iectl = regs.raw32(IECTL);
        if ((iectl & ECTL_IP) != 0 && (iectl & ECTL_IM) == 0) {
            sendMsi(IEADDR, IEDATA);
            regs.clearSet32(IECTL, ECTL_IP, 0);
        }
    }

    private void sendMsi(int addrReg, int dataReg) {
        // QEMU uses only the low 32 address bits (FEUADDR/IEUADDR are read-only zero without EIM).
        msi.deliver(regs.raw32(addrReg) & 0xffffffffL, regs.raw32(dataReg), EVENT_SOURCE);
    }

    /** vtd_generate_fault_event: {@code preFsts} is FSTS before the new condition was set. */
    private void generateFaultEvent(int preFsts) {
        if ((preFsts & (FSTS_PPF | FSTS_PFO | FSTS_IQE)) != 0) {
            return; // an earlier condition is still pending: no new event
        }
        regs.clearSet32(FECTL, 0, ECTL_IP);
        if ((regs.raw32(FECTL) & ECTL_IM) == 0) {
            sendMsi(FEADDR, FEDATA);
            regs.clearSet32(FECTL, ECTL_IP, 0);
        }
    }

    /** vtd_generate_completion_event. */
    private void generateCompletionEvent() {
        if ((regs.raw32(ICS) & ICS_IWC) != 0) {
            return; // one pending already
        }
        regs.clearSet32(ICS, 0, ICS_IWC);
        regs.clearSet32(IECTL, 0, ECTL_IP);
        if ((regs.raw32(IECTL) & ECTL_IM) == 0) {
            sendMsi(IEADDR, IEDATA);
            regs.clearSet32(IECTL, ECTL_IP, 0);
        }
    }

    // ====================================================================================
    // Fault recording (vtd_report_frcd_fault)
    // ====================================================================================

    private int frcdCount() {
        return config.faultRecords();
    }

    private boolean frcdPending(int i) {
        return (regs.raw64(FRCD + 16 * i + 8) & FRCD_F) != 0;
    }

    private void updatePpf() {
        boolean any = false;
        for (int i = 0; i < frcdCount() && !any; i++) {
            any = frcdPending(i);
        }
        regs.clearSet32(FSTS, FSTS_PPF, any ? FSTS_PPF : 0);
    }

    /**
     * Records a fault unless PFO is set, a pending record from the same source already exists
     * (QEMU's compression, vtd_try_collapse_fault), or the next register is still in use (which
     * sets PFO). Records form a ring; FSTS.FRI names the first of a batch; the fault event fires
     * only when no earlier fault condition is pending.
     *
     * @return whether a record was written
     */
    private boolean recordFault(int sid, long hi, long lo) {
        int fsts = regs.raw32(FSTS);
        if ((fsts & FSTS_PFO) != 0) {
            trace.guestError("New fault is not recorded due to Primary Fault Overflow");
            return false;
        }
        for (int i = 0; i < frcdCount(); i++) {
            long h = regs.raw64(FRCD + 16 * i + 8);
            if ((h & FRCD_F) != 0 && (h & 0xffff) == sid) {
                trace.guestError("New fault is not recorded due to compression of faults");
                return false;
            }
        }
        if (frcdPending(nextFrcd)) {
            regs.clearSet32(FSTS, 0, FSTS_PFO);
            trace.guestError("Next Fault Recording Reg is used, new fault is not recorded, set PFO field");
            return false;
        }
        int index = nextFrcd;
        regs.setRaw64(FRCD + 16 * index, lo);
        regs.setRaw64(FRCD + 16 * index + 8, hi);
        if ((fsts & FSTS_PPF) == 0) {
            regs.clearSet32(FSTS, FSTS_FRI_MASK, (index << FSTS_FRI_SHIFT) & FSTS_FRI_MASK);
        }
        regs.clearSet64(FRCD + 16 * index + 8, 0, FRCD_F);
        updatePpf();
        nextFrcd = index + 1 == frcdCount() ? 0 : index + 1;
        if ((fsts & FSTS_PPF) == 0) {
            generateFaultEvent(fsts);
        }
        return true;
    }

    // ====================================================================================
    // Translation
    // ====================================================================================

    private static final int OK = 0;

    @Override
    public TranslationResult translate(DmaRequest request) {
        try {
            return doTranslate(request);
        } catch (RuntimeException e) {
            // Never reached by guest input; a model bug must still not escape into the machine.
            trace.guestError("internal error in translate " + request + ": " + e);
            return new DmaFault(request.requester(), request.iova(), request.access(), 0,
                    "internal model error: " + e, false);
        }
    }

    private TranslationResult doTranslate(DmaRequest request) {
        long iova = request.iova().value();
        if (!dmarEnabled() || MsiAddress.contains(iova)) {
            // TE off: identity (QEMU's nodmar region). The interrupt range is QEMU's vtd-ir
            // region in both cases: a write there is an MSI, handled by the platform.
            return Translation.identity(request.iova(), 4096, true, true);
        }
        if (rootScalable) {
            return scalable.translate(request, null, rootTable);
        }
        int sid = request.requester().value();
        boolean write = request.access().isWrite();

        Translation hit = iotlb.lookup(sid, iova);
        if (hit != null) {
            if (write ? hit.writable() : hit.readable()) {
                return hit;
            }
            // QEMU returns the cached entry and the memory core fails the access without
            // recording a fault (checked against QEMU 7.2: a write through a cached read-only
            // translation leaves FRCD untouched).
            FaultReason r = write ? FaultReason.WRITE_NOT_PERMITTED : FaultReason.READ_NOT_PERMITTED;
            return new DmaFault(request.requester(), request.iova(), request.access(), r.code(),
                    r.description() + " (cached translation; not recorded, as QEMU)", false);
        }

        long lo;
        long hi;
        if (contextCache.lookup(sid, ctx)) {
            lo = ctx[0];
            hi = ctx[1];
        } else {
            int fr = fetchContext(sid);
            if (fr != OK) {
                boolean fpd = ctxRead && ContextEntry.faultProcessingDisabled(ctx[0]);
                // QEMU 7.2 reports context-stage faults with PV = 0.
                return fault(request, fr, fpd, 0);
            }
            lo = ctx[0];
            hi = ctx[1];
            contextCache.put(sid, lo, hi);
        }
        boolean fpd = ContextEntry.faultProcessingDisabled(lo);
        if (ContextEntry.translationType(lo) == ContextEntry.TT_PASS_THROUGH) {
            // Pass-through: identity, not cached in the IOTLB (QEMU switches to its nodmar region).
            return Translation.identity(request.iova(), 4096, true, true);
        }

        // Second-level walk (vtd_iova_to_slpte).
        int agaw = ContextEntry.agaw(hi);
        int width = Math.min(agaw, aw);
        if (width < 64 && (iova >>> width) != 0) {
            return fault(request, FaultReason.ADDRESS_BEYOND_AGAW.code(), fpd, FRCD_PV_QEMU_NO_PASID);
        }
        int top = ContextEntry.levels(hi);
        int level = top;
        long table = ContextEntry.secondLevelTable(lo);
        boolean reads = true;
        boolean writes = true;
        long pte;
        long need = write ? SlPte.W : SlPte.R;
        while (true) {
            long pteAddr = SlPte.address(table, iova, level);
            pte = memory.probe(pteAddr, 8) == AddressSpace.Status.OK ? memory.read(pteAddr, 8) : -1L;
            if (pte == -1L) {
                // QEMU reads an unreadable entry as all ones, so an all-ones entry in RAM faults
                // the same way: reason 3 at the top level, 7 below.
                int code = level == top ? FaultReason.CONTEXT_ENTRY_INVALID.code()
                        : FaultReason.PAGING_ENTRY_ACCESS.code();
                return fault(request, code, fpd, FRCD_PV_QEMU_NO_PASID);
            }
            reads &= SlPte.isReadable(pte);
            writes &= SlPte.isWritable(pte);
            // QEMU checks permission before reserved bits, so a not-present entry with reserved
            // bits set is reported as a permission fault.
            if ((pte & need) == 0) {
                int code = write ? FaultReason.WRITE_NOT_PERMITTED.code() : FaultReason.READ_NOT_PERMITTED.code();
                return fault(request, code, fpd, FRCD_PV_QEMU_NO_PASID);
            }
            if ((pte & SlPte.reservedMask(pte, level, aw, snpAllowed, tmAllowed)) != 0) {
                return fault(request, FaultReason.PAGING_ENTRY_RESERVED.code(), fpd, FRCD_PV_QEMU_NO_PASID);
            }
            if (SlPte.isLeaf(pte, level)) {
                break;
            }
            table = SlPte.outputAddress(pte, aw);
            level--;
        }
        long xlat = SlPte.outputAddress(pte, aw);
        long size = SlPte.pageSize(level);
        if (MsiAddress.overlaps(xlat, size)) {
            return fault(request, FaultReason.INTERRUPT_ADDRESS.code(), fpd, FRCD_PV_QEMU_NO_PASID);
        }
        long mask = ~(size - 1);
        Translation t = new Translation(new Iova(iova & mask), new PhysAddr(xlat & mask), size, reads, writes);
        iotlb.insert(sid, ContextEntry.domainId(hi), iova, level, pte, t);
        return t;
    }

    /**
     * Root entry -> context entry with QEMU's checks and order (vtd_dev_to_context_entry).
     * Fills {@link #ctx}; {@link #ctxRead} says whether the context entry was read (its FPD
     * then applies to the fault).
     */
    private int fetchContext(int sid) {
        ctxRead = false;
        ctx[0] = 0;
        ctx[1] = 0;
        long rootAddr = RootEntry.address(rootTable, sid >>> 8);
        if (memory.probe(rootAddr, RootEntry.SIZE) != AddressSpace.Status.OK) {
            return FaultReason.ROOT_TABLE_INVALID.code();
        }
        long rlo = memory.read(rootAddr, 8);
        long rhi = memory.read(rootAddr + 8, 8);
        if (!RootEntry.isPresent(rlo)) {
            return FaultReason.ROOT_ENTRY_NOT_PRESENT.code();
        }
        if (rootScalable) {
            // Scalable-mode tables are not modelled yet: refuse every request.
            trace.guestError("scalable-mode root table is not supported by this model");
            return FaultReason.ROOT_ENTRY_RESERVED.code();
        }
        if (RootEntry.hasReservedBits(rlo, rhi, aw)) {
            return FaultReason.ROOT_ENTRY_RESERVED.code();
        }
        long ctxAddr = ContextEntry.address(RootEntry.contextTable(rlo), sid & 0xff);
        if (memory.probe(ctxAddr, ContextEntry.SIZE) != AddressSpace.Status.OK) {
            return FaultReason.CONTEXT_TABLE_INVALID.code();
        }
        long lo = memory.read(ctxAddr, 8);
        long hi = memory.read(ctxAddr + 8, 8);
        ctx[0] = lo;
        ctx[1] = hi;
        ctxRead = true;
        if (!ContextEntry.isPresent(lo)) {
            return FaultReason.CONTEXT_ENTRY_NOT_PRESENT.code();
        }
        if (ContextEntry.hasReservedBits(lo, hi, aw)) {
            return FaultReason.CONTEXT_ENTRY_RESERVED.code();
        }
        if (!levelSupported(ContextEntry.levels(hi))) {
            return FaultReason.CONTEXT_ENTRY_INVALID.code();
        }
        int tt = ContextEntry.translationType(lo);
        boolean ttOk = switch (tt) {
            case ContextEntry.TT_MULTI_LEVEL -> true;
            case ContextEntry.TT_DEV_IOTLB -> config.deviceIotlb();
            case ContextEntry.TT_PASS_THROUGH -> config.pt();
            default -> false;
        };
        // QEMU reports a disallowed or reserved TT as an invalid context entry (3), not 0xD.
        return ttOk ? OK : FaultReason.CONTEXT_ENTRY_INVALID.code();
    }

    private boolean levelSupported(int levels) {
        int bit = levels - 2; // SAGAW bit: 1 = 3-level, 2 = 4-level, 3 = 5-level
        return CapReg.supportsAgaw(cap, bit);
    }

    private DmaFault fault(DmaRequest request, int code, boolean fpd, long pvBits) {
        FaultReason reason = FaultReason.ofCode(code);
        boolean recorded = false;
        if (!(fpd && reason.qualified())) {
            int sid = request.requester().value();
            long hi = sid | ((long) code << FRCD_FR_SHIFT) | pvBits
                    | (request.access().isWrite() ? 0 : FRCD_T);
            long lo = request.iova().value() & ~0xfffL;
            recorded = recordFault(sid, hi, lo);
        }
        return new DmaFault(request.requester(), request.iova(), request.access(), code,
                reason.description() + (fpd && reason.qualified() ? " (FPD: not recorded)" : ""), recorded);
    }

    // ====================================================================================
    // Invalidation (register, queue, or direct call)
    // ====================================================================================

    private void resetCaches() {
        iotlb.clear();
        contextCache.invalidateAll();
        for (InvalidationListener l : listeners) {
            l.cachesReset();
        }
    }

    public void invalidateContextCacheGlobal() {
        contextCache.invalidateAll();
        for (InvalidationListener l : listeners) {
            l.contextCacheGlobal();
        }
    }

    /** Device-selective context invalidation with function mask {@code fm} (0..3). */
    public void invalidateContextCacheDevice(int sid, int fm) {
        contextCache.invalidateDevice(sid & 0xffff, fm & 3);
        for (InvalidationListener l : listeners) {
            l.contextCacheDevice(sid & 0xffff, fm & 3);
        }
    }

    public void invalidateIotlbGlobal() {
        iotlb.clear();
        for (InvalidationListener l : listeners) {
            l.iotlbGlobal();
        }
    }

    public void invalidateIotlbDomain(int domainId) {
        iotlb.invalidateDomain(domainId & 0xffff);
        for (InvalidationListener l : listeners) {
            l.iotlbDomain(domainId & 0xffff);
        }
    }

    /** Page-selective: 2^{@code am} pages at {@code addr} (am <= MAMV = 18). */
    public void invalidateIotlbPages(int domainId, long addr, int am) {
        if (am < 0 || am > VtdConfig.MAMV) {
            throw new IllegalArgumentException("address mask " + am + " outside 0.." + VtdConfig.MAMV);
        }
        iotlb.invalidatePage(domainId & 0xffff, addr & ~0xfffL, am);
        for (InvalidationListener l : listeners) {
            l.iotlbPages(domainId & 0xffff, addr & ~0xfffL, am);
        }
    }

    // ---- queued invalidation (vtd_fetch_inv_desc and friends) ----

    private void handleIqt() {
        long val = regs.raw64(IQT);
        if (iqDw && (val & 0x10) != 0) {
            trace.guestError("IQT bit 4 set with 256-bit descriptors");
            return;
        }
        iqTail = iqDw ? (int) (val >>> 5) & 0x3fff : (int) (val >>> 4) & 0x7fff;
        if (qiEnabled() && (regs.raw32(FSTS) & FSTS_IQE) == 0) {
            fetchDescriptors();
        }
    }

    private void fetchDescriptors() {
        int shift = iqDw ? 5 : 4;
        if (iqTail >= iqSize) {
            trace.guestError("invalid QI tail " + iqTail + " for queue of " + iqSize);
            queueError();
            return;
        }
        // At most one pass over the queue per tail write: head advances by one per descriptor
        // and stops at the tail (< size), so this bound is never hit by a legal queue.
        for (int budget = iqSize; iqHead != iqTail && budget > 0; budget--) {
            if (!processQueuedDescriptor()) {
                queueError();
                return;
            }
            regs.setRaw64(IQH, ((long) iqHead << shift) & IQH_QH_MASK);
        }
    }

    private boolean processQueuedDescriptor() {
        queuedDescriptor = iqHead;
        try {
            return processDescriptor();
        } finally {
            queuedDescriptor = -1;
        }
    }

    private void queueError() {
        int pre = regs.raw32(FSTS);
        regs.clearSet32(FSTS, 0, FSTS_IQE);
        if (queue == QueueState.ENABLED) {
            transition(QueueState.ERROR, "invalidation queue error");
        }
        generateFaultEvent(pre);
    }

    private boolean processDescriptor() {
        int descSize = iqDw ? 32 : 16;
        long addr = iqBase + (long) iqHead * descSize;
        if (memory.probe(addr, descSize) != AddressSpace.Status.OK) {
            iqLastDescType = InvalidationDescriptor.TYPE_NONE;
            trace.guestError("cannot read invalidation descriptor at 0x" + Long.toHexString(addr));
            return false;
        }
        long lo = memory.read(addr, 8);
        long hi = memory.read(addr + 8, 8);
        int type = InvalidationDescriptor.type(lo);
        iqLastDescType = type;
        boolean ok = switch (type) {
            case InvalidationDescriptor.TYPE_CONTEXT_CACHE -> contextCacheDescriptor(lo, hi);
            case InvalidationDescriptor.TYPE_IOTLB -> iotlbDescriptor(lo, hi);
            case InvalidationDescriptor.TYPE_DEVICE_TLB -> deviceTlbDescriptor(lo, hi);
            case InvalidationDescriptor.TYPE_IEC -> {
                // QEMU 7.2 checks no reserved bits here.
                boolean global = !InvalidationDescriptor.iecIndexSelective(lo);
                for (InvalidationListener l : listeners) {
                    l.interruptEntryCache(global, InvalidationDescriptor.iecIndex(lo),
                            InvalidationDescriptor.iecIndexMask(lo));
                }
                yield true;
            }
            case InvalidationDescriptor.TYPE_WAIT -> waitDescriptor(lo, hi);
            // PASID-based types are accepted unchecked in QEMU 7.2 whatever the mode; here they reach
            // the scalable-mode caches (which are empty in legacy mode).
            case InvalidationDescriptor.TYPE_PASID_IOTLB -> scalable.pasidIotlbDescriptor(lo, hi);
            case InvalidationDescriptor.TYPE_PASID_CACHE -> scalable.pasidCacheDescriptor(lo);
            case PasidInvalidationDescriptor.TYPE_PASID_DEVICE_TLB -> ats.pasidDeviceTlbDescriptor(lo, hi);
            default -> false;
        };
        if (!ok) {
            trace.guestError("invalid invalidation descriptor " + InvalidationDescriptor.describe(lo, hi));
            return false;
        }
        iqHead = iqHead + 1 == iqSize ? 0 : iqHead + 1;
        return true;
    }

    private boolean contextCacheDescriptor(long lo, long hi) {
        if ((lo & InvalidationDescriptor.CC_RESERVED_LO) != 0 || hi != 0) {
            return false;
        }
        switch (InvalidationDescriptor.ccGranularity(lo)) {
            case 1, 2 -> invalidateContextCacheGlobal(); // domain-selective performed as global, as QEMU
            case 3 -> invalidateContextCacheDevice(InvalidationDescriptor.ccSid(lo), InvalidationDescriptor.ccFm(lo));
            default -> {
                return false;
            }
        }
        return true;
    }

    private boolean iotlbDescriptor(long lo, long hi) {
        if ((lo & InvalidationDescriptor.IOTLB_RESERVED_LO) != 0
                || (hi & InvalidationDescriptor.IOTLB_RESERVED_HI) != 0) {
            return false;
        }
        switch (InvalidationDescriptor.iotlbGranularity(lo)) {
            case 1 -> invalidateIotlbGlobal();
            case 2 -> invalidateIotlbDomain(InvalidationDescriptor.iotlbDid(lo));
            case 3 -> {
                int am = InvalidationDescriptor.iotlbAm(hi);
                if (am > VtdConfig.MAMV) {
                    return false;
                }
                invalidateIotlbPages(InvalidationDescriptor.iotlbDid(lo), InvalidationDescriptor.iotlbAddr(hi), am);
            }
            default -> {
                return false;
            }
        }
        return true;
    }

    private boolean deviceTlbDescriptor(long lo, long hi) {
        if ((lo & InvalidationDescriptor.DEV_TLB_RESERVED_LO) != 0
                || (hi & InvalidationDescriptor.DEV_TLB_RESERVED_HI) != 0) {
            return false;
        }
        long addr = InvalidationDescriptor.devTlbAddr(hi);
        long size = 4096;
        if (InvalidationDescriptor.devTlbSize(hi)) {
            // ATS spec table 2.4: the number of trailing ones above bit 12 encodes the size.
            int ones = Long.numberOfTrailingZeros(~(addr >>> 12));
            size = ones >= 51 ? Long.MIN_VALUE : 8192L << ones;
            addr &= ~(size - 1);
        }
        int sid = InvalidationDescriptor.devTlbSid(lo);
        for (InvalidationListener l : listeners) {
            l.deviceTlb(sid, addr, size);
        }
        return true;
    }

    private boolean waitDescriptor(long lo, long hi) {
        if ((hi & InvalidationDescriptor.WAIT_RESERVED_HI) != 0
                || (lo & InvalidationDescriptor.WAIT_RESERVED_LO) != 0) {
            return false;
        }
        boolean sw = (lo & InvalidationDescriptor.WAIT_SW) != 0;
        boolean intr = (lo & InvalidationDescriptor.WAIT_IF) != 0;
        if (!sw && !intr) {
            return false; // QEMU treats a wait without SW or IF as invalid
        }
        if (sw) {
            if (memory.probe(hi, 4) != AddressSpace.Status.OK) {
                return false;
            }
            memory.write(hi, InvalidationDescriptor.waitStatusData(lo) & 0xffffffffL, 4);
        }
        if (intr) {
            // Deviation: QEMU asserts when SW and IF are both set; the spec allows both, so
            // viommu writes the status and then signals completion.
            generateCompletionEvent();
        }
        return true;
    }

    // ====================================================================================
    // Requests with PASID, ATS, and the hooks scalable mode and ATS use
    // ====================================================================================

    /**
     * Translates an untranslated request carrying a PASID prefix ({@code prefix} null: none,
     * same as {@link #translate(DmaRequest)}). In legacy mode a request with PASID is blocked
     * and recorded with 0x31 (VT-d 7.1.3: TTM 00b and a request with PASID).
     */
    public TranslationResult translate(DmaRequest request, PasidPrefix prefix) {
        if (prefix == null) {
            return translate(request);
        }
        try {
            long iova = request.iova().value();
            if (!dmarEnabled() || MsiAddress.contains(iova)) {
                return Translation.identity(request.iova(), 4096, true, true);
            }
            if (!rootScalable) {
                return recordTranslationFault(request, 0x31, "request with PASID in legacy mode", false, 0);
            }
            return scalable.translate(request, prefix, rootTable);
        } catch (RuntimeException e) {
            trace.guestError("internal error in translate " + request + ": " + e);
            return new DmaFault(request.requester(), request.iova(), request.access(), 0,
                    "internal model error: " + e, false);
        }
    }

    /** The unit's ATS translation agent (translation and translated requests, device-TLBs). */
    public AtsService ats() {
        return ats;
    }

    /** Scalable-mode caches, for tests and benchmarks in this package. */
    ScalableModeTranslator scalableMode() {
        return scalable;
    }

    boolean translationActive() {
        return dmarEnabled();
    }

    boolean rootTableScalable() {
        return rootScalable;
    }

    long rootTableAddress() {
        return rootTable;
    }

    boolean secondLevelLevelsSupported(int levels) {
        return levelSupported(levels);
    }

    /**
     * The legacy context entry of {@code sid} (context cache, else the tables with the checks of
     * {@link #fetchContext}) into {@code out[0..1]}; returns 0 or the fault reason, and for a
     * fault whether the entry's FPD applies in {@code out[2]} (1) .
     */
    int legacyContext(int sid, long[] out) {
        if (contextCache.lookup(sid, ctx)) {
            out[0] = ctx[0];
            out[1] = ctx[1];
            return OK;
        }
        int fr = fetchContext(sid);
        out[0] = ctx[0];
        out[1] = ctx[1];
        out[2] = ctxRead && ContextEntry.faultProcessingDisabled(ctx[0]) ? 1 : 0;
        if (fr == OK) {
            contextCache.put(sid, ctx[0], ctx[1]);
        }
        return fr;
    }

    /**
     * Records a fault found by scalable-mode translation or ATS (codes beyond the legacy table):
     * FRCD high quad = SID, FR, T and {@code hiBits} (PP, PV, PRIV, EXE), unless
     * {@code suppressed} (FPD on a qualified fault).
     */
    DmaFault recordTranslationFault(DmaRequest request, int code, String description, boolean suppressed,
                                    long hiBits) {
        boolean recorded = false;
        if (!suppressed) {
            int sid = request.requester().value();
            long hi = sid | ((long) code << FRCD_FR_SHIFT) | hiBits | (request.access().isWrite() ? 0 : FRCD_T);
            recorded = recordFault(sid, hi, request.iova().value() & ~0xfffL);
        }
        return new DmaFault(request.requester(), request.iova(), request.access(), code,
                description + (suppressed ? " (FPD: not recorded)" : ""), recorded);
    }

    // ====================================================================================
    // Interrupt remapping hooks (state latched by SIRTP/IRE/CFI; the logic is in
    // InterruptRemapping, faults go through the same recording as DMA faults)
    // ====================================================================================

    /** This unit's interrupt remapping (used by the platform for every remappable interrupt). */
    public InterruptRemapping interruptRemapping() {
        return irUnit;
    }

    VtdTrace trace() {
        return trace;
    }

    boolean interruptRemappingEnabled() {
        return interruptRemapping;
    }

    boolean compatibilityFormatAllowed() {
        return (regs.raw32(GSTS) & InterruptRemapping.GSTS_CFIS) != 0;
    }

    long irtBaseLatched() {
        return irtBase;
    }

    int irtSizeLatched() {
        return irtSize;
    }

    boolean irtExtendedInterruptMode() {
        return irtEime;
    }

    /** An IR fault record: FI 63:48 = interrupt index (spec 10.4.14), T = 0, PV = 0, SID, FR. */
    void recordInterruptFault(int sid, int reason, int index) {
        recordFault(sid, (sid & 0xffff) | ((long) reason << FRCD_FR_SHIFT), (long) (index & 0xffff) << 48);
    }
}
