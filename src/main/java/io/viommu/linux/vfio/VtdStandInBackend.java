package io.viommu.linux.vfio;

import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.IommuGroupView;
import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.memory.PhysicalMemory;
import io.viommu.pci.RequesterId;
import io.viommu.vtd.ContextEntry;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.RootEntry;
import io.viommu.vtd.SlPte;
import io.viommu.vtd.VtdRegisters;
import java.util.ArrayList;
import java.util.List;

/**
 * A stand-in for the intel-iommu driver's unmanaged-domain API: just enough of what
 * drivers/iommu/intel/iommu.c does for VFIO, done the way that driver does it — page tables in
 * the machine's RAM, the unit programmed only through its registers — so that type1's mappings
 * are real second-level entries the VT-d model translates a device's DMA through.
 *
 * <p>What it does (VT-d 3.4 chapters 3, 6, 9 and 11):
 * <ul>
 * <li>On first use: a root table from {@link PageFrames}, RTADDR, GCMD.SRTP (waits for
 *     GSTS.RTPS), a global context-cache and IOTLB invalidation, GCMD.TE. Legacy mode,
 *     register-based invalidation (it refuses to run when queued invalidation is on: then the
 *     real driver owns the unit).</li>
 * <li>A domain: a domain id from 2 (0 is reserved for caching mode, 1 for first-level/identity
 *     in Linux), a 3-level second-level table when SAGAW offers 39 bits (else 4-level), aperture
 *     {@code 2^min(agaw, MGAW) - 1}, 4 KiB leaves only (so its page-size bitmap is 4 KiB; the
 *     real driver adds 2 MiB/1 GiB where CAP.SLLPS allows).</li>
 * <li>Attach: a context entry (TT=00, AW, DID, SLPTPTR) for every member of the group, a global
 *     context-cache invalidation and a domain IOTLB invalidation. DMA aliases of members are
 *     not given entries (the real driver does).</li>
 * <li>Map: leaf entries with R/W; under caching mode a page-selective IOTLB invalidation of the
 *     new range (domain-selective when the address mask would pass CAP.MAMV), as Linux's
 *     {@code iommu_flush_iotlb_psi} for a notifying vIOMMU. Unmap: entries cleared, then the
 *     same invalidation (strict). Table pages are freed with the domain.</li>
 * </ul>
 * Interrupt remapping presence is ECAP.IR: the stand-in does not program the remapping table.
 */
public final class VtdStandInBackend implements Type1Backend {
    // CAP_REG fields read here (VT-d 3.4 section 11.4.2): CM 7, SAGAW 12:8, MGAW 21:16, PSI 39, MAMV 53:48.
    static final long CAP_CM = 1L << 7;
    static final int CAP_SAGAW_SHIFT = 8;
    static final int CAP_MGAW_SHIFT = 16;
    static final long CAP_PSI = 1L << 39;
    static final int CAP_MAMV_SHIFT = 48;
    // ECAP_REG fields (section 11.4.3): QI 1, IR 3.
    static final long ECAP_QI = 1L << 1;
    static final long ECAP_IR = 1L << 3;
    /** GCMD bits that persist (TE, QIE, IRE, CFI); the others are one-shot commands. */
    static final int GCMD_PERSISTENT = VtdRegisters.GCMD_TE | VtdRegisters.GCMD_QIE | VtdRegisters.GCMD_IRE
            | VtdRegisters.GCMD_CFI;
    static final long PAGE = 4096;
    private static final long ADDR_MASK = 0x000f_ffff_ffff_f000L;

    private final IntelIommu unit;
    private final PageFrames frames;
    private final PhysicalMemory ram;
    private final IommuGroupView groups;
    private final long cap;
    private final long ecap;
    private PhysAddr rootTable;
    private int nextDomainId = 2;

    /** Counters of the invalidations issued (for reports and tests). */
    private long contextInvalidations;
    private long iotlbPageInvalidations;
    private long iotlbDomainInvalidations;

    public VtdStandInBackend(IntelIommu unit, PageFrames frames, IommuGroupView groups) {
        this.unit = unit;
        this.frames = frames;
        this.ram = frames.ram();
        this.groups = groups;
        this.cap = unit.load(VtdRegisters.CAP, 8);
        this.ecap = unit.load(VtdRegisters.ECAP, 8);
    }

    @Override
    public boolean interruptRemapping() {
        return (ecap & ECAP_IR) != 0;
    }

    /** The root table the stand-in programmed into RTADDR, or null before the first domain. */
    public PhysAddr rootTable() {
        return rootTable;
    }

    public long contextInvalidations() {
        return contextInvalidations;
    }

    public long iotlbPageInvalidations() {
        return iotlbPageInvalidations;
    }

    public long iotlbDomainInvalidations() {
        return iotlbDomainInvalidations;
    }

    private boolean enable() {
        if (rootTable != null) {
            return true;
        }
        if ((unit.load(VtdRegisters.GSTS, 4) & VtdRegisters.GSTS_QIES) != 0) {
            return false; // queued invalidation on: the real driver owns the unit
        }
        PhysAddr root = frames.allocate();
        if (root == null) {
            return false;
        }
        rootTable = root;
        unit.store(VtdRegisters.RTADDR, root.value(), 8);
        gcmd(VtdRegisters.GCMD_SRTP);
        flushContextGlobal();
        flushIotlbGlobal();
        gcmd(VtdRegisters.GCMD_TE);
        return true;
    }

    /** One GCMD command on top of the persistent bits (VT-d 11.4.4: software keeps them). */
    private void gcmd(int command) {
        int status = (int) unit.load(VtdRegisters.GSTS, 4);
        unit.store(VtdRegisters.GCMD, (status & GCMD_PERSISTENT) | command, 4);
    }

    private void flushContextGlobal() {
        unit.store(VtdRegisters.CCMD, VtdRegisters.CCMD_ICC | VtdRegisters.CCMD_CIRG_GLOBAL, 8);
        contextInvalidations++;
    }

    private void flushIotlbGlobal() {
        unit.store(VtdRegisters.IOTLB, VtdRegisters.IOTLB_IVT | VtdRegisters.IOTLB_IIRG_GLOBAL, 8);
    }

    private void flushIotlbDomain(int did) {
        unit.store(VtdRegisters.IOTLB, VtdRegisters.IOTLB_IVT | VtdRegisters.IOTLB_IIRG_DOMAIN | ((long) did << 32), 8);
        iotlbDomainInvalidations++;
    }

    /** {@code iommu_flush_iotlb_psi}: the smallest aligned power-of-two block holding the range, else DSI. */
    private void flushIotlbRange(int did, long iova, long size) {
        int am = 0;
        long first = iova / PAGE;
        long last = (iova + size - 1) / PAGE;
        while ((first >>> am) != (last >>> am)) {
            am++;
        }
        int mamv = (int) (cap >>> CAP_MAMV_SHIFT) & 0x3f;
        if ((cap & CAP_PSI) == 0 || am > mamv) {
            flushIotlbDomain(did);
            return;
        }
        long base = (first >>> am) << am;
        unit.store(VtdRegisters.IVA, base * PAGE | am, 8);
        unit.store(VtdRegisters.IOTLB, VtdRegisters.IOTLB_IVT | VtdRegisters.IOTLB_IIRG_PAGE | ((long) did << 32), 8);
        iotlbPageInvalidations++;
    }

    @Override
    public Domain allocateUnmanaged() {
        if (!enable()) {
            return null;
        }
        int sagaw = (int) (cap >>> CAP_SAGAW_SHIFT) & 0x1f;
        int aw = (sagaw & 0x2) != 0 ? 1 : (sagaw & 0x4) != 0 ? 2 : -1;
        if (aw < 0) {
            return null;
        }
        PhysAddr top = frames.allocate();
        if (top == null) {
            return null;
        }
        int mgaw = (int) ((cap >>> CAP_MGAW_SHIFT) & 0x3f) + 1;
        int width = Math.min(30 + 9 * aw, mgaw);
        return new VtdDomain(nextDomainId++, aw, top, (1L << width) - 1);
    }

    private final class VtdDomain implements Domain {
        private final int did;
        private final int aw;
        private final int levels;
        private final PhysAddr top;
        private final long apertureEnd;
        private final List<PhysAddr> tables = new ArrayList<>();
        private final List<Integer> attached = new ArrayList<>();
        private boolean freed;

        VtdDomain(int did, int aw, PhysAddr top, long apertureEnd) {
            this.did = did;
            this.aw = aw;
            this.levels = aw + 2;
            this.top = top;
            this.apertureEnd = apertureEnd;
            tables.add(top);
        }

        @Override
        public int attachGroup(int group) {
            if (freed) {
                return Errno.EINVAL.negative();
            }
            for (RequesterId rid : groups.members(group)) {
                long ctxTable = contextTable(rid.bus(), true);
                if (ctxTable < 0) {
                    return Errno.ENOMEM.negative();
                }
                long at = ContextEntry.address(ctxTable, rid.devfn());
                ram.writeLong(at + 8, ((long) did << 8) | aw);
                ram.writeLong(at, top.value() | ((long) ContextEntry.TT_MULTI_LEVEL << ContextEntry.TT_SHIFT) | ContextEntry.P);
            }
            attached.add(group);
            flushContextGlobal();
            flushIotlbDomain(did);
            return 0;
        }

        @Override
        public void detachGroup(int group) {
            if (!attached.remove((Integer) group)) {
                return;
            }
            for (RequesterId rid : groups.members(group)) {
                long ctxTable = contextTable(rid.bus(), false);
                if (ctxTable > 0) {
                    long at = ContextEntry.address(ctxTable, rid.devfn());
                    ram.writeLong(at, 0);
                    ram.writeLong(at + 8, 0);
                }
            }
            flushContextGlobal();
            flushIotlbDomain(did);
        }

        @Override
        public int map(Iova iova, PhysAddr phys, long size, boolean read, boolean write) {
            long a = iova.value();
            if (freed || ((a | phys.value() | size) & (PAGE - 1)) != 0 || size <= 0 || a + size - 1 > apertureEnd
                    || a + size - 1 < a) {
                return Errno.EINVAL.negative();
            }
            long perms = (read ? SlPte.R : 0) | (write ? SlPte.W : 0);
            for (long off = 0; off < size; off += PAGE) {
                long slot = leafSlot(a + off, true);
                if (slot < 0) {
                    unmapRange(a, off);
                    return Errno.ENOMEM.negative();
                }
                ram.writeLong(slot, ((phys.value() + off) & ADDR_MASK) | perms);
            }
            if ((cap & CAP_CM) != 0) {
                flushIotlbRange(did, a, size); // caching mode: not-present to present is cached too
            }
            return 0;
        }

        @Override
        public long unmap(Iova iova, long size) {
            if (freed || size <= 0) {
                return 0;
            }
            long done = unmapRange(iova.value(), size);
            flushIotlbRange(did, iova.value(), size);
            return done;
        }

        private long unmapRange(long a, long size) {
            long done = 0;
            for (long off = 0; off < size; off += PAGE) {
                long slot = leafSlot(a + off, false);
                if (slot > 0 && SlPte.isPresent(ram.readLong(slot))) {
                    ram.writeLong(slot, 0);
                    done += PAGE;
                }
            }
            return done;
        }

        @Override
        public PhysAddr iovaToPhys(Iova iova) {
            long slot = leafSlot(iova.value(), false);
            if (slot < 0) {
                return null;
            }
            long e = ram.readLong(slot);
            return SlPte.isPresent(e) ? new PhysAddr((e & ADDR_MASK) | (iova.value() & (PAGE - 1))) : null;
        }

        /** The level-1 entry for {@code iova}, allocating tables on the way when asked; -1 when absent. */
        private long leafSlot(long iova, boolean allocate) {
            if (iova < 0 || iova > apertureEnd) {
                return -1;
            }
            long table = top.value();
            for (int l = levels; l > 1; l--) {
                long slot = SlPte.address(table, iova, l);
                long e = ram.readLong(slot);
                if (!SlPte.isPresent(e)) {
                    if (!allocate) {
                        return -1;
                    }
                    PhysAddr next = frames.allocate();
                    if (next == null) {
                        return -1;
                    }
                    tables.add(next);
                    ram.writeLong(slot, next.value() | SlPte.R | SlPte.W);
                    table = next.value();
                } else {
                    table = e & ADDR_MASK;
                }
            }
            return SlPte.address(table, iova, 1);
        }

        @Override
        public long pageSizeBitmap() {
            return PAGE;
        }

        @Override
        public long apertureEnd() {
            return apertureEnd;
        }

        @Override
        public void free() {
            if (freed) {
                return;
            }
            for (Integer g : List.copyOf(attached)) {
                detachGroup(g);
            }
            freed = true;
            for (PhysAddr t : tables) {
                frames.release(t);
            }
            tables.clear();
        }

        @Override
        public String toString() {
            return "domain " + did + " (" + levels + "-level, top " + top + ")";
        }
    }

    /** The context table for {@code bus}, allocated into the root table when asked; -1 when absent. */
    private long contextTable(int bus, boolean allocate) {
        long slot = RootEntry.address(rootTable.value(), bus);
        long lo = ram.readLong(slot);
        if (RootEntry.isPresent(lo)) {
            return lo & RootEntry.CTP_MASK;
        }
        if (!allocate) {
            return -1;
        }
        PhysAddr t = frames.allocate();
        if (t == null) {
            return -1;
        }
        ram.writeLong(slot, t.value() | RootEntry.P);
        return t.value();
    }
}
