package io.viommu.linux.vfio;

import static io.viommu.linux.vfio.VfioContainer.MAP_READ;
import static io.viommu.linux.vfio.VfioContainer.MAP_WRITE;
import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.KernelMessage;
import io.viommu.memory.Iova;
import io.viommu.memory.VirtAddr;
import java.util.List;
import org.junit.jupiter.api.Test;

/** VFIO_IOMMU_GET_INFO, MAP_DMA and UNMAP_DMA: type1's rules in the kernel's order. */
class Type1MapTest {
    static final String EDU = "0000:00:01.0";
    static final int RW = MAP_READ | MAP_WRITE;
    static final long PAGE = 4096;

    @Test
    void infoReportsPageSizesAndTheApertureMinusTheMsiWindow() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioContainer c = bed.open(EDU).container();
        IommuInfo info = c.iommuInfo();
        assertThat(info.flags()).isEqualTo(IommuInfo.FLAG_PGSIZES | IommuInfo.FLAG_CAPS);
        assertThat(info.iovaPgsizes()).isEqualTo(~0xfffL); // intel-iommu's INTEL_IOMMU_PGSIZES in 6.1
        assertThat(info.iovaRanges()).containsExactly(new IovaRange(0, 0xfedf_ffffL),
                new IovaRange(0xfef0_0000L, (1L << 39) - 1)); // aw-bits 39: a 3-level domain
        assertThat(info.dmaAvailable()).isEqualTo(65535);
    }

    @Test
    void mapNeedsReadOrWriteAndNothingElse() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioContainer c = bed.open(EDU).container();
        long buf = bed.root.mmapAnon(4 * PAGE).value();
        Fails.with(Errno.EINVAL, () -> c.mapDma(VirtAddr.of(buf), Iova.of(0x10000), PAGE, 0));
        Fails.with(Errno.EINVAL, () -> c.mapDma(VirtAddr.of(buf), Iova.of(0x10000), PAGE, 8));
        Fails.with(Errno.EINVAL, () -> c.mapDma(VirtAddr.of(buf), Iova.of(0x10000), PAGE, MAP_READ | 0x10));
        c.mapDma(VirtAddr.of(buf), Iova.of(0x10000), PAGE, MAP_READ);
        c.mapDma(VirtAddr.of(buf + PAGE), Iova.of(0x20000), PAGE, MAP_WRITE);
        assertThat(c.mappings()).extracting(DmaMapping::readable, DmaMapping::writable)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(true, false), org.assertj.core.groups.Tuple.tuple(false, true));
    }

    @Test
    void sizeIovaAndVaddrMustBeNonZeroPageAlignedAndNotWrap() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioContainer c = bed.open(EDU).container();
        long buf = bed.root.mmapAnon(4 * PAGE).value();
        Fails.with(Errno.EINVAL, () -> c.mapDma(VirtAddr.of(buf), Iova.of(0x10000), 0, RW));
        Fails.with(Errno.EINVAL, () -> c.mapDma(VirtAddr.of(buf), Iova.of(0x10000), 100, RW));
        Fails.with(Errno.EINVAL, () -> c.mapDma(VirtAddr.of(buf), Iova.of(0x10800), PAGE, RW));
        Fails.with(Errno.EINVAL, () -> c.mapDma(VirtAddr.of(buf + 8), Iova.of(0x10000), PAGE, RW));
        Fails.with(Errno.EINVAL, () -> c.mapDma(VirtAddr.of(buf), Iova.of(-PAGE), 2 * PAGE, RW)); // iova wraps
        Fails.with(Errno.EINVAL, () -> c.mapDma(VirtAddr.of(-PAGE), Iova.of(0x10000), 2 * PAGE, RW)); // vaddr wraps
        assertThat(c.mappings()).isEmpty();
    }

    @Test
    void anyOverlapIsEexistEvenWhenTheRangeIsAlsoInvalid() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioContainer c = bed.open(EDU).container();
        long buf = bed.root.mmapAnon(16 * PAGE).value();
        c.mapDma(VirtAddr.of(buf), Iova.of(0x10000), 4 * PAGE, RW);
        Fails.with(Errno.EEXIST, () -> c.mapDma(VirtAddr.of(buf), Iova.of(0x10000), PAGE, RW));
        Fails.with(Errno.EEXIST, () -> c.mapDma(VirtAddr.of(buf), Iova.of(0xf000), 2 * PAGE, RW)); // tail overlaps
        Fails.with(Errno.EEXIST, () -> c.mapDma(VirtAddr.of(buf), Iova.of(0x13000), 2 * PAGE, RW)); // head overlaps
        Fails.with(Errno.EEXIST, () -> c.mapDma(VirtAddr.of(buf), Iova.of(0x8000), 16 * PAGE, RW)); // contains it
        c.mapDma(VirtAddr.of(buf), Iova.of(0x14000), PAGE, RW); // adjacent is fine
        c.mapDma(VirtAddr.of(buf), Iova.of(0xf000), PAGE, RW);
        assertThat(c.mappings()).extracting(DmaMapping::iova).containsExactly(Iova.of(0xf000L), Iova.of(0x10000L), Iova.of(0x14000L));
    }

    @Test
    void theMsiWindowAndAddressesBeyondTheApertureAreNotValidIovas() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioContainer c = bed.open(EDU).container();
        long buf = bed.root.mmapAnon(4 * PAGE).value();
        Fails.with(Errno.EINVAL, () -> c.mapDma(VirtAddr.of(buf), Iova.of(0xfee0_0000L), PAGE, RW));
        Fails.with(Errno.EINVAL, () -> c.mapDma(VirtAddr.of(buf), Iova.of(0xfedf_f000L), 2 * PAGE, RW)); // straddles the window
        Fails.with(Errno.EINVAL, () -> c.mapDma(VirtAddr.of(buf), Iova.of(1L << 39), PAGE, RW));
        c.mapDma(VirtAddr.of(buf), Iova.of(0xfedf_f000L), PAGE, RW);
        c.mapDma(VirtAddr.of(buf + PAGE), Iova.of(0xfef0_0000L), PAGE, RW);
        c.mapDma(VirtAddr.of(buf + 2 * PAGE), Iova.of((1L << 39) - PAGE), PAGE, RW);
        assertThat(c.iovaToPhys(Iova.of((1L << 39) - PAGE))).isEqualTo(bed.root.physical(VirtAddr.of(buf + 2 * PAGE)));
    }

    @Test
    void dmaEntryLimitBoundsTheNumberOfMappingsWithEnospc() throws Exception {
        VfioBed bed = VfioBed.standard();
        bed.core.setModuleParameter("vfio_iommu_type1", "dma_entry_limit", "2");
        VfioContainer c = bed.open(EDU).container();
        long buf = bed.root.mmapAnon(4 * PAGE).value();
        c.mapDma(VirtAddr.of(buf), Iova.of(0x10000), PAGE, RW);
        c.mapDma(VirtAddr.of(buf + PAGE), Iova.of(0x20000), PAGE, RW);
        assertThat(c.iommuInfo().dmaAvailable()).isZero();
        Fails.with(Errno.EEXIST, () -> c.mapDma(VirtAddr.of(buf), Iova.of(0x10000), PAGE, RW)); // overlap is checked first
        Fails.with(Errno.ENOSPC, () -> c.mapDma(VirtAddr.of(buf + 2 * PAGE), Iova.of(0x30000), PAGE, RW));
        Fails.with(Errno.ENOSPC, () -> c.mapDma(VirtAddr.of(buf + 2 * PAGE), Iova.of(0xfee0_0000L), PAGE, RW)); // before the range check
        assertThat(c.unmapDma(Iova.of(0x10000), PAGE)).isEqualTo(PAGE);
        c.mapDma(VirtAddr.of(buf + 2 * PAGE), Iova.of(0x30000), PAGE, RW);
    }

    @Test
    void pinnedPagesAreChargedToMemlockAndTheLimitIsEnomemWithoutCapIpcLock() throws Exception {
        VfioBed bed = VfioBed.standard();
        UserProcess user = UserProcess.user("qemu", bed.frames, 3 * PAGE);
        bed.bindVfio(EDU);
        VfioContainer c = bed.vfio.openContainer(user);
        VfioGroup g = bed.vfio.openGroup(user, "/dev/vfio/1");
        g.setContainer(c);
        c.setIommu(Vfio.TYPE1v2_IOMMU);
        long buf = user.mmapAnon(8 * PAGE).value();
        c.mapDma(VirtAddr.of(buf), Iova.of(0x10000), 2 * PAGE, RW);
        assertThat(user.lockedPages()).isEqualTo(2);
        long before = bed.frames.inUse();
        Fails.with(Errno.ENOMEM, () -> c.mapDma(VirtAddr.of(buf + 2 * PAGE), Iova.of(0x20000), 2 * PAGE, RW));
        assertThat(user.lockedPages()).isEqualTo(2);
        assertThat(c.mappings()).hasSize(1);
        assertThat(bed.frames.inUse()).isEqualTo(before + 2); // faulted in by the pin, not leaked as pins
        assertThat(user.pinCounts()).hasSize(2);
        assertThat(bed.core.log()).extracting(KernelMessage::text)
                .contains("vfio_pin_pages_remote: RLIMIT_MEMLOCK (12288) exceeded");
        c.mapDma(VirtAddr.of(buf + 2 * PAGE), Iova.of(0x20000), PAGE, RW); // exactly at the limit
        assertThat(c.unmapDma(Iova.of(0), 1L << 32)).isEqualTo(3 * PAGE);
        assertThat(user.lockedPages()).isZero();
        // root has CAP_IPC_LOCK: the same limit does not bind it
        UserProcess rootish = new UserProcess("root", 1, bed.frames, java.util.EnumSet.of(UserProcess.Cap.IPC_LOCK), PAGE);
        assertThat(rootish.accountLocked(100)).isTrue();
    }

    @Test
    void mappingMemoryTheProcessDoesNotHaveIsEfault() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioContainer c = bed.open(EDU).container();
        long buf = bed.root.mmapAnon(2 * PAGE).value();
        Fails.with(Errno.EFAULT, () -> c.mapDma(VirtAddr.of(buf), Iova.of(0x10000), 3 * PAGE, RW)); // runs past the mapping
        Fails.with(Errno.EFAULT, () -> c.mapDma(VirtAddr.of(0x1000), Iova.of(0x10000), PAGE, RW));
        assertThat(c.mappings()).isEmpty();
        assertThat(bed.root.lockedPages()).isZero();
        assertThat(bed.root.pinCounts()).isEmpty();
    }

    @Test
    void v2UnmapRefusesToBisectAndReturnsTheSizeOfWhatItRemoved() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioContainer c = bed.open(EDU).container();
        long buf = bed.root.mmapAnon(16 * PAGE).value();
        c.mapDma(VirtAddr.of(buf), Iova.of(0x10000), 4 * PAGE, RW);
        c.mapDma(VirtAddr.of(buf + 4 * PAGE), Iova.of(0x20000), 2 * PAGE, RW);
        Fails.with(Errno.EINVAL, () -> c.unmapDma(Iova.of(0x11000), PAGE)); // inside
        Fails.with(Errno.EINVAL, () -> c.unmapDma(Iova.of(0x10000), PAGE)); // head only
        Fails.with(Errno.EINVAL, () -> c.unmapDma(Iova.of(0x8000), 0x9000)); // ends inside
        Fails.with(Errno.EINVAL, () -> c.unmapDma(Iova.of(0x10000), 0)); // size 0
        Fails.with(Errno.EINVAL, () -> c.unmapDma(Iova.of(0x10800), PAGE)); // unaligned
        Fails.with(Errno.EINVAL, () -> c.unmapDma(Iova.of(0x10000), 100));
        Fails.with(Errno.EINVAL, () -> c.unmapDma(Iova.of(-PAGE), 2 * PAGE)); // wraps
        Fails.with(Errno.EINVAL, () -> c.unmapDma(Iova.of(0), 0, 0x80)); // unknown flag
        assertThat(c.unmapDma(Iova.of(0x30000), 0x10000)).isZero(); // nothing there
        assertThat(c.unmapDma(Iova.of(0x8000), 0x20000)).isEqualTo(6 * PAGE); // both, fully covered
        assertThat(c.mappings()).isEmpty();
        assertThat(c.iovaToPhys(Iova.of(0x10000))).isNull();
        assertThat(c.iommuInfo().dmaAvailable()).isEqualTo(65535);
    }

    @Test
    void unmapAllTakesNoRangeAndEmptiesTheContainer() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioContainer c = bed.open(EDU).container();
        long buf = bed.root.mmapAnon(4 * PAGE).value();
        c.mapDma(VirtAddr.of(buf), Iova.of(0x10000), PAGE, RW);
        c.mapDma(VirtAddr.of(buf + PAGE), Iova.of(0x7f_0000_0000L), PAGE, RW);
        Fails.with(Errno.EINVAL, () -> c.unmapDma(Iova.of(0x10000), 0, VfioContainer.UNMAP_ALL));
        Fails.with(Errno.EINVAL, () -> c.unmapDma(Iova.of(0), PAGE, VfioContainer.UNMAP_ALL));
        assertThat(c.unmapDma(Iova.of(0), 0, VfioContainer.UNMAP_ALL)).isEqualTo(2 * PAGE);
        assertThat(c.mappings()).isEmpty();
    }

    @Test
    void v1UnmapsWholeMappingsFromTheirFirstIovaAndNothingFromInside() throws Exception {
        VfioBed bed = VfioBed.standard();
        bed.bindVfio(EDU);
        VfioContainer c = bed.vfio.openContainer(bed.root);
        bed.vfio.openGroup(bed.root, "1").setContainer(c);
        c.setIommu(Vfio.TYPE1_IOMMU);
        assertThat(c.isV2()).isFalse();
        long buf = bed.root.mmapAnon(8 * PAGE).value();
        c.mapDma(VirtAddr.of(buf), Iova.of(0x10000), 4 * PAGE, RW);
        assertThat(c.unmapDma(Iova.of(0x11000), PAGE)).isZero();
        assertThat(c.unmapDma(Iova.of(0x10000), PAGE)).isEqualTo(4 * PAGE); // covers the first IOVA: all of it
        assertThat(c.mappings()).isEmpty();
    }

    @Test
    void theSameMemoryMappedTwiceIsPinnedAndChargedTwice() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioContainer c = bed.open(EDU).container();
        long buf = bed.root.mmapAnon(PAGE).value();
        c.mapDma(VirtAddr.of(buf), Iova.of(0x10000), PAGE, RW);
        c.mapDma(VirtAddr.of(buf), Iova.of(0x20000), PAGE, RW);
        assertThat(bed.root.lockedPages()).isEqualTo(2);
        assertThat(bed.root.pinCounts().values()).containsExactly(2);
        assertThat(c.iovaToPhys(Iova.of(0x10000))).isEqualTo(c.iovaToPhys(Iova.of(0x20000)));
        List<DmaMapping> m = c.mappings();
        assertThat(m).extracting(DmaMapping::vaddr).containsOnly(VirtAddr.of(buf));
    }
}
