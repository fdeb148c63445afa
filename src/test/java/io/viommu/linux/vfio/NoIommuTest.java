package io.viommu.linux.vfio;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.KernelMessage;
import io.viommu.memory.Iova;
import io.viommu.memory.VirtAddr;
import java.util.EnumSet;
import org.junit.jupiter.api.Test;

/**
 * VFIO's no-IOMMU mode on a machine without an IOMMU: the fake vfio-noiommu group, the taint,
 * CAP_SYS_RAWIO, the no-IOMMU driver without MAP/UNMAP, and a device whose DMA goes wherever
 * user space points it.
 */
class NoIommuTest {
    static final String EDU = "0000:00:01.0";

    static VfioBed noIommu() throws Exception {
        return VfioBed.boot(null, "edu");
    }

    @Test
    void withoutNoiommuModeVfioPciCannotTakeADeviceThatHasNoGroup() throws Exception {
        VfioBed bed = noIommu();
        bed.core.loadModule("vfio-pci");
        bed.core.setDriverOverride(bed.device(EDU), "vfio-pci");
        assertThat(bed.core.deviceDriverAttach(bed.core.driver("vfio-pci").orElseThrow(), bed.device(EDU)))
                .isEqualTo(Errno.EINVAL.negative());
        assertThat(bed.vfio.devNodes()).extracting(DevNode::name).containsExactly("vfio");
        assertThat(bed.vfio.tainted()).isZero();
    }

    @Test
    void noiommuModeGivesAFakeGroupTaintsTheKernelAndNeedsCapSysRawio() throws Exception {
        VfioBed bed = noIommu();
        bed.core.setModuleParameter("vfio", "enable_unsafe_noiommu_mode", "1");
        bed.bindVfio(EDU);
        assertThat(bed.vfio.devNodes()).extracting(DevNode::lsLine)
                .containsExactly("crw-------    1 0        0         246,   0 noiommu-0",
                        "crw-rw-rw-    1 0        0          10, 196 vfio");
        assertThat(bed.vfio.tainted()).isEqualTo(Vfio.TAINT_USER);
        assertThat(bed.core.log()).extracting(KernelMessage::text).contains("vfio-pci " + EDU + ": Adding to iommu group 0");
        assertThat(bed.core.log()).extracting(KernelMessage::text)
                .contains("vfio-pci " + EDU + ": Adding kernel taint for vfio-noiommu group on device");

        UserProcess unprivileged = new UserProcess("app", 3000, bed.frames, EnumSet.of(UserProcess.Cap.SYS_ADMIN), 1 << 20);
        Fails.with(Errno.EPERM, () -> bed.vfio.openGroup(unprivileged, "/dev/vfio/noiommu-0"));
        Fails.with(Errno.ENOENT, () -> bed.vfio.openGroup(bed.root, "/dev/vfio/0"));
        VfioGroup g = bed.vfio.openGroup(bed.root, "/dev/vfio/noiommu-0");
        assertThat(g.status()).isEqualTo(VfioGroup.FLAGS_VIABLE);
        VfioContainer c = bed.vfio.openContainer(bed.root);
        g.setContainer(c);
        assertThat(c.checkExtension(Vfio.NOIOMMU_IOMMU)).isEqualTo(1);
        assertThat(c.checkExtension(Vfio.TYPE1v2_IOMMU)).isZero(); // a no-IOMMU container offers only that
        Fails.with(Errno.ENODEV, () -> c.setIommu(Vfio.TYPE1v2_IOMMU));
        c.setIommu(Vfio.NOIOMMU_IOMMU);
        Fails.with(Errno.ENOTTY, () -> c.mapDma(VirtAddr.of(0), Iova.of(0), 4096, VfioContainer.MAP_READ));
        Fails.with(Errno.ENOTTY, () -> c.unmapDma(Iova.of(0), 4096));
        Fails.with(Errno.ENOTTY, c::iommuInfo);
        VfioDevice d = g.deviceFd(EDU);
        assertThat(bed.core.log()).extracting(KernelMessage::text)
                .contains("vfio-pci " + EDU + ": vfio-noiommu device opened by user (dpdk:1000)");

        // the device now DMAs to whatever physical address user space gives it
        VfioDmaTest.busMaster(d);
        long buf = bed.root.mmapAnon(4096).value();
        long phys = bed.root.pagemapPfn(VirtAddr.of(buf)) << 12;
        bed.root.write(VirtAddr.of(buf), new byte[] {42, 43});
        Edu.through(d).fromMemory(phys, 2);
        assertThat(bed.edu(EDU).state().buffer[0]).isEqualTo((byte) 42);
    }

    @Test
    void aNoiommuGroupWithoutCapSysRawioCannotJoinAContainerOrSetTheIommu() throws Exception {
        VfioBed bed = noIommu();
        bed.core.setModuleParameter("vfio", "enable_unsafe_noiommu_mode", "1");
        bed.bindVfio(EDU);
        VfioGroup g = bed.vfio.openGroup(bed.root, "noiommu-0");
        UserProcess other = UserProcess.user("other", bed.frames, 1 << 20);
        VfioContainer theirs = bed.vfio.openContainer(other);
        g.setContainer(theirs); // the group's opener had the capability
        Fails.with(Errno.EPERM, () -> theirs.setIommu(Vfio.NOIOMMU_IOMMU));
    }
}
