package io.viommu.linux.iommu;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.PhysAddr;
import io.viommu.vtd.CapReg;
import io.viommu.vtd.VtdRegisters;
import java.util.function.Consumer;

/**
 * Queued invalidation as drivers/iommu/intel/dmar.c (6.1) runs it: a ring of
 * {@link #QI_LENGTH} 128-bit descriptors in one page of RAM (legacy mode; scalable mode would
 * use 256-bit descriptors over two pages), a status word per slot in kernel memory, and
 * qi_submit_sync: write the descriptors, then a wait descriptor whose status write (SW) stores
 * QI_DONE into the slot's status word, move the tail (IQT: the one register write, i.e. the one
 * VM exit, per batch), poll the status word in RAM, reclaim the slots.
 *
 * <p>Descriptor layouts (VT-d spec 6.5.2; Linux QI_* macros):
 * <pre>
 *  context-cache  lo: 3:0 type 1, 5:4 G, 31:16 DID, 47:32 SID, 49:48 FM
 *  IOTLB          lo: 3:0 type 2, 5:4 G, 6 DW, 7 DR, 31:16 DID; hi: 5:0 AM, 6 IH, 63:12 ADDR
 *  device-TLB     lo: 3:0 type 3, 15:12 PFSID 3:0, 20:16 QDEP, 47:32 SID, 63:52 PFSID 15:4;
 *                 hi: 0 S, 63:12 ADDR
 *  wait           lo: 3:0 type 5, 4 IF, 5 SW, 6 FN, 63:32 status data; hi: status address
 * </pre>
 */
final class QueuedInvalidation implements Invalidation {
    /** QI_LENGTH: descriptors in the ring. */
    static final int QI_LENGTH = 256;
    /** enum { QI_FREE, QI_IN_USE, QI_DONE, QI_ABORT }. */
    static final int QI_FREE = 0;
    static final int QI_IN_USE = 1;
    static final int QI_DONE = 2;
    private static final int DESC_SIZE = 16;
    private static final int DESC_SHIFT = 4; // legacy: IQT holds index << 4

    private final UnitRegisters regs;
    private final AddressSpace ram;
    private final IommuCounters.Tally tally;
    private final Consumer<String> log;
    private final long cap;
    private final PhysAddr queue;
    private final PhysAddr status;
    private int freeHead;
    private int freeTail;
    private int freeCount = QI_LENGTH;
    private boolean broken;

    private QueuedInvalidation(UnitRegisters regs, AddressSpace ram, IommuCounters.Tally tally,
                               Consumer<String> log, long cap, PhysAddr queue, PhysAddr status) {
        this.regs = regs;
        this.ram = ram;
        this.tally = tally;
        this.log = log;
        this.cap = cap;
        this.queue = queue;
        this.status = status;
    }

    /**
     * dmar_enable_qi + __dmar_enable_qi: allocates the ring and the status words, writes IQT 0,
     * IQA (QS 0: one page, 256 entries), sets GCMD.QIE and polls GSTS until QIES shows. Returns
     * null when the unit does not report QIES (the caller falls back to register-based
     * invalidation, as a real kernel would after its IOMMU_WAIT_OP timed out).
     *
     * @param gcmd the driver's shadow of GCMD (iommu->gcmd); updated on success
     */
    static QueuedInvalidation enable(UnitRegisters regs, AddressSpace ram, GuestPages pages,
                                     IommuCounters.Tally tally, Consumer<String> log, long cap, int[] gcmd) {
        PhysAddr q = pages.allocate();
        PhysAddr st = pages.allocate();
        if (q == null || st == null) {
            return null;
        }
        regs.writel(VtdRegisters.IQT, 0);
        regs.writeq(VtdRegisters.IQA, q.value()); // DW 0, QS 0: 128-bit descriptors, one page
        int cmd = gcmd[0] | VtdRegisters.GCMD_QIE;
        regs.writel(VtdRegisters.GCMD, cmd);
        if (!DmarUnit.waitStatus(regs, VtdRegisters.GSTS_QIES, true)) {
            pages.free(q);
            pages.free(st);
            return null;
        }
        gcmd[0] = cmd;
        return new QueuedInvalidation(regs, ram, tally, log, cap, q, st);
    }

    PhysAddr queueBase() {
        return queue;
    }

    PhysAddr statusBase() {
        return status;
    }

    @Override
    public boolean queued() {
        return true;
    }

    @Override
    public void flushContext(int did, int sourceId, int functionMask, long type) {
        long gran = type >>> (61 - 4); // QI_CC_GRAN: CIRG 62:61 -> G 5:4
        long lo = (long) (functionMask & 3) << 48 | (long) (sourceId & 0xffff) << 32 | (long) (did & 0xffff) << 16
                | gran | 1; // type 1: context-cache
        countContext(type);
        submitSync(new long[] {lo, 0});
    }

    @Override
    public void flushIotlb(int did, long addr, int sizeOrder, long type) {
        long dw = CapReg.writeDrain(cap) ? 1 : 0;
        long dr = CapReg.readDrain(cap) ? 1 : 0;
        long gran = type >>> (60 - 4); // QI_IOTLB_GRAN: IIRG 61:60 -> G 5:4
        long lo = (long) (did & 0xffff) << 16 | dr << 7 | dw << 6 | gran | 2; // type 2: IOTLB
        // QI_IOTLB_ADDR masks the page offset, so the hint iommu_flush_iotlb_psi folded into
        // bit 6 of addr is dropped: 6.1's qi_flush_iotlb always sends IH = 0.
        long hi = (addr & ~0xfffL) | (sizeOrder & 0x3f);
        countIotlb(type);
        submitSync(new long[] {lo, hi});
    }

    /** qi_global_iec: an interrupt-entry-cache invalidation descriptor (type 4), global (G = 0). */
    void flushInterruptEntryCacheGlobal() {
        submitSync(new long[] {4, 0});
    }

    /** qi_flush_iec: index-selective (G = 1), IIDX {@code index}, IM {@code mask} (2^mask entries). */
    void flushInterruptEntryCache(int index, int mask) {
        submitSync(new long[] {4 | 1L << 4 | (long) (mask & 0x1f) << 27 | (long) (index & 0xffff) << 32, 0});
    }

    @Override
    public void flushDeviceIotlb(int sid, int pfsid, int qdep, long addr, int mask) {
        long hi;
        if (mask != 0) {
            addr |= (1L << (12 + mask - 1)) - 1;
            hi = (addr & ~0xfffL) | 1; // S: the size is encoded in the address
        } else {
            hi = addr & ~0xfffL;
        }
        if (qdep >= 32) { // QI_DEV_IOTLB_MAX_INVS
            qdep = 0;
        }
        long lo = (long) (sid & 0xffff) << 32 | (long) (qdep & 0x1f) << 16 | 3
                | (long) (pfsid & 0xf) << 12 | (long) ((pfsid >>> 4) & 0xfff) << 52;
        tally.deviceTlb++;
        submitSync(new long[] {lo, hi});
    }

    private void countContext(long type) {
        if (type == CCMD_GLOBAL) {
            tally.contextGlobal++;
        } else if (type == CCMD_DOMAIN) {
            tally.contextDomain++;
        } else {
            tally.contextDevice++;
        }
    }

    private void countIotlb(long type) {
        if (type == TLB_GLOBAL) {
            tally.iotlbGlobal++;
        } else if (type == TLB_DSI) {
            tally.iotlbDomain++;
        } else {
            tally.iotlbPage++;
        }
    }

    private long statusAddr(int index) {
        return status.value() + 4L * index;
    }

    /**
     * qi_submit_sync for {@code descs} (pairs of lo, hi) and the trailing wait descriptor.
     * Returns false when the unit did not complete the batch (an invalidation queue error).
     */
    boolean submitSync(long[] descs) {
        int count = descs.length / 2;
        if (broken) {
            return false;
        }
        reclaim();
        if (freeCount < count + 2) {
            log.accept("DMAR: invalidation queue full");
            return false;
        }
        int index = freeHead;
        int waitIndex = (index + count) % QI_LENGTH;
        for (int i = 0; i < count; i++) {
            int slot = (index + i) % QI_LENGTH;
            long at = queue.value() + (long) slot * DESC_SIZE;
            ram.write(PhysAddr.of(at), descs[2 * i], 8);
            ram.write(PhysAddr.of(at + 8), descs[2 * i + 1], 8);
            ram.write(PhysAddr.of(statusAddr(slot)), QI_IN_USE, 4);
        }
        ram.write(PhysAddr.of(statusAddr(waitIndex)), QI_IN_USE, 4);
        long waitLo = (long) QI_DONE << 32 | 1L << 5 | 5; // QI_IWD_STATUS_DATA(QI_DONE) | STATUS_WRITE | type 5
        long at = queue.value() + (long) waitIndex * DESC_SIZE;
        ram.write(PhysAddr.of(at), waitLo, 8);
        ram.write(PhysAddr.of(at + 8), statusAddr(waitIndex), 8);
        tally.descriptors += count + 1;
        tally.waitDescriptors++;
        freeHead = (freeHead + count + 1) % QI_LENGTH;
        freeCount -= count + 1;
        regs.writel(VtdRegisters.IQT, freeHead << DESC_SHIFT);
        // The poll: the status word is in RAM (no exit); qi_check_fault reads FSTS only while
        // the hardware has not written QI_DONE yet.
        boolean ok = true;
        while ((int) ram.read(PhysAddr.of(statusAddr(waitIndex)), 4) != QI_DONE) {
            int fsts = regs.readl(VtdRegisters.FSTS);
            int head = (int) (regs.readq(VtdRegisters.IQH) >>> DESC_SHIFT);
            if ((fsts & VtdRegisters.FSTS_IQE) != 0 && head != waitIndex) {
                // qi_check_fault: report the bad descriptor, overwrite it with a copy of the wait
                // descriptor so the queue can move on at the next submission, clear IQE.
                long bad = queue.value() + (long) head * DESC_SIZE;
                log.accept(String.format("DMAR: VT-d detected invalid descriptor: qw0 = %x, qw1 = %x",
                        ram.read(PhysAddr.of(bad), 8), ram.read(PhysAddr.of(bad + 8), 8)));
                ram.write(PhysAddr.of(bad), waitLo, 8);
                ram.write(PhysAddr.of(bad + 8), statusAddr(waitIndex), 8);
                regs.writel(VtdRegisters.FSTS, VtdRegisters.FSTS_IQE);
                log.accept("DMAR: Invalidation Queue Error (IQE) cleared");
                ok = false;
                break;
            }
            // Anything else would spin for ever on real hardware; the model completes every
            // batch synchronously, so stop and say so.
            log.accept("DMAR: invalidation wait did not complete; queued invalidation stopped");
            broken = true;
            return false;
        }
        for (int i = 0; i < count; i++) {
            ram.write(PhysAddr.of(statusAddr((index + i) % QI_LENGTH)), QI_DONE, 4);
        }
        reclaim();
        return ok;
    }

    /** reclaim_free_desc. */
    private void reclaim() {
        while (freeCount < QI_LENGTH && (int) ram.read(PhysAddr.of(statusAddr(freeTail)), 4) == QI_DONE) {
            ram.write(PhysAddr.of(statusAddr(freeTail)), QI_FREE, 4);
            freeTail = (freeTail + 1) % QI_LENGTH;
            freeCount++;
        }
    }

    int freeHead() {
        return freeHead;
    }
}
