package io.viommu.bench;

import io.viommu.memory.PhysicalMemory;
import io.viommu.pci.RequesterId;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.InterruptRemapping;
import io.viommu.vtd.InterruptTarget;
import io.viommu.vtd.VtdConfig;
import io.viommu.vtd.VtdRegisters;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Cost of remapping one MSI through the VT-d model's interrupt remapping, programmed through
 * registers and an IRT in RAM as a driver would (256 entries, source validation SVT=01 on).
 * <ul>
 *   <li>{@code cachedIrte}: the same index again, with a 256-entry interrupt entry cache
 *       (iec-entries=256): a cache hit plus the source-id check. No allocation on this path
 *       (check with {@code -prof gc}).</li>
 *   <li>{@code uncachedIrte}: the same without a cache (QEMU 7.2's behaviour): the IRTE is read
 *       and validated from RAM every time.</li>
 *   <li>{@code subhandleSweep}: SHV with 64 different subhandles, cached.</li>
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class InterruptRemapBench {
    static final long IRT = 0x10_0000L;
    static final RequesterId DEVICE = RequesterId.of(0, 1, 0);

    InterruptRemapping cached;
    InterruptRemapping uncached;
    long address;
    long shvAddress;
    int sub;
    Blackhole hole;
    final InterruptTarget target = (v, d, l, dm, tm, rh, sid, idx) -> hole.consume(v + d + idx);

    static InterruptRemapping unit(PhysicalMemory ram, int iecEntries) {
        IntelIommu iommu = new IntelIommu(VtdConfig.defaults(), ram, (a, d, s) -> { });
        iommu.interruptRemapping().setEntryCacheCapacity(iecEntries);
        iommu.store(VtdRegisters.IRTA, IRT | 7, 8);
        iommu.store(VtdRegisters.GCMD, VtdRegisters.GCMD_SIRTP & 0xffffffffL, 4);
        iommu.store(VtdRegisters.GCMD, VtdRegisters.GCMD_IRE & 0xffffffffL, 4);
        return iommu.interruptRemapping();
    }

    @Setup(Level.Trial)
    public void setUp(Blackhole bh) {
        hole = bh;
        PhysicalMemory ram = new PhysicalMemory(64L << 20);
        for (int i = 0; i < 256; i++) {
            ram.writeLong(IRT + 16L * i, 1 | ((long) (0x30 + (i & 0x7f)) << 16) | ((long) (i & 0xff) << 40));
            ram.writeLong(IRT + 16L * i + 8, (1L << 18) | DEVICE.value());
        }
        cached = unit(ram, 256);
        uncached = unit(ram, 0);
        address = InterruptRemapping.remappableAddress(17, false);
        shvAddress = InterruptRemapping.remappableAddress(64, true);
    }

    @Benchmark
    public int cachedIrte() {
        return cached.remap(address, 0, DEVICE.value(), target);
    }

    @Benchmark
    public int uncachedIrte() {
        return uncached.remap(address, 0, DEVICE.value(), target);
    }

    @Benchmark
    public int subhandleSweep() {
        sub = (sub + 1) & 63;
        return cached.remap(shvAddress, sub, DEVICE.value(), target);
    }
}
