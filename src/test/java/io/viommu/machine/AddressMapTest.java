package io.viommu.machine;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.Mmio;
import io.viommu.memory.PhysAddr;
import io.viommu.memory.PhysicalMemory;
import io.viommu.pci.AccessRules;
import org.junit.jupiter.api.Test;

/** The dispatch's short cuts (one decode per region in a probe, the last RAM hit reused) against priorities and holes. */
class AddressMapTest {
    private static final Mmio CONSTANT = new Mmio() {
        @Override
        public long load(long offset, int size) {
            return 0x5a5a_5a5a_5a5a_5a5aL;
        }

        @Override
        public void store(long offset, long value, int size) {
        }
    };

    private static AddressMap ramWithHoleAt4k() {
        AddressMap m = new AddressMap("memory", 0);
        PhysicalMemory ram = new PhysicalMemory(1 << 20);
        m.mapRam("low", 0, 0x1000, ram, 0, 0);
        m.mapRam("high", 0x2000, 0x1000, ram, 0x2000, 0);
        return m;
    }

    @Test
    void aProbeFailsOnTheFirstByteNothingDecodesEvenAfterAWholeRegion() {
        AddressMap m = ramWithHoleAt4k();
        assertThat(m.probe(PhysAddr.of(0xff8), 8)).isEqualTo(AddressSpace.Status.OK);
        assertThat(m.probe(PhysAddr.of(0xffc), 8)).isEqualTo(AddressSpace.Status.DECODE_ERROR);
        assertThat(m.probe(PhysAddr.of(0x1ffc), 8)).isEqualTo(AddressSpace.Status.DECODE_ERROR);
        assertThat(m.probe(PhysAddr.of(0x1000), 1)).isEqualTo(AddressSpace.Status.DECODE_ERROR);
        assertThat(m.probe(PhysAddr.of(0), 0x1000)).isEqualTo(AddressSpace.Status.OK);
        assertThat(m.probe(PhysAddr.of(0), 0x1001)).isEqualTo(AddressSpace.Status.DECODE_ERROR);
    }

    @Test
    void aProbeAcrossTwoAdjacentRegionsIsOk() {
        AddressMap m = ramWithHoleAt4k();
        m.map("regs", 0x1000, 0x1000, CONSTANT, AccessRules.ANY, 0);
        assertThat(m.probe(PhysAddr.of(0xffc), 8)).isEqualTo(AddressSpace.Status.OK);
        assertThat(m.probe(PhysAddr.of(0), 0x3000)).isEqualTo(AddressSpace.Status.OK);
        assertThat(m.probe(PhysAddr.of(0), 0x3001)).isEqualTo(AddressSpace.Status.DECODE_ERROR);
    }

    @Test
    void aRegionAboveRamWinsOverTheLastRamHit() {
        AddressMap m = ramWithHoleAt4k();
        m.write(PhysAddr.of(0x2100), 0x1122_3344_5566_7788L, 8);
        assertThat(m.read(PhysAddr.of(0x2100), 8)).isEqualTo(0x1122_3344_5566_7788L);
        // mapped later, at a higher priority, over part of the RAM just read
        m.map("overlay", 0x2100, 0x100, CONSTANT, AccessRules.ANY, 1);
        assertThat(m.read(PhysAddr.of(0x2100), 8)).isEqualTo(0x5a5a_5a5a_5a5a_5a5aL);
        assertThat(m.read(PhysAddr.of(0x2200), 4)).isZero();
        assertThat(m.read(PhysAddr.of(0x2100), 8)).isEqualTo(0x5a5a_5a5a_5a5a_5a5aL);
    }

    @Test
    void aWindowAboveRamIsAskedOnEveryAccess() {
        AddressMap m = ramWithHoleAt4k();
        boolean[] open = {false};
        AddressMap.Hit hit = new AddressMap.Hit("bar", 0x2000, 0x1000, CONSTANT, AccessRules.ANY, null, 0);
        m.addWindow(a -> open[0] && a >= 0x2000 && a < 0x3000 ? hit : null, 1);
        assertThat(m.read(PhysAddr.of(0x2008), 8)).isZero();
        open[0] = true;
        assertThat(m.read(PhysAddr.of(0x2008), 8)).isEqualTo(0x5a5a_5a5a_5a5a_5a5aL);
        open[0] = false;
        assertThat(m.read(PhysAddr.of(0x2008), 8)).isZero();
    }

    @Test
    void anAccessRunningOffRamEndsInUnassignedBytes() {
        AddressMap m = new AddressMap("io", 0xff);
        PhysicalMemory ram = new PhysicalMemory(1 << 20);
        m.mapRam("ram", 0, 0x1000, ram, 0, 0);
        m.write(PhysAddr.of(0xffc), 0x1122_3344_5566_7788L, 8);
        assertThat(m.read(PhysAddr.of(0xffc), 4)).isEqualTo(0x5566_7788L);
        assertThat(m.read(PhysAddr.of(0xffc), 8)).isEqualTo(0xffff_ffff_5566_7788L);
        assertThat(m.read(PhysAddr.of(0xffe), 2)).isEqualTo(0x5566L);
    }
}
