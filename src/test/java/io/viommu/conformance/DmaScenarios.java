package io.viommu.conformance;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Generators for DMA through second-level tables (family {@code dma-translation}): edu reads
 * from and writes to IOVAs mapped by 4 KiB, 2 MiB and 1 GiB leaves in 3- and 4-level tables, with
 * transfers that cross a page (and a 2 MiB page) boundary into non-contiguous host pages.
 * Every case checks where the bytes landed; edu's internal buffer is not readable through its
 * BAR in QEMU 7.2 (reads there return all ones), so device-bound data is checked by a second DMA
 * back into RAM.
 */
final class DmaScenarios {
    private DmaScenarios() {}

    /** A contiguous IOVA range and the host fragments it maps to. */
    record Target(long iova, int count, List<long[]> fragments) {}

    /**
     * IOVA window k of a case: distinct 1 GiB-aligned windows at or above 8 GiB, so that no
     * mapping touches the 0xFEExxxxx interrupt range (spec 3.15: DMA there is an interrupt).
     */
    static long window(DmaBatch b, int levels, int k) {
        long limitGiB = levels == 4 ? 1L << 18 : 1L << 9; // 2^48 or 2^39 bytes in GiB
        long g = 8 + Math.floorMod(b.rnd.nextLong(), limitGiB - 16);
        return (g + k) << 30;
    }

    /**
     * Maps a transfer target of {@code count} bytes with leaves of {@code leafLevel} (1 = 4 KiB,
     * 2 = 2 MiB, 3 = 1 GiB), crossing a leaf boundary when asked (not for 1 GiB: only one 1 GiB
     * host page exists in 256 MiB of RAM, GPA 0, so the 1 GiB leaf maps the IOVA window onto
     * low RAM and the target offset is a fresh data page there).
     */
    static Target mapTarget(DmaBatch b, SlTables t, long windowBase, int leafLevel, int count, long perms,
            boolean cross) {
        List<long[]> frags = new ArrayList<>();
        long leaf = SlTables.pageSize(leafLevel);
        if (leafLevel == 3) {
            long hpa = b.dataPage() + b.rnd.nextInt(4096 - count + 1);
            t.map(windowBase, 0, 3, perms);
            frags.add(new long[] {hpa, count});
            return new Target(windowBase + hpa, count, frags);
        }
        long leafIova = windowBase + leaf * (1 + b.rnd.nextInt(100));
        long h1 = leafLevel == 1 ? b.dataPage() : b.hugePage2M();
        t.map(leafIova, h1, leafLevel, perms);
        if (cross) {
            int before = 1 + b.rnd.nextInt(count - 1);
            long h2 = leafLevel == 1 ? b.dataPage() : b.hugePage2M();
            t.map(leafIova + leaf, h2, leafLevel, perms);
            frags.add(new long[] {h1 + leaf - before, before});
            frags.add(new long[] {h2, count - before});
            return new Target(leafIova + leaf - before, count, frags);
        }
        long off = leafLevel == 1 ? b.rnd.nextInt(4096 - count + 1) : (b.rnd.nextLong() & (leaf - 1) & ~0xFFFL)
                + b.rnd.nextInt(4096 - count + 1);
        frags.add(new long[] {h1 + off, count});
        return new Target(leafIova + off, count, frags);
    }

    static void fill(QtestScript pre, Target t, byte[] data) {
        int at = 0;
        for (long[] f : t.fragments()) {
            pre.write(f[0], Arrays.copyOfRange(data, at, at + (int) f[1]));
            at += (int) f[1];
        }
    }

    static void check(QtestScript post, Target t, byte[] data, String why) {
        int at = 0;
        for (long[] f : t.fragments()) {
            post.read(f[0], (int) f[1]).expectBytes(Arrays.copyOfRange(data, at, at + (int) f[1]), why);
            at += (int) f[1];
        }
    }

    static int randomLeaf(DmaBatch b) {
        int r = b.rnd.nextInt(10);
        return r < 5 ? 1 : r < 8 ? 2 : 3;
    }

    static int randomCount(DmaBatch b) {
        return b.rnd.nextInt(4) == 0 ? 1 + b.rnd.nextInt(4096) : 2 + b.rnd.nextInt(256);
    }

    /** edu reads a mapped IOVA range into its buffer; a second DMA writes the buffer back out. */
    static DmaBatch.DmaCase read() {
        return new DmaBatch.DmaCase() {
            String name = "read";

            @Override
            public String name() {
                return name;
            }

            @Override
            public List<DmaBatch.Phase> phases(DmaBatch b, DmaBatch.Lane lane) {
                QtestScript pre = new QtestScript();
                int levels = b.randomLevels();
                SlTables t = new SlTables(b, pre, levels);
                int leaf = randomLeaf(b);
                int count = randomCount(b);
                boolean cross = leaf != 3 && count > 1 && b.rnd.nextBoolean();
                int bufOff = b.rnd.nextInt(4096 - count + 1);
                long perms = b.rnd.nextBoolean() ? SlTables.R : SlTables.R | SlTables.W;
                Target src = mapTarget(b, t, window(b, levels, 0), leaf, count, perms, cross);
                long back = b.dataPage();
                long backIova = window(b, levels, 1) + 0x5000;
                t.map(backIova, back, 1, SlTables.W);
                name = String.format("read %d-level leaf=%s count=%d%s iova=0x%x", levels, leafName(leaf), count,
                        cross ? " crossing" : "", src.iova());
                byte[] data = b.pattern(count);
                fill(pre, src, data);
                b.writeContext(pre, lane, t, b.newDomain());
                QtestScript post = new QtestScript();
                post.read(back, count).expectBytes(data, "bytes read through the mapping came back out");
                return List.of(
                        new DmaBatch.Phase(pre, DmaBatch.ramToDevice(lane, src.iova(), bufOff, count), new QtestScript(), null),
                        new DmaBatch.Phase(new QtestScript(), DmaBatch.deviceToRam(lane, bufOff, backIova, count), post, null));
            }
        };
    }

    /** edu fills its buffer from a mapped source, then writes it to a mapped IOVA range. */
    static DmaBatch.DmaCase write() {
        return new DmaBatch.DmaCase() {
            String name = "write";

            @Override
            public String name() {
                return name;
            }

            @Override
            public List<DmaBatch.Phase> phases(DmaBatch b, DmaBatch.Lane lane) {
                QtestScript pre = new QtestScript();
                int levels = b.randomLevels();
                SlTables t = new SlTables(b, pre, levels);
                int leaf = randomLeaf(b);
                int count = randomCount(b);
                boolean cross = leaf != 3 && count > 1 && b.rnd.nextBoolean();
                int bufOff = b.rnd.nextInt(4096 - count + 1);
                long perms = b.rnd.nextBoolean() ? SlTables.W : SlTables.R | SlTables.W;
                Target dst = mapTarget(b, t, window(b, levels, 0), leaf, count, perms, cross);
                long src = b.dataPage();
                long srcIova = window(b, levels, 1) + 0x3000;
                t.map(srcIova, src, 1, SlTables.R);
                name = String.format("write %d-level leaf=%s count=%d%s iova=0x%x", levels, leafName(leaf), count,
                        cross ? " crossing" : "", dst.iova());
                byte[] data = b.pattern(count);
                pre.write(src, data);
                b.writeContext(pre, lane, t, b.newDomain());
                QtestScript post = new QtestScript();
                check(post, dst, data, "bytes written through the mapping landed in the mapped host pages");
                return List.of(
                        new DmaBatch.Phase(pre, DmaBatch.ramToDevice(lane, srcIova, bufOff, count), new QtestScript(), null),
                        new DmaBatch.Phase(new QtestScript(), DmaBatch.deviceToRam(lane, bufOff, dst.iova(), count), post, null));
            }
        };
    }

    static String leafName(int leaf) {
        return switch (leaf) {
            case 1 -> "4K";
            case 2 -> "2M";
            default -> "1G";
        };
    }

    /** A batch of {@code n} random read/write cases on one configuration. */
    static Batch translationBatch(long seed, String options, int n) {
        DmaBatch b = new DmaBatch("dma-translation" + (options.isEmpty() ? "" : "[" + options + "]"), seed, options);
        for (int i = 0; i < n; i++) {
            b.add(b.rnd.nextBoolean() ? read() : write());
        }
        return b.build();
    }
}
