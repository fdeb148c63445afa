package io.viommu.linux.vfio;

import static io.viommu.linux.vfio.VfioContainer.MAP_READ;
import static io.viommu.linux.vfio.VfioContainer.MAP_WRITE;
import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.driver.Errno;
import io.viommu.machine.device.EduDevice;
import io.viommu.pci.PciRegs;
import io.viommu.vtd.FaultReason;
import io.viommu.vtd.VtdRegisters;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * End to end: a process maps its memory with MAP_DMA, drives edu through the device file, and
 * the device's DMA goes through the VT-d model's real translation of the tables the mapping
 * programmed; after UNMAP_DMA the same DMA faults and is recorded in FRCD.
 */
class VfioDmaTest {
    static final String EDU = "0000:00:01.0";
    static final long PAGE = 4096;
    static final long CONFIG = (long) VfioDevice.CONFIG_REGION << VfioDevice.OFFSET_SHIFT;

    static void busMaster(VfioDevice d) {
        long cmd = d.read(CONFIG + PciRegs.COMMAND, 2);
        d.write(CONFIG + PciRegs.COMMAND, cmd | PciRegs.COMMAND_MASTER, 2);
    }

    @Test
    void afterMapDmaTheDeviceReadsAndWritesTheProcessMemoryAndAfterUnmapItFaults() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioBed.Open o = bed.open(EDU);
        busMaster(o.device());
        long buf = bed.root.mmap(2 * PAGE);
        byte[] hello = "hello from user space".getBytes(StandardCharsets.US_ASCII);
        bed.root.write(buf, hello);
        long iova = 0x0010_0000L;
        long maps = bed.driver.counters().maps();
        o.container().mapDma(buf, iova, 2 * PAGE, MAP_READ | MAP_WRITE);
        // the mapping went through the intel-iommu driver: the group sits in an unmanaged domain
        // whose tables are in the driver's page region, not in user memory
        var group = bed.kernel.groups().group(bed.groupOf(EDU)).orElseThrow();
        assertThat(bed.driver.domainOf(group).type()).isEqualTo(io.viommu.linux.iommu.DomainType.UNMANAGED);
        assertThat(bed.driver.counters().maps()).isEqualTo(maps + 1);
        assertThat(bed.driver.pages().contains(bed.driver.rootTable())).isTrue();
        assertThat(bed.frames.contains(bed.driver.rootTable())).isFalse();
        Edu edu = Edu.through(o.device());
        EduDevice dev = bed.edu(EDU);

        edu.fromMemory(iova, hello.length);
        assertThat(dev.lastDma().ok()).isTrue();
        assertThat(Arrays.copyOf(dev.state().buffer, hello.length)).isEqualTo(hello);
        edu.toMemory(iova + PAGE + 0x10, hello.length); // into the second page
        assertThat(bed.root.read(buf + PAGE + 0x10, hello.length)).isEqualTo(hello);
        // the translation is the VT-d model's: the IOVA resolves to the process's frame
        assertThat(o.container().iovaToPhys(iova + PAGE)).isEqualTo(bed.root.physical(buf + PAGE));

        long iotlb = bed.driver.counters().iotlbInvalidations();
        assertThat(o.container().unmapDma(iova, 2 * PAGE)).isEqualTo(2 * PAGE);
        assertThat(bed.driver.counters().iotlbInvalidations()).isGreaterThan(iotlb); // flushed before returning
        bed.root.write(buf + PAGE + 0x10, new byte[hello.length]);
        edu.toMemory(iova + PAGE + 0x10, hello.length);
        assertThat(dev.lastDma().ok()).isFalse();
        assertThat(dev.lastDma().bytesDone()).isZero();
        assertThat(bed.root.read(buf + PAGE + 0x10, hello.length)).containsOnly(0);
        long[] frcd = bed.faultRecord(0);
        assertThat(frcd[1] & VtdRegisters.FRCD_F).isNotZero();
        assertThat((int) (frcd[1] & 0xffff)).isEqualTo(bed.device(EDU).rid().value());
        assertThat((int) (frcd[1] >>> 32) & 0xff).isEqualTo(FaultReason.WRITE_NOT_PERMITTED.code());
        assertThat(frcd[0] & ~0xfffL).isEqualTo(iova + PAGE);
        assertThat(bed.machine.iommu().load(VtdRegisters.FSTS, 4) & VtdRegisters.FSTS_PPF).isNotZero();
    }

    @Test
    void aReadOnlyMappingLetsTheDeviceReadButNotWrite() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioBed.Open o = bed.open(EDU);
        busMaster(o.device());
        long buf = bed.root.mmap(PAGE);
        bed.root.write(buf, new byte[] {1, 2, 3, 4});
        o.container().mapDma(buf, 0x40_0000L, PAGE, MAP_READ);
        Edu edu = Edu.through(o.device());
        edu.fromMemory(0x40_0000L, 4);
        assertThat(bed.edu(EDU).lastDma().ok()).isTrue();
        edu.toMemory(0x40_0000L, 4);
        assertThat(bed.edu(EDU).lastDma().ok()).isFalse();
        assertThat(bed.edu(EDU).lastDma().fault().reason()).isEqualTo(FaultReason.WRITE_NOT_PERMITTED.code());
        // the read left a read-only translation in the IOTLB: as in QEMU 7.2, the write through it
        // fails without a fault record
        assertThat(bed.faultRecord(0)[1] & VtdRegisters.FRCD_F).isZero();
        assertThat(bed.root.read(buf, 4)).containsExactly(1, 2, 3, 4);
    }

    @Test
    void closingTheDeviceFileTurnsBusMasteringOffAgain() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioBed.Open o = bed.open(EDU);
        busMaster(o.device());
        assertThat(bed.edu(EDU).busMasterEnabled()).isTrue();
        o.device().close();
        assertThat(bed.edu(EDU).busMasterEnabled()).isFalse();
        Fails.with(Errno.EBADF, () -> o.device().info());
    }
}
