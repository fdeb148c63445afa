package io.viommu.vtd.notify;

import static io.viommu.vtd.VtdRegisters.*;

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
final class GuestTables {
    static final RequesterId DEV = RequesterId.of(0, 1, 0);
    static final RequesterId DEV2 = RequesterId.of(0, 2, 0);
    static final long ROOT = 0x100000;
    static final long CTX = 0x101000;
    static final long IQ = 0x110000;
    static final long STATUS = 0x120000;
    static final long PAGE = 4096;
    static final long MB2 = 1L << 21;
    static final long GB1 = 1L << 30;
    private static final long ADDR = 0x000f_ffff_ffff_f000L;

    final PhysicalMemory ram = new PhysicalMemory(256L << 20);
    final IntelIommu iommu;
    final MapNotifier notifier;
    final VtdConfig config;
    /** Top-level table and levels per device. */
    private final Map<RequesterId, long[]> tops = new HashMap<>();
    private long nextTable = 0x200000;
    private int queueTail;

    GuestTables(String... props) {
        Map<String, String> p = new LinkedHashMap<>();
        for (String s : props) {
            String[] kv = s.split("=", 2);
            p.put(kv[0], kv[1]);
        }
        config = VtdConfig.fromQemuProperties(p);
        iommu = new IntelIommu(config, ram, (a, d, s) -> { });
        notifier = MapNotifier.attach(iommu);
        ram.writeLong(PhysAddr.of(ROOT), CTX | 1);
    }

    static GuestTables cachingMode() {
        return new GuestTables("caching-mode=on");
    }

    long allocTable() {
        long t = nextTable;
        nextTable += PAGE;
        ram.fill(PhysAddr.of(t), PAGE, (byte) 0);
        return t;
    }

    /** Context for {@code sid}: TT=00, domain {@code did}, AW field {@code aw} (1: 3 levels, 2: 4). */
    long context(RequesterId sid, int did, int aw) {
        long top = allocTable();
        context(sid, did, aw, top);
        return top;
    }

    long context(RequesterId sid, int did) {
        return context(sid, did, 1);
    }

    /** Context for {@code sid} pointing at an existing top table (a shared domain). */
    void context(RequesterId sid, int did, int aw, long top) {
        ram.writeLong(PhysAddr.of(CTX + sid.devfn() * 16L + 8), ((long) did << 8) | aw);
        ram.writeLong(PhysAddr.of(CTX + sid.devfn() * 16L), top | 1);
        tops.put(sid, new long[] {top, aw + 2});
    }

    void passThrough(RequesterId sid, int did) {
        ram.writeLong(PhysAddr.of(CTX + sid.devfn() * 16L + 8), ((long) did << 8) | 1);
        ram.writeLong(PhysAddr.of(CTX + sid.devfn() * 16L), 2L << 2 | 1);
    }

    void clearContext(RequesterId sid) {
        ram.writeLong(PhysAddr.of(CTX + sid.devfn() * 16L), 0);
        ram.writeLong(PhysAddr.of(CTX + sid.devfn() * 16L + 8), 0);
    }

    static long perms(Permission p) {
        return (p.readable() ? 1 : 0) | (p.writable() ? 2 : 0);
    }

    /** The slot of the entry for {@code iova} at {@code level}, creating tables above it. */
    long slot(RequesterId sid, long iova, int level) {
        long[] t = tops.get(sid);
        long table = t[0];
        for (int l = (int) t[1]; l > level; l--) {
            long slot = table + ((iova >>> (12 + 9 * (l - 1))) & 0x1ff) * 8;
            long e = ram.readLong(PhysAddr.of(slot));
            if ((e & 3) == 0 || (e & 0x80) != 0) {
                long next = allocTable();
                ram.writeLong(PhysAddr.of(slot), next | 3);
                table = next;
            } else {
                table = e & ADDR;
            }
        }
        return table + ((iova >>> (12 + 9 * (level - 1))) & 0x1ff) * 8;
    }

    void map4k(RequesterId sid, long iova, long phys, Permission p) {
        ram.writeLong(PhysAddr.of(slot(sid, iova, 1)), (phys & ADDR) | perms(p));
    }

    void map2m(RequesterId sid, long iova, long phys, Permission p) {
        ram.writeLong(PhysAddr.of(slot(sid, iova, 2)), (phys & ADDR) | 0x80 | perms(p));
    }

    void map1g(RequesterId sid, long iova, long phys, Permission p) {
        ram.writeLong(PhysAddr.of(slot(sid, iova, 3)), (phys & ADDR) | 0x80 | perms(p));
    }

    void mapRange(RequesterId sid, long iova, long size, long phys, Permission p) {
        for (long o = 0; o < size; o += PAGE) {
            map4k(sid, iova + o, phys + o, p);
        }
    }

    void clear(RequesterId sid, long iova, int level) {
        ram.writeLong(PhysAddr.of(slot(sid, iova, level)), 0);
    }

    void writeEntry(RequesterId sid, long iova, int level, long value) {
        ram.writeLong(PhysAddr.of(slot(sid, iova, level)), value);
    }

    /** RTADDR, SRTP, then TE, as a driver does. */
    GuestTables enable() {
        iommu.store(RTADDR, ROOT, 8);
        iommu.store(GCMD, GCMD_SRTP, 4);
        iommu.store(GCMD, GCMD_TE, 4);
        return this;
    }

    void disableTranslation() {
        iommu.store(GCMD, 0, 4);
    }

    void enableTranslation() {
        iommu.store(GCMD, GCMD_TE, 4);
    }

    // ---- register-based invalidation ----

    void psi(int did, long addr, int am) {
        iommu.store(IVA, addr | am, 8);
        iommu.store(IOTLB, IOTLB_IVT | IOTLB_IIRG_PAGE | ((long) did << 32), 8);
    }

    void dsi(int did) {
        iommu.store(IOTLB, IOTLB_IVT | IOTLB_IIRG_DOMAIN | ((long) did << 32), 8);
    }

    void iotlbGlobal() {
        iommu.store(IOTLB, IOTLB_IVT | IOTLB_IIRG_GLOBAL, 8);
    }

    void contextGlobal() {
        iommu.store(CCMD, CCMD_ICC | CCMD_CIRG_GLOBAL, 8);
    }

    void contextDevice(RequesterId sid, int fm) {
        iommu.store(CCMD, CCMD_ICC | CCMD_CIRG_DEVICE | ((long) fm << 32) | ((long) sid.value() << 16), 8);
    }

    // ---- queued invalidation (128-bit descriptors, VT-d 6.5.2) ----

    GuestTables enableQueue() {
        iommu.store(IQA, IQ, 8);
        int gsts = (int) iommu.load(GSTS, 4);
        iommu.store(GCMD, (gsts & GCMD_TE) | GCMD_QIE, 4);
        return this;
    }

    /** Queues one descriptor and rings the tail; returns its index in the queue. */
    int queue(long lo, long hi) {
        int index = queueTail;
        ram.writeLong(PhysAddr.of(IQ + index * 16L), lo);
        ram.writeLong(PhysAddr.of(IQ + index * 16L + 8), hi);
        queueTail = (queueTail + 1) % 256;
        iommu.store(IQT, (long) queueTail << 4, 8);
        return index;
    }

    int queuedPsi(int did, long addr, int am) {
        return queue(2 | 3L << 4 | (long) did << 16, addr | am);
    }

    int queuedDsi(int did) {
        return queue(2 | 2L << 4 | (long) did << 16, 0);
    }

    int queuedIotlbGlobal() {
        return queue(2 | 1L << 4, 0);
    }

    int queuedContextGlobal() {
        return queue(1 | 1L << 4, 0);
    }

    /** The raw entry for {@code iova} at {@code level}, or 0 when a table above is missing or a superpage. */
    long entry(RequesterId sid, long iova, int level) {
        long[] t = tops.get(sid);
        long table = t[0];
        for (int l = (int) t[1]; l > level; l--) {
            long e = ram.readLong(PhysAddr.of(table + ((iova >>> (12 + 9 * (l - 1))) & 0x1ff) * 8));
            if ((e & 3) == 0 || (e & 0x80) != 0) {
                return 0;
            }
            table = e & ADDR;
        }
        return ram.readLong(PhysAddr.of(table + ((iova >>> (12 + 9 * (level - 1))) & 0x1ff) * 8));
    }

    int queuedContextDevice(RequesterId sid, int fm) {
        return queue(1 | 3L << 4 | (long) sid.value() << 32 | (long) fm << 48, 0);
    }

    int queuedDeviceTlb(RequesterId sid, long addr, boolean sizeBit) {
        return queue(3 | (long) sid.value() << 32, addr | (sizeBit ? 1 : 0));
    }

    TranslationResult translate(RequesterId sid, long iova, DmaAccess access) {
        return iommu.translate(new DmaRequest(sid, Iova.of(iova), 8, access));
    }

    /**
     * Ground truth, independent of the notifier: what a second unit reading the same RAM
     * translates each page of {@code range} to (a fresh unit, so no cache can be stale).
     */
    MappingView truth(RequesterId sid, IovaRange range) {
        IntelIommu oracle = new IntelIommu(config, ram, (a, d, s) -> { });
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
