package io.viommu.bench;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysicalMemory;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.RequesterId;
import io.viommu.pci.TranslationResult;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.VtdConfig;
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
 * DMA translation cost through the VT-d model, against a plain 8-byte RAM read in the same
 * run. The unit is programmed only through its registers and tables in RAM, as a driver would:
 * legacy mode, aw-bits=48 (4-level), one device 00:01.0 in domain 1.
 *
 * <ul>
 *   <li>{@code iotlbHit}: the same 4 KiB page again and again (context cache + IOTLB hit).
 *   <li>{@code iotlbMiss4LevelWalk}: cycles through 8192 distinct 4 KiB pages, more than the
 *       1024-entry LRU IOTLB holds, so every lookup misses and walks 4 levels.
 *   <li>{@code superpage2MMissWalk}: the same over 2 MiB leaves (3-level walk ending at a PDE).
 *   <li>{@code ramRead8}: the baseline, {@link PhysicalMemory#readLong}.
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class TranslateBench {
    static final int MISS_PAGES = 8192;
    static final long SMALL_BASE = 0x4000_0000L;          // IOVA of the 4 KiB-mapped region
    static final long SUPER_BASE = 0x80_0000_0000L;       // IOVA of the 2 MiB-mapped region
    static final RequesterId DEVICE = RequesterId.of(0, 1, 0);

    PhysicalMemory ram;
    IntelIommu iommu;
    DmaRequest hit;
    DmaRequest[] smallPages;
    DmaRequest[] superPages;
    int next;
    long ramAddr;

    @Setup(Level.Trial)
    public void setUp() {
        ram = new PhysicalMemory(1L << 32);
        iommu = new IntelIommu(VtdConfig.fromQemuProperties(Map.of("aw-bits", "48")), ram,
                (address, data, source) -> { });
        LegacyTables tables = new LegacyTables(ram, 0x100_0000L);
        long pml4 = tables.contextFor(DEVICE, 1, 2);
        for (int i = 0; i < MISS_PAGES; i++) {
            tables.map4k(pml4, SMALL_BASE + i * 4096L, 0x2000_0000L + i * 4096L, true, true);
        }
        for (int i = 0; i < MISS_PAGES; i++) {
            tables.map2m(pml4, SUPER_BASE + ((long) i << 21), ((long) i << 21) & 0x7fff_ffffL, true, true);
        }
        tables.enable(iommu);
        hit = new DmaRequest(DEVICE, new Iova(SMALL_BASE + 0x123), 8, DmaAccess.READ);
        smallPages = new DmaRequest[MISS_PAGES];
        superPages = new DmaRequest[MISS_PAGES];
        for (int i = 0; i < MISS_PAGES; i++) {
            smallPages[i] = new DmaRequest(DEVICE, new Iova(SMALL_BASE + i * 4096L + 8), 8, DmaAccess.WRITE);
            superPages[i] = new DmaRequest(DEVICE, new Iova(SUPER_BASE + ((long) i << 21) + 8), 8,
                    DmaAccess.WRITE);
        }
        ramAddr = 0x2000_0000L + 0x120;
        ram.writeLong(ramAddr, 0x1122_3344_5566_7788L);
        LegacyTables.requireTranslation(iommu.translate(hit));
        LegacyTables.requireTranslation(iommu.translate(superPages[7]));
    }

    @Benchmark
    public TranslationResult iotlbHit() {
        return iommu.translate(hit);
    }

    @Benchmark
    public TranslationResult iotlbMiss4LevelWalk() {
        int i = next;
        next = (i + 1) & (MISS_PAGES - 1);
        return iommu.translate(smallPages[i]);
    }

    @Benchmark
    public TranslationResult superpage2MMissWalk() {
        int i = next;
        next = (i + 1) & (MISS_PAGES - 1);
        return iommu.translate(superPages[i]);
    }

    @Benchmark
    public long ramRead8() {
        return ram.readLong(ramAddr);
    }
}
