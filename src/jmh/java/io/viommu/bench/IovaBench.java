package io.viommu.bench;

import io.viommu.linux.iommu.IovaDomain;
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
 * The IOVA allocator (Linux iova.c model) with 1000 live one-page ranges below 4 GiB:
 * {@code allocFreeCached}: alloc_iova_fast + free_iova_fast of one page on one CPU (the
 * magazine answers); {@code allocFreeTree}: alloc_iova + free_iova, the rbtree path.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class IovaBench {
    IovaDomain cached;
    IovaDomain tree;

    @Setup(Level.Trial)
    public void setUp() {
        cached = new IovaDomain(1, 1);
        tree = new IovaDomain(1, 1);
        for (int i = 0; i < 1000; i++) {
            cached.allocFast(0, 1, 0xfffff, true);
            tree.alloc(1, 0xfffff, true);
        }
    }

    @Benchmark
    public long allocFreeCached() {
        long pfn = cached.allocFast(0, 1, 0xfffff, true);
        cached.freeFast(0, pfn, 1);
        return pfn;
    }

    @Benchmark
    public long allocFreeTree() {
        long pfn = tree.alloc(1, 0xfffff, true);
        tree.free(pfn);
        return pfn;
    }
}
