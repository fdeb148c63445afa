package io.viommu.bench;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysicalMemory;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Translation;
import io.viommu.pci.TranslationResult;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.VtdConfig;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Nested (PGTT 011b) translation cost: scalable mode with the x-flts/x-nest extensions,
 * aw-bits=48, one device 00:01.0 whose RID_PASID entry nests a 4-level first-level table over
 * a 4-level second level that maps guest-physical 0..1 GiB 1:1 with 2 MiB pages. Every
 * first-level table pointer and the output are translated by the second level, so a miss
 * costs 4 first-level reads plus 5 second-level walks (and the A/D writes of the first touch).
 *
 * <ul>
 *   <li>{@code nestedIotlbHit}: the same page again (context cache + PASID-tagged IOTLB hit).
 *   <li>{@code nestedIotlbMiss}: cycles through 8192 pages, more than the 1024-entry LRU IOTLB
 *       holds, so lookups miss and walk both stages.
 * </ul>
 * Tables are written through RAM and the unit programmed through its registers, as a driver does.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class NestedTranslateBench {
    static final int MISS_PAGES = 8192;
    static final long IOVA_BASE = 0x4000_0000L;
    static final long DATA_GPA = 0x2000_0000L;
    static final RequesterId DEVICE = RequesterId.of(0, 1, 0);

    PhysicalMemory ram;
    IntelIommu iommu;
    DmaRequest hit;
    DmaRequest[] pages;
    int next;
    private long bump = 0x100_0000L;

    private long page() {
        long p = bump;
        bump += 4096;
        ram.fill(p, 4096, (byte) 0);
        return p;
    }

    @Setup(Level.Trial)
    public void setUp() {
        ram = new PhysicalMemory(1L << 32);
        Map<String, String> props = new LinkedHashMap<>();
        props.put("x-scalable-mode", "on");
        props.put("aw-bits", "48");
        props.put("x-flts", "on");
        props.put("x-nest", "on");
        iommu = new IntelIommu(VtdConfig.fromQemuProperties(props), ram, (a, d, s) -> { });
        long root = page();
        long ctx = page();
        long pdir = page();
        long ptbl = page();
        // second level: 4 levels, GPA 0..1 GiB identity with 2 MiB leaves (R/W)
        long sl4 = page();
        long sl3 = page();
        long sl2 = page();
        ram.writeLong(sl4, sl3 | 3);
        ram.writeLong(sl3, sl2 | 3);
        for (int i = 0; i < 512; i++) {
            ram.writeLong(sl2 + 8L * i, ((long) i << 21) | 0x80 | 3);
        }
        // first level (guest tables, all below 1 GiB): IOVA_BASE + i*4K -> DATA_GPA + i*4K
        long fl4 = page();
        long fl3 = page();
        long fl2 = page();
        ram.writeLong(fl4, fl3 | 7);
        ram.writeLong(fl3 + 8L * ((IOVA_BASE >>> 30) & 511), fl2 | 7);
        for (int i = 0; i < MISS_PAGES; i++) {
            long iova = IOVA_BASE + i * 4096L;
            int pde = (int) (iova >>> 21) & 511;
            long fl1 = ram.readLong(fl2 + 8L * pde) & ~0xfffL;
            if (fl1 == 0) {
                fl1 = page();
                ram.writeLong(fl2 + 8L * pde, fl1 | 7);
            }
            ram.writeLong(fl1 + 8L * ((iova >>> 12) & 511), (DATA_GPA + i * 4096L) | 0x67); // P RW US A D
        }
        // root (lower half) -> context (devfn 8) -> PASID dir -> PASID 0: nested, AW 2 (48-bit), DID 1
        ram.writeLong(root, ctx | 1);
        ram.writeLong(ctx + 32L * DEVICE.devfn(), pdir | 1);
        ram.writeLong(pdir, ptbl | 1);
        ram.writeLong(ptbl, sl4 | (2 << 2) | (3 << 6) | 1);
        ram.writeLong(ptbl + 8, 1);
        ram.writeLong(ptbl + 16, fl4);
        iommu.store(0x20, root | (1 << 10), 8);
        iommu.store(0x18, 1L << 30, 4);
        iommu.store(0x18, 1L << 31, 4);
        hit = new DmaRequest(DEVICE, new Iova(IOVA_BASE + 0x123), 8, DmaAccess.READ);
        pages = new DmaRequest[MISS_PAGES];
        for (int i = 0; i < MISS_PAGES; i++) {
            pages[i] = new DmaRequest(DEVICE, new Iova(IOVA_BASE + i * 4096L + 8), 8, DmaAccess.WRITE);
        }
        TranslationResult r = iommu.translate(hit);
        if (!(r instanceof Translation t) || t.outputValue(IOVA_BASE + 0x123) != DATA_GPA + 0x123) {
            throw new IllegalStateException("nested bench tables do not translate: " + r);
        }
    }

    @Benchmark
    public TranslationResult nestedIotlbHit() {
        return iommu.translate(hit);
    }

    @Benchmark
    public TranslationResult nestedIotlbMiss() {
        int i = next;
        next = (i + 1) & (MISS_PAGES - 1);
        return iommu.translate(pages[i]);
    }
}
