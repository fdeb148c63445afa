package io.viommu.vtd;

import static io.viommu.vtd.VtdRegisters.FSTS;
import static io.viommu.vtd.VtdRegisters.FSTS_IQE;
import static io.viommu.vtd.VtdRegisters.GSTS;
import static io.viommu.vtd.VtdRegisters.GSTS_QIES;
import static io.viommu.vtd.VtdRegisters.IQA;
import static io.viommu.vtd.VtdRegisters.IQA_QS;
import static io.viommu.vtd.VtdRegisters.IQH;
import static io.viommu.vtd.VtdRegisters.IQH_QH_MASK;
import static io.viommu.vtd.VtdRegisters.IQT;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;

/**
 * Queued invalidation (VT-d 6.5.2): the queue latched at QIE time, its head and tail, and the
 * processing of descriptors as QEMU 7.2 does it (vtd_handle_gcmd_qie, vtd_handle_iqt_write,
 * vtd_fetch_inv_desc, vtd_process_inv_desc and the per-type handlers): an invalid descriptor
 * stops the queue with FSTS.IQE at that descriptor. What a descriptor invalidates goes to the
 * {@link Target} the register front gives it.
 */
final class InvalidationQueue {
    /** The operations descriptors invoke (the register front: caches, then listeners). */
    interface Target {
        void contextGlobal();

        void contextDevice(int sid, int fm);

        void iotlbGlobal();

        void iotlbDomain(int domainId);

        void iotlbPages(int domainId, long addr, int am);

        void deviceTlb(int sid, Iova addr, long size);

        void interruptEntryCache(boolean global, int index, int indexMask);

        boolean pasidIotlb(long lo, long hi);

        boolean pasidCache(long lo);

        boolean pasidDeviceTlb(long lo, long hi);
    }

    private final RegisterFile regs;
    private final AddressSpace memory;
    private final EventInterrupts events;
    private final VtdTrace trace;
    private final Target target;
    private final boolean dwAllowed;
    private final int aw;

    private QueueState state = QueueState.DISABLED;
    private long base;
    private int head;
    private int tail;
    private int size;
    private boolean dw;
    private int lastType = InvalidationDescriptor.TYPE_NONE;
    /** Index of the descriptor being processed, or -1. */
    private int current = -1;

    InvalidationQueue(RegisterFile regs, AddressSpace memory, EventInterrupts events, VtdTrace trace,
                      Target target, boolean dwAllowed, int aw) {
        this.regs = regs;
        this.memory = memory;
        this.events = events;
        this.trace = trace;
        this.target = target;
        this.dwAllowed = dwAllowed;
        this.aw = aw;
    }

    QueueState state() {
        return state;
    }

    boolean enabled() {
        return state != QueueState.DISABLED;
    }

    long base() {
        return base;
    }

    int head() {
        return head;
    }

    int tail() {
        return tail;
    }

    int size() {
        return size;
    }

    boolean descriptors256() {
        return dw;
    }

    int lastDescriptorType() {
        return lastType;
    }

    /** The queue index of the descriptor being processed, or -1 outside descriptor processing. */
    int currentDescriptor() {
        return current;
    }

    void transition(QueueState next, String reason) {
        if (!state.canMoveTo(next)) {
            throw new IllegalStateException("queued invalidation " + state + " -> " + next + " (" + reason + ")");
        }
        QueueState from = state;
        state = next;
        trace.transition(from, next, reason);
    }

    void reset() {
        if (state != QueueState.DISABLED) {
            transition(QueueState.DISABLED, "reset");
        }
        base = 0;
        head = 0;
        tail = 0;
        size = 0;
        dw = false;
        lastType = InvalidationDescriptor.TYPE_NONE;
    }

    void restore(VtdState s) {
        if (state != s.queue()) {
            if (state.canMoveTo(s.queue())) {
                transition(s.queue(), "restore");
            } else {
                transition(QueueState.ENABLED, "restore");
                transition(s.queue(), "restore");
            }
        }
        base = s.iqBase();
        head = s.iqHead();
        tail = s.iqTail();
        size = s.iqSize();
        dw = s.iqDescriptor256();
        lastType = s.iqLastDescriptorType();
    }

    /** IQA written: DW (256-bit descriptors) counts only with scalable mode (ECAP.SMTS). */
    void iqaWritten(long value) {
        dw = dwAllowed && (value & VtdRegisters.IQA_DW) != 0;
    }

    /** FSTS written: clearing IQE restarts a stopped queue (processing resumes at the next tail write). */
    void fstsWritten(int fsts) {
        if (state == QueueState.ERROR && (fsts & FSTS_IQE) == 0) {
            transition(QueueState.ENABLED, "FSTS.IQE cleared");
        }
    }

    /** GCMD.QIE changed (vtd_handle_gcmd_qie). */
    void setEnabled(boolean enable) {
        if (enable == enabled()) {
            return;
        }
        if (trace.qemuEvents()) {
            trace.qemuEvent("vtd_inv_qi_enable", "enabled " + (enable ? 1 : 0));
        }
        if (enable) {
            long iqa = regs.raw64(IQA);
            base = iqa & VtdMath.hawMask(aw) & ~0xfffL;
            size = 1 << ((int) (iqa & IQA_QS) + 8 - (dw ? 1 : 0));
            if (trace.qemuEvents()) {
                trace.qemuEvent("vtd_inv_qi_setup", String.format("addr 0x%x size %d", base, size));
            }
            transition(QueueState.ENABLED, "GCMD.QIE=1");
            regs.clearSet32(GSTS, 0, GSTS_QIES);
            if (tail != 0 && (regs.raw32(FSTS) & FSTS_IQE) == 0) {
                // A tail written before enabling is processed at once (QEMU allows it for Windows).
                fetchDescriptors();
            }
        } else if (tail == head && lastType == InvalidationDescriptor.TYPE_WAIT) {
            regs.setRaw64(IQH, 0);
            head = 0;
            transition(QueueState.DISABLED, "GCMD.QIE=0");
            regs.clearSet32(GSTS, GSTS_QIES, 0);
        } else {
            // QEMU vtd_queued_inv_disable_check: QI stays on unless the queue is drained and the
            // last descriptor processed was a wait descriptor.
            trace.guestError(String.format("QI disable refused: head=%d tail=%d last descriptor type=%d",
                    head, tail, lastType));
        }
    }

    /** IQT written (vtd_handle_iqt_write). */
    void tailWritten() {
        long val = regs.raw64(IQT);
        if (dw && (val & 0x10) != 0) {
            trace.guestError("IQT bit 4 set with 256-bit descriptors");
            return;
        }
        tail = dw ? (int) (val >>> 5) & 0x3fff : (int) (val >>> 4) & 0x7fff;
        if (trace.qemuEvents()) {
            trace.qemuEvent("vtd_inv_qi_tail", "write tail " + tail);
        }
        if (enabled() && (regs.raw32(FSTS) & FSTS_IQE) == 0) {
            fetchDescriptors();
        }
    }

    private void fetchDescriptors() {
        int shift = dw ? 5 : 4;
        if (trace.qemuEvents()) {
            trace.qemuEvent("vtd_inv_qi_fetch", "");
        }
        if (tail >= size) {
            trace.guestError("invalid QI tail " + tail + " for queue of " + size);
            queueError();
            return;
        }
        // At most one pass over the queue per tail write: head advances by one per descriptor
        // and stops at the tail (< size), so this bound is never hit by a legal queue.
        for (int budget = size; head != tail && budget > 0; budget--) {
            current = head;
            if (trace.qemuEvents()) {
                trace.qemuEvent("vtd_inv_qi_head", "read head " + head);
            }
            boolean ok;
            try {
                ok = processDescriptor();
            } finally {
                current = -1;
            }
            if (!ok) {
                queueError();
                return;
            }
            regs.setRaw64(IQH, ((long) head << shift) & IQH_QH_MASK);
        }
    }

    private void queueError() {
        int pre = regs.raw32(FSTS);
        regs.clearSet32(FSTS, 0, FSTS_IQE);
        if (state == QueueState.ENABLED) {
            transition(QueueState.ERROR, "invalidation queue error");
        }
        events.faultEvent(pre, true);
    }

    private boolean processDescriptor() {
        int descSize = dw ? 32 : 16;
        long addr = base + (long) head * descSize;
        if (memory.probe(PhysAddr.of(addr), descSize) != AddressSpace.Status.OK) {
            lastType = InvalidationDescriptor.TYPE_NONE;
            trace.guestError("cannot read invalidation descriptor at 0x" + Long.toHexString(addr));
            return false;
        }
        long lo = memory.read(PhysAddr.of(addr), 8);
        long hi = memory.read(PhysAddr.of(addr + 8), 8);
        int type = InvalidationDescriptor.type(lo);
        lastType = type;
        String name = switch (type) { // vtd_process_inv_desc's names (context-cache, iotlb, wait: checked)
            case InvalidationDescriptor.TYPE_CONTEXT_CACHE -> "context-cache";
            case InvalidationDescriptor.TYPE_IOTLB -> "iotlb";
            case InvalidationDescriptor.TYPE_DEVICE_TLB -> "device";
            case InvalidationDescriptor.TYPE_IEC -> "iec";
            case InvalidationDescriptor.TYPE_WAIT -> "wait";
            case InvalidationDescriptor.TYPE_PASID_IOTLB -> "p-iotlb";
            case InvalidationDescriptor.TYPE_PASID_CACHE -> "pasid-cache";
            default -> null;
        };
        if (name != null) {
            if (trace.qemuEvents()) {
                trace.qemuEvent("vtd_inv_desc", String.format("invalidate desc type %s high 0x%x low 0x%x", name, hi, lo));
            }
        }
        boolean ok = switch (type) {
            case InvalidationDescriptor.TYPE_CONTEXT_CACHE -> contextCacheDescriptor(lo, hi);
            case InvalidationDescriptor.TYPE_IOTLB -> iotlbDescriptor(lo, hi);
            case InvalidationDescriptor.TYPE_DEVICE_TLB -> deviceTlbDescriptor(lo, hi);
            case InvalidationDescriptor.TYPE_IEC -> {
                // QEMU 7.2 checks no reserved bits here.
                target.interruptEntryCache(!InvalidationDescriptor.iecIndexSelective(lo),
                        InvalidationDescriptor.iecIndex(lo), InvalidationDescriptor.iecIndexMask(lo));
                yield true;
            }
            case InvalidationDescriptor.TYPE_WAIT -> waitDescriptor(lo, hi);
            // PASID-based types are accepted unchecked in QEMU 7.2 whatever the mode; here they reach
            // the scalable-mode caches (which are empty in legacy mode).
            case InvalidationDescriptor.TYPE_PASID_IOTLB -> target.pasidIotlb(lo, hi);
            case InvalidationDescriptor.TYPE_PASID_CACHE -> target.pasidCache(lo);
            case PasidInvalidationDescriptor.TYPE_PASID_DEVICE_TLB -> target.pasidDeviceTlb(lo, hi);
            default -> false;
        };
        if (!ok) {
            trace.guestError("invalid invalidation descriptor " + InvalidationDescriptor.describe(lo, hi));
            return false;
        }
        head = head + 1 == size ? 0 : head + 1;
        return true;
    }

    private boolean contextCacheDescriptor(long lo, long hi) {
        if ((lo & InvalidationDescriptor.CC_RESERVED_LO) != 0 || hi != 0) {
            return false;
        }
        switch (InvalidationDescriptor.ccGranularity(lo)) {
            case 1, 2 -> target.contextGlobal(); // domain-selective performed as global, as QEMU
            case 3 -> target.contextDevice(InvalidationDescriptor.ccSid(lo), InvalidationDescriptor.ccFm(lo));
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
            case 1 -> target.iotlbGlobal();
            case 2 -> target.iotlbDomain(InvalidationDescriptor.iotlbDid(lo));
            case 3 -> {
                int am = InvalidationDescriptor.iotlbAm(hi);
                if (am > VtdConfig.MAMV) {
                    return false;
                }
                if (trace.qemuEvents()) {
                    trace.qemuEvent("vtd_inv_desc_iotlb_pages", String.format("iotlb invalidate domain 0x%x addr 0x%x mask 0x%x",
                            InvalidationDescriptor.iotlbDid(lo), InvalidationDescriptor.iotlbAddr(hi), am));
                }
                target.iotlbPages(InvalidationDescriptor.iotlbDid(lo), InvalidationDescriptor.iotlbAddr(hi), am);
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
        long bytes = 4096;
        if (InvalidationDescriptor.devTlbSize(hi)) {
            // ATS spec table 2.4: the number of trailing ones above bit 12 encodes the size.
            int ones = Long.numberOfTrailingZeros(~(addr >>> 12));
            bytes = ones >= 51 ? Long.MIN_VALUE : 8192L << ones;
            addr &= ~(bytes - 1);
        }
        target.deviceTlb(InvalidationDescriptor.devTlbSid(lo), new Iova(addr), bytes);
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
            if (trace.qemuEvents()) {
                trace.qemuEvent("vtd_inv_desc_wait_sw", String.format("wait invalidate status write addr 0x%x data 0x%x",
                        hi, InvalidationDescriptor.waitStatusData(lo) & 0xffffffffL));
            }
            if (memory.probe(PhysAddr.of(hi), 4) != AddressSpace.Status.OK) {
                return false;
            }
            memory.write(PhysAddr.of(hi), InvalidationDescriptor.waitStatusData(lo) & 0xffffffffL, 4);
        }
        if (intr) {
            // Deviation: QEMU asserts when SW and IF are both set; the spec allows both, so
            // viommu writes the status and then signals completion.
            events.completionEvent();
        }
        return true;
    }
}
