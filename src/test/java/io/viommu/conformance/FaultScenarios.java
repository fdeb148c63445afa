package io.viommu.conformance;

import java.util.ArrayList;
import java.util.List;

/**
 * Generators for every legacy DMA-remapping fault reason edu can reach (family
 * {@code dma-faults}), FPD, and the fault-recording machinery (overflow, QEMU's compression of
 * repeated faults from one source, the fault event and its mask). Each case states the reason
 * QEMU 7.2 records; where QEMU picks a different reason than a reading of the spec would, the
 * case says so.
 */
final class FaultScenarios {
    private FaultScenarios() {}

    /** Builds the lane's structures into {@code pre} and returns the IOVA the DMA uses. */
    @FunctionalInterface
    interface Setup {
        long build(DmaBatch b, QtestScript pre, DmaBatch.Lane lane);
    }

    /**
     * A lane-local faulting DMA. {@code reason} 0 means the DMA must succeed (configuration
     * allows it) and nothing is recorded; with {@code fpd} the fault happens but is not recorded.
     */
    static DmaBatch.DmaCase lane(String name, boolean read, int reason, boolean fpd, Setup setup) {
        return new DmaBatch.DmaCase() {
            @Override
            public String name() {
                return name + (read ? " (read)" : " (write)");
            }

            @Override
            public boolean faults() {
                return reason != 0;
            }

            @Override
            public List<DmaBatch.Phase> phases(DmaBatch b, DmaBatch.Lane lane) {
                QtestScript pre = new QtestScript();
                // an offset inside the page: the record must hold the page address only (FI 63:12)
                long iova = setup.build(b, pre, lane) + b.rnd.nextInt(4088);
                QtestScript fire = read ? DmaBatch.ramToDevice(lane, iova, 0, 8) : DmaBatch.deviceToRam(lane, 0, iova, 8);
                DmaBatch.FaultExpect f = reason == 0 || fpd ? null : new DmaBatch.FaultExpect(reason, lane.sid(), read, iova);
                return List.of(new DmaBatch.Phase(pre, fire, new QtestScript(), f));
            }
        };
    }

    /** Context entry + 3/4-level tables mapping one 4 KiB page at a random IOVA with perms. */
    static long mapped(DmaBatch b, QtestScript pre, DmaBatch.Lane lane, long perms, int tt, boolean fpd) {
        int levels = b.randomLevels();
        SlTables t = new SlTables(b, pre, levels);
        long iova = DmaScenarios.window(b, levels, 0) + 0x1000L * (1 + b.rnd.nextInt(511));
        t.map(iova, b.dataPage(), 1, perms);
        long e = DmaBatch.contextEntryAddr(DmaBatch.CONTEXT_TABLE, lane);
        pre.writeq(e + 8, DmaBatch.contextHi(b.newDomain(), DmaBatch.aw(levels)));
        pre.writeq(e, DmaBatch.contextLo(t.root, tt, fpd));
        return iova;
    }

    static long randomBit(DmaBatch b, int lo, int hi) {
        return 1L << (lo + b.rnd.nextInt(hi - lo + 1));
    }

    /** All lane-local fault kinds, each once, for the batch's configuration. */
    static List<DmaBatch.DmaCase> laneCases(DmaBatch b) {
        boolean dt = b.iommuOptions.contains("device-iotlb=on");
        boolean pt = !b.iommuOptions.contains("pt=off");
        boolean sc = b.iommuOptions.contains("snoop-control=on");
        int aw = b.awBits;
        List<DmaBatch.DmaCase> c = new ArrayList<>();
        for (boolean read : new boolean[] {true, false}) {
            int perm = read ? Vtd.FR_READ : Vtd.FR_WRITE;
            c.add(lane("context not present", read, Vtd.FR_CTX_NOT_PRESENT, false, (bb, pre, lane) -> {
                long e = DmaBatch.contextEntryAddr(DmaBatch.CONTEXT_TABLE, lane);
                pre.writeq(e + 8, DmaBatch.contextHi(bb.newDomain(), 1)).writeq(e, 0x12000); // P = 0
                return 0x1000L * bb.rnd.nextInt(4096);
            }));
            c.add(lane("context TT=3 (reserved) is invalid", read, Vtd.FR_CTX_INVALID, false,
                    (bb, pre, lane) -> mapped(bb, pre, lane, SlTables.R | SlTables.W, 3, false)));
            c.add(lane("context TT=1 " + (dt ? "allowed by device-iotlb" : "without device-iotlb is invalid"), read,
                    dt ? 0 : Vtd.FR_CTX_INVALID, false,
                    (bb, pre, lane) -> mapped(bb, pre, lane, SlTables.R | SlTables.W, 1, false)));
            c.add(lane("context TT=2 pass-through " + (pt ? "allowed by pt" : "invalid with pt=off"), read,
                    pt ? 0 : Vtd.FR_CTX_INVALID, false, (bb, pre, lane) -> {
                        mapped(bb, pre, lane, 0, 2, false);
                        return bb.dataPage(); // pass-through: the IOVA is the guest-physical address
                    }));
            c.add(lane("context AW not in SAGAW is invalid", read, Vtd.FR_CTX_INVALID, false, (bb, pre, lane) -> {
                long iova = mapped(bb, pre, lane, SlTables.R | SlTables.W, 0, false);
                long e = DmaBatch.contextEntryAddr(DmaBatch.CONTEXT_TABLE, lane);
                int[] bad = aw == 48 ? new int[] {0, 3, 4} : new int[] {0, 2, 3};
                pre.writeq(e + 8, DmaBatch.contextHi(bb.newDomain(), bad[bb.rnd.nextInt(bad.length)]));
                return iova;
            }));
            c.add(lane("context reserved bit (lo 11:4, hi 7, hi 63:24, SLPTPTR above HAW)", read, Vtd.FR_CTX_RSVD, false,
                    (bb, pre, lane) -> {
                        long iova = mapped(bb, pre, lane, SlTables.R | SlTables.W, 0, false);
                        long e = DmaBatch.contextEntryAddr(DmaBatch.CONTEXT_TABLE, lane);
                        switch (bb.rnd.nextInt(4)) {
                            case 0 -> pre.cmd(String.format("writeb 0x%x 0x%x", e, 1 | (1 << (4 + bb.rnd.nextInt(4)))));
                            case 1 -> pre.writeb(e + 8, 0x80 | 1 | (aw == 48 ? 1 : 0));
                            case 2 -> pre.writeb(e + 8 + 3 + bb.rnd.nextInt(5), 1 << bb.rnd.nextInt(8));
                            default -> pre.writeb(e + (aw / 8), 1 << (aw % 8 + bb.rnd.nextInt(8 - aw % 8)));
                        }
                        return iova;
                    }));
            c.add(lane("address beyond the context's AGAW", read, Vtd.FR_BEYOND_AGAW, false, (bb, pre, lane) -> {
                long iova = mapped(bb, pre, lane, SlTables.R | SlTables.W, 0, false);
                int width = iova >= 1L << 39 ? 48 : 39; // the tables mapped() chose
                return (1L << width) | (bb.rnd.nextLong() & ((1L << 50) - 1) & ~((1L << width) - 1)) | (iova & 0xFFF000);
            }));
            c.add(lane("leaf without " + (read ? "R" : "W"), read, perm, false,
                    (bb, pre, lane) -> mapped(bb, pre, lane, read ? SlTables.W : SlTables.R, 0, false)));
            c.add(lane("leaf not present", read, perm, false, (bb, pre, lane) -> mapped(bb, pre, lane, 0, 0, false)));
            c.add(lane("FPD suppresses recording of a permission fault", read, perm, true,
                    (bb, pre, lane) -> mapped(bb, pre, lane, 0, 0, true)));
            c.add(lane("non-leaf entry without " + (read ? "R" : "W"), read, perm, false, (bb, pre, lane) -> {
                int levels = bb.randomLevels();
                SlTables t = new SlTables(bb, pre, levels);
                long iova = DmaScenarios.window(bb, levels, 0) + 0x1000L * bb.rnd.nextInt(512);
                t.map(iova, bb.dataPage(), 1, SlTables.R | SlTables.W);
                int level = 2 + bb.rnd.nextInt(levels - 1);
                long ea = t.entryAddr(iova, level);
                // rewrite the non-leaf entry at `level` with the other permission only
                pre.cmd(String.format("writeb 0x%x 0x%x", ea, read ? SlTables.W : SlTables.R));
                writeContext(bb, pre, lane, t);
                return iova;
            }));
            c.add(lane("non-leaf entry pointing outside RAM", read, Vtd.FR_PAGING_ACCESS, false, (bb, pre, lane) -> {
                int levels = bb.randomLevels();
                SlTables t = new SlTables(bb, pre, levels);
                long iova = DmaScenarios.window(bb, levels, 0) + 0x1000L * bb.rnd.nextInt(512);
                int level = 2 + bb.rnd.nextInt(levels - 1);
                t.raw(iova, level, DmaBatch.NOT_RAM | SlTables.R | SlTables.W);
                writeContext(bb, pre, lane, t);
                return iova;
            }));
            c.add(lane("SLPTPTR outside RAM", read, Vtd.FR_CTX_INVALID, false, (bb, pre, lane) -> {
                // QEMU 7.2 (vtd_iova_to_slpte) reports a failed read of the top-level table as an
                // invalid context entry (3), not as a paging-entry access error (7).
                long e = DmaBatch.contextEntryAddr(DmaBatch.CONTEXT_TABLE, lane);
                pre.writeq(e + 8, DmaBatch.contextHi(bb.newDomain(), 1)).writeq(e, DmaBatch.contextLo(DmaBatch.NOT_RAM, 0, false));
                return 0x1000L * bb.rnd.nextInt(4096);
            }));
            c.add(lane("leaf reserved bit" + (sc ? " (SNP allowed by snoop-control)" : ""), read, Vtd.FR_PAGING_RSVD, false,
                    (bb, pre, lane) -> {
                        int levels = bb.randomLevels();
                        SlTables t = new SlTables(bb, pre, levels);
                        long iova = DmaScenarios.window(bb, levels, 0) + 0x1000L * bb.rnd.nextInt(512);
                        switch (bb.rnd.nextInt(sc ? 2 : 3)) {
                            // address bit at or above the host address width (QEMU: aw-bits)
                            case 0 -> t.raw(iova, 1, bb.dataPage() | randomBit(bb, aw, 51) | SlTables.R | SlTables.W);
                            // 2 MiB leaf whose address has bits 20:12 set
                            case 1 -> t.raw(iova, 2, bb.hugePage2M() | randomBit(bb, 12, 20) | SlTables.PS
                                    | SlTables.R | SlTables.W);
                            // SNP is reserved without ECAP.SC
                            default -> t.raw(iova, 1, bb.dataPage() | SlTables.SNP | SlTables.R | SlTables.W);
                        }
                        writeContext(bb, pre, lane, t);
                        return iova;
                    }));
            if (sc) {
                c.add(lane("leaf with SNP under snoop-control", read, 0, false, (bb, pre, lane) -> {
                    int levels = bb.randomLevels();
                    SlTables t = new SlTables(bb, pre, levels);
                    long iova = DmaScenarios.window(bb, levels, 0) + 0x1000L * bb.rnd.nextInt(512);
                    t.raw(iova, 1, bb.dataPage() | SlTables.SNP | SlTables.R | SlTables.W);
                    writeContext(bb, pre, lane, t);
                    return iova;
                }));
            }
        }
        return c;
    }

    static void writeContext(DmaBatch b, QtestScript pre, DmaBatch.Lane lane, SlTables t) {
        long e = DmaBatch.contextEntryAddr(DmaBatch.CONTEXT_TABLE, lane);
        pre.writeq(e + 8, DmaBatch.contextHi(b.newDomain(), DmaBatch.aw(t.levels)));
        pre.writeq(e, DmaBatch.contextLo(t.root, 0, false));
    }

    /** A faulting read DMA set-up: a mapped page without permissions (reason 6). */
    static long unreadable(DmaBatch b, QtestScript pre, DmaBatch.Lane lane) {
        return mapped(b, pre, lane, SlTables.W, 0, false);
    }

    /**
     * A fault before any context is read, on a private root table that the case switches to
     * (SRTP + global invalidation) and back from; exclusive, since the root table is global.
     */
    static DmaBatch.DmaCase root(String name, int reason, RootSetup setup) {
        return new DmaBatch.DmaCase() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public boolean exclusive() {
                return true;
            }

            @Override
            public boolean faults() {
                return true;
            }

            @Override
            public List<DmaBatch.Phase> phases(DmaBatch b, DmaBatch.Lane lane) {
                QtestScript pre = new QtestScript();
                long iova = unreadable(b, pre, lane);
                long rtaddr = setup.build(b, pre);
                b.switchRootTable(pre, rtaddr);
                QtestScript after = new QtestScript();
                b.switchRootTable(after, DmaBatch.ROOT_TABLE);
                return List.of(new DmaBatch.Phase(pre, DmaBatch.ramToDevice(lane, iova, 0, 8), new QtestScript(),
                        new DmaBatch.FaultExpect(reason, lane.sid(), true, iova), true, after));
            }
        };
    }

    /** Writes a private root table (or none) and returns the RTADDR to use. */
    @FunctionalInterface
    interface RootSetup {
        long build(DmaBatch b, QtestScript pre);
    }

    static List<DmaBatch.DmaCase> rootCases(DmaBatch b) {
        int aw = b.awBits;
        return List.of(
                root("root entry not present", Vtd.FR_ROOT_NOT_PRESENT, (bb, pre) -> {
                    long rt = bb.tablePage();
                    pre.writeq(rt, DmaBatch.CONTEXT_TABLE); // P = 0
                    return rt;
                }),
                root("root entry reserved bit (lo 11:1, CTP above HAW, or hi)", Vtd.FR_ROOT_RSVD, (bb, pre) -> {
                    long rt = bb.tablePage();
                    long lo = DmaBatch.CONTEXT_TABLE | 1;
                    long hi = 0;
                    switch (bb.rnd.nextInt(3)) {
                        case 0 -> lo |= randomBit(bb, 1, 11);
                        case 1 -> lo |= randomBit(bb, aw, 63);
                        default -> hi = randomBit(bb, 0, 63);
                    }
                    pre.writeq(rt, lo).writeq(rt + 8, hi);
                    return rt;
                }),
                root("root entry's context-table pointer outside RAM", Vtd.FR_CTP_INVALID, (bb, pre) -> {
                    long rt = bb.tablePage();
                    pre.writeq(rt, DmaBatch.NOT_RAM | 1);
                    return rt;
                }),
                root("root table address outside RAM", Vtd.FR_ROOT_TABLE_INVALID, (bb, pre) -> DmaBatch.NOT_RAM));
    }

    /** An exclusive case whose phases read and clear the fault state themselves. */
    static DmaBatch.DmaCase machinery(String name, java.util.function.BiFunction<DmaBatch, DmaBatch.Lane, List<DmaBatch.Phase>> f) {
        return new DmaBatch.DmaCase() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public boolean exclusive() {
                return true;
            }

            @Override
            public boolean faults() {
                return true;
            }

            @Override
            public List<DmaBatch.Phase> phases(DmaBatch b, DmaBatch.Lane lane) {
                return f.apply(b, lane);
            }
        };
    }

    static void clearFault(QtestScript t) {
        t.writel(Vtd.reg(Vtd.FRCD_HI + 4), 0x8000_0000L).writel(Vtd.reg(Vtd.FSTS), Vtd.FSTS_W1C);
        t.readl(Vtd.reg(Vtd.FSTS)).expectValue(0, "all faults cleared");
    }

    static List<DmaBatch.DmaCase> machineryCases() {
        List<DmaBatch.DmaCase> c = new ArrayList<>();
        c.add(machinery("primary fault overflow: a second source faults while the only record is full", (b, lane) -> {
            DmaBatch.Lane other = new DmaBatch.Lane(1);
            QtestScript pre = new QtestScript();
            long a = unreadable(b, pre, lane);
            long o = unreadable(b, pre, other);
            QtestScript post0 = new QtestScript();
            post0.readl(Vtd.reg(Vtd.FSTS)).expectValue(Vtd.FSTS_PPF, "first fault recorded");
            QtestScript post1 = new QtestScript();
            post1.readl(Vtd.reg(Vtd.FSTS)).expectValue(Vtd.FSTS_PPF | Vtd.FSTS_PFO, "second fault overflowed");
            post1.readq(Vtd.reg(Vtd.FRCD_LO)).expectValue(a & ~0xFFFL, "record still holds the first fault");
            post1.readq(Vtd.reg(Vtd.FRCD_HI)).expectMasked(Vtd.FRCD_HI_MASK, Vtd.frcdHi(Vtd.FR_READ, lane.sid(), true),
                    "record still holds the first source");
            post1.writel(Vtd.reg(Vtd.FSTS), Vtd.FSTS_PFO).readl(Vtd.reg(Vtd.FSTS))
                    .expectValue(Vtd.FSTS_PPF, "PFO is write-1-to-clear; PPF stays while F is set");
            post1.writel(Vtd.reg(Vtd.FRCD_HI + 4), 0x8000_0000L).readl(Vtd.reg(Vtd.FSTS))
                    .expectValue(0, "clearing F clears PPF");
            post1.readq(Vtd.reg(Vtd.FRCD_HI)).expectMasked(Vtd.FRCD_F, 0, "F is write-1-to-clear");
            return List.of(new DmaBatch.Phase(pre, DmaBatch.ramToDevice(lane, a, 0, 8), post0, null, false),
                    new DmaBatch.Phase(new QtestScript(), DmaBatch.ramToDevice(other, o, 0, 8), post1, null, false));
        }));
        c.add(machinery("repeated fault from the same source while recorded", (b, lane) -> {
            QtestScript pre = new QtestScript();
            long a = unreadable(b, pre, lane);
            QtestScript post0 = new QtestScript();
            post0.readl(Vtd.reg(Vtd.FSTS)).expectValue(Vtd.FSTS_PPF, "first fault recorded");
            QtestScript post1 = new QtestScript();
            // QEMU 7.2 (vtd_report_dmar_fault) compresses a fault from the source already
            // recorded in the pending record: no overflow, record unchanged.
            post1.readl(Vtd.reg(Vtd.FSTS)).expectValue(Vtd.FSTS_PPF, "same source: compressed, no PFO");
            post1.readq(Vtd.reg(Vtd.FRCD_LO)).expectValue(a & ~0xFFFL, "record holds the first fault");
            clearFault(post1);
            return List.of(new DmaBatch.Phase(pre, DmaBatch.ramToDevice(lane, a, 0, 8), post0, null, false),
                    new DmaBatch.Phase(new QtestScript(), DmaBatch.ramToDevice(lane, a + 0x1000, 0, 8), post1, null, false));
        }));
        c.add(machinery("fault event: unmasked is delivered, masked stays pending until unmasked", (b, lane) -> {
            QtestScript pre0 = new QtestScript();
            long a = unreadable(b, pre0, lane);
            int vector = 0x40 + b.rnd.nextInt(0xB0);
            pre0.writel(Vtd.reg(Vtd.FEDATA), vector).writel(Vtd.reg(Vtd.FEADDR), 0xFEE0_0000L)
                    .writel(Vtd.reg(Vtd.FEUADDR), 0).writel(Vtd.reg(Vtd.FECTL), 0);
            pre0.readl(Vtd.reg(Vtd.FECTL)).expectValue(0, "IM cleared");
            QtestScript post0 = new QtestScript();
            post0.readl(Vtd.reg(Vtd.FSTS)).expectValue(Vtd.FSTS_PPF, "fault recorded");
            post0.readl(Vtd.reg(Vtd.FECTL)).expectValue(0, "unmasked event delivered: IP not left set");
            post0.readl(Vtd.reg(Vtd.FEDATA)).expectValue(vector, "FEDATA kept");
            post0.readl(Vtd.reg(Vtd.FEADDR)).expectValue(0xFEE0_0000L, "FEADDR kept");
            clearFault(post0);
            post0.writel(Vtd.reg(Vtd.FECTL), Vtd.IM).readl(Vtd.reg(Vtd.FECTL)).expectValue(Vtd.IM, "masked again");
            QtestScript post1 = new QtestScript();
            post1.readl(Vtd.reg(Vtd.FECTL)).expectValue(Vtd.IM | Vtd.IP, "masked event: IP set");
            post1.writel(Vtd.reg(Vtd.FECTL), 0).readl(Vtd.reg(Vtd.FECTL))
                    .expectValue(0, "unmasking delivers the pending event and clears IP");
            clearFault(post1);
            post1.writel(Vtd.reg(Vtd.FECTL), Vtd.IM);
            return List.of(new DmaBatch.Phase(pre0, DmaBatch.ramToDevice(lane, a, 0, 8), post0, null, false),
                    new DmaBatch.Phase(new QtestScript(), DmaBatch.ramToDevice(lane, a + 0x1000, 0, 8), post1, null, false));
        }));
        return c;
    }

    /** All fault cases for one configuration, in random order. */
    static Batch faultBatch(long seed, String options) {
        DmaBatch b = new DmaBatch("dma-faults" + (options.isEmpty() ? "" : "[" + options + "]"), seed, options);
        List<DmaBatch.DmaCase> all = new ArrayList<>(laneCases(b));
        java.util.Collections.shuffle(all, b.rnd);
        all.forEach(b::add);
        rootCases(b).forEach(b::add);
        machineryCases().forEach(b::add);
        return b.build();
    }
}
