package io.viommu.vtd;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.PhysAddr;

/**
 * A first-level walk (VT-d 3.6: x86-64 4- or 5-level paging) for PASID entries with PGTT 1,
 * and the nested walk for PGTT 3 (VT-d 3.8), where every first-level table pointer and the
 * final output are guest-physical addresses that the second level translates.
 *
 * <p>Checks, in order: canonical input (0x80); per level, the entry's address (nested: through
 * the second level with read access, 0x74-0x76), its readability (0x73 top level, 0x70 below),
 * present (0x71), reserved bits (0x72); A is set in every entry walked and D in the leaf of a
 * write (nested: the second level must allow the write, 0x77); then the access rights of the
 * whole walk: U/S for user requests (0x81), R/W for writes (0x85; a supervisor request ignores
 * R/W unless WPE), XD only for execute requests when NXE (0x82: reads ignore XD). Nested
 * output goes through the second level with the request's access (0x78-0x7C, 0x83).
 *
 * <p>Within one nested walk the last second-level leaf found is kept and reused for a later
 * address in the same second-level page whose access that leaf's walk granted: a new walk would
 * read the same entries and reach the same leaf (the walk is one call and nothing else runs
 * meanwhile), and every A/D write drops it, in case it rewrote a second-level entry. Nothing is
 * kept from one walk to the next. A reuse never hides a fault: an access the kept leaf does not
 * grant walks again, and faults as before.
 *
 * <p>Results are left in fields; {@link #walk} returns null on success. Not thread-safe.
 */
final class FirstLevelWalk {
    private final AddressSpace memory;
    private final int aw;
    private final boolean oneGigPages;
    private final SecondLevelWalk stage2;

    // The second-level leaf kept within one nested walk: the page of guest-physical s2Base of
    // s2Size bytes maps to host page s2Out with the rights s2Reads / s2Writes.
    private boolean s2Valid;
    private long s2Base;
    private long s2Size;
    private long s2Out;
    private boolean s2Reads;
    private boolean s2Writes;

    /** Output page (host physical), its size and the rights that page grants. */
    long outputPage;
    long pageSize;
    boolean writable;
    boolean userOk;
    boolean execOk;

    FirstLevelWalk(AddressSpace memory, int aw, boolean oneGigPages, SecondLevelWalk stage2) {
        this.memory = memory;
        this.aw = aw;
        this.oneGigPages = oneGigPages;
        this.stage2 = stage2;
    }

    /**
     * @param q0      PASID entry quad 0 (second-level table and AW, used when {@code nested})
     * @param q2      PASID entry quad 2 (FLPTPTR, FLPM, WPE, NXE)
     * @param nested  PGTT 3: table pointers and output are translated by the second level
     */
    ScalableFault walk(long q0, long q2, boolean nested, long input, boolean write, boolean user, boolean exec) {
        int levels = PasidEntry.firstLevelLevels(q2);
        if (!FlPte.isCanonical(input, levels)) {
            return ScalableFault.NOT_CANONICAL;
        }
        long table = PasidEntry.firstLevelTable(q2);
        s2Valid = false;
        boolean rw = true;
        boolean us = true;
        boolean xd = false;
        int level = levels;
        long v;
        long entryAddr;
        while (true) {
            long entryGpa = SlPte.address(table, input, level);
            entryAddr = entryGpa;
            if (nested) {
                ScalableFault f = stage2(q0, entryGpa, false);
                if (f != null) {
                    return nestedTableFault(f, level == levels);
                }
                entryAddr = s2Output(entryGpa);
            }
            v = memory.readQuadOrOnes(entryAddr);
            if (v == -1L && memory.probe(PhysAddr.of(entryAddr), 8) != AddressSpace.Status.OK) {
                // All ones is also what an unreadable entry reads as: only then ask which.
                return level == levels ? ScalableFault.FL_TOP_ACCESS : ScalableFault.FL_ACCESS;
            }
            if (!FlPte.isPresent(v)) {
                return ScalableFault.FL_NOT_PRESENT;
            }
            if ((v & FlPte.reservedMask(v, level, aw, oneGigPages)) != 0) {
                return ScalableFault.FL_RESERVED;
            }
            rw &= FlPte.isWritable(v);
            us &= FlPte.isUser(v);
            xd |= FlPte.executeDisabled(v);
            if ((v & FlPte.A) == 0) {
                ScalableFault f = update(nested, q0, entryGpa, entryAddr, v | FlPte.A);
                if (f != null) {
                    return f;
                }
                v |= FlPte.A;
            }
            if (FlPte.isLeaf(v, level)) {
                break;
            }
            table = FlPte.outputAddress(v, level);
            level--;
        }
        boolean mayWrite = rw || (!user && !PasidEntry.writeProtectEnable(q2));
        boolean mayExec = !(PasidEntry.noExecuteEnable(q2) && xd);
        if (user && !us) {
            return ScalableFault.USER_SUPERVISOR;
        }
        if (write && !mayWrite) {
            return ScalableFault.FL_WRITE;
        }
        if (exec && !mayExec) {
            return ScalableFault.NO_EXECUTE;
        }
        if (write && (v & FlPte.D) == 0) {
            ScalableFault f = update(nested, q0, SlPte.address(table, input, level), entryAddr, v | FlPte.D);
            if (f != null) {
                return f;
            }
            v |= FlPte.D;
        }
        long size = SlPte.pageSize(level);
        long out = FlPte.outputAddress(v, level) | (input & (size - 1));
        boolean dirty = (v & FlPte.D) != 0;
        boolean readable = true;
        if (nested) {
            ScalableFault f = stage2(q0, out, write);
            if (f != null) {
                return f;
            }
            size = Math.min(size, s2Size);
            out = s2Output(out);
            readable = s2Reads;
            mayWrite &= s2Writes;
        }
        outputPage = out & ~(size - 1);
        pageSize = size;
        // A read leaves D clear: the cached translation is then read-only so that the first write
        // walks again and sets D (VT-d 3.6.3).
        writable = mayWrite && dirty;
        userOk = us;
        execOk = mayExec;
        return readable ? null : ScalableFault.SL_PERMISSION;
    }

    /** Sets A or D in an entry; nested: the second level must allow writing the table. */
    private ScalableFault update(boolean nested, long q0, long entryGpa, long entryAddr, long value) {
        if (nested) {
            ScalableFault f = stage2(q0, entryGpa, true);
            if (f != null) {
                return f == ScalableFault.SL_PERMISSION ? ScalableFault.NESTED_FL_WRITE : f;
            }
        }
        memory.write(PhysAddr.of(entryAddr), value, 8);
        s2Valid = false; // the write may have changed a second-level entry
        return null;
    }

    /**
     * The second-level translation of guest-physical {@code gpa} for a read or {@code write}:
     * null with the leaf in the s2 fields, or the fault. Reuses the leaf kept in this walk when
     * it covers {@code gpa} and grants the access (see the class comment).
     */
    private ScalableFault stage2(long q0, long gpa, boolean write) {
        if (s2Valid && (gpa & -s2Size) == s2Base && (write ? s2Writes : s2Reads)) {
            return null;
        }
        ScalableFault f = stage2.walk(PasidEntry.secondLevelTable(q0), PasidEntry.secondLevelLevels(q0),
                PasidEntry.secondLevelAgaw(q0), gpa, write);
        if (f != null) {
            s2Valid = false;
            return f;
        }
        s2Size = SlPte.pageSize(stage2.level);
        s2Base = gpa & -s2Size;
        s2Out = stage2.outputPage();
        s2Reads = stage2.reads;
        s2Writes = stage2.writes;
        s2Valid = true;
        return null;
    }

    /** The host-physical address of {@code gpa}, inside the kept second-level leaf. */
    private long s2Output(long gpa) {
        return s2Out | (gpa & (s2Size - 1));
    }

    private static ScalableFault nestedTableFault(ScalableFault f, boolean top) {
        return switch (f) {
            case BEYOND_MAX -> ScalableFault.NESTED_FL_BEYOND_MGAW;
            case SL_PERMISSION -> top ? ScalableFault.NESTED_FL_TOP_READ : ScalableFault.NESTED_FL_READ;
            default -> f;
        };
    }
}
