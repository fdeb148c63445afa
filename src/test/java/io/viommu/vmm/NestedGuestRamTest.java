package io.viommu.vmm;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.vfio.PageFrames;
import io.viommu.linux.vfio.UserProcess;
import io.viommu.memory.PhysAddr;
import io.viommu.memory.PhysicalMemory;
import org.junit.jupiter.api.Test;

/**
 * A VMM running in a guest: L2's RAM is memory of a process of L1's kernel, whose frames are
 * L1's RAM block, itself memory of a process on the host. The frame cache resolves an L2 page
 * to the host frame beneath both levels.
 */
class NestedGuestRamTest {
    final PhysicalMemory host = new PhysicalMemory(64L << 20);
    final PageFrames hostFrames = new PageFrames(host, 64L << 20, PhysAddr.of(0x10_0000), 32L << 20);
    final ProcessGuestRam l1 = ProcessGuestRam.allocate(UserProcess.root("qemu-l1", hostFrames), hostFrames, 16L << 20);
    final PageFrames l1Frames = new PageFrames(l1.block(), 16L << 20, PhysAddr.of(0x10_0000), 8L << 20);
    final ProcessGuestRam l2 = ProcessGuestRam.allocate(UserProcess.root("qemu-l2", l1Frames), l1Frames, 4L << 20);

    private long hostAddressOf(long l2Gpa) {
        PhysAddr inL1 = l2.hostPhysical(l2Gpa);
        return l1.hostPhysical(inL1.value()).value();
    }

    @Test
    void anL2StoreLandsInTheHostFrameBeneathBothLevels() {
        long gpa = 0x2_3458;
        l2.write(PhysAddr.of(gpa), 0x0102_0304_0506_0708L, 8);
        assertThat(host.read(PhysAddr.of(hostAddressOf(gpa)), 8)).isEqualTo(0x0102_0304_0506_0708L);
        // a second store and loads of every width, now through the cached host frame
        l2.write(PhysAddr.of(gpa + 8), 0xaabb_ccddL, 4);
        assertThat(host.read(PhysAddr.of(hostAddressOf(gpa + 8)), 4)).isEqualTo(0xaabb_ccddL);
        assertThat(l2.read(PhysAddr.of(gpa), 8)).isEqualTo(0x0102_0304_0506_0708L);
        assertThat(l2.read(PhysAddr.of(gpa + 1), 2)).isEqualTo(0x0607L);
        assertThat(l2.read(PhysAddr.of(gpa + 8), 4)).isEqualTo(0xaabb_ccddL);
    }

    @Test
    void aStoreToTheHostFrameIsWhatL2AndL1Read() {
        long gpa = 0x10_0000;
        l2.write(PhysAddr.of(gpa), 1, 8);
        assertThat(l2.read(PhysAddr.of(gpa), 8)).isEqualTo(1);
        host.write(PhysAddr.of(hostAddressOf(gpa)), 0x77, 8);
        assertThat(l2.read(PhysAddr.of(gpa), 8)).isEqualTo(0x77);
        assertThat(l1.read(l2.hostPhysical(gpa), 8)).isEqualTo(0x77);
    }

    @Test
    void anUntouchedL2PageReadsZeroAndStaysUntouched() {
        assertThat(l2.read(PhysAddr.of(0x30_0000), 8)).isZero();
        assertThat(l2.hostPhysical(0x30_0000)).isNull();
    }

    @Test
    void manyPagesAtACommonStrideKeepTheirOwnFrames() {
        // pages 1 MiB apart: slots of a low-bits index would collide
        for (int i = 0; i < 4; i++) {
            l2.write(PhysAddr.of(i * 0x10_0000L + 0x40), 0x1000 + i, 8);
        }
        for (int round = 0; round < 2; round++) {
            for (int i = 0; i < 4; i++) {
                assertThat(l2.read(PhysAddr.of(i * 0x10_0000L + 0x40), 8)).isEqualTo(0x1000 + i);
            }
        }
    }
}
