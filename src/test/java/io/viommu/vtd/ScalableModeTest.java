package io.viommu.vtd;

import static io.viommu.vtd.ScalableBench.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaFault;
import io.viommu.pci.PasidPrefix;
import io.viommu.pci.Translation;
import io.viommu.pci.TranslationResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Scalable-mode translation, second level and pass-through (FRCD values are QEMU 7.2's for the
 * same tables, see ScalableModeConformanceTest), caches and PASID-based invalidation.
 */
class ScalableModeTest {
    static Translation ok(TranslationResult r) {
        assertThat(r).isInstanceOf(Translation.class);
        return (Translation) r;
    }

    static DmaFault fault(TranslationResult r) {
        assertThat(r).isInstanceOf(DmaFault.class);
        return (DmaFault) r;
    }

    @Test
    void secondLevelPgttTranslatesThroughTheRidPasidEntry() {
        ScalableBench s = new ScalableBench().enable();
        Translation t = ok(s.write(0x2010));
        assertThat(t.outputValue(0x2010)).isEqualTo(0x300010);
        assertThat(ok(s.read(0x1000)).writable()).isFalse();
        assertThat(s.b.fsts()).isZero();
        assertThat(s.iommu().iotlbContains(EDU, 0, io.viommu.memory.Iova.of(0x2000))).isTrue();
    }

    @Test
    void ridPasidOfTheContextEntrySelectsThePasidTableEntry() {
        ScalableBench s = new ScalableBench().context(PDIR | 1, 5);
        s.pasidEntry(5, SL_PE, 2, 0);
        s.enable();
        assertThat(ok(s.read(0x1000)).physPage().value()).isEqualTo(0x200000);
        fault(s.read(0x3000));
        // QEMU 7.2: PP = 1 and PV = RID_PASID on a walk fault (hi 0xc000050680000008).
        assertThat(s.frcdHi()).isEqualTo(0xc000050680000008L);
    }

    @Test
    void secondLevelReadFaultRecordsReason6WithPpAndPvZeroLikeQemu() {
        ScalableBench s = new ScalableBench().enable();
        DmaFault f = fault(s.read(0x3000));
        assertThat(f.reason()).isEqualTo(6);
        assertThat(s.frcdLo()).isEqualTo(0x3000);
        assertThat(s.frcdHi()).isEqualTo(0xc000000680000008L);
    }

    @Test
    void passThroughPgttIsIdentityAndNotCached() {
        ScalableBench s = new ScalableBench();
        s.pasidEntry(0, (1 << 2) | (4 << 6) | 1, 1, 0);
        s.enable();
        assertThat(ok(s.write(0x5000)).outputValue(0x5008)).isEqualTo(0x5008);
        assertThat(s.iommu().iotlbSize()).isZero();
    }

    /** Each row: what QEMU 7.2 recorded (FRCD hi) for the same bad entry and a read of 0x1000. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "PASID entry not present,     pe0,   0x102005,      c000005800000008",
            "pass-through with AW 0,      pe0,   0x101,         c000005800000008",
            "PGTT 0,                      pe0,   0x102005,      c000005800000008",
            "PGTT 5,                      pe0,   0x102145,      c000005800000008",
            "second level AW 0,           pe0,   0x102081,      c000005800000008",
            "AW 2 beyond aw-bits 39,      pe0,   0x102089,      c000005800000008",
            "first level (not offered),   pe0,   0x102045,      c000005800000008",
            "nested (not offered),        pe0,   0x1020c5,      c000005800000008",
            "PASID dir not present,       pdir,  0x107000,      c000005800000008",
            "PASID dir FPD not present,   pdir,  0x107002,      c000005800000008",
            "context not present,         ctx0,  0x106000,      c000000200000008",
            "context reserved bit 5,      ctx0,  0x106021,      c000000b00000008",
            "context reserved Q1 bit 21,  ctx1,  0x200000,      c000000b00000008",
            "context FPD and PE absent,   both,  0x106003,      c000005800000008",
            "root not present,            root,  0x101000,      c000000100000008",
            "root reserved lower half,    root,  0x101003,      c000000a00000008",
            "root reserved upper half,    rooth, 0x101003,      c000000a00000008",
            "RID_PASID 5 without entry,   ctx1,  0x5,           c000005800000008",
    })
    void badScalableEntriesRecordQemusReasons(String name, String where, String value, String frcdHi) {
        ScalableBench s = new ScalableBench();
        long v = Long.decode(value.trim());
        switch (where.trim()) {
            case "pe0" -> s.b.ram.writeLong(PTBL, v);
            case "pdir" -> s.b.ram.writeLong(PDIR, v);
            case "ctx0" -> s.b.ram.writeLong(CTX_EDU, v);
            case "ctx1" -> s.b.ram.writeLong(CTX_EDU + 8, v);
            case "both" -> {
                s.b.ram.writeLong(CTX_EDU, v);
                s.b.ram.writeLong(PTBL, SL_PE & ~1L);
            }
            case "root" -> s.b.ram.writeLong(ROOT, v);
            case "rooth" -> s.b.ram.writeLong(ROOT + 8, v);
            default -> throw new IllegalArgumentException(where);
        }
        s.enable();
        fault(s.read(0x1000));
        assertThat(Long.toHexString(s.frcdHi())).isEqualTo(frcdHi.trim());
        assertThat(s.frcdLo()).isEqualTo(0x1000);
    }

    @Test
    void upperRootHalfServesDevfn128AndAbove() {
        ScalableBench s = new ScalableBench();
        s.b.ram.writeLong(ROOT, 0);
        s.b.ram.writeLong(ROOT + 8, 0x10c000 | 1);
        s.b.ram.writeLong(0x10c000, PDIR | 1); // devfn 0x80 -> index 0 of the upper table
        s.enable();
        TranslationResult r = s.b.dma(io.viommu.pci.RequesterId.of(0, 0x80), 0x2000, DmaAccess.WRITE);
        assertThat(ok(r).physPage().value()).isEqualTo(0x300000);
        fault(s.read(0x1000)); // devfn 8: lower half not present
        assertThat(s.frcdReason()).isEqualTo(1);
    }

    @Test
    void pasidEntryFpdSuppressesWalkFaultsButNotQemusPasidTableFault() {
        ScalableBench s = new ScalableBench();
        s.pasidEntry(0, SL_PE | PasidEntry.FPD, 1, 0);
        s.enable();
        assertThat(fault(s.read(0x3000)).recorded()).isFalse();
        assertThat(s.b.fsts()).isZero();
    }

    @Test
    void specFaultCodesOptionRecordsScalableModeReasons() {
        ScalableBench s = new ScalableBench("x-sm-spec-faults=on").enable();
        assertThat(fault(s.read(0x3000)).reason()).isEqualTo(0x79);
        // no PASID prefix: PP and PV stay 0 with spec codes
        assertThat(s.frcdHi()).isEqualTo(0xc000007900000008L);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "root not present,            root,  0x0,        0x39",
            "root reserved,               root,  0x101003,   0x3a",
            "context not present,         ctx0,  0x106000,   0x41",
            "context reserved,            ctx0,  0x106021,   0x42",
            "RID_PASID beyond PDTS,       ctx1,  0x2000,     0x48",
            "PASID dir not present,       pdir,  0x107000,   0x51",
            "PASID dir reserved,          pdir,  0x107101,   0x52",
            "PASID entry not present,     pe0,   0x102084,   0x59",
            "PASID entry reserved,        pe0,   0x102c85,   0x5a",
            "PASID entry PGTT 0,          pe0,   0x102005,   0x5b",
            "top SL table unreadable,     pe0,   0x7f00000085, 0x7b",
    })
    void eachScalableFaultReasonIsRecordedWithItsSpecCode(String name, String where, String value, String code) {
        ScalableBench s = new ScalableBench("x-sm-spec-faults=on");
        long v = Long.decode(value.trim());
        switch (where.trim()) {
            case "pe0" -> s.b.ram.writeLong(PTBL, v);
            case "pdir" -> s.b.ram.writeLong(PDIR, v);
            case "ctx0" -> s.b.ram.writeLong(CTX_EDU, v);
            case "ctx1" -> s.b.ram.writeLong(CTX_EDU + 8, v);
            case "root" -> s.b.ram.writeLong(ROOT, v);
            default -> throw new IllegalArgumentException(where);
        }
        s.enable();
        assertThat(fault(s.read(0x1000)).reason()).isEqualTo(Integer.decode(code.trim()));
        assertThat(s.frcdReason()).isEqualTo(Integer.decode(code.trim()));
    }

    @Test
    void secondLevelReservedBitAndAddressBeyondAgawHaveSpecCodes() {
        ScalableBench s = new ScalableBench("x-sm-spec-faults=on");
        s.b.ram.writeLong(SL1 + 16, 0x300000 | 3 | (1L << 50));
        s.enable();
        assertThat(fault(s.write(0x2000)).reason()).isEqualTo(0x7a);
        assertThat(fault(s.read(1L << 40)).reason()).isEqualTo(0x83);
    }

    @Test
    void requestWithPasidNeedsPasidEnableInTheContextEntry() {
        ScalableBench s = new ScalableBench("x-sm-spec-faults=on").enable();
        assertThat(fault(s.dma(0x1000, DmaAccess.READ, PasidPrefix.of(0))).reason()).isEqualTo(0x45);
        // PP = 1 with PV = 0 (the prefix's PASID); a user request leaves PRIV clear
        long hi = s.frcdHi();
        assertThat(hi & (1L << 31)).isNotZero();
        assertThat((hi >>> 40) & 0xfffff).isZero();
        assertThat(hi & (1L << 29)).isZero();
    }

    @Test
    void requestWithPasidUsesItsOwnPasidEntryAndRecordsPvWithSpecCodes() {
        ScalableBench s = new ScalableBench("x-sm-spec-faults=on").context(PDIR | 1 | ScalableContextEntry.PASIDE, 0);
        s.pasidEntry(7, SL_PE, 3, 0);
        s.enable();
        assertThat(ok(s.dma(0x2000, DmaAccess.WRITE, PasidPrefix.of(7))).physPage().value()).isEqualTo(0x300000);
        fault(s.dma(0x3000, DmaAccess.READ, new PasidPrefix(7, true, false)));
        long hi = s.frcdHi();
        assertThat((hi >>> 40) & 0xfffff).isEqualTo(7);
        assertThat(hi & (1L << 31)).as("PP").isNotZero();
        assertThat(hi & (1L << 29)).as("PRIV").isNotZero();
        assertThat(s.iommu().iotlbContains(EDU, 7, io.viommu.memory.Iova.of(0x2000))).isTrue();
        assertThat(s.iommu().iotlbContains(EDU, 0, io.viommu.memory.Iova.of(0x2000))).isFalse();
    }

    @Test
    void requestWithPasidInLegacyModeIsBlockedWith0x31() {
        VtdBench b = new VtdBench().tables().enable();
        TranslationResult r = b.iommu.translate(new io.viommu.pci.DmaRequest(VtdBench.EDU,
                io.viommu.memory.Iova.of(0x200000), 8, DmaAccess.READ), PasidPrefix.of(1));
        assertThat(fault(r).reason()).isEqualTo(0x31);
    }

    @Test
    void changedPasidEntryIsUsedOnlyAfterPasidCacheInvalidation() {
        ScalableBench s = new ScalableBench().enable().enableQueue();
        ok(s.read(0x1000));
        // Repoint PASID 0 to a second-level table that maps 0x1000 elsewhere, and drop the IOTLB.
        s.b.ram.writeLong(0x10d000, SL2 | 3);
        s.b.ram.writeLong(0x10e000, 0); // unused
        s.b.ram.writeLong(PTBL, 0x10d000 | (1 << 2) | (2 << 6) | 1);
        s.b.ram.writeLong(SL2, 0x10f000 | 3);
        s.b.ram.writeLong(0x10f008, 0x500000 | 1);
        s.submit(0x12, 0); // IOTLB global (type 2, G=01)
        assertThat(ok(s.read(0x1000)).physPage().value()).as("cached PASID entry, old table -> same SL2")
                .isEqualTo(0x500000);
        // The PASID cache keeps the old SLPTPTR; prove it by breaking the new table only.
        s.b.ram.writeLong(0x10d000, 0);
        s.submit(0x12, 0);
        assertThat(ok(s.read(0x1000)).physPage().value()).isEqualTo(0x500000);
        s.submit(0x37, 0); // PASID-cache global (type 7, G=11)
        s.submit(0x12, 0);
        assertThat(s.iommu().pasidCacheSize()).isZero();
        fault(s.read(0x1000)); // now the new (broken) table is walked
    }

    @Test
    void pasidCacheDomainAndPasidSelectiveInvalidationDropOnlyTheirEntries() {
        ScalableBench s = new ScalableBench().enable().enableQueue();
        ok(s.read(0x1000));
        assertThat(s.iommu().pasidCacheSize()).isEqualTo(1);
        s.submit(0x7 | (2L << 16), 0); // domain 2: not ours
        assertThat(s.iommu().pasidCacheSize()).isEqualTo(1);
        s.submit(0x17 | (1L << 16) | (3L << 32), 0); // PASID 3 in domain 1: not ours
        assertThat(s.iommu().pasidCacheSize()).isEqualTo(1);
        s.submit(0x17 | (1L << 16), 0); // PASID 0 in domain 1
        assertThat(s.iommu().pasidCacheSize()).isZero();
    }

    @Test
    void domainSelectiveIotlbInvalidationDropsScalableEntriesOfThatDomain() {
        ScalableBench s = new ScalableBench().enable().enableQueue();
        ok(s.read(0x1000));
        s.submit(0x22 | (2L << 16), 0);
        assertThat(s.iommu().iotlbSize()).isEqualTo(1);
        s.submit(0x22 | (1L << 16), 0);
        assertThat(s.iommu().iotlbSize()).isZero();
    }

    @Test
    void pasidIotlbInvalidationLeavesSecondLevelEntries() {
        ScalableBench s = new ScalableBench().enable().enableQueue();
        ok(s.read(0x1000));
        s.submit(0x26 | (1L << 16), 0); // PASID-selective, PASID 0, domain 1
        assertThat(s.iommu().iotlbSize()).isEqualTo(1);
        assertThat(s.b.fsts()).isZero();
    }

    @Test
    void pasidDescriptorsAreAcceptedUncheckedLikeQemu() {
        ScalableBench s = new ScalableBench().enable().enableQueue();
        s.submit(0x06, 0);                  // PASID-IOTLB G=00
        s.submit(0x26 | (1L << 12), 0);     // reserved bit
        s.submit(0x27, 0);                  // PASID-cache G=10
        assertThat(s.b.fsts() & VtdRegisters.FSTS_IQE).isZero();
        s.submit(0x8, 0x1000);              // PASID device-TLB without device-iotlb: unknown type
        assertThat(s.b.fsts() & VtdRegisters.FSTS_IQE).isNotZero();
    }
}
