package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Assigned NICs' rings and MSI-X through the VM's vIOMMU (src/test/resources/vmm/nic). The
 * e1000e is held against a real capture ({@code host.args} and {@code host-setup.sh} the host,
 * e1000e-viommu/{@code capture.sh} the command, {@code e1000e-viommu.qtest} the script with
 * its comments, e1000e-viommu/{@code vmm.qtest} what was sent): QEMU 7.2 (TCG) assigning QEMU
 * 7.2's e1000e of a real Linux 6.1 host, no interrupt remapping on the host
 * (allow_unsafe_interrupts=1). The 82576 VF has no QEMU 7.2 oracle (QEMU's igb came in 8.0):
 * its test asserts what the model's data path must do.
 */
class VmmNicCaptureTest {
    static final Path DIR = VmmFixtureTest.DIR.resolve("nic");

    static Kernel host(String args, List<String> setup) throws Exception {
        Kernel k = QtestHost.bootHost(args + " -nodefaults");
        Path f = Files.createTempFile("host-setup", ".sh");
        try {
            Files.write(f, setup);
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            assertThat(QtestHost.runSetup(k, f, new PrintStream(err, true, StandardCharsets.UTF_8)))
                    .as(err.toString(StandardCharsets.UTF_8)).isZero();
        } finally {
            Files.deleteIfExists(f);
        }
        return k;
    }

    static Kernel e1000eHost() throws Exception {
        return host(Files.readString(DIR.resolve("host.args")).trim(), Files.readAllLines(DIR.resolve("host-setup.sh")));
    }

    /**
     * {@code e1000e-viommu}: the guest's tables map the TX ring, the RX ring, a read-only TX
     * buffer, an RX buffer, the MSI-X message page and a read-only page; IVAR sends RXQ0 to
     * vector 0 and TXQ0 to vector 1, MSI-X on, RCTL in MAC loopback. One TDT write: the host
     * e1000e reads the TX descriptor and the frame through the HOST unit, loops the frame back,
     * writes its 60 bytes into the guest's RX buffer (GPA 0x301000, byte for byte) and QEMU's
     * four FCS bytes into the next descriptor's buffer, an IOVA the guest never mapped (a host
     * DMAR fault line), writes both descriptors and the TX descriptor back, and raises vectors
     * 0 and 1, which the VMM writes where the guest programmed them (translated by the
     * vIOMMU to GPA 0x400000 and 0x400010). The next frame faults on the read-only buffer; the
     * third finds the ring full and is dropped (only TXQ0). ICR reads as QEMU's with MSI-X on;
     * the VM's own unit records nothing.
     */
    @Test
    void e1000eRingsThroughTheVirtualIommuMatchQemuByteForByteAndFaultInTheHostUnit() throws Exception {
        assertThat(VmmFixtureTest.assertCaptureDir(e1000eHost(), DIR.resolve("e1000e-viommu"))).isEmpty();
    }

    /**
     * {@code e1000e-msi}: no vIOMMU (all guest RAM mapped at its GPA), MSI instead of MSI-X.
     * Four IPv4/UDP frames looped back in one TDT write, with CRC stripping: the RX write-backs
     * carry QEMU's software checksum verdicts (good: IPCS|TCPCS|UDPCS; a bad IP header checksum:
     * IPE; a bad UDP checksum: TCPE; no UDP checksum: IPCS only), the third frame leaves half
     * the ring free (RXDMT0), the message lands at GPA 0x400000, and ICR (equal to ICS) clears
     * on read without MSI-X.
     */
    @Test
    void e1000eMsiAndReceiveChecksumVerdictsMatchQemuByteForByte() throws Exception {
        assertThat(VmmFixtureTest.assertCaptureDir(e1000eHost(), DIR.resolve("e1000e-msi"))).isEmpty();
    }

    /**
     * {@code e1000e-txfault}: the TX buffer is past the VM's RAM, never mapped into the host
     * container: the host e1000e's read faults in the host unit (the host's DMAR Read line,
     * reason 0x06), and QEMU 7.2 still sends the frame, as 60 zero bytes (its one bounce buffer
     * reads unassigned memory), which the loopback writes into the RX buffer.
     */
    @Test
    void aTxBufferTheHostUnitRefusesIsSentAsZerosAsQemuDoes() throws Exception {
        assertThat(VmmFixtureTest.assertCaptureDir(e1000eHost(), DIR.resolve("e1000e-txfault"))).isEmpty();
    }

    /**
     * The same host with interrupt remapping on (Linux 6.1 panics with it under TCG: no
     * capture): the e1000e's five MSI-X messages reach the host CPU through the host kernel's
     * IRTEs, and the VM sees exactly what the capture shows.
     */
    @Test
    void withHostInterruptRemappingTheE1000eMessagesGoThroughHostIrtes() throws Exception {
        String args = Files.readString(DIR.resolve("host.args")).trim().replace("intremap=off", "intremap=on");
        Kernel k = host(args, Files.readAllLines(DIR.resolve("host-setup.sh")).stream()
                .filter(l -> !l.contains("allow_unsafe_interrupts")).toList());
        Path d = DIR.resolve("e1000e-viommu");
        int before = k.machine().interrupts().apic().log().size();
        VmmFixtureTest.Run r = VmmFixtureTest.run(k, VmmFixtureTest.captureArgv(d), Files.readString(d.resolve("vmm.qtest")));
        assertThat(r.out()).isEqualTo(Files.readString(d.resolve("vmm.out")));
        var nic = io.viommu.pci.RequesterId.parse("00:04.0");
        var log = k.machine().interrupts().apic().log();
        var fromNic = log.subList(before, log.size()).stream().filter(i -> i.source().equals(nic)).toList();
        assertThat(fromNic).hasSize(5);
        assertThat(fromNic).allMatch(io.viommu.machine.device.LocalApicSink.ApicInterrupt::remapped);
    }

    static String script(String name) throws Exception {
        return Files.readAllLines(DIR.resolve(name)).stream().filter(l -> !l.startsWith("#"))
                .map(l -> l + "\n").collect(Collectors.joining());
    }

    /**
     * {@code igbvf-viommu.qtest}: an 82576 VF (host 01:10.0, VF 0 of the PF at 01:00.0 with
     * igb loaded) assigned behind the guest's vIOMMU. Advanced TX descriptor at IOVA 0x1000 with
     * a frame to the VF's own MAC: the PF's switch brings it back into the VF's advanced RX ring
     * (60 bytes at GPA 0x301000, no FCS; write-back length 60, DD|EOP), the TX descriptor is
     * written back with DD, and IVAR0's vectors (RX 1, TX 0) land at GPA 0x400010 and 0x400000;
     * EICR shows both vectors and clears on read. The next frame's RX buffer is an IOVA the
     * guest never mapped: the HOST unit faults with the VF's requester id.
     */
    @Test
    void anAssignedIgbVfMovesAFrameThroughItsAdvancedRingsAndFaultsInTheHostUnit() throws Exception {
        Kernel k = host("-machine q35 -m 2G -smp 2 -append intel_iommu=on -device intel-iommu,intremap=off,caching-mode=on"
                + " -device pcie-root-port,id=rp1,chassis=1 -device igb,bus=rp1", List.of("modprobe igb", "modprobe vfio-pci",
                "echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts",
                "echo 1 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs",
                "echo vfio-pci > /sys/bus/pci/devices/0000:01:10.0/driver_override",
                "echo 0000:01:10.0 > /sys/bus/pci/drivers_probe"));
        List<String> argv = List.of("-M", "q35", "-accel", "tcg", "-S", "-display", "none", "-nodefaults", "-m", "128M",
                "-device", "intel-iommu,caching-mode=on", "-device", "vfio-pci,host=0000:01:10.0", "-qtest", "stdio",
                "-qtest-log", "none");
        VmmFixtureTest.Run r = VmmFixtureTest.run(k, argv, script("igbvf-viommu.qtest"));
        List<String> out = r.out().lines().toList();
        assertThat(r.rc()).isZero();
        assertThat(out).allMatch(l -> l.startsWith("OK"));
        List<String> values = out.stream().filter(l -> l.startsWith("OK ")).map(l -> l.substring(3)).toList();
        String frame = "525400123457020000000001" + "88b5"
                + java.util.stream.IntStream.range(0, 46).mapToObj(i -> String.format("%02x", i)).collect(Collectors.joining());
        assertThat(values).containsExactly(
                "0x0000000040000000", "0x00000000c0000000", "0x2800000000000000", "0x1200000000000000", // vIOMMU on
                "0x10ca8086", // the VF's ids as QEMU's vfio-pci shows them
                "0x0000000000000083", // STATUS: LU, FD, 1000 Mb/s
                "0x2143000000000000000000000000000022430000000000000000000000000000", // TX vector 0, RX vector 1
                "0x00000000000000000000000001000000", // TX descriptor: advanced write-back, DD
                "0x00000000000000000300000000003c00".replace("00003c00", "3c000000"), // RX write-back: DD|EOP, length 60
                "0x" + frame + "00000000", // the frame in the guest's page, nothing after it
                "0x0000000000000001", "0x0000000000000001", // RDH, TDH
                "0x0000000000000003", "0x0000000000000000", // EICR: both vectors; cleared by the read
                "0x2143000000000000000000000000000022430000000000000000000000000000", // still both vectors
                "0x00000000000000000300000000003c00".replace("00003c00", "3c000000"), // written back all the same
                "0x0000000000000002", // RDH
                "0x0000000000000000"); // the VM's own unit recorded nothing
        assertThat(r.dmesg()).containsSubsequence("DMAR: [DMA Write NO_PASID] Request device [01:10.0] fault addr 0x6000"
                + " [fault reason 0x05] PTE Write access is not set");
    }
}
