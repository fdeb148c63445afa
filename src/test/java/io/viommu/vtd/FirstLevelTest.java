package io.viommu.vtd;

import static io.viommu.vtd.ScalableBench.*;
import static io.viommu.vtd.ScalableModeTest.fault;
import static io.viommu.vtd.ScalableModeTest.ok;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.viommu.memory.PhysAddr;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.PasidPrefix;
import io.viommu.pci.Translation;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * First-level (PGTT 1) and nested (PGTT 3) translation, offered with the x-flts / x-nest
 * extensions; behaviour per VT-d 3.6-3.8 (QEMU 7.2 has neither).
 */
class FirstLevelTest {
    static final long SRE = PasidEntry.SRE;
    static final long ERE = PasidEntry.ERE;
    static final long WPE = PasidEntry.WPE;
    static final long NXE = PasidEntry.NXE;

    static ScalableBench fl(long q2bits, String... more) {
        String[] props = new String[more.length + 1];
        props[0] = "x-flts=on";
        System.arraycopy(more, 0, props, 1, more.length);
        return new ScalableBench(props).firstLevel(q2bits);
    }

    @Test
    void extensionAdvertisesFirstLevelAndNestedInCapAndEcap() {
        VtdConfig c = VtdConfig.fromQemuProperties(new java.util.LinkedHashMap<>(Map.of(
                "x-scalable-mode", "on", "x-flts", "on", "x-nest", "on")));
        assertThat(c.ecap() & (1L << 47)).as("FLTS").isNotZero();
        assertThat(c.ecap() & (1L << 26)).as("NEST").isNotZero();
        assertThat(c.cap() & (1L << 56)).as("FL1GP").isNotZero();
        assertThat(c.cap() & (1L << 60)).as("FL5LP").isNotZero();
        VtdConfig plain = VtdConfig.fromQemuProperties(Map.of("x-scalable-mode", "on"));
        assertThat(plain.ecap()).isEqualTo(0x0000480080f00f4aL); // QEMU 7.2's value, unchanged
        assertThatThrownBy(() -> VtdConfig.fromQemuProperties(Map.of("x-flts", "on")))
                .hasMessageContaining("x-scalable-mode");
        assertThatThrownBy(() -> VtdConfig.fromQemuProperties(Map.of("x-scalable-mode", "on", "x-nest", "on")))
                .hasMessageContaining("x-flts");
    }

    @Test
    void fourLevelWalkTranslatesAndSetsAccessedOnEveryLevelButNotDirtyOnRead() {
        ScalableBench s = fl(0).enable();
        Translation t = ok(s.read(0x1010));
        assertThat(t.outputValue(0x1010)).isEqualTo(0x200010);
        for (long e : new long[] {FL4, FL3, FL2, FL1 + 8}) {
            assertThat(s.b.ram.readLong(PhysAddr.of(e)) & FlPte.A).as("A at 0x%x", e).isNotZero();
        }
        assertThat(s.b.ram.readLong(PhysAddr.of(FL1 + 8)) & FlPte.D).isZero();
        assertThat(s.b.ram.readLong(PhysAddr.of(FL1 + 16)) & FlPte.A).as("entry not walked").isZero();
    }

    @Test
    void writeSetsDirtyInTheLeafOnlyEvenAfterACachedRead() {
        ScalableBench s = fl(0).enable();
        assertThat(ok(s.read(0x1000)).writable()).isFalse(); // D clear: cached read-only
        assertThat(ok(s.write(0x1000)).writable()).isTrue();
        assertThat(s.b.ram.readLong(PhysAddr.of(FL1 + 8)) & FlPte.D).isNotZero();
        assertThat(s.b.ram.readLong(PhysAddr.of(FL2)) & FlPte.D).isZero();
        assertThat(s.b.fsts()).isZero();
    }

    @Test
    void userWriteToReadOnlyPageFaults0x85() {
        ScalableBench s = fl(0).enable();
        assertThat(fault(s.write(0x2000)).reason()).isEqualTo(0x85);
        assertThat(s.frcdHi()).isEqualTo(0x8000008580000008L); // write (T=0), PP=1, PV=RID_PASID 0
        assertThat(s.b.ram.readLong(PhysAddr.of(FL1 + 16)) & FlPte.D).isZero();
    }

    @Test
    void userRequestToSupervisorPageFaults0x81() {
        ScalableBench s = fl(0).enable();
        assertThat(fault(s.read(0x3000)).reason()).isEqualTo(0x81);
    }

    @Test
    void supervisorRequestNeedsSreAndMayWriteReadOnlyPagesUnlessWpe() {
        ScalableBench noSre = fl(0).context(PDIR | 1, ScalableContextEntry.RID_PRIV).enable();
        assertThat(fault(noSre.read(0x1000)).reason()).isEqualTo(0x5d);

        ScalableBench sre = fl(SRE).context(PDIR | 1, ScalableContextEntry.RID_PRIV).enable();
        assertThat(ok(sre.read(0x3000)).physPage().value()).isEqualTo(0x310000); // supervisor page
        assertThat(ok(sre.write(0x2000)).writable()).isTrue();                     // WPE = 0

        ScalableBench wpe = fl(SRE | WPE).context(PDIR | 1, ScalableContextEntry.RID_PRIV).enable();
        assertThat(fault(wpe.write(0x2000)).reason()).isEqualTo(0x85);
    }

    @Test
    void executeDisableIsIgnoredForReadsAndFaultsExecuteRequestsWithNxe() {
        ScalableBench s = fl(ERE | NXE).context(PDIR | 1 | ScalableContextEntry.PASIDE, 0).enable();
        assertThat(ok(s.read(0x4000)).physPage().value()).isEqualTo(0x320000);
        assertThat(fault(s.dma(0x4000, DmaAccess.READ, new PasidPrefix(0, false, true))).reason()).isEqualTo(0x82);
        assertThat(ok(s.dma(0x1000, DmaAccess.READ, new PasidPrefix(0, false, true))).readable()).isTrue();

        ScalableBench noEre = fl(NXE).context(PDIR | 1 | ScalableContextEntry.PASIDE, 0).enable();
        assertThat(fault(noEre.dma(0x1000, DmaAccess.READ, new PasidPrefix(0, false, true))).reason())
                .isEqualTo(0x5c);
    }

    @Test
    void nonCanonicalInputFaults0x80AndCanonicalHighHalfIsWalked() {
        ScalableBench s = fl(0).enable();
        assertThat(fault(s.read(0x0000_8000_0000_0000L)).reason()).isEqualTo(0x80);
        s.clearFault();
        assertThat(fault(s.read(0xffff_8000_0000_1000L)).reason()).isEqualTo(0x71); // PML4[256] absent
    }

    @Test
    void fiveLevelFirstLevelWalksFromPml5() {
        ScalableBench s = fl(1L << 2); // FLPM = 01
        s.b.ram.writeLong(PhysAddr.of(0x10c000), FL4 | 7);
        s.pasidEntry(0, (1 << 6) | 1, 1, 0x10c000 | (1L << 2));
        s.enable();
        assertThat(ok(s.read(0x1000)).physPage().value()).isEqualTo(0x200000);
        assertThat(s.b.ram.readLong(PhysAddr.of(0x10c000)) & FlPte.A).isNotZero();
        // bit 48 indexes PML5 entry 1 (absent); a 48-bit canonical check would call it non-canonical
        assertThat(fault(s.read(1L << 48)).reason()).isEqualTo(0x71);
        s.clearFault();
        assertThat(fault(s.read(1L << 57)).reason()).isEqualTo(0x80);
    }

    @Test
    void twoMegabyteFirstLevelPageAndReservedPsInPml4() {
        ScalableBench s = fl(0);
        s.b.ram.writeLong(PhysAddr.of(FL2 + 8), 0x400000 | 0x80 | 7); // 0x200000..0x3fffff -> 0x400000, 2 MiB
        s.enable();
        Translation t = ok(s.read(0x234000));
        assertThat(t.pageSize()).isEqualTo(2 << 20);
        assertThat(t.outputValue(0x234567)).isEqualTo(0x434567);
        s.b.ram.writeLong(PhysAddr.of(FL4 + 8), FL3 | 0x80 | 7); // PS in a PML4 entry is reserved
        assertThat(fault(s.read(1L << 39)).reason()).isEqualTo(0x72);
    }

    @Test
    void pasidIotlbInvalidationMakesAChangedFirstLevelEntryVisible() {
        ScalableBench s = fl(0).enable().enableQueue();
        ok(s.read(0x1000));
        s.b.ram.writeLong(PhysAddr.of(FL1 + 8), 0x600000 | 7);
        assertThat(ok(s.read(0x1000)).physPage().value()).as("IOTLB hit").isEqualTo(0x200000);
        s.submit(0x26 | (2L << 16), 0); // other domain
        assertThat(ok(s.read(0x1000)).physPage().value()).isEqualTo(0x200000);
        s.submit(0x36 | (1L << 16), 0x5000); // page-selective, other page
        assertThat(ok(s.read(0x1000)).physPage().value()).isEqualTo(0x200000);
        s.submit(0x36 | (1L << 16), 0x1000); // page-selective within PASID 0, domain 1
        assertThat(ok(s.read(0x1000)).physPage().value()).isEqualTo(0x600000);
        s.b.ram.writeLong(PhysAddr.of(FL1 + 8), 0x700000 | 7);
        s.submit(0x26 | (1L << 16), 0); // PASID-selective
        assertThat(ok(s.read(0x1000)).physPage().value()).isEqualTo(0x700000);
    }

    @Test
    void firstLevelEntryTableThatCannotBeReadFaults0x70() {
        ScalableBench s = fl(0);
        s.b.ram.writeLong(PhysAddr.of(FL2), 0x7f_0000_0000L | 7); // PD entry -> table outside RAM
        s.enable();
        assertThat(fault(s.read(0x1000)).reason()).isEqualTo(0x70);
    }

    // ---- nested ----

    static final long SL1B = 0x10e000;

    /** Nested bench: second level maps the first-level table pages 1:1 and GPA 0x200000 -> 0x700000. */
    static ScalableBench nested(String... more) {
        String[] props = new String[more.length + 2];
        props[0] = "x-flts=on";
        props[1] = "x-nest=on";
        System.arraycopy(more, 0, props, 2, more.length);
        ScalableBench s = new ScalableBench(props).nested(SL3, 0);
        for (long gpa = FL4; gpa <= FL1; gpa += 0x1000) {
            s.b.ram.writeLong(PhysAddr.of(SL1 + (gpa >>> 12) * 8), gpa | 3);
        }
        s.b.ram.writeLong(PhysAddr.of(SL2 + 8), SL1B | 3);
        s.b.ram.writeLong(PhysAddr.of(SL1B), 0x700000 | 3);
        s.b.ram.writeLong(PhysAddr.of(SL1B + 8), 0x701000 | 1);
        return s;
    }

    @Test
    void nestedTranslatesFirstLevelOutputThroughSecondLevel() {
        ScalableBench s = nested().enable();
        Translation t = ok(s.write(0x1008));
        assertThat(t.outputValue(0x1008)).isEqualTo(0x700008);
        assertThat(s.b.ram.readLong(PhysAddr.of(FL1 + 8)) & (FlPte.A | FlPte.D)).isEqualTo(FlPte.A | FlPte.D);
        assertThat(s.b.fsts()).isZero();
    }

    @Test
    void secondLevelFaultWhileReadingAFirstLevelTableIsReported0x76() {
        ScalableBench s = nested();
        s.b.ram.writeLong(PhysAddr.of(SL1 + (FL2 >>> 12) * 8), 0); // FL2 page not mapped at stage 2
        s.enable();
        assertThat(fault(s.read(0x1000)).reason()).isEqualTo(0x76);
        assertThat(s.frcdHi() & (1L << 31)).as("PP like QEMU's walk faults").isNotZero();
    }

    @Test
    void secondLevelFaultOnTheTopFirstLevelTableIsReported0x75() {
        ScalableBench s = nested();
        s.b.ram.writeLong(PhysAddr.of(SL1 + (FL4 >>> 12) * 8), 0);
        s.enable();
        assertThat(fault(s.read(0x1000)).reason()).isEqualTo(0x75);
    }

    @Test
    void readOnlyStage2MappingOfAFirstLevelTableBlocksTheAccessedUpdateWith0x77() {
        ScalableBench s = nested();
        s.b.ram.writeLong(PhysAddr.of(SL1 + (FL2 >>> 12) * 8), FL2 | 1);
        s.enable();
        assertThat(fault(s.read(0x1000)).reason()).isEqualTo(0x77);
        assertThat(s.b.ram.readLong(PhysAddr.of(FL2)) & FlPte.A).isZero();
    }

    @Test
    void firstLevelTableAddressBeyondSecondLevelWidthFaults0x74() {
        // 48-bit unit, 39-bit (3-level) stage 2: a GPA of 2^40 is a legal first-level address
        ScalableBench s = nested("aw-bits=48");
        s.b.ram.writeLong(PhysAddr.of(FL3), (1L << 40) | 7);
        s.enable();
        assertThat(fault(s.read(0x1000)).reason()).isEqualTo(0x74);
    }

    @Test
    void finalGuestPhysicalAddressIsCheckedAgainstSecondLevelPermissions() {
        ScalableBench q = nested().enable();
        assertThat(ok(q.read(0x1000)).outputValue(0x1000)).isEqualTo(0x700000);
        ScalableBench s = nested();
        s.b.ram.writeLong(PhysAddr.of(FL1 + 16), 0x201000 | 7); // IOVA 0x2000 -> GPA 0x201000 (stage 2 read-only)
        s.enable();
        assertThat(ok(s.read(0x2000)).physPage().value()).isEqualTo(0x701000);
        assertThat(fault(s.write(0x2000)).reason()).isEqualTo(5); // QEMU's second-level write code
        ScalableBench spec = nested("x-sm-spec-faults=on");
        spec.b.ram.writeLong(PhysAddr.of(FL1 + 16), 0x201000 | 7);
        spec.enable();
        assertThat(fault(spec.write(0x2000)).reason()).isEqualTo(0x79);
    }

    @Test
    void secondLevelIotlbInvalidationDropsNestedEntriesOfTheDomain() {
        ScalableBench s = nested().enable().enableQueue();
        ok(s.read(0x1000));
        s.b.ram.writeLong(PhysAddr.of(SL1B), 0x780000 | 3);
        assertThat(ok(s.read(0x1000)).physPage().value()).isEqualTo(0x700000);
        // page-selective second-level invalidation of GPA 0x200000 (type 2, G=11, DID 1)
        s.submit(0x32 | (1L << 16), 0x200000);
        assertThat(ok(s.read(0x1000)).physPage().value()).isEqualTo(0x780000);
    }

    // A nested walk keeps the second-level leaf it found and reuses it for later addresses of the
    // same second-level page (FirstLevelWalk). These put the first-level tables and outputs in
    // 2 MiB second-level pages, so that most of a walk's stage-2 translations are such reuses.

    /** Nested bench whose stage 2 maps GPA 0..2 MiB 1:1 ({@code low}) and 2..4 MiB to 0x600000 ({@code high}), 2 MiB leaves. */
    static ScalableBench nested2m(long low, long high) {
        ScalableBench s = nested();
        s.b.ram.writeLong(PhysAddr.of(SL2), 0 | SlPte.PS | low);
        s.b.ram.writeLong(PhysAddr.of(SL2 + 8), 0x600000 | SlPte.PS | high);
        return s;
    }

    @Test
    void nestedWalkThroughLargeSecondLevelPagesTranslatesAndChecksEachStage2Access() {
        ScalableBench s = nested2m(3, 1); // tables and low RAM read/write, 2..4 MiB read-only
        s.b.ram.writeLong(PhysAddr.of(FL1 + 40), 0x205000 | 7); // IOVA 0x5000 -> GPA 0x205000 (read-only)
        s.b.ram.writeLong(PhysAddr.of(FL1 + 48), 0x003000 | 7); // IOVA 0x6000 -> GPA 0x3000 (same page as the tables)
        s.enable();
        assertThat(ok(s.read(0x5008)).outputValue(0x5008)).isEqualTo(0x605008);
        assertThat(fault(s.write(0x5008)).reason()).isEqualTo(5); // the final stage 2 refuses the write
        Translation t = ok(s.write(0x6010));
        assertThat(t.outputValue(0x6010)).isEqualTo(0x3010);
        assertThat(t.writable()).isTrue();
        for (long e : new long[] {FL4, FL3, FL2, FL1 + 48}) {
            assertThat(s.b.ram.readLong(PhysAddr.of(e)) & FlPte.A).as("A set in %x", e).isNotZero();
        }
        assertThat(s.b.ram.readLong(PhysAddr.of(FL1 + 48)) & FlPte.D).isNotZero();
    }

    @Test
    void aSecondLevelLeafKeptForTableReadsDoesNotGrantTheWriteOfTheOutput() {
        ScalableBench s = nested2m(1, 1); // everything read-only at stage 2
        // A (and D in the leaf) already set: the walk writes nothing, every stage-2 lookup is a read
        // of the same 2 MiB page until the output, which a write needs writable.
        s.b.ram.writeLong(PhysAddr.of(FL4), FL3 | 7 | FlPte.A);
        s.b.ram.writeLong(PhysAddr.of(FL3), FL2 | 7 | FlPte.A);
        s.b.ram.writeLong(PhysAddr.of(FL2), FL1 | 7 | FlPte.A);
        s.b.ram.writeLong(PhysAddr.of(FL1 + 56), 0x004000 | 7 | FlPte.A | FlPte.D);
        s.enable();
        assertThat(ok(s.read(0x7000)).outputValue(0x7000)).isEqualTo(0x4000);
        assertThat(fault(s.write(0x7000)).reason()).isEqualTo(5);
        ScalableBench rw = nested2m(3, 1);
        rw.b.ram.writeLong(PhysAddr.of(FL1 + 56), 0x004000 | 7 | FlPte.A | FlPte.D);
        rw.enable();
        assertThat(ok(rw.write(0x7000)).writable()).isTrue();
    }

    @Test
    void aReadOnlySecondLevelPageOfTheTablesStillBlocksTheAccessedUpdate() {
        ScalableBench s = nested2m(1, 3); // tables in a read-only 2 MiB page: A cannot be set
        s.enable();
        assertThat(fault(s.read(0x1000)).reason()).isEqualTo(0x77);
        assertThat(s.b.ram.readLong(PhysAddr.of(FL4)) & FlPte.A).isZero();
    }
}
