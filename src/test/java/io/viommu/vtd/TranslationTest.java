package io.viommu.vtd;

import static io.viommu.vtd.VtdBench.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaFault;
import io.viommu.pci.Translation;
import io.viommu.pci.TranslationResult;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Translation and fault reasons. The FRCD values are what QEMU 7.2 recorded for the same
 * tables and an edu DMA from 00:01.0 (scripts in the report).
 */
class TranslationTest {
    final VtdBench b = new VtdBench().tables();

    static Translation ok(TranslationResult r) {
        assertThat(r).isInstanceOf(Translation.class);
        return (Translation) r;
    }

    static DmaFault fault(TranslationResult r) {
        assertThat(r).isInstanceOf(DmaFault.class);
        return (DmaFault) r;
    }

    @Test
    void translationOffIsIdentity() {
        Translation t = ok(b.write(0x12345678));
        assertThat(t.outputValue(0x12345678)).isEqualTo(0x12345678);
        assertThat(t.pageSize()).isEqualTo(4096);
    }

    @Test
    void threeLevelWalkTranslatesWithPermissions() {
        b.enable();
        Translation rw = ok(b.write(0x200010));
        assertThat(rw.outputValue(0x200010)).isEqualTo(0x300010);
        assertThat(rw.readable()).isTrue();
        assertThat(rw.writable()).isTrue();
        Translation ro = ok(b.read(0x201000));
        assertThat(ro.physPage().value()).isEqualTo(0x301000);
        assertThat(ro.writable()).isFalse();
        assertThat(b.fsts()).isZero();
    }

    @Test
    void twoMegabyteSuperpage() {
        b.ram.writeLong(PhysAddr.of(L2 + 8), 0x400000 | 0x80 | 3);
        b.enable();
        Translation t = ok(b.write(0x2ff000));
        assertThat(t.pageSize()).isEqualTo(2 << 20);
        assertThat(t.outputValue(0x2ff123)).isEqualTo(0x4ff123);
    }

    @Test
    void oneGigabyteSuperpage() {
        b.ram.writeLong(PhysAddr.of(L3), 0x40000000L | 0x80 | 3);
        b.enable();
        Translation t = ok(b.write(0x201000));
        assertThat(t.pageSize()).isEqualTo(1 << 30);
        assertThat(t.outputValue(0x201000)).isEqualTo(0x40201000L);
    }

    @Test
    void fourLevelWalkWithAwBits48() {
        VtdBench b4 = VtdBench.withProps(Map.of("aw-bits", "48")).tables();
        b4.ram.writeLong(PhysAddr.of(b4.contextLo(EDU) + 8), 0x102);
        b4.ram.writeLong(PhysAddr.of(b4.contextLo(EDU)), L4 | 1);
        b4.ram.writeLong(PhysAddr.of(L4 + 8), L3 | 3);
        b4.enable();
        assertThat(ok(b4.write(0x8000200000L)).outputValue(0x8000200008L)).isEqualTo(0x300008);
        DmaFault f = fault(b4.write(0x200000));
        assertThat(f.reason()).isEqualTo(5);
        assertThat(b4.frcdHi(0)).isEqualTo(0x80ffff0500000008L);
    }

    @Test
    void fiveLevelWalkWithAwBits57Extension() {
        VtdBench b5 = VtdBench.withProps(Map.of("aw-bits", "57")).tables();
        long l5 = 0x106000;
        b5.ram.writeLong(PhysAddr.of(b5.contextLo(EDU) + 8), 0x103);
        b5.ram.writeLong(PhysAddr.of(b5.contextLo(EDU)), l5 | 1);
        b5.ram.writeLong(PhysAddr.of(l5 + 2 * 8), L4 | 3);
        b5.ram.writeLong(PhysAddr.of(L4 + 8), L3 | 3);
        b5.enable();
        long iova = (2L << 48) | (1L << 39) | 0x200000;
        assertThat(ok(b5.write(iova)).outputValue(iova)).isEqualTo(0x300000);
        assertThat(fault(b5.write(1L << 57)).reason()).isEqualTo(4);
    }

    @Test
    void writeToReadOnlyPageRecordsFaultReason5WithQemusPv() {
        b.enable();
        DmaFault f = fault(b.write(0x201000));
        assertThat(f.reason()).isEqualTo(5);
        assertThat(f.recorded()).isTrue();
        assertThat(b.fsts()).isEqualTo(2);
        assertThat(b.frcdLo(0)).isEqualTo(0x201000);
        assertThat(b.frcdHi(0)).isEqualTo(0x80ffff0500000008L);
    }

    @Test
    void readOfWriteOnlyPageRecordsFaultReason6WithTypeBit() {
        b.enable();
        assertThat(fault(b.read(0x202000)).reason()).isEqualTo(6);
        assertThat(b.frcdHi(0)).isEqualTo(0xc0ffff0600000008L);
    }

    @Test
    void writeThroughCachedReadOnlyTranslationFailsWithoutRecord() {
        b.enable();
        ok(b.read(0x201000));
        DmaFault f = fault(b.write(0x201000));
        assertThat(f.recorded()).isFalse();
        assertThat(b.fsts()).isZero();
        // after a global IOTLB invalidation the walk runs and records reason 5
        b.writeq(VtdRegisters.IOTLB, VtdRegisters.IOTLB_IVT | VtdRegisters.IOTLB_IIRG_GLOBAL);
        assertThat(fault(b.write(0x201000)).recorded()).isTrue();
        assertThat(b.frcdHi(0)).isEqualTo(0x80ffff0500000008L);
    }

    /** Each row: a table change, the faulting IOVA and access, the FRCD hi QEMU 7.2 recorded. */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {
            "rootNotPresent;        ROOT=0;                    200000; W; 8000000100000008",
            "contextNotPresent;     CTX80=0;                   200000; W; 8000000200000008",
            "contextAw0;            CTX88=100;                 200000; W; 8000000300000008",
            "contextAw2Unsupported; CTX88=102;                 200000; W; 8000000300000008",
            "ttDevIotlbWithoutDt;   CTX80=102005;              200000; W; 8000000300000008",
            "ttReserved;            CTX80=10200d;              200000; W; 8000000300000008",
            "pteUnreadable;         L2+8=20000003;             200000; W; 80ffff0700000008",
            "topTableUnreadable;    CTX80=20000001;            200000; W; 80ffff0300000008",
            "contextTableUnreadable;ROOT=20000001;             200000; W; 8000000900000008",
            "rootHiReserved;        ROOT+8=1;                  200000; W; 8000000a00000008",
            "rootLoReserved;        ROOT=101011;               200000; W; 8000000a00000008",
            "contextLoReserved;     CTX80=102011;              200000; W; 8000000b00000008",
            "contextHiBit7;         CTX88=181;                 200000; W; 8000000b00000008",
            "contextHiBit30;        CTX88=40000101;            200000; W; 8000000b00000008",
            "pteSnpReserved;        L1=300803;                 200000; W; 80ffff0c00000008",
            "pteAboveHaw;           L1=200000300003;           200000; W; 80ffff0c00000008",
            "pteTmWithoutDt;        L1=4000000000300003;       200000; W; 80ffff0c00000008",
            "psInTopLevelAligned;   L3=103083;                 200000; W; 80ffff0c00000008",
            "middleLevelReserved;   L2+8=104803;               200000; W; 80ffff0c00000008",
            "middleLevelReadOnly;   L2+8=104001;               200000; W; 80ffff0500000008",
            "pteNotPresent;         NONE=0;                    203000; W; 80ffff0500000008",
            "pteNotPresentRead;     NONE=0;                    203000; R; c0ffff0600000008",
            "superpageMisaligned;   L2+8=401083;               200000; W; 80ffff0c00000008",
            "interruptRangeOutput;  L1=fee00003;               200000; W; 80ffff0e00000008",
            "interruptRange2M;      L2+8=fee00083;             2ff000; W; 80ffff0e00000008",
            "allOnesPte;            L1=ffffffffffffffff;       200000; W; 80ffff0700000008",
            "beyondAgaw39;          NONE=0;                    8000000000; W; 80ffff0400000008",
            "beyondAgaw39Read;      NONE=0;                    8000000000; R; c0ffff0400000008",
    })
    void faultReasonsMatchQemu(String name, String change, String iova, String access, String frcdHi) {
        apply(b, change.trim());
        b.enable();
        long a = Long.parseLong(iova.trim(), 16);
        DmaFault f = fault(b.dma(EDU, a, access.trim().equals("W") ? DmaAccess.WRITE : DmaAccess.READ));
        assertThat(f.recorded()).isTrue();
        assertThat(b.fsts()).isEqualTo(2);
        assertThat(b.frcdLo(0)).isEqualTo(a & ~0xfffL);
        assertThat(b.frcdHi(0)).isEqualTo(Long.parseUnsignedLong(frcdHi.trim(), 16));
        assertThat(f.reason()).isEqualTo((int) (b.frcdHi(0) >>> 32) & 0xff);
    }

    static void apply(VtdBench b, String change) {
        String[] kv = change.split("=");
        long v = Long.parseUnsignedLong(kv[1], 16);
        long addr = switch (kv[0]) {
            case "ROOT" -> ROOT;
            case "ROOT+8" -> ROOT + 8;
            case "CTX80" -> CTX + 0x80;
            case "CTX88" -> CTX + 0x88;
            case "L1" -> L1;
            case "L2+8" -> L2 + 8;
            case "L3" -> L3;
            case "NONE" -> -1;
            default -> throw new IllegalArgumentException(kv[0]);
        };
        if (addr >= 0) {
            b.ram.writeLong(PhysAddr.of(addr), v);
        }
    }

    @Test
    void rootTableAboveRamFaultsReason8AndAboveHawWrapsToAddressZero() {
        b.writeq(VtdRegisters.RTADDR, 0x20000000L);
        b.writel(VtdRegisters.GCMD, VtdRegisters.GCMD_SRTP);
        b.writel(VtdRegisters.GCMD, VtdRegisters.GCMD_TE);
        fault(b.write(0x200000));
        assertThat(b.frcdHi(0)).isEqualTo(0x8000000800000008L);

        VtdBench c = new VtdBench().tables();
        c.writeq(VtdRegisters.RTADDR, 0x8000000000L); // bit 39: masked off by HAW 39 -> root at 0
        c.writel(VtdRegisters.GCMD, VtdRegisters.GCMD_SRTP);
        c.writel(VtdRegisters.GCMD, VtdRegisters.GCMD_TE);
        fault(c.write(0x200000));
        assertThat(c.frcdHi(0)).isEqualTo(0x8000000100000008L);
    }

    @Test
    void fpdSuppressesQualifiedFaultsOnly() {
        b.ram.writeLong(PhysAddr.of(CTX + 0x80), L3 | 1 | 2);
        b.enable();
        DmaFault f = fault(b.read(0x202000));
        assertThat(f.reason()).isEqualTo(6);
        assertThat(f.recorded()).isFalse();
        assertThat(fault(b.write(0x8000000000L)).recorded()).isFalse();
        b.ram.writeLong(PhysAddr.of(L1), 0xfee00003L);
        assertThat(fault(b.write(0x200000)).recorded()).isFalse();
        assertThat(b.fsts()).isZero();
        // context not present with FPD set: suppressed (QEMU honours FPD of a non-present entry)
        b.ram.writeLong(PhysAddr.of(CTX + 0x80), 2);
        b.writeq(VtdRegisters.CCMD, VtdRegisters.CCMD_ICC | VtdRegisters.CCMD_CIRG_GLOBAL);
        assertThat(fault(b.write(0x200000)).recorded()).isFalse();
        // root not present is not qualified: recorded despite FPD
        b.ram.writeLong(PhysAddr.of(ROOT), 0);
        b.writeq(VtdRegisters.CCMD, VtdRegisters.CCMD_ICC | VtdRegisters.CCMD_CIRG_GLOBAL);
        assertThat(fault(b.write(0x200000)).recorded()).isTrue();
    }

    @Test
    void passThroughIsIdentityAndNeedsPt() {
        b.ram.writeLong(PhysAddr.of(CTX + 0x80), L3 | 1 | 8);
        b.enable();
        assertThat(ok(b.write(0x5000)).outputValue(0x5000)).isEqualTo(0x5000);
        assertThat(b.iommu.iotlbSize()).isZero();

        VtdBench noPt = VtdBench.withProps(Map.of("pt", "off")).tables();
        noPt.ram.writeLong(PhysAddr.of(CTX + 0x80), L3 | 1 | 8);
        noPt.enable();
        assertThat(fault(noPt.write(0x5000)).reason()).isEqualTo(3);
    }

    @Test
    void deviceIotlbAllowsTt01AndTmBit() {
        VtdBench dt = VtdBench.withProps(Map.of("device-iotlb", "on")).tables();
        dt.ram.writeLong(PhysAddr.of(CTX + 0x80), L3 | 1 | 4);
        dt.ram.writeLong(PhysAddr.of(L1), 0x4000000000300003L);
        dt.enable();
        assertThat(ok(dt.write(0x200000)).physPage().value()).isEqualTo(0x300000);
    }

    @Test
    void snoopControlAllowsSnpInLeaves() {
        VtdBench sc = VtdBench.withProps(Map.of("snoop-control", "on")).tables();
        sc.ram.writeLong(PhysAddr.of(L1), 0x300803L);
        sc.enable();
        ok(sc.write(0x200000));
    }

    @Test
    void ignoredBitsDoNotFault() {
        b.ram.writeLong(PhysAddr.of(L1), 0x300003L | (1L << 55) | (1L << 63) | (1L << 8));
        b.enable();
        ok(b.write(0x200000));
    }

    @Test
    void iovaInInterruptRangeIsNotTranslated() {
        b.enable();
        Translation t = ok(b.write(0xfee00000L));
        assertThat(t.outputValue(0xfee00004L)).isEqualTo(0xfee00004L);
        assertThat(b.fsts()).isZero();
    }

    @Test
    void dmaTranslationOffMakesEveryContextInvalid() {
        VtdBench off = VtdBench.withProps(Map.of("dma-translation", "off")).tables();
        off.enable();
        assertThat(fault(off.write(0x200000)).reason()).isEqualTo(3);
    }

    @Test
    void hitPathReturnsTheSameCachedTranslation() {
        b.enable();
        TranslationResult first = b.write(0x200000);
        assertThat(b.write(0x200ff8)).isSameAs(first);
        assertThat(b.iommu.iotlbContains(EDU, Iova.of(0x200000))).isTrue();
    }

    @Test
    void decodersPrintEveryField() {
        assertThat(ContextEntry.describe(L3 | 3 | 8, 0x10a))
                .isEqualTo("ContextEntry[P=1 FPD=1 TT=2 SLPTPTR=0x102000 AW=2 AVAIL=0x1 DID=1 lo=0x10200b hi=0x10a]");
        assertThat(SlPte.describe(0x300883)).contains("R=1 W=1", "PS=1", "SNP=1", "ADDR=0x300000");
        b.tables();
        assertThat(new RootEntry().wrap(b.ram, ROOT).toString()).isEqualTo("RootEntry@0x100000[P=1 CTP=0x101000 hi=0x0]");
        assertThat(new SlPte().wrap(b.ram, L1).toString()).contains("ADDR=0x300000");
        assertThat(new ContextEntry().wrap(b.ram, CTX + 0x80).toString()).contains("DID=1");
        assertThat(new ContextEntry().wrap(b.ram, CTX + 0x80).quad(1)).isEqualTo(new ContextEntry().wrap(b.ram, CTX + 0x80).hi());
        assertThat(new PasidEntry().toString()).isEqualTo("PasidEntry[unbound]");
    }

    @Test
    void faultReasonCodesAreOneSpaceForDmaAndInterruptFaults() {
        // VT-d 7.1.3: one FR field; QEMU's VTDFaultReason likewise holds both.
        assertThat(FaultReason.ofCode(0x5)).isEqualTo(FaultReason.WRITE_NOT_PERMITTED);
        assertThat(FaultReason.ofCode(0x22)).isEqualTo(FaultReason.IR_ENTRY_NOT_PRESENT);
        assertThat(FaultReason.IR_ENTRY_NOT_PRESENT.qualified()).isTrue();
        assertThat(FaultReason.ofCode(0x26)).isEqualTo(FaultReason.IR_SOURCE_ID_CHECK);
        assertThat(FaultReason.ofCode(0x10)).isNull();
        assertThat(FaultReason.ofCode(0x27)).isNull();
    }
}
