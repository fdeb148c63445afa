package io.viommu.conformance;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Builds a DMA batch: one machine with intel-iommu and {@link #LANES} edu devices ("lanes", each
 * its own requester id), shared root and context tables, and cases that each own a lane, a
 * domain and fresh guest memory. Because QEMU's edu fires its DMA ~100 ms after the command and
 * only real time makes it happen, cases run in rounds: every active lane fires one DMA, then one
 * settle, then all checks. At most one DMA per round may fault (QEMU has one fault record), and
 * exclusive cases (root-table changes, fault overflow, invalidation) run alone.
 *
 * <p>Guest memory: 0x100000 root table, 0x101000 context table (bus 0), 0x200000.. tables and 4 KiB
 * data pages, 0x8000000.. 2 MiB pages; edu BAR0 of lane i at 0xE0000000 + i MiB.
 */
final class DmaBatch {
    static final int LANES = 6;
    static final long ROOT_TABLE = 0x10_0000, CONTEXT_TABLE = 0x10_1000;
    static final long EDU_BUFFER = 0x40000;
    /** An address that is not RAM (RAM ends at 256 MiB): reads through it fail. */
    static final long NOT_RAM = 0x4000_0000L;
    static final long EDU_BAR_BASE = 0xE000_0000L;

    /** One edu device: PCI 00:(index+1).0, BAR0 at a fixed address. */
    record Lane(int index) {
        int devfn() { return (index + 1) << 3; }
        int sid() { return devfn(); }
        long bar() { return EDU_BAR_BASE + index * 0x10_0000L; }
    }

    /** What the standard end-of-round fault check expects of one round. */
    record FaultExpect(int reason, int sid, boolean read, long iova) {}

    /**
     * One round's worth of a case: steps before the DMA (tables, data), the DMA commands, the
     * checks after the settle. {@code fault} is the fault this phase must record (or null for
     * none); {@code standardEpilogue} false means the case reads and clears faults itself.
     */
    record Phase(QtestScript pre, QtestScript fire, QtestScript post, FaultExpect fault, boolean standardEpilogue,
            QtestScript after) {
        Phase(QtestScript pre, QtestScript fire, QtestScript post, FaultExpect fault) {
            this(pre, fire, post, fault, true, new QtestScript());
        }

        Phase(QtestScript pre, QtestScript fire, QtestScript post, FaultExpect fault, boolean standardEpilogue) {
            this(pre, fire, post, fault, standardEpilogue, new QtestScript());
        }
    }

    /** A script step between waves (e.g. enabling queued invalidation), not a case. */
    interface Barrier extends DmaCase {
        void emit(DmaBatch b, QtestScript t);

        @Override
        default boolean exclusive() { return true; }

        @Override
        default List<Phase> phases(DmaBatch b, Lane lane) { return List.of(); }
    }

    /** A case, instantiated on the lane the scheduler gives it. */
    interface DmaCase {
        String name();

        /** Runs alone (touches global state: root table, fault overflow, caches). */
        default boolean exclusive() { return false; }

        /** Some phase records a fault (or FPD suppresses one): at most one such case per wave. */
        default boolean faults() { return false; }

        List<Phase> phases(DmaBatch b, Lane lane);
    }

    final Random rnd;
    final long seed;
    final String family;
    final String iommuOptions;
    final int awBits;
    private final List<DmaCase> cases = new ArrayList<>();
    private final QtestScript s = new QtestScript();
    private long nextTablePage = 0x20_0000;
    private long next2M = 0x0800_0000;
    private int nextDid = 1;
    private int gsts;
    private boolean qi;
    private long iqBase;
    private int iqTail;
    private long qiStatus;
    private int qiSeq = 1;

    DmaBatch(String family, long seed, String iommuOptions) {
        this.family = family;
        this.seed = seed;
        this.rnd = new Random(seed);
        this.iommuOptions = iommuOptions;
        this.awBits = iommuOptions.contains("aw-bits=48") ? 48 : 39;
    }

    // ---- allocation --------------------------------------------------------------------------

    long tablePage() {
        long p = nextTablePage;
        nextTablePage += 0x1000;
        if (nextTablePage > 0x0800_0000) {
            throw new IllegalStateException("batch too large for its 4 KiB pool");
        }
        return p;
    }

    long dataPage() {
        return tablePage();
    }

    long hugePage2M() {
        long p = next2M;
        next2M += 0x20_0000;
        if (next2M > 0x0FE0_0000) {
            throw new IllegalStateException("batch too large for its 2 MiB pool");
        }
        return p;
    }

    int newDomain() {
        return nextDid++;
    }

    byte[] pattern(int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    // ---- structures --------------------------------------------------------------------------

    /** Legacy context entry (spec 9.3): lo P 0, FPD 1, TT 3:2, SLPTPTR 63:12; hi AW 2:0, DID 23:8. */
    static long contextLo(long slptptr, int tt, boolean fpd) {
        return slptptr | (long) tt << 2 | (fpd ? 2 : 0) | 1;
    }

    static long contextHi(int did, int aw) {
        return (long) did << 8 | aw;
    }

    static long contextEntryAddr(long contextTable, Lane lane) {
        return contextTable + 16L * lane.devfn();
    }

    /** Writes the lane's context entry in the shared bus-0 context table (TT 0, no FPD). */
    void writeContext(QtestScript t, Lane lane, SlTables tables, int did) {
        long e = contextEntryAddr(CONTEXT_TABLE, lane);
        t.writeq(e + 8, contextHi(did, aw(tables.levels)));
        t.writeq(e, contextLo(tables.root, 0, false));
    }

    /** Context AW value for a table depth: 3 levels = AGAW 1 (39-bit), 4 levels = 2 (48-bit). */
    static int aw(int levels) {
        return levels - 2;
    }

    /** Levels a case may use for this configuration (QEMU: SAGAW has 39 always, 48 with aw-bits=48). */
    int randomLevels() {
        return awBits == 48 && rnd.nextBoolean() ? 4 : 3;
    }

    // ---- edu ---------------------------------------------------------------------------------

    /** edu DMA (hw/misc/edu.c): 0x80 src, 0x88 dst, 0x90 count, 0x98 cmd (1 start, 2 to RAM). */
    static QtestScript eduDma(Lane lane, long src, long dst, int count, boolean toRam) {
        QtestScript f = new QtestScript();
        f.writeq(lane.bar() + 0x80, src).writeq(lane.bar() + 0x88, dst).writeq(lane.bar() + 0x90, count)
                .writeq(lane.bar() + 0x98, toRam ? 3 : 1);
        return f;
    }

    static QtestScript ramToDevice(Lane lane, long iova, int bufOffset, int count) {
        return eduDma(lane, iova, EDU_BUFFER + bufOffset, count, false);
    }

    static QtestScript deviceToRam(Lane lane, int bufOffset, long iova, int count) {
        return eduDma(lane, EDU_BUFFER + bufOffset, iova, count, true);
    }

    private static long cfgAddr(Lane lane, int reg) {
        return 0x8000_0000L | (long) lane.devfn() << 8 | reg;
    }

    // ---- caches -------------------------------------------------------------------------------

    /** Global context-cache then IOTLB invalidation, by register or (once enabled) by queue. */
    void invalidateAll(QtestScript t) {
        if (qi) {
            submit(t, Vtd.ccDescGlobal(), Vtd.iotlbDescGlobal());
        } else {
            t.writeq(Vtd.reg(Vtd.CCMD), Vtd.ccmdGlobal()).readq(Vtd.reg(Vtd.CCMD))
                    .expectMasked(1L << 63, 0, "CCMD.ICC clears when the invalidation completes");
            t.writeq(Vtd.reg(Vtd.IOTLB), Vtd.iotlbGlobal()).readq(Vtd.reg(Vtd.IOTLB))
                    .expectMasked(1L << 63, 0, "IOTLB.IVT clears when the invalidation completes");
        }
    }

    /** Turns on queued invalidation: 4 KiB queue of 128-bit descriptors, IQT 0. */
    void enableQueuedInvalidation(QtestScript t) {
        iqBase = tablePage();
        qiStatus = dataPage();
        t.writeq(Vtd.reg(Vtd.IQA), iqBase).writeq(Vtd.reg(Vtd.IQT), 0);
        gcmd(t, Vtd.QIE, true);
        qi = true;
    }

    /**
     * Writes descriptors at the tail, then a wait descriptor with status write, moves IQT and
     * checks the status write happened (QEMU processes the queue synchronously on the IQT write).
     */
    void submit(QtestScript t, long[]... descriptors) {
        for (long[] d : descriptors) {
            putDescriptor(t, d);
        }
        int data = qiSeq++;
        putDescriptor(t, Vtd.waitDesc(true, false, false, data, qiStatus));
        t.writeq(Vtd.reg(Vtd.IQT), (long) iqTail << 4);
        t.readl(qiStatus).expectValue(data, "wait descriptor wrote its status data");
        t.readq(Vtd.reg(Vtd.IQH)).expectValue((long) iqTail << 4, "IQH caught up with IQT");
    }

    /** Writes one descriptor at the tail (no IQT update). */
    void putDescriptor(QtestScript t, long[] d) {
        long a = iqBase + 16L * iqTail;
        t.writeq(a, d[0]).writeq(a + 8, d[1]);
        iqTail++;
        if (iqTail >= 256) {
            throw new IllegalStateException("invalidation queue would wrap");
        }
    }

    /** Moves IQT to the current tail. */
    void ringTail(QtestScript t) {
        t.writeq(Vtd.reg(Vtd.IQT), (long) iqTail << 4);
    }

    /** Writes GCMD with the shadowed status plus or minus one bit (spec 10.4.4 usage). */
    void gcmd(QtestScript t, int bit, boolean on) {
        int persistent = gsts & (Vtd.TE | Vtd.QIE | Vtd.IRE | Vtd.CFI);
        int v = on ? persistent | bit : persistent & ~bit;
        t.writel(Vtd.reg(Vtd.GCMD), v);
        if (bit == Vtd.TE || bit == Vtd.QIE || bit == Vtd.IRE || bit == Vtd.CFI) {
            gsts = on ? gsts | bit : gsts & ~bit;
        } else if (bit == Vtd.SRTP) {
            gsts |= Vtd.SRTP;
        }
        t.readl(Vtd.reg(Vtd.GSTS)).expectValue(gsts & 0xffffffffL, "GSTS reflects the GCMD write");
    }

    /** Points the unit at another root table (SRTP) and invalidates everything, as a driver must. */
    void switchRootTable(QtestScript t, long rootTable) {
        t.writeq(Vtd.reg(Vtd.RTADDR), rootTable);
        gcmd(t, Vtd.SRTP, true);
        invalidateAll(t);
    }

    // ---- scheduling ---------------------------------------------------------------------------

    DmaBatch add(DmaCase c) {
        cases.add(c);
        return this;
    }

    /** Standard machine set-up: BARs, bus-0 root entry, RTADDR, SRTP, TE. */
    private void preamble() {
        s.note("preamble: edu BARs, root table, translation on");
        for (int i = 0; i < LANES; i++) {
            Lane l = new Lane(i);
            s.outl(0xcf8, cfgAddr(l, 0x00)).inl(0xcfc).expectValue(0x11e81234L, "edu 1234:11e8 at 00:0" + (i + 1) + ".0");
            s.outl(0xcf8, cfgAddr(l, 0x10)).outl(0xcfc, l.bar());
            s.outl(0xcf8, cfgAddr(l, 0x04)).outw(0xcfc, 0x6); // memory decode + bus master
            s.readl(l.bar()).expectValue(0x010000edL, "edu ident through BAR0");
        }
        s.writeq(ROOT_TABLE, CONTEXT_TABLE | 1);
        s.writeq(Vtd.reg(Vtd.RTADDR), ROOT_TABLE);
        gcmd(s, Vtd.SRTP, true);
        invalidateAll(s);
        gcmd(s, Vtd.TE, true);
    }

    /**
     * Schedules the cases into waves: a wave is either one exclusive case, or up to LANES
     * non-exclusive cases of which at most one faults. Within a wave, round r runs phase r of
     * every case.
     */
    Batch build() {
        preamble();
        List<DmaCase> pending = new ArrayList<>(cases);
        while (!pending.isEmpty()) {
            List<DmaCase> wave = new ArrayList<>();
            DmaCase first = pending.removeFirst();
            if (first instanceof Barrier barrier) {
                s.note(barrier.name());
                barrier.emit(this, s);
                continue;
            }
            wave.add(first);
            if (!first.exclusive()) {
                boolean faulting = first.faults();
                for (int i = 0; i < pending.size() && wave.size() < LANES; ) {
                    DmaCase c = pending.get(i);
                    if (c instanceof Barrier) {
                        break;
                    }
                    if (!c.exclusive() && !(faulting && c.faults())) {
                        faulting |= c.faults();
                        wave.add(pending.remove(i));
                    } else {
                        i++;
                    }
                }
            }
            runWave(wave);
        }
        return new Batch(family, seed, devices(), s);
    }

    List<String> devices() {
        List<String> d = new ArrayList<>();
        d.add(iommuOptions.isEmpty() ? "intel-iommu" : "intel-iommu," + iommuOptions);
        for (int i = 0; i < LANES; i++) {
            // Widened so that IOVAs beyond the AGAW reach the IOMMU (edu masks to 28 bits by default).
            d.add("edu,dma_mask=0xffffffffffffffff");
        }
        return d;
    }

    private void runWave(List<DmaCase> wave) {
        // Generated before the phases (which may queue descriptors of their own) so that its
        // descriptors precede theirs in the invalidation queue; emitted after round 0's set-up.
        QtestScript waveStart = new QtestScript();
        invalidateAll(waveStart);
        List<List<Phase>> phases = new ArrayList<>();
        for (int i = 0; i < wave.size(); i++) {
            phases.add(wave.get(i).phases(this, new Lane(i)));
        }
        int rounds = phases.stream().mapToInt(List::size).max().orElse(0);
        for (int r = 0; r < rounds; r++) {
            FaultExpect fault = null;
            boolean standard = true;
            for (int i = 0; i < wave.size(); i++) {
                if (r < phases.get(i).size()) {
                    Phase p = phases.get(i).get(r);
                    s.note(wave.get(i).name() + " [lane " + i + ", round " + r + "]: set-up");
                    s.append(p.pre());
                    if (p.fault() != null) {
                        fault = p.fault();
                    }
                    standard &= p.standardEpilogue();
                }
            }
            if (r == 0) {
                s.note("wave start: invalidate context cache and IOTLB");
                s.append(waveStart);
            }
            s.note("round " + r + ": fire");
            for (int i = 0; i < wave.size(); i++) {
                if (r < phases.get(i).size()) {
                    s.append(phases.get(i).get(r).fire());
                }
            }
            s.settle();
            for (int i = 0; i < wave.size(); i++) {
                if (r < phases.get(i).size()) {
                    s.note(wave.get(i).name() + " [lane " + i + ", round " + r + "]: check");
                    s.append(phases.get(i).get(r).post());
                }
            }
            if (standard) {
                epilogue(fault, r);
            }
            for (int i = 0; i < wave.size(); i++) {
                if (r < phases.get(i).size()) {
                    s.append(phases.get(i).get(r).after());
                }
            }
        }
    }

    /** Reads the fault state, compares it with the round's expectation, and clears it. */
    private void epilogue(FaultExpect fault, int r) {
        s.note("round " + r + ": fault status");
        if (fault == null) {
            s.readl(Vtd.reg(Vtd.FSTS)).expectValue(0, "no fault recorded in this round");
        } else {
            s.readl(Vtd.reg(Vtd.FSTS)).expectValue(Vtd.FSTS_PPF, "one fault pending in record 0");
            s.readq(Vtd.reg(Vtd.FRCD_LO)).expectValue(fault.iova() & ~0xFFFL, "fault record holds the faulting page");
            s.readq(Vtd.reg(Vtd.FRCD_HI)).expectMasked(Vtd.FRCD_HI_MASK,
                    Vtd.frcdHi(fault.reason(), fault.sid(), fault.read()),
                    "fault record: F, T, reason " + fault.reason() + ", source " + Integer.toHexString(fault.sid()));
            s.writel(Vtd.reg(Vtd.FRCD_HI + 4), 0x8000_0000L);
            s.writel(Vtd.reg(Vtd.FSTS), Vtd.FSTS_W1C);
            s.readl(Vtd.reg(Vtd.FSTS)).expectValue(0, "fault cleared by W1C of F");
        }
    }
}
