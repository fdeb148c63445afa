package io.viommu.host;

import static io.viommu.host.Trees.device;
import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.host.HostReport.Check;
import io.viommu.host.HostReport.Reason;
import io.viommu.host.HostReport.Severity;
import io.viommu.host.HostReport.Status;
import java.util.List;
import org.junit.jupiter.api.Test;

class HostPlannerTest {
    private static Check check(HostReport r, String id) {
        return r.checks().stream().filter(c -> c.id().equals(id)).findFirst().orElseThrow();
    }

    private static List<String> messages(HostReport.Device d, Severity s) {
        return d.assignment().reasons().stream().filter(r -> r.severity() == s).map(Reason::message).toList();
    }

    // ------------------------------------------------------------ (a) a VM like CI's: no IOMMU at all

    @Test
    void firecrackerVmHasNoIommuBecauseNoDmarOrIvrsNoVirtualIommuAndNoIommuDriver() {
        HostReport r = Trees.report(Trees.FIRECRACKER_VM);
        assertThat(r.iommu().enabled()).isFalse();
        assertThat(r.iommu().firmware()).isEqualTo("none");
        assertThat(r.iommu().reasons()).hasSize(4);
        assertThat(r.iommu().reasons().get(0)).contains("no DMAR (Intel VT-d) or IVRS (AMD-Vi) ACPI table")
                .contains("APIC, DSDT, FACP, MCFG").contains("FIRECK, Firecracker");
        assertThat(r.iommu().reasons().get(1)).contains("virtual machine").contains("under Firecracker")
                .contains("-device intel-iommu");
        assertThat(r.iommu().reasons().get(2)).contains("CONFIG_INTEL_IOMMU, CONFIG_AMD_IOMMU, CONFIG_VIRTIO_IOMMU are not set");
        assertThat(r.iommu().reasons().get(3)).isEqualTo("so /sys/class/iommu is empty and /sys/kernel/iommu_groups has no groups");
        assertThat(r.iommu().cause()).isEqualTo("the firmware has no DMAR/IVRS table (a Firecracker VM without a virtual"
                + " IOMMU), and the kernel has no IOMMU driver");
        assertThat(r.groups()).isEmpty();
    }

    @Test
    void firecrackerVmChecksMatchVirtHostValidateAndSayWhy() {
        HostReport r = Trees.report(Trees.FIRECRACKER_VM);
        assertThat(check(r, "hw-virt").status()).isEqualTo(Status.FAIL);
        assertThat(check(r, "hw-virt").detail()).contains("AMD-V (svm)").contains("Only emulated CPUs are available");
        assertThat(check(r, "dev-kvm").status()).isEqualTo(Status.PASS);
        assertThat(check(r, "dev-kvm").detail()).contains("kvm_pvm");
        assertThat(check(r, "iommu-firmware").status()).isEqualTo(Status.FAIL);
        assertThat(check(r, "iommu-firmware").detail()).contains("No ACPI IVRS table found, IOMMU either disabled in BIOS");
        assertThat(check(r, "iommu-kernel").status()).isEqualTo(Status.FAIL);
        assertThat(check(r, "irq-remapping").status()).isEqualTo(Status.FAIL);
        assertThat(r.interruptRemapping().state()).isEqualTo("unavailable");
        assertThat(check(r, "vfio").detail()).contains("without CONFIG_VFIO");
    }

    @Test
    void firecrackerVmVirtioDevicesAreBlockedAndTheRootDiskAndNicAreRecognised() {
        HostReport r = Trees.report(Trees.FIRECRACKER_VM);
        assertThat(device(r, "0000:00:00.0").assignment().verdict()).isEqualTo("not-a-candidate");
        for (String bdf : List.of("0000:00:01.0", "0000:00:02.0", "0000:00:03.0", "0000:00:04.0", "0000:00:05.0")) {
            HostReport.Device d = device(r, bdf);
            assertThat(d.assignment().verdict()).isEqualTo("blocked");
            assertThat(d.group()).isNull();
            assertThat(d.driver()).isEqualTo("virtio-pci");
            assertThat(d.reset().methods()).isEmpty();
            assertThat(messages(d, Severity.BLOCKER).get(0)).startsWith("no IOMMU group: this host runs no IOMMU");
            assertThat(d.assignment().steps()).isEmpty();
        }
        assertThat(device(r, "0000:00:02.0").description()).startsWith("virtio-blk");
        assertThat(device(r, "0000:00:02.0").hostUses()).containsExactly("root filesystem (/dev/vda)");
        assertThat(device(r, "0000:00:03.0").hostUses()).containsExactly("network interface eth0 (up)");
        assertThat(r.summary().assignable()).isEmpty();
        assertThat(r.summary().verdict()).startsWith("no IOMMU, so no PCI device of this host can be assigned");
    }

    // ------------------------------------------------------------ (b) Intel host with VT-d on

    @Test
    void intelHostReportsIommuInterruptRemappingAndGroups() {
        HostReport r = Trees.report(Trees.INTEL_VTD);
        assertThat(r.iommu().enabled()).isTrue();
        assertThat(r.iommu().vendor()).isEqualTo("intel");
        assertThat(r.iommu().reasons()).isEmpty();
        assertThat(r.iommu().defaultDomain()).isEqualTo("DMA-FQ");
        assertThat(r.iommu().dmar().hostAddressWidth()).isEqualTo(46);
        assertThat(r.iommu().units()).singleElement().satisfies(u -> {
            assertThat(u.name()).isEqualTo("dmar0");
            assertThat(u.features()).contains("IR", "QI", "PT");
        });
        assertThat(r.interruptRemapping().state()).isEqualTo("enabled");
        assertThat(r.checks()).allSatisfy(c -> assertThat(c.status()).isEqualTo(Status.PASS));
        assertThat(r.groups()).hasSize(12);
        HostReport.Group gpu = r.groups().stream().filter(g -> g.id() == 7).findFirst().orElseThrow();
        assertThat(gpu.endpoints()).containsExactly("0000:01:00.0", "0000:01:00.1");
        assertThat(gpu.viable()).isFalse();
        assertThat(gpu.driversInUse()).containsExactly("0000:01:00.0: nouveau", "0000:01:00.1: snd_hda_intel");
        assertThat(r.groups().stream().filter(g -> g.id() == 11).findFirst().orElseThrow().viable()).isTrue();
    }

    @Test
    void gpuAndItsAudioFunctionGoTogetherWithStepsForBoth() {
        HostReport.Device gpu = device(Trees.report(Trees.INTEL_VTD), "0000:01:00.0");
        assertThat(gpu.assignment().verdict()).isEqualTo("assignable-with-group");
        assertThat(gpu.assignment().mustGoWith()).containsExactly("0000:01:00.1");
        assertThat(gpu.multifunction()).isTrue();
        assertThat(messages(gpu, Severity.INFO)).anyMatch(m -> m.contains("multifunction device without ACS"));
        assertThat(messages(gpu, Severity.WARNING)).anyMatch(m -> m.contains("boot VGA"));
        assertThat(gpu.acsPath()).singleElement().satisfies(h -> {
            assertThat(h.bridge()).isEqualTo("0000:00:01.0");
            assertThat(h.acsCtrl()).isEqualTo("0x001d");
            assertThat(h.effect()).startsWith("ACS SV/RR/CR/UF enabled");
        });
        assertThat(gpu.assignment().steps()).containsExactly(
                "echo 0000:01:00.0 > /sys/bus/pci/devices/0000:01:00.0/driver/unbind",
                "echo vfio-pci > /sys/bus/pci/devices/0000:01:00.0/driver_override",
                "echo 0000:01:00.0 > /sys/bus/pci/drivers_probe",
                "echo 0000:01:00.1 > /sys/bus/pci/devices/0000:01:00.1/driver/unbind",
                "echo vfio-pci > /sys/bus/pci/devices/0000:01:00.1/driver_override",
                "echo 0000:01:00.1 > /sys/bus/pci/drivers_probe");
        assertThat(gpu.assignment().qemu()).containsExactly("-device vfio-pci,host=0000:01:00.0",
                "-device vfio-pci,host=0000:01:00.1");
        assertThat(gpu.assignment().libvirt()).contains(
                "<source><address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/></source>");
    }

    @Test
    void devicesBehindAPcieToPciBridgeShareOneGroupAndSayWhy() {
        HostReport r = Trees.report(Trees.INTEL_VTD);
        HostReport.Device serial = device(r, "0000:04:00.0");
        assertThat(serial.assignment().verdict()).isEqualTo("assignable-with-group");
        assertThat(serial.assignment().mustGoWith()).containsExactly("0000:04:01.0");
        assertThat(serial.acsPath()).extracting(HostReport.AcsHop::type).containsExactly("pcie-to-pci-bridge", "root-port");
        assertThat(messages(serial, Severity.INFO)).anyMatch(m -> m.contains("behind pcie to pci bridge 0000:03:00.0"));
        HostReport.Device tuner = device(r, "0000:04:01.0");
        assertThat(tuner.reset().methods()).isEmpty();
        assertThat(messages(tuner, Severity.WARNING)).anyMatch(m -> m.startsWith("no reset method"));
    }

    @Test
    void sriovPfWithVfsNeedsThemDisabledFirstAndVfsAreAssignableAlone() {
        HostReport r = Trees.report(Trees.INTEL_VTD);
        HostReport.Device pf = device(r, "0000:02:00.0");
        assertThat(pf.sriov().totalVfs()).isEqualTo(63);
        assertThat(pf.sriov().numVfs()).isEqualTo(2);
        assertThat(pf.sriov().vfs()).containsExactly("0000:02:10.0", "0000:02:10.2");
        assertThat(pf.reset().methods()).containsExactly("flr");
        assertThat(pf.assignment().verdict()).isEqualTo("assignable");
        assertThat(messages(pf, Severity.ACTION)).anyMatch(m -> m.contains("2 VFs enabled"));
        assertThat(pf.assignment().steps().get(0)).isEqualTo("echo 0 > /sys/bus/pci/devices/0000:02:00.0/sriov_numvfs");
        HostReport.Device vf = device(r, "0000:02:10.0");
        assertThat(vf.physfn()).isEqualTo("0000:02:00.0");
        assertThat(vf.id()).isEqualTo("8086:10ed");
        assertThat(vf.assignment().verdict()).isEqualTo("assignable");
        assertThat(vf.assignment().mustGoWith()).isEmpty();
        HostReport.Device bound = device(r, "0000:02:10.2");
        assertThat(bound.driver()).isEqualTo("vfio-pci");
        assertThat(bound.assignment().steps()).isEmpty();
        assertThat(messages(bound, Severity.INFO)).contains("it is already bound to vfio-pci");
    }

    @Test
    void rootDiskAndChipsetGroupsAreBlockedBridgesAreNotCandidates() {
        HostReport r = Trees.report(Trees.INTEL_VTD);
        HostReport.Device nvme = device(r, "0000:05:00.0");
        assertThat(nvme.hostUses()).containsExactly("root filesystem (/dev/nvme0n1p2)");
        assertThat(nvme.assignment().verdict()).isEqualTo("blocked");
        assertThat(nvme.assignment().steps()).isEmpty();
        HostReport.Device smbus = device(r, "0000:00:1f.4");
        assertThat(smbus.assignment().verdict()).isEqualTo("blocked");
        assertThat(messages(smbus, Severity.BLOCKER)).singleElement().asString().contains("0000:00:1f.0 (ISA bridge)");
        assertThat(device(r, "0000:00:1c.0").assignment().verdict()).isEqualTo("not-a-candidate");
        assertThat(device(r, "0000:03:00.0").assignment().verdict()).isEqualTo("not-a-candidate");
        assertThat(r.summary().blocked()).containsExactly("0000:00:1f.2", "0000:00:1f.4", "0000:05:00.0");
        assertThat(r.summary().assignable()).containsExactly("0000:00:14.0", "0000:02:00.0", "0000:02:10.0", "0000:02:10.2");
    }

    @Test
    void withoutInterruptRemappingVfioNeedsAllowUnsafeInterrupts() {
        HostSnapshot s = Trees.snapshot(Trees.INTEL_VTD);
        HostSnapshot noIr = new HostSnapshot(s.source(), KernelCmdline.parse(s.cmdline().raw() + " intremap=off"), s.cpu(),
                s.kernelRelease(), s.kernelConfig(), s.firmware(), s.iommus(), s.iommuGroupsDir(), s.groups(), s.devices(),
                s.modules(), s.devNodes(), false);
        HostReport r = HostPlanner.plan(noIr);
        assertThat(r.interruptRemapping().state()).isEqualTo("disabled");
        assertThat(r.interruptRemapping().reasons()).contains("the kernel command line has intremap=off");
        assertThat(messages(device(r, "0000:02:10.0"), Severity.ACTION))
                .anyMatch(m -> m.contains("vfio_iommu_type1.allow_unsafe_interrupts=1"));
    }

    // ------------------------------------------------------------ (c) IOMMU in firmware, off on the cmdline

    @Test
    void intelIommuOffOnTheCommandLineIsTheReasonAndTheUnreadableDmarIsSaid() {
        HostReport r = Trees.report(Trees.INTEL_VTD_OFF);
        assertThat(r.iommu().enabled()).isFalse();
        assertThat(r.iommu().firmware()).isEqualTo("DMAR (unreadable)");
        assertThat(r.iommu().reasons().get(0)).isEqualTo("the kernel command line has intel_iommu=off: remove it or use intel_iommu=on");
        assertThat(r.iommu().reasons()).contains("the DMAR table is readable by root only; run as root to see its contents");
        assertThat(r.iommu().cause()).isEqualTo("intel_iommu=off is on the kernel command line");
        assertThat(check(r, "iommu-firmware").status()).isEqualTo(Status.PASS);
        assertThat(check(r, "iommu-kernel").status()).isEqualTo(Status.FAIL);
        assertThat(device(r, "0000:02:10.0").assignment().verdict()).isEqualTo("blocked");
        // vfio's no-IOMMU mode is available on this kernel (CONFIG_VFIO_NOIOMMU=y): no "not on this kernel".
        assertThat(messages(device(r, "0000:02:10.0"), Severity.INFO)).anyMatch(m -> m.contains("no-IOMMU mode")
                && !m.contains("not on this kernel"));
    }

    @Test
    void withoutAnySwitchAnIntelKernelThatDefaultsOffNeedsIntelIommuOn() {
        HostSnapshot s = Trees.snapshot(Trees.INTEL_VTD_OFF);
        HostSnapshot noSwitch = new HostSnapshot(s.source(), KernelCmdline.parse("ro quiet"), s.cpu(), s.kernelRelease(),
                s.kernelConfig(), s.firmware(), s.iommus(), s.iommuGroupsDir(), s.groups(), s.devices(), s.modules(),
                s.devNodes(), s.irqRemapping());
        HostReport r = HostPlanner.plan(noSwitch);
        assertThat(r.iommu().reasons().get(0)).isEqualTo("the kernel command line lacks intel_iommu=on and this kernel's"
                + " default is off (CONFIG_INTEL_IOMMU_DEFAULT_ON is not set): add intel_iommu=on");
        HostSnapshot iommuOff = new HostSnapshot(s.source(), KernelCmdline.parse("iommu=off"), s.cpu(), s.kernelRelease(),
                s.kernelConfig(), s.firmware(), s.iommus(), s.iommuGroupsDir(), s.groups(), s.devices(), s.modules(),
                s.devNodes(), s.irqRemapping());
        assertThat(HostPlanner.plan(iommuOff).iommu().reasons().get(0)).contains("iommu=off");
    }
}
