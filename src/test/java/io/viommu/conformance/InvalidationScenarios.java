package io.viommu.conformance;

import java.util.ArrayList;
import java.util.List;

/**
 * Generators for cache behaviour (family {@code invalidation}): a lane writes through IOVA X
 * (priming the IOTLB and context cache), the script re-points X to another host page, performs
 * one kind of invalidation (register-based CCMD/IOTLB, or queued descriptors with a status-writing
 * wait), and writes through X again. Which host page receives the second write shows whether
 * the stale or the fresh translation was used. Each case runs alone: invalidations are global.
 */
final class InvalidationScenarios {
    private InvalidationScenarios() {}

    /** How the mapping is changed and invalidated; {@code fresh} is what QEMU must then use. */
    record Kind(String name, boolean queued, boolean changeContext, boolean fresh, Invalidate how) {
        /** Affects other lanes' cached translations: the case must run alone. */
        boolean global() {
            return name.contains("global");
        }
    }

    @FunctionalInterface
    interface Invalidate {
        void emit(DmaBatch b, QtestScript t, int did, int otherDid, int sid, long iova);
    }

    static void regCcmd(QtestScript t, long v) {
        t.writeq(Vtd.reg(Vtd.CCMD), v).readq(Vtd.reg(Vtd.CCMD)).expectMasked(1L << 63, 0, "ICC clear: done");
    }

    static void regIotlb(QtestScript t, long v) {
        t.writeq(Vtd.reg(Vtd.IOTLB), v).readq(Vtd.reg(Vtd.IOTLB)).expectMasked(1L << 63, 0, "IVT clear: done");
    }

    static void regIotlbPage(QtestScript t, int did, long addr, int am) {
        t.writeq(Vtd.reg(Vtd.IVA), addr | am);
        regIotlb(t, Vtd.iotlbPage(did));
    }

    static List<Kind> kinds() {
        List<Kind> k = new ArrayList<>();
        k.add(new Kind("no invalidation", false, false, false, (b, t, d, o, s, x) -> {}));
        k.add(new Kind("register IOTLB global", false, false, true, (b, t, d, o, s, x) -> regIotlb(t, Vtd.iotlbGlobal())));
        k.add(new Kind("register IOTLB domain (own)", false, false, true, (b, t, d, o, s, x) -> regIotlb(t, Vtd.iotlbDomain(d))));
        k.add(new Kind("register IOTLB domain (other)", false, false, false, (b, t, d, o, s, x) -> regIotlb(t, Vtd.iotlbDomain(o))));
        k.add(new Kind("register IOTLB page AM=0", false, false, true, (b, t, d, o, s, x) -> regIotlbPage(t, d, x & ~0xFFFL, 0)));
        k.add(new Kind("register IOTLB page, neighbouring page", false, false, false,
                (b, t, d, o, s, x) -> regIotlbPage(t, d, (x & ~0xFFFL) ^ 0x1000L << b.rnd.nextInt(4), 0)));
        // QEMU 7.2 compares only the low 8 bits of the frame numbers (VTDIOTLBPageInvInfo.mask
        // is a uint8_t), so a page 1, 2 or 4 MiB away from X (same domain, AM=0) drops X too;
        // 4-64 KiB away it does not. viommu reproduces it (Iotlb.QEMU_PSI_FRAME_BITS).
        k.add(new Kind("register IOTLB page, page >= 1 MiB away (QEMU over-invalidates)", false, false, true,
                (b, t, d, o, s, x) -> regIotlbPage(t, d, (x & ~0xFFFL) ^ 0x10_0000L << b.rnd.nextInt(3), 0)));
        k.add(new Kind("register IOTLB page AM=4 covering", false, false, true,
                (b, t, d, o, s, x) -> regIotlbPage(t, d, x & ~0xFFFFL, 4)));
        k.add(new Kind("register IOTLB page AM=2, other domain", false, false, false,
                (b, t, d, o, s, x) -> regIotlbPage(t, o, x & ~0x3FFFL, 2)));
        k.add(new Kind("register CCMD global only (IOTLB not invalidated)", false, false, false,
                (b, t, d, o, s, x) -> regCcmd(t, Vtd.ccmdGlobal())));
        k.add(new Kind("context re-pointed, CCMD device + IOTLB domain", false, true, true, (b, t, d, o, s, x) -> {
            regCcmd(t, Vtd.ccmdDevice(d, s));
            regIotlb(t, Vtd.iotlbDomain(d));
        }));
        k.add(new Kind("context re-pointed, CCMD domain, no IOTLB", false, true, false,
                (b, t, d, o, s, x) -> regCcmd(t, Vtd.ccmdDomain(d))));
        // queued invalidation (QI is enabled by the first of these and stays on)
        k.add(new Kind("queued: wait only", true, false, false, (b, t, d, o, s, x) -> b.submit(t)));
        k.add(new Kind("queued: IOTLB global", true, false, true, (b, t, d, o, s, x) -> b.submit(t, Vtd.iotlbDescGlobal())));
        k.add(new Kind("queued: IOTLB domain (own)", true, false, true, (b, t, d, o, s, x) -> b.submit(t, Vtd.iotlbDescDomain(d))));
        k.add(new Kind("queued: IOTLB domain (other)", true, false, false, (b, t, d, o, s, x) -> b.submit(t, Vtd.iotlbDescDomain(o))));
        k.add(new Kind("queued: IOTLB page AM=3 covering", true, false, true,
                (b, t, d, o, s, x) -> b.submit(t, Vtd.iotlbDescPage(d, x & ~0x7FFFL, 3))));
        k.add(new Kind("queued: IOTLB page, neighbouring page", true, false, false,
                (b, t, d, o, s, x) -> b.submit(t, Vtd.iotlbDescPage(d, (x & ~0xFFFL) ^ 0x2000, 0))));
        k.add(new Kind("queued: IOTLB page, page 2 MiB away (QEMU over-invalidates)", true, false, true,
                (b, t, d, o, s, x) -> b.submit(t, Vtd.iotlbDescPage(d, (x & ~0xFFFL) ^ 0x20_0000, 0))));
        k.add(new Kind("queued: context re-pointed, CC device + IOTLB domain", true, true, true,
                (b, t, d, o, s, x) -> b.submit(t, Vtd.ccDescDevice(d, s), Vtd.iotlbDescDomain(d))));
        k.add(new Kind("queued: context global only", true, false, false, (b, t, d, o, s, x) -> b.submit(t, Vtd.ccDescGlobal())));
        // QEMU 7.2 ignores register-based invalidation while QI is enabled ("should not use
        // register-based invalidation"): IVT stays set and nothing is invalidated.
        k.add(new Kind("queued: register IOTLB global while QI is on is ignored", true, false, false,
                (b, t, d, o, s, x) -> t.writeq(Vtd.reg(Vtd.IOTLB), Vtd.iotlbGlobal()).readq(Vtd.reg(Vtd.IOTLB))
                        .expectMasked(1L << 63, 1L << 63, "IVT stays set: request ignored")));
        k.add(new Kind("queued: wait with IF sets ICS.IWC and IECTL.IP", true, false, true, (b, t, d, o, s, x) -> {
            b.putDescriptor(t, Vtd.iotlbDescDomain(d));
            b.putDescriptor(t, Vtd.waitDesc(false, false, true, 0, 0));
            b.ringTail(t);
            t.readl(Vtd.reg(Vtd.ICS)).expectValue(1, "IWC set by the wait with IF");
            t.readl(Vtd.reg(Vtd.IECTL)).expectValue(Vtd.IM | Vtd.IP, "masked completion event pending");
            t.writel(Vtd.reg(Vtd.ICS), 1).readl(Vtd.reg(Vtd.ICS)).expectValue(0, "IWC is W1C");
            t.readl(Vtd.reg(Vtd.IECTL)).expectValue(Vtd.IM, "clearing IWC clears IP");
        }));
        return k;
    }

    static DmaBatch.DmaCase invalidationCase(Kind kind) {
        return new DmaBatch.DmaCase() {
            @Override
            public String name() {
                return "invalidation: " + kind.name();
            }

            @Override
            public boolean exclusive() {
                // Scoped invalidations (own or unused domain, own device, pages of the own
                // domain) cannot disturb other lanes, so those cases share waves.
                return kind.global();
            }

            @Override
            public List<DmaBatch.Phase> phases(DmaBatch b, DmaBatch.Lane lane) {
                QtestScript pre0 = new QtestScript();
                int levels = b.randomLevels();
                SlTables t = new SlTables(b, pre0, levels);
                int did = b.newDomain();
                int otherDid = b.newDomain();
                long src = b.dataPage();
                long srcIova = DmaScenarios.window(b, levels, 0) + 0x7000;
                t.map(srcIova, src, 1, SlTables.R);
                int count = 8 + b.rnd.nextInt(120);
                long x = DmaScenarios.window(b, levels, 1) + 0x1000L * b.rnd.nextInt(512);
                long p1 = b.dataPage(), p2 = b.dataPage();
                t.map(x, p1, 1, SlTables.W);
                byte[] data = b.pattern(count);
                pre0.write(src, data);
                long ctx = DmaBatch.contextEntryAddr(DmaBatch.CONTEXT_TABLE, lane);
                pre0.writeq(ctx + 8, DmaBatch.contextHi(did, DmaBatch.aw(levels)));
                pre0.writeq(ctx, DmaBatch.contextLo(t.root, 0, false));

                QtestScript post1 = new QtestScript();
                post1.read(p1, count).expectBytes(data, "first write went through X to P1");

                QtestScript pre2 = new QtestScript();
                pre2.write(p1, new byte[count]);
                if (kind.changeContext()) {
                    SlTables t2 = new SlTables(b, pre2, levels);
                    t2.map(x, p2, 1, SlTables.W);
                    pre2.writeq(ctx, DmaBatch.contextLo(t2.root, 0, false));
                } else {
                    t.writeTo(pre2).map(x, p2, 1, SlTables.W);
                }
                kind.how().emit(b, pre2, did, otherDid, lane.sid(), x);
                QtestScript post2 = new QtestScript();
                byte[] zero = new byte[count];
                String why = kind.fresh() ? "fresh translation: second write reached P2" : "stale translation: second write reached P1";
                post2.read(p1, count).expectBytes(kind.fresh() ? zero : data, why);
                post2.read(p2, count).expectBytes(kind.fresh() ? data : zero, why);
                return List.of(
                        new DmaBatch.Phase(pre0, DmaBatch.ramToDevice(lane, srcIova, 0, count), new QtestScript(), null),
                        new DmaBatch.Phase(new QtestScript(), DmaBatch.deviceToRam(lane, 0, x, count), post1, null),
                        new DmaBatch.Phase(pre2, DmaBatch.deviceToRam(lane, 0, x, count), post2, null));
            }
        };
    }

    /** Every kind once; register kinds first (QI, once on, stays on). */
    static Batch invalidationBatch(long seed, String options) {
        DmaBatch b = new DmaBatch("invalidation" + (options.isEmpty() ? "" : "[" + options + "]"), seed, options);
        List<Kind> reg = new ArrayList<>(), queued = new ArrayList<>();
        for (Kind k : kinds()) {
            (k.queued() ? queued : reg).add(k);
        }
        java.util.Collections.shuffle(reg, b.rnd);
        java.util.Collections.shuffle(queued, b.rnd);
        reg.forEach(k -> b.add(invalidationCase(k)));
        b.add(new DmaBatch.Barrier() {
            @Override
            public String name() {
                return "enable queued invalidation";
            }

            @Override
            public void emit(DmaBatch bb, QtestScript t) {
                bb.enableQueuedInvalidation(t);
            }
        });
        queued.forEach(k -> b.add(invalidationCase(k)));
        return b.build();
    }
}
