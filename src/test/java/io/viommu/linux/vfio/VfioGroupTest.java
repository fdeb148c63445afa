package io.viommu.linux.vfio;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.KernelMessage;
import io.viommu.machine.Machine;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import io.viommu.vtd.VtdRegisters;
import java.util.List;
import org.junit.jupiter.api.Test;

/** /dev/vfio, groups, containers, SET_IOMMU and GET_DEVICE_FD: every errno of their rules. */
class VfioGroupTest {
    static final String EDU = "0000:00:01.0";
    static final String NIC = "0000:00:02.0";

    @Test
    void containerSpeaksApiVersion0AndOffersType1ButNotNoiommuUntilTheModeIsOn() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioContainer c = bed.vfio.openContainer(bed.root);
        assertThat(c.apiVersion()).isZero();
        assertThat(c.checkExtension(Vfio.TYPE1_IOMMU)).isEqualTo(1);
        assertThat(c.checkExtension(Vfio.TYPE1v2_IOMMU)).isEqualTo(1);
        assertThat(c.checkExtension(Vfio.UNMAP_ALL)).isEqualTo(1);
        assertThat(c.checkExtension(Vfio.SPAPR_TCE_IOMMU)).isZero();
        assertThat(c.checkExtension(Vfio.NOIOMMU_IOMMU)).isZero();
        bed.core.setModuleParameter("vfio", "enable_unsafe_noiommu_mode", "Y");
        assertThat(c.checkExtension(Vfio.NOIOMMU_IOMMU)).isEqualTo(1);
    }

    @Test
    void bindingToVfioPciCreatesTheGroupNodeAsTheT6CaptureListedIt() throws Exception {
        VfioBed bed = VfioBed.standard();
        assertThat(bed.vfio.devNodes()).extracting(DevNode::name).containsExactly("vfio");
        bed.bindVfio(NIC);
        int g = bed.groupOf(NIC);
        // t6: "crw-------    1 0        0         246,   0 Nov 21 19:25 2" (date dropped)
        assertThat(bed.vfio.devNodes()).extracting(DevNode::lsLine).containsExactly(
                "crw-------    1 0        0         246,   0 " + g,
                "crw-rw-rw-    1 0        0          10, 196 vfio");
        bed.bindVfio(EDU);
        assertThat(bed.vfio.devNodes()).extracting(DevNode::name).containsExactly("1", "2", "vfio");
        bed.core.deviceReleaseDriver(bed.device(NIC));
        assertThat(bed.vfio.devNodes()).extracting(DevNode::name).containsExactly("1", "vfio");
        Fails.with(Errno.ENOENT, () -> bed.vfio.openGroup(bed.root, "/dev/vfio/2"));
    }

    @Test
    void aGroupOpensOnceAtATime() throws Exception {
        VfioBed bed = VfioBed.standard();
        bed.bindVfio(EDU);
        VfioGroup g = bed.vfio.openGroup(bed.root, "/dev/vfio/1");
        Fails.with(Errno.EBUSY, () -> bed.vfio.openGroup(bed.root, "/dev/vfio/1"));
        g.close();
        assertThat(bed.vfio.openGroup(bed.root, "/dev/vfio/1").iommuGroup()).isEqualTo(1);
        Fails.with(Errno.ENOENT, () -> bed.vfio.openGroup(bed.root, "/dev/vfio/7"));
    }

    /** Behind a conventional PCI bridge (00:01.0, secondary bus 1): edu and an e1000e. */
    static final String EDU_B = "0000:01:01.0";
    static final String NIC_B = "0000:01:02.0";

    /**
     * edu and the e1000e in one IOMMU group, as Linux makes it behind a conventional bridge: the
     * bridge aliases its secondary bus's DMA to its own RID, so both join the bridge's group 1
     * (group 0 is the host bridge). The bridge itself has no driver and does not spoil viability.
     */
    static VfioBed sharedGroup() throws Exception {
        Machine m = MachineBuilder.fromCommandLine(List.of("-nodefaults", "-m", "256M", "-device", "intel-iommu,intremap=on",
                "-device", "pci-bridge,id=b1,chassis_nr=1,addr=1", "-device", "edu,bus=b1,addr=1",
                "-device", "e1000e,bus=b1,addr=2"), MachineLog.SILENT);
        VfioBed bed = VfioBed.create(m);
        assertThat(bed.groupOf(EDU_B)).isEqualTo(1);
        assertThat(bed.groupOf(NIC_B)).isEqualTo(1);
        return bed;
    }

    @Test
    void aGroupIsViableOnlyWithoutDmaApiDriversAndVfioOwnershipBlocksThem() throws Exception {
        VfioBed bed = sharedGroup();
        bed.core.loadModule("e1000e");
        assertThat(bed.device(NIC_B).driver().name()).isEqualTo("e1000e");
        bed.bindVfio(EDU_B);
        VfioGroup g = bed.vfio.openGroup(bed.root, "/dev/vfio/1");
        assertThat(g.status()).isZero();
        VfioContainer c = bed.vfio.openContainer(bed.root);
        Fails.with(Errno.EPERM, () -> g.setContainer(c));
        bed.core.deviceReleaseDriver(bed.device(NIC_B)); // unbound is fine
        assertThat(g.status()).isEqualTo(VfioGroup.FLAGS_VIABLE);
        g.setContainer(c);
        assertThat(g.status()).isEqualTo(VfioGroup.FLAGS_VIABLE | VfioGroup.FLAGS_CONTAINER_SET);
        Fails.with(Errno.EINVAL, () -> g.setContainer(c));
        // the e1000e driver may not take the group's default domain back while VFIO owns it
        var e1000e = bed.core.driver("e1000e").orElseThrow();
        assertThat(bed.core.deviceDriverAttach(e1000e, bed.device(NIC_B))).isEqualTo(Errno.EBUSY.negative());
        bed.core.loadModule("pci-stub");
        bed.core.setDriverOverride(bed.device(NIC_B), "pci-stub");
        assertThat(bed.core.deviceDriverAttach(bed.core.driver("pci-stub").orElseThrow(), bed.device(NIC_B))).isZero();
        g.unsetContainer();
        bed.core.deviceReleaseDriver(bed.device(NIC_B));
        bed.core.setDriverOverride(bed.device(NIC_B), null);
        assertThat(bed.core.deviceDriverAttach(e1000e, bed.device(NIC_B))).isZero(); // ownership released
    }

    @Test
    void setIommuNeedsAGroupOnceAndASupportedType() throws Exception {
        VfioBed bed = VfioBed.standard();
        bed.bindVfio(EDU);
        VfioContainer c = bed.vfio.openContainer(bed.root);
        Fails.with(Errno.EINVAL, () -> c.setIommu(Vfio.TYPE1v2_IOMMU)); // no group
        Fails.with(Errno.EINVAL, c::iommuInfo); // ioctls before SET_IOMMU
        Fails.with(Errno.EINVAL, () -> c.mapDma(0, 0, 4096, VfioContainer.MAP_READ));
        VfioGroup g = bed.vfio.openGroup(bed.root, "1");
        g.setContainer(c);
        Fails.with(Errno.ENODEV, () -> c.setIommu(Vfio.SPAPR_TCE_IOMMU));
        Fails.with(Errno.ENODEV, () -> c.setIommu(Vfio.NOIOMMU_IOMMU)); // mode off: nobody offers it
        c.setIommu(Vfio.TYPE1v2_IOMMU);
        assertThat(c.isV2()).isTrue();
        Fails.with(Errno.EINVAL, () -> c.setIommu(Vfio.TYPE1v2_IOMMU));
        Fails.with(Errno.EINVAL, () -> c.setIommu(Vfio.TYPE1_IOMMU));
    }

    @Test
    void withoutInterruptRemappingType1RefusesTheGroupUnlessUnsafeInterruptsAreAllowed() throws Exception {
        VfioBed bed = VfioBed.boot("intremap=off", "edu");
        bed.bindVfio(EDU);
        VfioContainer c = bed.vfio.openContainer(bed.root);
        VfioGroup g = bed.vfio.openGroup(bed.root, "1");
        g.setContainer(c);
        Fails.with(Errno.EPERM, () -> c.setIommu(Vfio.TYPE1v2_IOMMU));
        assertThat(bed.core.log()).extracting(KernelMessage::text).contains("vfio_iommu_type1_attach_group: No interrupt"
                + " remapping support.  Use the module param \"allow_unsafe_interrupts\" to enable VFIO IOMMU support"
                + " on this platform");
        bed.core.setModuleParameter("vfio_iommu_type1", "allow_unsafe_interrupts", "1");
        c.setIommu(Vfio.TYPE1v2_IOMMU);
        assertThat(c.iommuInfo().dmaAvailable()).isEqualTo(65535);
    }

    @Test
    void interruptRemappingIsWhatTheDriverEnabledOnTheUnit() throws Exception {
        VfioBed on = VfioBed.standard();
        assertThat(on.machine.iommu().load(VtdRegisters.GSTS, 4) & VtdRegisters.GSTS_IRES).isNotZero();
        assertThat(on.kernel.dmesg()).anyMatch(l -> l.startsWith("DMAR-IR: Enabled IRQ remapping in "));
        assertThat(on.driver.hasInterruptRemapping()).isTrue();
        // the same machine with intremap=off on the kernel command line: the driver leaves IR off,
        // so type1 refuses the group as on a unit without IR
        VfioBed off = VfioBed.create(MachineBuilder.fromCommandLine(List.of("-nodefaults", "-m", "256M", "-append",
                "intremap=off", "-device", "intel-iommu,intremap=on", "-device", "edu"), MachineLog.SILENT));
        assertThat(off.machine.iommu().load(VtdRegisters.GSTS, 4) & VtdRegisters.GSTS_IRES).isZero();
        assertThat(off.driver.hasInterruptRemapping()).isFalse();
        off.bindVfio(EDU);
        VfioContainer c = off.vfio.openContainer(off.root);
        off.vfio.openGroup(off.root, "1").setContainer(c);
        Fails.with(Errno.EPERM, () -> c.setIommu(Vfio.TYPE1v2_IOMMU));
    }

    @Test
    void deviceFdNeedsTheIommuSetAndAMatchingName() throws Exception {
        VfioBed bed = VfioBed.standard();
        bed.bindVfio(EDU);
        VfioContainer c = bed.vfio.openContainer(bed.root);
        VfioGroup g = bed.vfio.openGroup(bed.root, "1");
        Fails.with(Errno.ENODEV, () -> g.deviceFd("0000:00:09.0"));
        Fails.with(Errno.EINVAL, () -> g.deviceFd(EDU)); // no container
        g.setContainer(c);
        Fails.with(Errno.EINVAL, () -> g.deviceFd(EDU)); // no IOMMU yet
        c.setIommu(Vfio.TYPE1v2_IOMMU);
        Fails.with(Errno.ENODEV, () -> g.deviceFd(EDU + "x")); // not a space after the name
        Fails.with(Errno.ENODEV, () -> g.deviceFd(NIC)); // another group's device
        Fails.with(Errno.EINVAL, () -> g.deviceFd(EDU + " foo=1"));
        Fails.with(Errno.EINVAL, () -> g.deviceFd(EDU + " vf_token=123"));
        Fails.with(Errno.EINVAL, () -> g.deviceFd(EDU + " vf_token=2ab2ba5b-7c1e-4d0b-9e1a-1f9c0e6d5a4b")); // neither PF nor VF
        VfioDevice d = g.deviceFd(EDU + "  ");
        assertThat(d.name()).isEqualTo(EDU);
        Fails.with(Errno.EBUSY, g::unsetContainer);
        d.close();
        g.unsetContainer();
        Fails.with(Errno.EINVAL, g::unsetContainer);
    }

    @Test
    void closingTheGroupWaitsForItsDevicesThenLeavesTheContainerAndDropsTheMappings() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioBed.Open o = bed.open(EDU);
        long buf = bed.root.mmap(4096);
        o.container().mapDma(buf, 0x10000, 4096, VfioContainer.MAP_READ | VfioContainer.MAP_WRITE);
        o.group().close();
        assertThat(o.container().mappings()).hasSize(1); // the device file still holds the group
        o.device().close();
        assertThat(o.container().mappings()).isEmpty();
        assertThat(bed.root.pinCounts()).isEmpty();
        assertThat(bed.core.dmaOwner(1)).isNull();
        // the unmanaged domain was freed and the group is back in its default DMA domain
        var group = bed.kernel.groups().group(1).orElseThrow();
        assertThat(bed.driver.domainOf(group)).isSameAs(bed.driver.defaultDomainOf(group));
        assertThat(bed.driver.counters().pageTablePagesFreed()).isPositive();
        assertThat(bed.vfio.openGroup(bed.root, "1")).isNotNull();
    }
}
