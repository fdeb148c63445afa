package io.viommu.conformance;

import java.util.ArrayList;
import java.util.List;

/**
 * The batches of the differential suite, derived from one base seed (property
 * {@code viommu.diff.seed}, default fixed so CI is reproducible). Sized so that QEMU's real-time
 * waits keep the whole suite within about a minute on two cores.
 */
final class DifferentialSuite {
    static final long DEFAULT_SEED = 0x5EED_2024L;

    private DifferentialSuite() {}

    static long baseSeed() {
        return Long.getLong("viommu.diff.seed", DEFAULT_SEED);
    }

    static List<Batch> batches(long base) {
        List<Batch> b = new ArrayList<>();
        long seed = base;
        for (String o : RegisterScenarios.OPTION_SETS) {
            b.add(RegisterScenarios.resetBatch(seed++, o));
        }
        for (String o : List.of("", "intremap=off", "x-scalable-mode=on", "caching-mode=on")) {
            b.add(RegisterScenarios.gcmdBatch(seed++, o));
        }
        for (String o : List.of("", "", "x-scalable-mode=on", "caching-mode=on,aw-bits=48")) {
            b.add(RegisterScenarios.randomWriteBatch(seed++, o, 300));
        }
        b.add(DmaScenarios.translationBatch(seed++, "", 18));
        b.add(DmaScenarios.translationBatch(seed++, "aw-bits=48", 18));
        b.add(DmaScenarios.translationBatch(seed++, "caching-mode=on,aw-bits=48", 12));
        b.add(FaultScenarios.faultBatch(seed++, ""));
        b.add(FaultScenarios.faultBatch(seed++, "aw-bits=48,device-iotlb=on,pt=off,snoop-control=on"));
        b.add(InvalidationScenarios.invalidationBatch(seed++, ""));
        b.add(InvalidationScenarios.invalidationBatch(seed++, "caching-mode=on,aw-bits=48"));
        return b;
    }
}
