package io.viommu.linux.shell;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import io.viommu.linux.net.NetworkInterfaces;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import java.util.List;
import org.junit.jupiter.api.Test;

class RootShellTest {
    static Kernel boot(String... args) throws Exception {
        return Kernel.boot(MachineBuilder.fromCommandLine(List.of(args), MachineLog.SILENT));
    }

    @Test
    void aFailingLineStopsTheRunAndTheLinesBeforeItStay() throws Exception {
        Kernel k = RootShellCaptureTest.fixtureHost();
        RootShell.Run run = new RootShell(k).runScript(List.of(
                "# bind the edu at 04.0",
                "",
                "modprobe vfio-pci",
                "echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override",
                "echo 0000:00:04.0 > /sys/bus/pci/drivers_probe",
                "echo 0000:00:04.0 > /sys/bus/pci/drivers/vfio-pci/bind",
                "modprobe e1000"));
        assertThat(run.ok()).isFalse();
        assertThat(run.failedLine()).isEqualTo("echo 0000:00:04.0 > /sys/bus/pci/drivers/vfio-pci/bind");
        assertThat(run.results()).hasSize(6);
        assertThat(run.results().get(5).stderr()).isEqualTo("sh: write error: Device or resource busy\n");
        assertThat(k.driver(io.viommu.pci.RequesterId.of(0, 4, 0))).contains("vfio-pci");
        assertThat(k.drivers().modules()).doesNotContain("e1000"); // the line after the failure did not run
    }

    @Test
    void quotingCommentsAndSeveralCommandsOnALine() throws Exception {
        Kernel k = RootShellCaptureTest.fixtureHost();
        RootShell sh = new RootShell(k);
        assertThat(sh.run("echo 'a  b' \"c\\\"d\" e\\ f # not echoed").stdout()).isEqualTo("a  b c\"d e f\n");
        assertThat(sh.run("echo -n x; echo y").stdout()).isEqualTo("xy\n");
        assertThat(sh.run("echo \"open").stderr()).isEqualTo("sh: syntax error: unterminated quoted string\n");
        assertThat(sh.run("   # only a comment").status()).isZero();
        assertThat(sh.run("frobnicate --now").output()).isEqualTo("sh: frobnicate: not found\n");
        assertThat(sh.run("cat /proc/cmdline").stdout()).isEqualTo("intel_iommu=on\n");
    }

    @Test
    void nicsGetKernelNamesAndIpStateIsKept() throws Exception {
        Kernel k = RootShellCaptureTest.fixtureHost();
        RootShell.Run run = new RootShell(k).runScript(List.of("modprobe e1000", "ip link set dev eth1 up",
                "ip addr add 192.168.7.2/24 dev eth1", "mount /dev/nvme0n1 /mnt"));
        assertThat(run.failedLine()).isEqualTo("mount /dev/nvme0n1 /mnt");
        assertThat(run.results().get(3).stderr())
                .isEqualTo("mount: mounting /dev/nvme0n1 on /mnt failed: No such file or directory\n");
        NetworkInterfaces.Interface eth1 = k.network().byName("eth1").orElseThrow();
        assertThat(eth1.device()).isEqualTo("0000:00:07.0");
        assertThat(eth1.up()).isTrue();
        assertThat(eth1.addresses()).extracting(NetworkInterfaces.Address::text).containsExactly("192.168.7.2/24");
        assertThat(k.network().routes()).containsExactly(new NetworkInterfaces.Route("192.168.7.0/24", "eth1", "192.168.7.2"));
        assertThat(k.network().byName("eth0").orElseThrow().up()).isFalse();
    }

    @Test
    void nvmeAndVirtioBlkDisksCanBeMounted() throws Exception {
        Kernel k = boot("-machine", "q35", "-m", "1G", "-nodefaults", "-append", "intel_iommu=on",
                "-device", "intel-iommu,caching-mode=on", "-device", "nvme,serial=a,addr=04.0",
                "-blockdev", "null-co,node-name=nb", "-device", "virtio-blk-pci,addr=05.0,drive=nb");
        RootShell sh = new RootShell(k);
        assertThat(sh.run("modprobe nvme").status()).isZero();
        assertThat(sh.run("modprobe virtio_pci").status()).isZero();
        assertThat(k.blockDevices().disks()).extracting(d -> d.name() + "@" + d.device())
                .containsExactlyInAnyOrder("nvme0n1@0000:00:04.0", "vda@0000:00:05.0");
        assertThat(sh.run("mount /dev/nvme0n1 /srv").status()).isZero();
        assertThat(sh.run("mount /dev/nvme0n1 /mnt").stderr())
                .isEqualTo("mount: mounting /dev/nvme0n1 on /mnt failed: Device or resource busy\n");
        assertThat(k.blockDevices().byPath("/dev/nvme0n1").orElseThrow().mountPoint()).isEqualTo("/srv");
        assertThat(sh.run("echo 0000:00:04.0 > /sys/bus/pci/drivers/nvme/unbind").status()).isZero();
        assertThat(k.blockDevices().byPath("/dev/nvme0n1")).isEmpty();
    }

    @Test
    void unsafeInterruptsParameterAndSriovRefusals() throws Exception {
        Kernel k = boot("-machine", "q35", "-m", "1G", "-nodefaults", "-append", "intel_iommu=on",
                "-device", "intel-iommu,caching-mode=on",
                "-device", "pcie-root-port,id=rp1,chassis=1,slot=1", "-device", "igb-82576,bus=rp1",
                "-device", "edu,addr=05.0");
        RootShell sh = new RootShell(k);
        assertThat(sh.run("echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts").stderr())
                .isEqualTo("sh: can't create /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts:"
                        + " nonexistent directory\n");
        assertThat(sh.run("modprobe vfio_iommu_type1 allow_unsafe_interrupts=1").status()).isZero();
        assertThat(sh.run("cat /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts").stdout()).isEqualTo("Y\n");
        assertThat(sh.run("echo maybe > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts").stderr())
                .isEqualTo("sh: write error: Invalid argument\n");
        assertThat(sh.run("echo 1 > /sys/bus/pci/devices/0000:00:05.0/sriov_numvfs").stderr())
                .isEqualTo("sh: can't create /sys/bus/pci/devices/0000:00:05.0/sriov_numvfs: Permission denied\n");
        // the PF with no driver: sriov_numvfs_store says -ENOENT (no driver / no sriov_configure)
        assertThat(sh.run("echo 2 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs").stderr())
                .isEqualTo("sh: write error: No such file or directory\n");
        assertThat(sh.run("modprobe igb").status()).isZero();
        assertThat(sh.run("echo 2 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs").status()).isZero();
        assertThat(k.sysfs().list("/sys/bus/pci/devices").orElseThrow()).contains("0000:01:10.0", "0000:01:10.2");
        // vfio-pci's enable_sriov is read when VFs are asked for
        assertThat(sh.run("echo 0 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs").status()).isZero();
        assertThat(sh.run("modprobe vfio-pci").status()).isZero();
        assertThat(sh.run("echo 0000:01:00.0 > /sys/bus/pci/drivers/igb/unbind").status()).isZero();
        assertThat(sh.run("echo vfio-pci > /sys/bus/pci/devices/0000:01:00.0/driver_override").status()).isZero();
        assertThat(sh.run("echo 0000:01:00.0 > /sys/bus/pci/drivers/vfio-pci/bind").status()).isZero();
        assertThat(sh.run("echo 1 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs").stderr())
                .isEqualTo("sh: write error: No such file or directory\n");
        assertThat(sh.run("echo 1 > /sys/module/vfio_pci/parameters/enable_sriov").status()).isZero();
        assertThat(sh.run("echo 1 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs").status()).isZero();
    }

    @Test
    void modprobeAndRmmodRefusals() throws Exception {
        Kernel k = RootShellCaptureTest.fixtureHost();
        RootShell sh = new RootShell(k);
        assertThat(sh.run("modprobe no-such-module").output())
                .isEqualTo("modprobe: FATAL: Module no_such_module not found in directory /lib/modules/6.1.0-56-amd64\n");
        assertThat(sh.run("rmmod pcieport").output())
                .isEqualTo("rmmod: can't unload module 'pcieport': No such file or directory\n");
    }
}
