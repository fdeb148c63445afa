package io.viommu.conformance;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Proves the generated scripts mean what they claim by running them on QEMU 7.2 alone and
 * checking the outcome each generator intends (data arrives where mapped, the fault with the
 * expected reason is recorded, invalidation makes a changed mapping visible...). Fixed seeds:
 * this also documents QEMU's behaviour; the differential test then holds viommu to the same
 * replies.
 */
class QemuOracleSelfTest {

    @BeforeAll
    static void qemu() {
        Differential.requireQemu();
    }

    @Test
    void dmaThroughThreeLevelTablesReachesTheMappedPages() {
        Differential.assertQemuMeetsExpectations(DmaScenarios.translationBatch(1, "", 12));
    }

    @Test
    void dmaThroughFourLevelTablesReachesTheMappedPages() {
        Differential.assertQemuMeetsExpectations(DmaScenarios.translationBatch(2, "aw-bits=48", 12));
    }

    @Test
    void everyFaultReasonIsRecordedAsIntended() {
        Differential.assertQemuMeetsExpectations(FaultScenarios.faultBatch(3, ""));
    }

    @Test
    void faultReasonsDependOnOptions() {
        Differential.assertQemuMeetsExpectations(
                FaultScenarios.faultBatch(4, "aw-bits=48,device-iotlb=on,pt=off,snoop-control=on"));
    }

    @Test
    void resetRegistersMatchTheDocumentedCapEcapForEveryOptionSet() {
        for (String o : RegisterScenarios.OPTION_SETS) {
            Differential.assertQemuMeetsExpectations(RegisterScenarios.resetBatch(5, o));
        }
    }

    @Test
    void gcmdSequencesMoveGstsAsIntended() {
        Differential.assertQemuMeetsExpectations(RegisterScenarios.gcmdBatch(6, ""));
        Differential.assertQemuMeetsExpectations(RegisterScenarios.gcmdBatch(7, "intremap=off"));
    }

    @Test
    void randomRegisterWritesNeverStopQemu() {
        for (long seed = 8; seed < 12; seed++) {
            Differential.assertQemuMeetsExpectations(RegisterScenarios.randomWriteBatch(seed, "", 300));
        }
        Differential.assertQemuMeetsExpectations(RegisterScenarios.randomWriteBatch(12, "x-scalable-mode=on", 300));
    }

    @Test
    void invalidationDecidesBetweenStaleAndFreshTranslations() {
        Differential.assertQemuMeetsExpectations(InvalidationScenarios.invalidationBatch(13, ""));
    }

    @Test
    void invalidationWithCachingModeAndFourLevels() {
        Differential.assertQemuMeetsExpectations(InvalidationScenarios.invalidationBatch(14, "caching-mode=on,aw-bits=48"));
    }
}
