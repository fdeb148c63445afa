package io.viommu.linux.vfio;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.driver.Errno;
import io.viommu.machine.device.EduDevice;
import io.viommu.pci.PciRegs;
import org.junit.jupiter.api.Test;

/** The device file: info, region info, config-space and BAR access. */
class VfioDeviceTest {
    static final String EDU = "0000:00:01.0";
    static final long CONFIG = (long) VfioDevice.CONFIG_REGION << VfioDevice.OFFSET_SHIFT;

    @Test
    void deviceAndRegionInfoDescribeThePciFunction() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioDevice d = bed.open(EDU).device();
        VfioDevice.DeviceInfo info = d.info();
        assertThat(info.flags() & VfioDevice.FLAGS_PCI).isNotZero();
        assertThat(info.numRegions()).isEqualTo(9);
        assertThat(info.numIrqs()).isEqualTo(5);
        RegionInfo bar0 = d.regionInfo(0);
        assertThat(bar0.size()).isEqualTo(EduDevice.BAR0_SIZE);
        assertThat(bar0.offset()).isZero();
        assertThat(bar0.flags()).isEqualTo(RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE | RegionInfo.FLAG_MMAP);
        assertThat(d.regionInfo(1)).isEqualTo(new RegionInfo(1, 0, 0, 1L << 40));
        RegionInfo cfg = d.regionInfo(VfioDevice.CONFIG_REGION);
        assertThat(cfg.size()).isEqualTo(256);
        assertThat(cfg.offset()).isEqualTo(7L << 40);
        assertThat(d.regionInfo(VfioDevice.ROM_REGION).size()).isZero();
        Fails.with(Errno.EINVAL, () -> d.regionInfo(VfioDevice.VGA_REGION)); // not a VGA device
        Fails.with(Errno.EINVAL, () -> d.regionInfo(9));
    }

    @Test
    void configSpaceReadsTheDeviceAndWritesOnlyWhatVfioLetsThrough() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioDevice d = bed.open(EDU).device();
        assertThat(d.read(CONFIG, 4)).isEqualTo(0x11e8_1234L);
        d.write(CONFIG, 0xdead_beefL, 4); // ids are read-only
        assertThat(d.read(CONFIG, 4)).isEqualTo(0x11e8_1234L);
        assertThat(d.read(CONFIG + PciRegs.COMMAND, 2) & PciRegs.COMMAND_MEMORY).isNotZero(); // enabled at open
        // BAR sizing works on the virtual BAR and never moves the real one
        d.write(CONFIG + PciRegs.BAR0, 0xffff_ffffL, 4);
        assertThat(d.read(CONFIG + PciRegs.BAR0, 4)).isEqualTo(~(EduDevice.BAR0_SIZE - 1) & 0xffff_ffffL);
        assertThat(bed.core.config().read(bed.device(EDU).rid(), PciRegs.BAR0, 4)).isZero();
        Fails.with(Errno.EINVAL, () -> d.read(CONFIG + 256, 4));
        Fails.with(Errno.EINVAL, () -> d.read(CONFIG + 254, 4));
        Fails.with(Errno.EINVAL, () -> d.read(CONFIG, 8));
        Fails.with(Errno.EINVAL, () -> d.read(CONFIG, 3));
    }

    @Test
    void bar0ReachesTheDeviceRegisters() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioDevice d = bed.open(EDU).device();
        assertThat(d.read(EduDevice.REG_IDENT, 4)).isEqualTo(EduDevice.IDENT);
        d.write(EduDevice.REG_FACTORIAL, 5, 4);
        assertThat(d.read(EduDevice.REG_FACTORIAL, 4)).isEqualTo(120);
        Fails.with(Errno.EINVAL, () -> d.read(EduDevice.BAR0_SIZE - 2, 4));
        Fails.with(Errno.EINVAL, () -> d.read(1L << 40, 4)); // BAR1 absent
        Fails.with(Errno.EINVAL, () -> d.read(6L << 40, 4)); // no ROM
    }

    @Test
    void aDeviceFileOfADeviceThatLeftVfioPciIsStale() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioDevice d = bed.open(EDU).device();
        bed.core.deviceReleaseDriver(bed.device(EDU));
        Fails.with(Errno.ENODEV, () -> d.read(0, 4));
    }
}
