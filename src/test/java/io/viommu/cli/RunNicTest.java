package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import io.viommu.vmm.VmRun;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code viommu run} with an e1000e and an 82576 VF assigned: each one's DMA sample moves a
 * frame through the NIC's own rings (the guest driver's ring pages), translated by the host
 * unit with what the VMM mirrored, into the guest's page.
 */
class RunNicTest {
    static final String HOST = "-machine q35 -m 2G -smp 2 -append intel_iommu=on -nodefaults"
            + " -device intel-iommu,intremap=off,caching-mode=on -device e1000e,addr=04.0"
            + " -device pcie-root-port,id=rp1,chassis=1 -device igb,bus=rp1";

    static Kernel host() throws Exception {
        Kernel k = QtestHost.bootHost(HOST);
        var run = new io.viommu.linux.shell.RootShell(k).runScript(List.of("modprobe vfio-pci", "modprobe igb",
                "echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts",
                "echo 1 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs",
                "echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override",
                "echo vfio-pci > /sys/bus/pci/devices/0000:01:10.0/driver_override",
                "echo 0000:00:04.0 > /sys/bus/pci/drivers_probe",
                "echo 0000:01:10.0 > /sys/bus/pci/drivers_probe"));
        assertThat(run.ok()).isTrue();
        return k;
    }

    static String run(Kernel host, String... vmArgs) {
        return run(host, VmRun.Workload.NONE, vmArgs);
    }

    static String run(Kernel host, VmRun.Workload w, String... vmArgs) {
        RunCommand c = new RunCommand();
        c.hostArgs = HOST;
        c.vmArgs = List.of(vmArgs);
        c.packets = 40;
        c.ring = 8;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int rc = c.runOn(host, w, new PrintStream(o, true, StandardCharsets.UTF_8),
                new PrintStream(e, true, StandardCharsets.UTF_8));
        String out = o.toString(StandardCharsets.UTF_8);
        assertThat(rc).as(out + e.toString(StandardCharsets.UTF_8)).isZero();
        return out;
    }

    @Test
    void behindTheVirtualIommuEachNicsFrameLandsInTheGuestPageThroughItsRings() throws Exception {
        String out = run(host(), "-M", "q35", "-m", "256M", "-nodefaults", "-device", "intel-iommu,caching-mode=on",
                "-device", "vfio-pci,host=0000:00:04.0", "-device", "vfio-pci,host=0000:01:10.0");
        assertThat(out).contains("the device's own DMA: ok: e1000e moved a 64-byte frame from its TX ring",
                "through MAC loopback into the RX buffer at IOVA",
                "the device's own DMA: ok: 82576 VF moved a 64-byte frame from its TX ring",
                "through the PF's switch into the RX buffer at IOVA", "TX descriptor written back with DD", "RESULT  ok");
        assertThat(out).doesNotContain("bytes differ");
    }

    @Test
    void withoutAVirtualIommuTheRingsUseGuestPhysicalAddresses() throws Exception {
        String out = run(host(), "-M", "q35", "-m", "256M", "-nodefaults", "-device", "vfio-pci,host=0000:00:04.0");
        assertThat(out).contains("the device's own DMA: ok: e1000e moved a 64-byte frame", "RESULT  ok");
    }

    /**
     * {@code --workload nic-ring} on an assigned e1000e behind the vIOMMU: the guest's driver
     * keeps an RX descriptor ring and maps a buffer per slot; each frame arrives at the host
     * e1000e, which fetches the descriptor and writes the frame through the host unit into the
     * guest's buffer; every frame arrives intact, and each map and unmap is a host VFIO call.
     */
    @Test
    void nicRingWorkloadDrivesTheAssignedE1000esRealRxRing() throws Exception {
        String out = run(host(), VmRun.Workload.NIC_RING, "-M", "q35", "-m", "256M", "-nodefaults", "-device",
                "intel-iommu,caching-mode=on", "-device", "vfio-pci,host=0000:00:04.0");
        assertThat(out).contains("WORKLOAD  nic-ring on 0000:00:04.0", "40 packets into a ring of 8",
                "delivered intact 40, DMA faults 0");
    }

    /** {@code --workload static} on an assigned 82576 VF: a DPDK-style process maps buffers and its descriptor ring once. */
    @Test
    void staticWorkloadDrivesTheAssignedVfsRealRxRing() throws Exception {
        String out = run(host(), VmRun.Workload.STATIC, "-M", "q35", "-m", "256M", "-nodefaults", "-device",
                "intel-iommu,caching-mode=on", "-device", "vfio-pci,host=0000:01:10.0");
        assertThat(out).contains("WORKLOAD  static on 0000:01:10.0", "delivered intact 40, DMA faults 0",
                "maps 0.00");
    }
}
