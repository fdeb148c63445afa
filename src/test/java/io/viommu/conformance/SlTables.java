package io.viommu.conformance;

import java.util.HashMap;
import java.util.Map;

/**
 * Second-level page tables (VT-d spec 9.8, 3.7) built by the script in guest RAM with
 * {@code writeq}: a 3-level (39-bit) or 4-level (48-bit) tree whose tables are allocated on
 * first use. Intermediate entries are R|W so that the leaf decides the permission.
 */
final class SlTables {
    static final long R = 1, W = 2, PS = 1L << 7, SNP = 1L << 11;

    private final DmaBatch batch;
    private QtestScript script;
    final long root;
    final int levels;
    /** (level << 52 | iova bits above that level's table) -> table address. */
    private final Map<Long, Long> tables = new HashMap<>();

    SlTables(DmaBatch batch, QtestScript script, int levels) {
        this.batch = batch;
        this.script = script;
        this.levels = levels;
        this.root = batch.tablePage();
    }

    /** Directs later table writes to another script (a later phase of the case). */
    SlTables writeTo(QtestScript s) {
        this.script = s;
        return this;
    }

    static int index(long iova, int level) {
        return (int) (iova >>> (12 + 9 * (level - 1))) & 511;
    }

    static long pageSize(int level) {
        return 1L << (12 + 9 * (level - 1));
    }

    /** Address of the entry at {@code level} that translates {@code iova}, creating tables above it. */
    long entryAddr(long iova, int level) {
        long table = root;
        for (int l = levels; l > level; l--) {
            long key = (long) (l - 1) << 52 | (iova >>> (12 + 9 * (l - 1)));
            Long next = tables.get(key);
            if (next == null) {
                next = batch.tablePage();
                tables.put(key, next);
                script.writeq(table + 8L * index(iova, l), next | R | W);
            }
            table = next;
        }
        return table + 8L * index(iova, level);
    }

    /** Maps the page of {@code leafLevel} size containing iova to hpa (aligned) with perms. */
    void map(long iova, long hpa, int leafLevel, long perms) {
        long entry = hpa | perms | (leafLevel > 1 ? PS : 0);
        script.writeq(entryAddr(iova, leafLevel), entry);
    }

    /** Writes a raw value into the entry at level for iova (fault injection). */
    void raw(long iova, int level, long value) {
        script.writeq(entryAddr(iova, level), value);
    }
}
