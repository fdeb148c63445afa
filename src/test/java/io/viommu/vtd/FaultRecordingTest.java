package io.viommu.vtd;

import static io.viommu.vtd.VtdBench.*;
import static io.viommu.vtd.VtdRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaFault;
import io.viommu.pci.RequesterId;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** FRCD ring, FSTS PPF/PFO/FRI, compression, the fault event (vtd_report_frcd_fault). */
class FaultRecordingTest {
    static final RequesterId OTHER = RequesterId.of(0, 2, 0);

    @Test
    void repeatFaultFromOneSourceIsCompressedWhileRecordPending() {
        VtdBench b = new VtdBench().tables().enable();
        b.write(0x203000);
        DmaFault second = (DmaFault) b.write(0x204000);
        assertThat(second.recorded()).isFalse();
        assertThat(b.frcdLo(0)).isEqualTo(0x203000);
        assertThat(b.fsts()).isEqualTo(FSTS_PPF);
        b.clearFault(0);
        assertThat(b.fsts()).isZero();
        assertThat(((DmaFault) b.write(0x204000)).recorded()).isTrue();
        assertThat(b.frcdLo(0)).isEqualTo(0x204000);
    }

    @Test
    void faultFromAnotherSourceWithOnlyRecordInUseSetsPfo() {
        VtdBench b = new VtdBench().tables().tables(OTHER).enable();
        b.write(0x203000);
        DmaFault f = (DmaFault) b.dma(OTHER, 0x203000, DmaAccess.WRITE);
        assertThat(f.recorded()).isFalse();
        assertThat(b.fsts()).isEqualTo(FSTS_PPF | FSTS_PFO);
        // PFO blocks further recording even after F is cleared, until PFO itself is cleared
        b.writel(FRCD + 12, 0x80000000L);
        assertThat(b.fsts()).isEqualTo(FSTS_PFO);
        assertThat(((DmaFault) b.dma(OTHER, 0x203000, DmaAccess.WRITE)).recorded()).isFalse();
        b.writel(FSTS, FSTS_PFO);
        assertThat(((DmaFault) b.dma(OTHER, 0x203000, DmaAccess.WRITE)).recorded()).isTrue();
        assertThat(b.frcdHi(0) & 0xffff).isEqualTo(OTHER.value());
    }

    @Test
    void moreFaultRecordsFormARingWithFriAtTheFirst() {
        VtdBench b = VtdBench.withProps(Map.of("fault-records", "3")).tables().tables(OTHER).enable();
        RequesterId third = RequesterId.of(0, 3, 0);
        b.tables(third);
        b.write(0x203000);
        b.dma(OTHER, 0x205000, DmaAccess.READ);
        b.dma(third, 0x206000, DmaAccess.WRITE);
        assertThat(b.frcdLo(0)).isEqualTo(0x203000);
        assertThat(b.frcdLo(1)).isEqualTo(0x205000);
        assertThat(b.frcdHi(1)).isEqualTo(0xc0ffff0600000010L);
        assertThat(b.frcdLo(2)).isEqualTo(0x206000);
        assertThat(b.fsts()).isEqualTo(FSTS_PPF); // FRI = 0
        assertThat(b.readl(0x220 + 3 * 16)).isZero(); // beyond the last record
        b.clearFault(0);
        b.clearFault(1);
        b.clearFault(2);
        b.dma(OTHER, 0x207000, DmaAccess.WRITE); // ring wrapped: lands in record 0
        assertThat(b.frcdLo(0)).isEqualTo(0x207000);
        b.clearFault(0);
        b.write(0x208000); // record 1, first of a new batch: FRI = 1
        assertThat(b.fsts()).isEqualTo(FSTS_PPF | (1 << FSTS_FRI_SHIFT));
    }

    @Test
    void faultEventMsiGoesToFeaddrWhenUnmaskedAndOnlyForTheFirstPendingFault() {
        VtdBench b = new VtdBench().tables().tables(OTHER).enable();
        b.writel(FEADDR, 0xfee00000L);
        b.writel(FEDATA, 0x30);
        b.writel(FECTL, 0);
        b.write(0x203000);
        assertThat(b.msis).containsExactly(new Msi(0xfee00000L, 0x30));
        assertThat(b.readl(FECTL)).isZero();
        b.dma(OTHER, 0x203000, DmaAccess.WRITE); // overflow while PPF pending: no new event
        assertThat(b.msis).hasSize(1);
    }

    @Test
    void maskedFaultEventLeavesIpSetUntilUnmaskedOrStatusCleared() {
        VtdBench b = new VtdBench().tables().enable();
        b.write(0x203000);
        assertThat(b.readl(FECTL)).isEqualTo(0xc0000000L);
        assertThat(b.msis).isEmpty();
        b.clearFault(0);
        assertThat(b.readl(FECTL)).isEqualTo(0x80000000L); // FSTS write with nothing pending clears IP
        b.write(0x204000);
        b.writel(FECTL, 0);
        assertThat(b.msis).hasSize(1);
        assertThat(b.readl(FECTL)).isZero();
    }

    @Test
    void disablingTranslationRestartsTheRecordIndex() {
        VtdBench b = VtdBench.withProps(Map.of("fault-records", "2")).tables().enable();
        b.write(0x203000);
        b.clearFault(0);
        b.writel(GCMD, 0);
        b.writel(GCMD, GCMD_TE);
        b.write(0x204000);
        assertThat(b.frcdLo(0)).isEqualTo(0x204000);
    }

    @Test
    void quadWriteToRecordHighHalfClearsFAndPpf() {
        VtdBench b = new VtdBench().tables().enable();
        b.write(0x203000);
        b.writeq(FRCD + 8, FRCD_F);
        assertThat(b.frcdHi(0) & FRCD_F).isZero();
        assertThat(b.fsts()).isZero();
        assertThat(b.frcdHi(0)).isEqualTo(0x00ffff0500000008L);
    }
}
