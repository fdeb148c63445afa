package io.viommu.vtd.notify;

import static io.viommu.vtd.VtdRegisters.*;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.memory.PhysicalMemory;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Translation;
import io.viommu.pci.TranslationResult;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.VtdConfig;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Test bed for the notifier: RAM, one unit with its notifier, and a guest driver's view of
 * legacy tables (VT-d 9.1, 9.3, 9.8) with the invalidations a driver issues, by register or
 * through the queue. Table pages come from a bump allocator at 0x200000.
 */
public final class GuestTables {
    public static final RequesterId DEV = RequesterId.of(0, 1, 0);
    public static final RequesterId DEV2 = RequesterId.of(0, 2, 0);
    public static final long ROOT = 0x100000;
    public static final long CTX = 0x101000;
    public static final long IQ = 0x110000;
    public static final long STATUS = 0x120000;
    public static final long PAGE = 4096;
    public static final long MB2 = 1L << 21;
    public static final long GB1 = 1L << 30;
    private static final long ADDR = 0x000f_ffff_ffff_f000L;

    /** The RAM the unit reads tables from, when the bed made its own (null with {@link #GuestTables(AddressSpace, String...)}). */
    public final PhysicalMemory ram;
    /** The physical address space the tables live in (the RAM, or the caller's). */
    public final AddressSpace memory;
    public final IntelIommu iommu;
    public final MapNotifier notifier;
    public final VtdConfig config;
    /** Top-level table and levels per device. */
    private final Map<RequesterId, long[]> tops = new HashMap<>();
    private long nextTable = 0x200000;
    private int queueTail;

    GuestTables(String... props) {
        this(new PhysicalMemory(256L << 20), props);
    }

    /**
     * A bed whose tables live in {@code memory} (e.g. a VM's RAM held by a VMM process); it must
     * decode 0x100000.. for the root, context, queue and table pages.
     */
    public GuestTables(AddressSpace memory, String... props) {
        this.memory = memory;
        this.ram = memory instanceof PhysicalMemory pm ? pm : null;
        Map<String, String> p = new LinkedHashMap<>();
        for (String s : props) {
            String[] kv = s.split("=", 2);
            p.put(kv[0], kv[1]);
        }
        config = VtdConfig.fromQemuProperties(p);
        iommu = new IntelIommu(config, memory, (a, d, s) -> { });
        notifier = MapNotifier.attach(iommu);
        memory.write(PhysAddr.of(ROOT), CTX | 1, 8);
    }

    public static GuestTables cachingMode() {
        return new GuestTables("caching-mode=on");
    }

    public long allocTable() {
        long t = nextTable;
        nextTable += PAGE;
        for (long o = 0; o < PAGE; o += 8) {
            memory.write(PhysAddr.of(t + o), 0, 8);
        }
        return t;
    }

    /** Context for {@code sid}: TT=00, domain {@code did}, AW field {@code aw} (1: 3 levels, 2: 4). */
    public long context(RequesterId sid, int did, int aw) {
        long top = allocTable();
        context(sid, did, aw, top);
        return top;
    }

    public long context(RequesterId sid, int did) {
        return context(sid, did, 1);
    }

    /** Context for {@code sid} pointing at an existing top table (a shared domain). */
    public void context(RequesterId sid, int did, int aw, long top) {
        memory.write(PhysAddr.of(CTX + sid.devfn() * 16L + 8), ((long) did << 8) | aw, 8);
        memory.write(PhysAddr.of(CTX + sid.devfn() * 16L), top | 1, 8);
        tops.put(sid, new long[] {top, aw + 2});
    }

    public void passThrough(RequesterId sid, int did) {
        memory.write(PhysAddr.of(CTX + sid.devfn() * 16L + 8), ((long) did << 8) | 1, 8);
        memory.write(PhysAddr.of(CTX + sid.devfn() * 16L), 2L << 2 | 1, 8);
    }

    public void clearContext(RequesterId sid) {
        memory.write(PhysAddr.of(CTX + sid.devfn() * 16L), 0, 8);
        memory.write(PhysAddr.of(CTX + sid.devfn() * 16L + 8), 0, 8);
    }

    public static long perms(Permission p) {
        return (p.readable() ? 1 : 0) | (p.writable() ? 2 : 0);
    }

    /** The slot of the entry for {@code iova} at {@code level}, creating tables above it. */
    public long slot(RequesterId sid, long iova, int level) {
        long[] t = tops.get(sid);
        long table = t[0];
        for (int l = (int) t[1]; l > level; l--) {
            long slot = table + ((iova >>> (12 + 9 * (l - 1))) & 0x1ff) * 8;
            long e = memory.read(PhysAddr.of(slot), 8);
            if ((e & 3) == 0 || (e & 0x80) != 0) {
                long next = allocTable();
                memory.write(PhysAddr.of(slot), next | 3, 8);
                table = next;
            } else {
                table = e & ADDR;
            }
        }
        return table + ((iova >>> (12 + 9 * (level - 1))) & 0x1ff) * 8;
    }

    public void map4k(RequesterId sid, long iova, long phys, Permission p) {
        memory.write(PhysAddr.of(slot(sid, iova, 1)), (phys & ADDR) | perms(p), 8);
    }

    public void map2m(RequesterId sid, long iova, long phys, Permission p) {
        memory.write(PhysAddr.of(slot(sid, iova, 2)), (phys & ADDR) | 0x80 | perms(p), 8);
    }

    public void map1g(RequesterId sid, long iova, long phys, Permission p) {
        memory.write(PhysAddr.of(slot(sid, iova, 3)), (phys & ADDR) | 0x80 | perms(p), 8);
    }

    public void mapRange(RequesterId sid, long iova, long size, long phys, Permission p) {
        for (long o = 0; o < size; o += PAGE) {
            map4k(sid, iova + o, phys + o, p);
        }
    }

    public void clear(RequesterId sid, long iova, int level) {
        memory.write(PhysAddr.of(slot(sid, iova, level)), 0, 8);
    }

    public void writeEntry(RequesterId sid, long iova, int level, long value) {
        memory.write(PhysAddr.of(slot(sid, iova, level)), value, 8);
    }

    /** RTADDR, SRTP, then TE, as a driver does. */
    public GuestTables enable() {
        iommu.store(RTADDR, ROOT, 8);
        iommu.store(GCMD, GCMD_SRTP, 4);
        iommu.store(GCMD, GCMD_TE, 4);
        return this;
    }

    public void disableTranslation() {
        iommu.store(GCMD, 0, 4);
    }

    public void enableTranslation() {
        iommu.store(GCMD, GCMD_TE, 4);
    }

    // ---- register-based invalidation ----

    public void psi(int did, long addr, int am) {
        iommu.store(IVA, addr | am, 8);
        iommu.store(IOTLB, IOTLB_IVT | IOTLB_IIRG_PAGE | ((long) did << 32), 8);
    }

    /**
     * A page-selective invalidation of the smallest naturally aligned block of 2^AM pages that
     * covers {@code lo..hi}, by register or queued; returns the descriptor index when queued,
     * -1 otherwise.
     */
    public int psiCovering(int did, long lo, long hi, boolean queued) {
        int am = 0;
        while ((lo >>> (12 + am)) != (hi >>> (12 + am))) {
            am++;
        }
        long addr = lo & -(4096L << am);
        if (queued) {
            return queuedPsi(did, addr, am);
        }
        psi(did, addr, am);
        return -1;
    }

    public void dsi(int did) {
        iommu.store(IOTLB, IOTLB_IVT | IOTLB_IIRG_DOMAIN | ((long) did << 32), 8);
    }

    public void iotlbGlobal() {
        iommu.store(IOTLB, IOTLB_IVT | IOTLB_IIRG_GLOBAL, 8);
    }

    public void contextGlobal() {
        iommu.store(CCMD, CCMD_ICC | CCMD_CIRG_GLOBAL, 8);
    }

    public void contextDevice(RequesterId sid, int fm) {
        iommu.store(CCMD, CCMD_ICC | CCMD_CIRG_DEVICE | ((long) fm << 32) | ((long) sid.value() << 16), 8);
    }

    // ---- queued invalidation (128-bit descriptors, VT-d 6.5.2) ----

    public GuestTables enableQueue() {
        iommu.store(IQA, IQ, 8);
        int gsts = (int) iommu.load(GSTS, 4);
        iommu.store(GCMD, (gsts & GCMD_TE) | GCMD_QIE, 4);
        return this;
    }

    /** Queues one descriptor and rings the tail; returns its index in the queue. */
    public int queue(long lo, long hi) {
        int index = queueTail;
        memory.write(PhysAddr.of(IQ + index * 16L), lo, 8);
        memory.write(PhysAddr.of(IQ + index * 16L + 8), hi, 8);
        queueTail = (queueTail + 1) % 256;
        iommu.store(IQT, (long) queueTail << 4, 8);
        return index;
    }

    public int queuedPsi(int did, long addr, int am) {
        return queue(2 | 3L << 4 | (long) did << 16, addr | am);
    }

    public int queuedDsi(int did) {
        return queue(2 | 2L << 4 | (long) did << 16, 0);
    }

    public int queuedIotlbGlobal() {
        return queue(2 | 1L << 4, 0);
    }

    public int queuedContextGlobal() {
        return queue(1 | 1L << 4, 0);
    }

    /** The raw entry for {@code iova} at {@code level}, or 0 when a table above is missing or a superpage. */
    public long entry(RequesterId sid, long iova, int level) {
        long[] t = tops.get(sid);
        long table = t[0];
        for (int l = (int) t[1]; l > level; l--) {
            long e = memory.read(PhysAddr.of(table + ((iova >>> (12 + 9 * (l - 1))) & 0x1ff) * 8), 8);
            if ((e & 3) == 0 || (e & 0x80) != 0) {
                return 0;
            }
            table = e & ADDR;
        }
        return memory.read(PhysAddr.of(table + ((iova >>> (12 + 9 * (level - 1))) & 0x1ff) * 8), 8);
    }

    public int queuedContextDevice(RequesterId sid, int fm) {
        return queue(1 | 3L << 4 | (long) sid.value() << 32 | (long) fm << 48, 0);
    }

    public int queuedDeviceTlb(RequesterId sid, long addr, boolean sizeBit) {
        return queue(3 | (long) sid.value() << 32, addr | (sizeBit ? 1 : 0));
    }

    public TranslationResult translate(RequesterId sid, long iova, DmaAccess access) {
        return iommu.translate(new DmaRequest(sid, Iova.of(iova), 8, access));
    }

    /**
     * Ground truth, independent of the notifier: what a second unit reading the same RAM
     * translates each page of {@code range} to (a fresh unit, so no cache can be stale).
     */
    public MappingView truth(RequesterId sid, IovaRange range) {
        IntelIommu oracle = new IntelIommu(config, memory, (a, d, s) -> { });
        oracle.store(RTADDR, ROOT, 8);
        oracle.store(GCMD, GCMD_SRTP, 4);
        oracle.store(GCMD, GCMD_TE, 4);
        MappingView v = new MappingView();
        for (long iova = range.first(); Long.compareUnsigned(iova, range.last()) < 0; iova += PAGE) {
            if (io.viommu.pci.MsiAddress.contains(iova)) {
                continue;
            }
            TranslationResult r = oracle.translate(new DmaRequest(sid, Iova.of(iova), 8, DmaAccess.READ));
            if (!(r instanceof Translation)) {
                r = oracle.translate(new DmaRequest(sid, Iova.of(iova), 8, DmaAccess.WRITE));
            }
            if (r instanceof Translation t) {
                v.put(Mapping.of(iova, PAGE, t.outputValue(iova), Permission.of(t.readable(), t.writable())));
            }
        }
        return v;
    }
}
