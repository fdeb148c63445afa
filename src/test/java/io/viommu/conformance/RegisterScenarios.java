package io.viommu.conformance;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Generators for the register file (families {@code register-reset}, {@code register-writes},
 * {@code gcmd-sequences}): reset values of every offset by 4- and 8-byte reads for the intel-iommu
 * option combinations, random writes of every width-legal kind followed by reads, and the
 * GCMD/GSTS state machine driven the way a driver drives it.
 */
final class RegisterScenarios {
    private RegisterScenarios() {}

    /** intel-iommu option sets whose reset registers are compared (QEMU 7.2 accepts each). */
    static final List<String> OPTION_SETS = List.of("", "caching-mode=on", "intremap=off", "aw-bits=48",
            "device-iotlb=on", "pt=off", "x-scalable-mode=on", "snoop-control=on", "dma-drain=off",
            "x-scalable-mode=on,x-pasid-mode=on", "eim=off",
            "caching-mode=on,intremap=off,aw-bits=48,device-iotlb=on,pt=off,snoop-control=on,dma-drain=off",
            "x-scalable-mode=on,caching-mode=on,aw-bits=48,snoop-control=on");

    /** CAP and ECAP as QEMU 7.2 reports them (read over qtest), documenting how options compose. */
    static final Map<String, long[]> QEMU_CAP_ECAP = Map.of(
            "", new long[] {0x00d2008c22260206L, 0xf00f4aL},
            "caching-mode=on", new long[] {0x00d2008c22260286L, 0xf00f4aL},
            "intremap=off", new long[] {0x00d2008c22260206L, 0xf42L},
            "aw-bits=48", new long[] {0x00d2008c222f0606L, 0xf00f4aL},
            "device-iotlb=on", new long[] {0x00d2008c22260206L, 0xf00f4eL},
            "pt=off", new long[] {0x00d2008c22260206L, 0xf00f0aL},
            "x-scalable-mode=on", new long[] {0x00d2008c22260206L, 0x0000480080f00f4aL},
            "snoop-control=on", new long[] {0x00d2008c22260206L, 0xf00fcaL},
            "dma-drain=off", new long[] {0x0012008c22260206L, 0xf00f4aL},
            "x-scalable-mode=on,x-pasid-mode=on", new long[] {0x00d2008c22260206L, 0x0000490080f00f4aL});

    static String device(String options) {
        return options.isEmpty() ? "intel-iommu" : "intel-iommu," + options;
    }

    /** Reset value of the 32-bit register at off, or null when the generator does not know it. */
    static Long resetDword(String options, int off) {
        long[] ce = QEMU_CAP_ECAP.get(options);
        return switch (off) {
            case Vtd.VER -> 0x10L;
            case Vtd.FECTL, Vtd.IECTL -> Vtd.IM;
            case Vtd.CAP, Vtd.CAP + 4, Vtd.ECAP, Vtd.ECAP + 4 -> ce == null ? null
                    : (ce[off >= Vtd.ECAP ? 1 : 0] >>> (off % 8 == 4 ? 32 : 0)) & 0xffffffffL;
            default -> 0L;
        };
    }

    /** Every 4-byte and 8-byte aligned offset of the 0x230-byte block, read in random order. */
    static Batch resetBatch(long seed, String options) {
        Random rnd = new Random(seed);
        List<int[]> reads = new ArrayList<>();
        for (int off = 0; off < Vtd.END; off += 4) {
            reads.add(new int[] {off, 4});
            if (off % 8 == 0) {
                reads.add(new int[] {off, 8});
            }
        }
        Collections.shuffle(reads, rnd);
        QtestScript s = new QtestScript().note("reset values, " + device(options));
        for (int[] r : reads) {
            if (r[1] == 4) {
                s.readl(Vtd.reg(r[0]));
                Long v = resetDword(options, r[0]);
                if (v != null) {
                    s.expectValue(v, String.format("reset value of 0x%x", r[0]));
                }
            } else {
                s.readq(Vtd.reg(r[0]));
                Long lo = resetDword(options, r[0]);
                Long hi = resetDword(options, r[0] + 4);
                if (lo != null && hi != null) {
                    s.expectValue(hi << 32 | lo, String.format("reset value of 0x%x (8 bytes)", r[0]));
                }
            }
        }
        return new Batch("register-reset[" + options + "]", seed, List.of(device(options)), s);
    }

    /** Named registers plus some offsets between them (reserved space must stay inert). */
    static final int[] WRITABLE_OFFSETS = {Vtd.VER, Vtd.CAP, Vtd.CAP + 4, Vtd.ECAP, Vtd.ECAP + 4, Vtd.GCMD, Vtd.GSTS,
            Vtd.RTADDR, Vtd.RTADDR + 4, Vtd.CCMD, Vtd.CCMD + 4, Vtd.FSTS, Vtd.FECTL, Vtd.FEDATA, Vtd.FEADDR, Vtd.FEUADDR,
            Vtd.AFLOG, Vtd.PMEN, Vtd.PLMBASE, Vtd.PLMLIMIT, Vtd.PHMBASE, Vtd.PHMLIMIT, Vtd.IQH, Vtd.IQT, Vtd.IQA,
            Vtd.IQA + 4, Vtd.ICS, Vtd.IECTL, Vtd.IEDATA, Vtd.IEADDR, Vtd.IEUADDR, Vtd.IQER, Vtd.IRTA, Vtd.IRTA + 4,
            Vtd.PQH, Vtd.PQT, Vtd.PQA, Vtd.PRS, Vtd.PECTL, Vtd.PEDATA, Vtd.PEADDR, Vtd.PEUADDR, Vtd.IVA, Vtd.IVA + 4,
            Vtd.IOTLB, Vtd.IOTLB + 4, Vtd.FRCD_LO, Vtd.FRCD_LO + 4, Vtd.FRCD_HI, Vtd.FRCD_HI + 4,
            0x30, 0x48, 0x50, 0x60, 0x100, 0x180, 0x200};

    /**
     * Offsets where QEMU 7.2 aborts on an 8-byte write (vtd_mem_write: assert(size == 4)): FECTL,
     * IECTL, IEADDR. A guest can crash QEMU this way; the generators never do it, since there
     * would be nothing to compare with.
     */
    static final java.util.Set<Integer> QEMU_ASSERTS_ON_8_BYTE_WRITE = java.util.Set.of(Vtd.FECTL, Vtd.IECTL, Vtd.IEADDR);

    /** Registers whose value a snapshot reads after every few writes. */
    static final int[] SNAPSHOT = {Vtd.GSTS, Vtd.RTADDR, Vtd.CCMD, Vtd.FSTS, Vtd.FECTL, Vtd.IQH, Vtd.IQT, Vtd.IQA,
            Vtd.ICS, Vtd.IECTL, Vtd.IQER, Vtd.IRTA, Vtd.IVA, Vtd.IOTLB, Vtd.FRCD_LO, Vtd.FRCD_HI};

    static long randomValue(Random rnd) {
        return switch (rnd.nextInt(6)) {
            case 0 -> 0;
            case 1 -> -1L;
            case 2 -> 1L << rnd.nextInt(64);
            case 3 -> ~(1L << rnd.nextInt(64));
            default -> rnd.nextLong();
        };
    }

    /**
     * Random writes (4 bytes at 4-aligned offsets, 8 at 8-aligned) to every register, each
     * followed by a read of what was written and now and then a snapshot. Guest RAM stays zero,
     * so any invalidation queue the writes enable fetches invalid descriptors (IQE), never a
     * wait descriptor with SW and IF together (QEMU asserts on that).
     */
    static Batch randomWriteBatch(long seed, String options, int writes) {
        Random rnd = new Random(seed);
        QtestScript s = new QtestScript().note("random register writes, " + device(options));
        for (int i = 0; i < writes; i++) {
            int off = WRITABLE_OFFSETS[rnd.nextInt(WRITABLE_OFFSETS.length)];
            long v = randomValue(rnd);
            if (off % 8 == 0 && !QEMU_ASSERTS_ON_8_BYTE_WRITE.contains(off) && rnd.nextBoolean()) {
                s.writeq(Vtd.reg(off), v).readq(Vtd.reg(off));
            } else {
                s.writel(Vtd.reg(off), v).readl(Vtd.reg(off));
            }
            if (i % 16 == 15) {
                for (int r : SNAPSHOT) {
                    s.readl(Vtd.reg(r));
                    if (r % 8 == 0) {
                        s.readq(Vtd.reg(r));
                    }
                }
            }
        }
        return new Batch("register-writes[" + options + "]", seed, List.of(device(options)), s);
    }

    /** GCMD written as a driver does: the current status plus or minus one command bit. */
    static Batch gcmdBatch(long seed, String options) {
        Random rnd = new Random(seed);
        QtestScript s = new QtestScript();
        long gsts = 0;
        long rt = 0x10_0000 + 0x1000L * rnd.nextInt(64);
        boolean ir = !options.contains("intremap=off");

        s.note("SRTP latches RTADDR and sets RTPS");
        s.writeq(Vtd.reg(Vtd.RTADDR), rt).readq(Vtd.reg(Vtd.RTADDR)).expectValue(rt, "RTADDR read back");
        s.writel(Vtd.reg(Vtd.GCMD), Vtd.SRTP).readl(Vtd.reg(Vtd.GSTS)).expectValue(Vtd.SRTP & 0xffffffffL, "RTPS");
        gsts |= Vtd.SRTP & 0xffffffffL;

        s.note("TE on and off");
        s.writel(Vtd.reg(Vtd.GCMD), Vtd.TE).readl(Vtd.reg(Vtd.GSTS)).expectValue(gsts | 0x8000_0000L, "TES set");
        s.writel(Vtd.reg(Vtd.GCMD), 0).readl(Vtd.reg(Vtd.GSTS)).expectValue(gsts, "TES clear");

        s.note("QIE with IQA: IQH reads 0, QIES follows");
        long iqa = 0x20_0000 + 0x1000L * rnd.nextInt(64) | rnd.nextInt(3);
        // QEMU 7.2 answers IQA reads from the queue base it latched when QIE was last enabled
        // (plus the live QS/DW bits): before the first enable the address reads as 0.
        s.writeq(Vtd.reg(Vtd.IQA), iqa).readq(Vtd.reg(Vtd.IQA)).expectValue(iqa & 0x7, "IQA base not latched yet");
        s.writeq(Vtd.reg(Vtd.IQT), 0);
        s.writel(Vtd.reg(Vtd.GCMD), Vtd.QIE).readl(Vtd.reg(Vtd.GSTS)).expectValue(gsts | Vtd.QIE, "QIES set");
        s.readq(Vtd.reg(Vtd.IQA)).expectValue(iqa, "IQA base latched by QIE");
        s.readq(Vtd.reg(Vtd.IQH)).expectValue(0, "queue empty");

        s.note("an invalid (all-zero) descriptor sets FSTS.IQE; W1C clears it");
        s.writeq(Vtd.reg(Vtd.IQT), 0x10).readl(Vtd.reg(Vtd.FSTS)).expectMasked(Vtd.FSTS_IQE, Vtd.FSTS_IQE, "IQE");
        s.readq(Vtd.reg(Vtd.IQH)).readq(Vtd.reg(Vtd.IQT)).readq(Vtd.reg(Vtd.IQER));
        s.writel(Vtd.reg(Vtd.FSTS), Vtd.FSTS_IQE).readl(Vtd.reg(Vtd.FSTS)).expectMasked(Vtd.FSTS_IQE, 0, "IQE cleared");
        // QEMU 7.2 (vtd_handle_gcmd_qie) refuses to disable QI unless IQH == IQT and the last
        // descriptor processed was a wait descriptor.
        s.writel(Vtd.reg(Vtd.GCMD), 0).readl(Vtd.reg(Vtd.GSTS)).expectValue(gsts | Vtd.QIE, "QI stays on: queue not drained");
        s.note("replace the bad descriptor by a wait with status write; then QI can be disabled");
        long base = iqa & ~0xFFFL;
        long status = 0x40_0000 + 8L * rnd.nextInt(512);
        long[] wait = Vtd.waitDesc(true, false, false, 0x5a5a, status);
        s.writeq(base, wait[0]).writeq(base + 8, wait[1]).writeq(Vtd.reg(Vtd.IQT), 0x10);
        s.readl(status).expectValue(0x5a5a, "status written");
        s.readq(Vtd.reg(Vtd.IQH)).expectValue(0x10, "head moved past the wait");
        s.writel(Vtd.reg(Vtd.GCMD), 0).readl(Vtd.reg(Vtd.GSTS)).expectValue(gsts, "QIES clear");
        s.readq(Vtd.reg(Vtd.IQH)).readq(Vtd.reg(Vtd.IQT)).readq(Vtd.reg(Vtd.IQA));

        s.note("WBF and SFL (not advertised by QEMU's CAP)");
        s.writel(Vtd.reg(Vtd.GCMD), Vtd.WBF).readl(Vtd.reg(Vtd.GSTS));
        s.writel(Vtd.reg(Vtd.GCMD), Vtd.SFL).readl(Vtd.reg(Vtd.GSTS));
        s.writel(Vtd.reg(Vtd.GCMD), Vtd.EAFL).readl(Vtd.reg(Vtd.GSTS));
        s.writel(Vtd.reg(Vtd.GCMD), 0).readl(Vtd.reg(Vtd.GSTS));

        s.note("SIRTP, IRE and CFI" + (ir ? "" : " with intremap=off"));
        long irta = 0x30_0000 + 0x1000L * rnd.nextInt(64) | rnd.nextInt(16);
        s.writeq(Vtd.reg(Vtd.IRTA), irta).readq(Vtd.reg(Vtd.IRTA));
        s.writel(Vtd.reg(Vtd.GCMD), Vtd.SIRTP).readl(Vtd.reg(Vtd.GSTS));
        s.writel(Vtd.reg(Vtd.GCMD), Vtd.IRE).readl(Vtd.reg(Vtd.GSTS));
        s.writel(Vtd.reg(Vtd.GCMD), Vtd.IRE | Vtd.CFI).readl(Vtd.reg(Vtd.GSTS));
        s.writel(Vtd.reg(Vtd.GCMD), Vtd.CFI).readl(Vtd.reg(Vtd.GSTS));
        s.writel(Vtd.reg(Vtd.GCMD), 0).readl(Vtd.reg(Vtd.GSTS));
        if (ir) {
            s.writel(Vtd.reg(Vtd.GCMD), Vtd.SIRTP).readl(Vtd.reg(Vtd.GSTS)).expectMasked(Vtd.SIRTP, Vtd.SIRTP, "IRTPS");
            s.writel(Vtd.reg(Vtd.GCMD), Vtd.IRE).readl(Vtd.reg(Vtd.GSTS)).expectMasked(Vtd.IRE, Vtd.IRE, "IRES");
            s.writel(Vtd.reg(Vtd.GCMD), 0).readl(Vtd.reg(Vtd.GSTS)).expectMasked(Vtd.IRE, 0, "IRES clear");
        }

        s.note("several command bits in one write");
        s.writel(Vtd.reg(Vtd.GCMD), Vtd.TE | Vtd.SRTP).readl(Vtd.reg(Vtd.GSTS));
        s.writel(Vtd.reg(Vtd.GCMD), Vtd.TE | Vtd.QIE).readl(Vtd.reg(Vtd.GSTS));
        s.writel(Vtd.reg(Vtd.GCMD), 0).readl(Vtd.reg(Vtd.GSTS));
        s.writeq(Vtd.reg(Vtd.GCMD), -1L).readl(Vtd.reg(Vtd.GSTS)).readq(Vtd.reg(Vtd.GCMD));
        s.writel(Vtd.reg(Vtd.GCMD), 0).readl(Vtd.reg(Vtd.GSTS));

        s.note("FECTL: IM is writable, IP is read-only; FSTS W1C bits on a clean status");
        s.writel(Vtd.reg(Vtd.FECTL), 0).readl(Vtd.reg(Vtd.FECTL)).expectValue(0, "IM cleared");
        s.writel(Vtd.reg(Vtd.FECTL), Vtd.IP).readl(Vtd.reg(Vtd.FECTL)).expectValue(0, "IP not writable");
        s.writel(Vtd.reg(Vtd.FECTL), Vtd.IM).readl(Vtd.reg(Vtd.FECTL)).expectValue(Vtd.IM, "IM set");
        s.writel(Vtd.reg(Vtd.FSTS), -1L).readl(Vtd.reg(Vtd.FSTS)).expectValue(0, "nothing to clear");
        s.writel(Vtd.reg(Vtd.FEDATA), -1L).readl(Vtd.reg(Vtd.FEDATA));
        s.writel(Vtd.reg(Vtd.FEADDR), -1L).readl(Vtd.reg(Vtd.FEADDR));
        s.writel(Vtd.reg(Vtd.FEUADDR), -1L).readl(Vtd.reg(Vtd.FEUADDR));
        s.writel(Vtd.reg(Vtd.IECTL), 0).readl(Vtd.reg(Vtd.IECTL));
        s.writel(Vtd.reg(Vtd.ICS), 1).readl(Vtd.reg(Vtd.ICS));
        return new Batch("gcmd-sequences[" + options + "]", seed, List.of(device(options)), s);
    }
}
