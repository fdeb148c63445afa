package io.viommu.vtd;

import static io.viommu.vtd.VtdRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.memory.PhysAddr;
import io.viommu.pci.RequesterId;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Interrupt remapping against the VT-d spec (chapter 5, 9.10) and QEMU 7.2's
 * vtd_interrupt_remap_msi; where they differ the test name says which one is followed.
 */
class InterruptRemappingTest {
    static final long IRT = 0x130000;
    static final int EDU = VtdBench.EDU.value(); // 0x0008

    record Delivered(int vector, int destination, boolean logical, int deliveryMode, boolean level,
                     boolean redirectionHint, int sid, int index) {
    }

    final List<Delivered> delivered = new ArrayList<>();
    final InterruptTarget target = (v, d, l, dm, tm, rh, sid, idx) ->
            delivered.add(new Delivered(v, d, l, dm, tm, rh, sid, idx));
    VtdBench b;
    InterruptRemapping ir;

    @BeforeEach
    void setUp() {
        b = new VtdBench();
        ir = b.iommu.interruptRemapping();
    }

    /** IRTA (256 entries unless {@code sizeField} says otherwise), SIRTP, IRE. */
    void enable(int sizeField, boolean eime) {
        b.writeq(IRTA, IRT | (eime ? IRTA_EIME : 0) | sizeField);
        b.writel(GCMD, GCMD_SIRTP);
        b.writel(GCMD, GCMD_IRE);
    }

    void enable() {
        enable(7, false);
    }

    void irte(int index, long lo, long hi) {
        b.ram.writeLong(PhysAddr.of(Irte.address(IRT, index)), lo);
        b.ram.writeLong(PhysAddr.of(Irte.address(IRT, index) + 8), hi);
    }

    /** Present, fixed, edge, vector {@code v}, xAPIC destination {@code apic} (bits 47:40). */
    static long xapicEntry(int v, int apic) {
        return Irte.P | ((long) v << 16) | ((long) apic << 40);
    }

    int msi(int handle, int data) {
        return ir.remap(InterruptRemapping.remappableAddress(handle, false), data, EDU, target);
    }

    long frcdHi() {
        return b.frcdHi(0);
    }

    int recordedReason() {
        return (int) (frcdHi() >>> 32) & 0xff;
    }

    @Test
    void remappableMsiIsDeliveredWithTheIrteFieldsAndXapicDestinationFromBits47To40() {
        enable();
        irte(3, xapicEntry(0x41, 5) | Irte.DM | Irte.RH | Irte.TM | (1L << 5) | (0xabL << 32), 0);
        assertThat(msi(3, 0)).isEqualTo(InterruptRemapping.DELIVERED);
        assertThat(delivered).containsExactly(new Delivered(0x41, 5, true, 1, true, true, EDU, 3));
    }

    @Test
    void extendedInterruptModeUsesAll32DestinationBits() {
        enable(7, true);
        irte(0, Irte.P | (0x30L << 16) | (0x12345678L << 32), 0);
        msi(0, 0);
        assertThat(delivered).singleElement().extracting(Delivered::destination).isEqualTo(0x12345678);
    }

    @Test
    void remappingOffPassesEveryMessageThroughUnchangedAsQemu() {
        b.writeq(IRTA, IRT | 7);
        b.writel(GCMD, GCMD_SIRTP);
        assertThat(msi(0, 0)).isEqualTo(InterruptRemapping.PASS_THROUGH);
        assertThat(ir.remap(0xfee0_1000L, 0x31, EDU, target)).isEqualTo(InterruptRemapping.PASS_THROUGH);
        assertThat(delivered).isEmpty();
        assertThat(b.fsts()).isZero();
    }

    @Test
    void compatibilityFormatWithoutCfisIsBlockedAndRecordedAsFault25() {
        enable();
        assertThat(ir.remap(0xfee0_1000L, 0x31, EDU, target)).isEqualTo(0x25);
        assertThat(delivered).isEmpty();
        assertThat(b.frcdLo(0)).isZero();
        assertThat(frcdHi()).isEqualTo(FRCD_F | (0x25L << 32) | EDU);
        assertThat(b.fsts() & FSTS_PPF).isEqualTo(FSTS_PPF);
    }

    @Test
    void compatibilityFormatPassesOnceCfiIsSet() {
        enable();
        b.writel(GCMD, GCMD_IRE | GCMD_CFI);
        assertThat(ir.remap(0xfee0_1000L, 0x31, EDU, target)).isEqualTo(InterruptRemapping.PASS_THROUGH);
        assertThat(frcdHi()).isZero();
    }

    @Test
    void indexBeyondTheTableIsFault21WithTheIndexInFrcdBits63To48() {
        enable(0, false); // 2 entries
        assertThat(msi(5, 0)).isEqualTo(0x21);
        assertThat(b.frcdLo(0)).isEqualTo(5L << 48);
        assertThat(recordedReason()).isEqualTo(0x21);
        assertThat(frcdHi() & FRCD_T).as("T is 0 for interrupt requests").isZero();
    }

    @Test
    void notPresentEntryIsFault22UnlessItsFpdIsSet() {
        enable();
        assertThat(msi(7, 0)).isEqualTo(0x22);
        assertThat(b.frcdLo(0)).isEqualTo(7L << 48);
        assertThat(recordedReason()).isEqualTo(0x22);
        b.clearFault(0);
        irte(8, Irte.FPD, 0);
        assertThat(msi(8, 0)).isEqualTo(0x22);
        assertThat(frcdHi() & FRCD_F).isZero();
    }

    @Test
    void unreadableTableIsFault23() {
        b.writeq(IRTA, 0x2000_0000L | 7); // beyond the 256 MiB of RAM
        b.writel(GCMD, GCMD_SIRTP);
        b.writel(GCMD, GCMD_IRE);
        assertThat(msi(1, 0)).isEqualTo(0x23);
        assertThat(recordedReason()).isEqualTo(0x23);
        assertThat(b.frcdLo(0)).isEqualTo(1L << 48);
    }

    @Test
    void reservedBitsInTheEntryAreFault24AndFpdSuppressesIt() {
        enable();
        irte(2, xapicEntry(0x40, 0) | (1L << 12), 0);
        assertThat(msi(2, 0)).isEqualTo(0x24);
        assertThat(recordedReason()).isEqualTo(0x24);
        b.clearFault(0);
        irte(3, xapicEntry(0x40, 0), 1L << 20);
        assertThat(msi(3, 0)).isEqualTo(0x24);
        b.clearFault(0);
        irte(4, xapicEntry(0x40, 0) | Irte.FPD | (1L << 24), 0);
        assertThat(msi(4, 0)).isEqualTo(0x24);
        assertThat(frcdHi() & FRCD_F).isZero();
    }

    @Test
    void sourceIdMismatchUnderSvt01IsFault26AndSqMasksFunctionBits() {
        enable();
        int other = RequesterId.of(0, 1, 2).value(); // 00:01.2
        irte(0, xapicEntry(0x40, 0), (1L << 18) | other); // SVT=01, SQ=00: all 16 bits compared
        assertThat(msi(0, 0)).isEqualTo(0x26);
        assertThat(recordedReason()).isEqualTo(0x26);
        assertThat(frcdHi() & 0xffff).isEqualTo(EDU);
        b.clearFault(0);
        irte(1, xapicEntry(0x40, 0), (1L << 18) | (3L << 16) | other); // SQ=11: function ignored
        assertThat(msi(1, 0)).isEqualTo(InterruptRemapping.DELIVERED);
        irte(2, xapicEntry(0x40, 0), (1L << 18) | (1L << 16) | RequesterId.of(0, 1, 4).value()); // SQ=01: bit 2
        assertThat(msi(2, 0)).isEqualTo(InterruptRemapping.DELIVERED);
        irte(3, xapicEntry(0x40, 0), (1L << 18) | (1L << 16) | other); // SQ=01 still compares bit 1
        assertThat(msi(3, 0)).isEqualTo(0x26);
        irte(4, xapicEntry(0x40, 0), (1L << 18) | (2L << 16) | RequesterId.of(0, 1, 6).value()); // SQ=10: bits 2:1
        assertThat(msi(4, 0)).isEqualTo(InterruptRemapping.DELIVERED);
    }

    @Test
    void busRangeValidationChecksTheRequesterBusAndSvt11AlwaysFails() {
        enable();
        irte(0, xapicEntry(0x40, 0), (2L << 18) | 0x0201); // buses 1..2
        assertThat(msi(0, 0)).isEqualTo(0x26);
        assertThat(ir.remap(InterruptRemapping.remappableAddress(0, false), 0, 0x0208, target))
                .isEqualTo(InterruptRemapping.DELIVERED);
        b.clearFault(0);
        irte(1, xapicEntry(0x40, 0), 3L << 18);
        assertThat(msi(1, 0)).isEqualTo(0x26);
        irte(2, xapicEntry(0x40, 0) | Irte.FPD, 3L << 18);
        b.clearFault(0);
        assertThat(msi(2, 0)).isEqualTo(0x26);
        assertThat(frcdHi() & FRCD_F).as("FPD qualifies 0x26").isZero();
    }

    @Test
    void unknownSourceSkipsValidationAsQemuSidInvalid() {
        enable();
        irte(0, xapicEntry(0x40, 0), (1L << 18) | 0x1234);
        assertThat(ir.remap(InterruptRemapping.remappableAddress(0, false), 0, InterruptRemapping.NO_SOURCE,
                target)).isEqualTo(InterruptRemapping.DELIVERED);
    }

    @Test
    void subhandleIsAddedToTheHandleAndReservedDataBitsAreFault20WithIndex0() {
        enable();
        irte(7, xapicEntry(0x47, 1), 0);
        long addr = InterruptRemapping.remappableAddress(4, true);
        assertThat(ir.remap(addr, 3, EDU, target)).isEqualTo(InterruptRemapping.DELIVERED);
        assertThat(delivered).singleElement().extracting(Delivered::index).isEqualTo(7);
        assertThat(ir.remap(addr, 0x1_0003, EDU, target)).isEqualTo(0x20);
        assertThat(recordedReason()).isEqualTo(0x20);
        assertThat(b.frcdLo(0)).isZero();
    }

    @Test
    void withoutShvTheDataIsIgnoredAndTheIrteVectorWins() {
        enable();
        irte(0, xapicEntry(0x47, 1), 0);
        assertThat(msi(0, 0xffff_ff99)).isEqualTo(InterruptRemapping.DELIVERED);
        assertThat(delivered).singleElement().extracting(Delivered::vector).isEqualTo(0x47);
    }

    @Test
    void handleBit15ComesFromAddressBit2() {
        long a = InterruptRemapping.remappableAddress(0x8005, false);
        assertThat(a & 0x4).isEqualTo(4);
        assertThat(InterruptRemapping.handle(a)).isEqualTo(0x8005);
        assertThat(InterruptRemapping.handle(0xfee0_0010L | (0x7fffL << 5))).isEqualTo(0x7fff);
    }

    @Test
    void addressAboveFourGigabytesOrOutsideFeeIsFault20() {
        enable();
        assertThat(ir.remap(1L << 32 | 0xfee0_0010L, 0, EDU, target)).isEqualTo(0x20);
        b.clearFault(0);
        assertThat(ir.remap(0xfed0_0010L, 0, EDU, target)).isEqualTo(0x20);
        assertThat(recordedReason()).isEqualTo(0x20);
    }

    @Test
    void postedModeEntryIsReadAsRemappedFormatAsQemu() {
        enable();
        irte(0, xapicEntry(0x50, 2) | Irte.IM, 0);
        assertThat(msi(0, 0)).isEqualTo(InterruptRemapping.DELIVERED);
        assertThat(delivered).singleElement().extracting(Delivered::vector).isEqualTo(0x50);
    }

    @Test
    void withoutAnEntryCacheAChangedIrteTakesEffectAtOnceAsQemu() {
        enable();
        irte(0, xapicEntry(0x40, 0), 0);
        msi(0, 0);
        irte(0, xapicEntry(0x41, 0), 0);
        msi(0, 0);
        assertThat(delivered).extracting(Delivered::vector).containsExactly(0x40, 0x41);
        assertThat(ir.entryCacheCapacity()).isZero();
    }

    @Test
    void cachedIrteStaysInUseUntilAGlobalIecDescriptor() {
        ir.setEntryCacheCapacity(64);
        enable();
        b.enableQueue();
        irte(0, xapicEntry(0x40, 0), 0);
        msi(0, 0);
        assertThat(ir.entryCached(0)).isTrue();
        irte(0, xapicEntry(0x41, 0), 0);
        msi(0, 0);
        b.descriptor(0, InvalidationDescriptor.TYPE_IEC, 0); // G = 0: global
        b.tail(1);
        assertThat(ir.entryCached(0)).isFalse();
        msi(0, 0);
        assertThat(delivered).extracting(Delivered::vector).containsExactly(0x40, 0x40, 0x41);
    }

    @Test
    void indexSelectiveIecDescriptorDropsOnlyTheMaskedRange() {
        ir.setEntryCacheCapacity(64);
        enable();
        b.enableQueue();
        for (int i = 0; i < 8; i++) {
            irte(i, xapicEntry(0x40 + i, 0), 0);
            msi(i, 0);
        }
        // IIDX 5 with IM 1: indexes 4 and 5.
        b.descriptor(0, InvalidationDescriptor.TYPE_IEC | (1L << 4) | (1L << 27) | (5L << 32), 0);
        b.tail(1);
        for (int i = 0; i < 8; i++) {
            assertThat(ir.entryCached(i)).as("index %d", i).isEqualTo(i != 4 && i != 5);
        }
    }

    @Test
    void faultsAreNeverCachedAndSirtpEmptiesTheCache() {
        ir.setEntryCacheCapacity(16);
        enable();
        msi(1, 0);
        assertThat(ir.entryCached(1)).isFalse();
        irte(1, xapicEntry(0x40, 0), 0);
        assertThat(msi(1, 0)).isEqualTo(InterruptRemapping.DELIVERED);
        assertThat(ir.entryCached(1)).isTrue();
        b.writel(GCMD, GCMD_IRE | GCMD_SIRTP);
        assertThat(ir.entryCached(1)).isFalse();
    }

    @Test
    void cachedEntryStillHasItsSourceIdChecked() {
        ir.setEntryCacheCapacity(16);
        enable();
        irte(0, xapicEntry(0x40, 0), (1L << 18) | EDU);
        assertThat(msi(0, 0)).isEqualTo(InterruptRemapping.DELIVERED);
        assertThat(ir.remap(InterruptRemapping.remappableAddress(0, false), 0, 0x10, target)).isEqualTo(0x26);
    }

    @Test
    void interruptFaultRaisesTheFaultEventMsi() {
        b.writel(FEDATA, 0x55);
        b.writel(FEADDR, 0xfee0_2000L);
        b.writel(FECTL, 0);
        enable();
        msi(9, 0);
        assertThat(b.msis).containsExactly(new VtdBench.Msi(0xfee0_2000L, 0x55));
    }

    @Test
    void interruptAndDmaFaultsShareTheRecordingRingAndCompression() {
        enable();
        msi(9, 0);
        msi(10, 0); // same source, pending record: compressed
        assertThat(b.frcdLo(0)).isEqualTo(9L << 48);
        assertThat(ir.blockedCount()).isEqualTo(2);
        b.writeq(RTADDR, VtdBench.ROOT);
        b.writel(GCMD, GCMD_IRE | GCMD_SRTP);
        b.writel(GCMD, GCMD_IRE | GCMD_TE);
        b.read(0x1000); // root entry not present, same SID: not recorded
        assertThat(recordedReason()).isEqualTo(0x22);
    }

    @Test
    void intremapOffLeavesEveryInterruptUnremapped() {
        VtdBench off = VtdBench.withProps(java.util.Map.of("intremap", "off"));
        off.writeq(IRTA, IRT | 7);
        off.writel(GCMD, GCMD_SIRTP | GCMD_IRE);
        assertThat(off.iommu.interruptRemapping().remap(0xfee0_1000L, 0x31, EDU, target))
                .isEqualTo(InterruptRemapping.PASS_THROUGH);
    }

    @Test
    void irteDescribePrintsEveryField() {
        assertThat(Irte.describe(xapicEntry(0x41, 5), (1L << 18) | 8))
                .isEqualTo("IRTE[P=1 FPD=0 DM=0 RH=0 TM=0 DLM=0 IM=0 V=0x41 DST=0x00000500 SID=0x0008 SQ=0 SVT=1 "
                        + "rsvd=false lo=0x0000050000410001 hi=0x0000000000040008]");
    }
}
