package io.viommu.vtd;

import static io.viommu.vtd.VtdBench.*;
import static io.viommu.vtd.VtdRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.pci.Translation;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Queued invalidation; expectations from QEMU 7.2 runs of the same descriptors. */
class QueuedInvalidationTest {
    final VtdBench b = new VtdBench();

    static long wait(int data) {
        return 0x25 | ((long) data << 32);
    }

    @Test
    void waitDescriptorWritesStatusAndHeadFollowsTail() {
        b.enableQueue();
        assertThat(b.readl(GSTS)).isEqualTo(GSTS_QIES);
        assertThat(b.readq(IQA)).isEqualTo(IQ);
        b.descriptor(0, 0x12, 0); // IOTLB global
        b.descriptor(1, wait(0xabcd), STATUS);
        b.tail(2);
        assertThat(b.readq(IQH)).isEqualTo(0x20);
        assertThat(b.ram.readInt(STATUS)).isEqualTo(0xabcd);
        assertThat(b.fsts()).isZero();
    }

    @Test
    void badDescriptorStopsProcessingWithIqeAndHeadOnIt() {
        b.enableQueue();
        b.descriptor(0, 0x12, 0);
        b.descriptor(1, wait(0xabcd), STATUS);
        b.tail(2);
        b.descriptor(2, 0xf, 0);
        b.descriptor(3, wait(0x1111), STATUS);
        b.tail(4);
        assertThat(b.readq(IQH)).isEqualTo(0x20);
        assertThat(b.ram.readInt(STATUS)).isEqualTo(0xabcd);
        assertThat(b.fsts()).isEqualTo(FSTS_IQE);
        assertThat(b.readl(FECTL)).isEqualTo(0xc0000000L);
        assertThat(b.readq(IQER)).isZero();
        assertThat(b.iommu.queueState()).isEqualTo(QueueState.ERROR);
        // fixed descriptor, but IQE still set: nothing happens on a tail write
        b.descriptor(2, 0x12, 0);
        b.tail(4);
        assertThat(b.readq(IQH)).isEqualTo(0x20);
        // clearing IQE clears FECTL.IP; the next tail write resumes
        b.writel(FSTS, FSTS_IQE);
        assertThat(b.fsts()).isZero();
        assertThat(b.readl(FECTL)).isEqualTo(0x80000000L);
        assertThat(b.iommu.queueState()).isEqualTo(QueueState.ENABLED);
        b.tail(4);
        assertThat(b.readq(IQH)).isEqualTo(0x40);
        assertThat(b.ram.readInt(STATUS)).isEqualTo(0x1111);
        // last descriptor was a wait and the queue is drained: QI can be disabled, IQH resets
        b.writel(GCMD, 0);
        assertThat(b.readl(GSTS)).isZero();
        assertThat(b.readq(IQH)).isZero();
        assertThat(b.readq(IQT)).isEqualTo(0x40);
        assertThat(b.iommu.queueState()).isEqualTo(QueueState.DISABLED);
    }

    @Test
    void disablingIsRefusedUnlessTheLastDescriptorWasAWait() {
        b.enableQueue();
        b.descriptor(0, 0x12, 0);
        b.tail(1);
        b.writel(GCMD, 0);
        assertThat(b.readl(GSTS)).isEqualTo(GSTS_QIES);
    }

    @Test
    void tailBeyondQueueSizeIsAnError() {
        b.enableQueue();
        b.writeq(IQT, 0x7fff0);
        assertThat(b.fsts()).isEqualTo(FSTS_IQE);
        assertThat(b.readq(IQH)).isZero();
    }

    @Test
    void tailWrittenBeforeEnableIsProcessedOnEnable() {
        b.descriptor(0, wait(0x99), STATUS);
        b.tail(1);
        b.enableQueue();
        assertThat(b.ram.readInt(STATUS)).isEqualTo(0x99);
        assertThat(b.readq(IQH)).isEqualTo(0x10);
    }

    @Test
    void interruptFlagSetsIwcAndSendsCompletionMsiWhenUnmasked() {
        b.enableQueue();
        b.writel(IEADDR, 0xfee01000L);
        b.writel(IEDATA, 0x41);
        b.writel(IECTL, 0);
        b.descriptor(0, 0x15, 0);
        b.tail(1);
        assertThat(b.readl(ICS)).isEqualTo(1);
        assertThat(b.readl(IECTL)).isZero();
        assertThat(b.msis).containsExactly(new Msi(0xfee01000L, 0x41));
        // masked, IWC still pending: no new event, IP stays clear
        b.writel(IECTL, 0x80000000L);
        b.descriptor(1, 0x15, 0);
        b.tail(2);
        assertThat(b.readl(IECTL)).isEqualTo(0x80000000L);
        b.writel(ICS, 1);
        assertThat(b.readl(ICS)).isZero();
        b.descriptor(2, 0x15, 0);
        b.tail(3);
        assertThat(b.readl(ICS)).isEqualTo(1);
        assertThat(b.readl(IECTL)).isEqualTo(0xc0000000L);
        // unmasking with IP pending delivers it
        b.writel(IECTL, 0);
        assertThat(b.readl(IECTL)).isZero();
        assertThat(b.msis).hasSize(2);
    }

    @Test
    void waitWithStatusWriteAndInterruptFlagDoesBoth() {
        b.enableQueue();
        b.writel(IECTL, 0);
        b.descriptor(0, 0x35 | (7L << 32), STATUS);
        b.tail(1);
        assertThat(b.ram.readInt(STATUS)).isEqualTo(7);
        assertThat(b.readl(ICS)).isEqualTo(1);
        assertThat(b.msis).hasSize(1);
        assertThat(b.fsts()).isZero();
    }

    @Test
    void queuedIotlbInvalidationRemovesStaleEntry() {
        b.tables().enable().enableQueue();
        assertThat(((Translation) b.write(0x200000)).physPage().value()).isEqualTo(0x300000);
        b.ram.writeLong(L1, 0x310003);
        assertThat(((Translation) b.write(0x200000)).physPage().value()).isEqualTo(0x300000);
        b.descriptor(0, 0x32 | (1L << 16), 0x200000); // page-selective, domain 1
        b.descriptor(1, wait(1), STATUS);
        b.tail(2);
        assertThat(((Translation) b.write(0x200000)).physPage().value()).isEqualTo(0x310000);
    }

    @Test
    void deviceTlbAndInterruptEntryDescriptorsReachListeners() {
        List<String> heard = new ArrayList<>();
        b.iommu.addInvalidationListener(new InvalidationListener() {
            @Override
            public void deviceTlb(io.viommu.pci.RequesterId sid, io.viommu.memory.Iova addr, long size) {
                heard.add("devtlb " + sid.value() + " " + Long.toHexString(addr.value()) + " " + size);
            }

            @Override
            public void interruptEntryCache(boolean global, int index, int indexMask) {
                heard.add("iec " + global + " " + index + " " + indexMask);
            }
        });
        b.enableQueue();
        b.descriptor(0, 0x3 | (0x08L << 32), 0x5000 | 1); // S=1, one trailing 1 above bit 12: 16 KiB
        b.descriptor(1, 0x4 | 0x10 | (3L << 27) | (40L << 32), 0);
        b.descriptor(2, 0x4, 0);
        b.tail(3);
        assertThat(heard).containsExactly("devtlb 8 4000 16384", "iec false 40 3", "iec true 0 0");
    }

    /** lo;hi -> whether QEMU 7.2 accepted the descriptor (IQH advanced) or raised IQE. */
    @ParameterizedTest(name = "lo={0} hi={1}")
    @CsvSource(delimiter = ';', value = {
            "3; 0; true", "4; 0; true", "fffffffe4; 0; true", "4; 1; true", "6; 0; true", "7; 0; true",
            "8; 0; false", "9; 0; false", "0; 0; false",
            "500000065; 120000; true", "6000000a5; 120000; false", "125; 120000; false", "25; 120001; false",
            "25; 120004; true", "45; 0; false", "5; 0; false", "25; 20000000; false",
            "11; 1; false", "51; 0; false", "1000000000011; 0; true", "4000000000011; 0; false",
            "1; 0; false", "31; 0; true", "21; 0; true",
            "112; 0; false", "32; 13; false", "32; 80; false", "32; 40; true", "32; 12; true", "32; 1000; true",
            "2; 0; false", "10000000012; 0; false", "d2; 0; true",
            "ff0003; 0; false", "3; ffe; false", "b; 0; false", "100003; 0; true", "f003; 0; false",
            "1000000000003; 0; false",
    })
    void descriptorValidityMatchesQemu(String lo, String hi, boolean accepted) {
        b.enableQueue();
        b.descriptor(0, Long.parseUnsignedLong(lo.trim(), 16), Long.parseUnsignedLong(hi.trim(), 16));
        b.tail(1);
        assertThat(b.readq(IQH)).isEqualTo(accepted ? 0x10 : 0);
        assertThat(b.fsts()).isEqualTo(accepted ? 0 : FSTS_IQE);
    }

    @Test
    void wideDescriptorsOnlyInScalableModeWithHeadInUnitsOf32Bytes() {
        VtdBench sm = VtdBench.withProps(java.util.Map.of("x-scalable-mode", "on"));
        sm.ram.writeLong(IQ, wait(0x77));
        sm.ram.writeLong(IQ + 8, STATUS);
        sm.writeq(IQA, IQ | IQA_DW);
        sm.writel(GCMD, GCMD_QIE);
        sm.writeq(IQT, 0x10); // bit 4 with 256-bit descriptors: ignored, as QEMU 7.2
        assertThat(sm.readq(IQH)).isZero();
        sm.writeq(IQT, 0x20);
        assertThat(sm.readq(IQH)).isEqualTo(0x20);
        assertThat(sm.ram.readInt(STATUS)).isEqualTo(0x77);
        // legacy mode: DW is stored but descriptors stay 128-bit
        b.writeq(IQA, IQ | IQA_DW);
        b.writel(GCMD, GCMD_QIE);
        b.descriptor(0, wait(1), STATUS);
        b.tail(1);
        assertThat(b.readq(IQH)).isEqualTo(0x10);
    }

    @Test
    void descriptorDecoderPrintsFields() {
        assertThat(InvalidationDescriptor.describe(0x25 | (5L << 32), 0x120000))
                .isEqualTo("wait[IF=0 SW=1 FN=0 data=0x5 addr=0x120000]");
        assertThat(InvalidationDescriptor.describe(0x32 | (1L << 16), 0x200041))
                .isEqualTo("iotlb-inv[G=3 DR=0 DW=0 DID=1 ADDR=0x200000 IH=1 AM=1]");
    }
}
