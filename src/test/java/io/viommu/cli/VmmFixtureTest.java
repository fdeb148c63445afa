package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import io.viommu.linux.driver.KernelMessage;
import io.viommu.linux.vfio.DmaMapping;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.memory.PhysAddr;
import io.viommu.vmm.Vmm;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The real captures of QEMU 7.2's vfio-pci on a Linux 6.1 host (src/test/resources/vmm, from
 * ../shared/fixtures/vmm): the same script gives the same replies, stderr, exit status and host
 * kernel lines against the VMM model on the modelled host.
 */
class VmmFixtureTest {
    static final Path DIR = Path.of("src", "test", "resources", "vmm");

    static String read(String name) throws Exception {
        return Files.readString(DIR.resolve(name), StandardCharsets.UTF_8);
    }

    static Kernel fixtureHost() throws Exception {
        Kernel k = QtestHost.bootHost(read("host.args").trim() + " -nodefaults"); // the capture tool adds it
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertThat(QtestHost.runSetup(k, DIR.resolve("host-setup.sh"), new PrintStream(err, true, StandardCharsets.UTF_8)))
                .as(err.toString(StandardCharsets.UTF_8)).isZero();
        return k;
    }

    static List<String> vmArgs(String name) throws Exception {
        List<String> a = new ArrayList<>(List.of(read(name + ".cmd").trim().split(" ")));
        a.remove(0); // qemu-system-x86_64
        return a;
    }

    record Run(int rc, String out, String err, List<String> dmesg) {
    }

    /** A capture's host.dmesg without the timestamps. */
    static List<String> realDmesg(Path captureDir) throws Exception {
        return Files.readAllLines(captureDir.resolve("host.dmesg")).stream()
                .map(l -> l.replaceFirst("^\\[[ \\d.]+\\] ", "")).toList();
    }

    /** A capture's VMM argv ({@code vmm.cmd} without the program name). */
    static List<String> captureArgv(Path captureDir) throws Exception {
        List<String> argv = new ArrayList<>(List.of(Files.readString(captureDir.resolve("vmm.cmd")).trim().split(" ")));
        argv.remove(0);
        return argv;
    }

    /**
     * Replays a capture directory made by the lab's capture tool ({@code vmm.cmd}, {@code vmm.qtest})
     * on the fixture host and asserts the replies, QEMU's stderr (viommu's own {@code viommu: }
     * lines aside), the exit status and the host kernel's lines equal the real ones; returns
     * viommu's own stderr lines.
     */
    static List<String> assertCaptureDir(Kernel k, Path d) throws Exception {
        String name = d.getFileName().toString();
        Run r = run(k, captureArgv(d), Files.readString(d.resolve("vmm.qtest"), StandardCharsets.UTF_8));
        assertThat(r.out()).as(name + " replies").isEqualTo(Files.readString(d.resolve("vmm.out")));
        String qemuErr = r.err().lines().filter(l -> !l.startsWith("viommu: ")).map(l -> l + "\n")
                .collect(java.util.stream.Collectors.joining());
        assertThat(qemuErr).as(name + " stderr").isEqualTo(Files.readString(d.resolve("vmm.err")));
        assertThat(r.rc()).as(name + " status").isEqualTo(Integer.parseInt(Files.readString(d.resolve("vmm.rc")).trim()));
        assertThat(r.dmesg()).as(name + " host dmesg").isEqualTo(realDmesg(d));
        return r.err().lines().filter(l -> l.startsWith("viommu: ")).toList();
    }

    static Run run(Kernel k, List<String> vmArgs, String script) {
        int from = k.log().messages().size();
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(o, true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(e, true, StandardCharsets.UTF_8);
        int rc = QtestHost.runVm(k, vmArgs, new BufferedReader(new StringReader(script)), out, err, false);
        out.flush();
        err.flush();
        List<String> dmesg = k.log().messages().subList(from, k.log().messages().size()).stream()
                .map(KernelMessage::text).toList();
        return new Run(rc, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8), dmesg);
    }

    static void assertMatches(Run r, String name) throws Exception {
        assertThat(r.out()).as(name + ".out").isEqualTo(read(name + ".out"));
        assertThat(r.err()).as(name + ".err").isEqualTo(read(name + ".err"));
        assertThat(r.rc()).as(name + ".rc").isEqualTo(Integer.parseInt(read(name + ".rc").trim()));
        List<String> real = read(name + ".dmesg").lines().map(l -> l.replaceFirst("^\\[[ \\d.]+\\] ", "")).toList();
        assertThat(r.dmesg()).as(name + ".dmesg").isEqualTo(real);
    }

    @Test
    void bothCapturesInTheirOrderOnOneHostBoot() throws Exception {
        Kernel k = fixtureHost();
        assertMatches(run(k, vmArgs("a-config"), read("a-config.qtest")), "a-config");
        assertMatches(run(k, vmArgs("c-dma"), read("c-dma.qtest")), "c-dma");
    }

    @Test
    void theDmaGoesThroughTheHostUnitIntoTheVmmProcessFrames() throws Exception {
        Kernel k = fixtureHost();
        List<String> errs = new ArrayList<>();
        Vmm vmm = Vmm.start(k, vmArgs("c-dma"), io.viommu.machine.device.MachineLog.SILENT, errs::add);
        try {
            var dev = vmm.assignedDevices().getFirst();
            // no vIOMMU: all guest RAM mapped at its guest-physical address, read/write
            List<DmaMapping> maps = dev.container().mappings();
            assertThat(maps).isNotEmpty();
            assertThat(maps.getFirst().iova().value()).isZero();
            QtestServer s = new QtestServer(vmm.machine(), new PrintStream(new ByteArrayOutputStream()), System.err);
            for (String line : read("c-dma.qtest").lines().toList()) {
                s.handle(line);
            }
            // the guest page the device wrote is a host frame of the VMM process, and the host
            // IOMMU's mapping of IOVA 0x200000 for the VFIO domain points at that same frame
            var frame = vmm.hostFrameOf(0x200000);
            assertThat(frame).isNotNull();
            assertThat(dev.container().iovaToPhys(new io.viommu.memory.Iova(0x200000))).isEqualTo(frame);
            byte[] got = new byte[16];
            k.machine().ram().readBytes(frame, got, 0, 16);
            assertThat(got).startsWith(0x00, 0x11, 0x22, 0x33);
        } finally {
            vmm.shutdown();
        }
        // the host is left as before: the group can be opened again
        assertThat(run(k, vmArgs("a-config"), "").rc()).isZero();
    }

    static String refusal(Kernel k, String device) {
        List<String> args = new ArrayList<>(List.of("-M", "q35", "-accel", "tcg", "-S", "-display", "none",
                "-nodefaults", "-m", "128M", "-device", device, "-qtest", "stdio"));
        try {
            Vmm.start(k, args, io.viommu.machine.device.MachineLog.SILENT, l -> { });
        } catch (MachineConfigException e) {
            return e.getMessage();
        }
        throw new AssertionError("accepted: " + device);
    }

    @Test
    void aVfWhosePfTookItsVfsBackIsNoSuchHostDevice() throws Exception {
        // The VF was on vfio-pci; then its PF's driver disabled SR-IOV (sriov_numvfs = 0): Linux
        // removes the VF's pci_dev, so QEMU's stat() of its sysfs directory fails (vfio_realize)
        Kernel k = QtestHost.bootHost("-M q35 -m 2G -nodefaults -append intel_iommu=on -device intel-iommu,intremap=off"
                + " -device pcie-root-port,id=rp1,chassis=1 -device igb,bus=rp1");
        var run = new io.viommu.linux.shell.RootShell(k).runScript(List.of("modprobe igb", "modprobe vfio-pci",
                "echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts",
                "echo 2 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs",
                "echo vfio-pci > /sys/bus/pci/devices/0000:01:10.0/driver_override",
                "echo 0000:01:10.0 > /sys/bus/pci/drivers_probe"));
        assertThat(run.ok()).isTrue();
        assertThat(k.drivers().device("0000:01:10.0").orElseThrow().driver().name()).isEqualTo("vfio-pci");
        assertThat(new io.viommu.linux.shell.RootShell(k)
                .runScript(List.of("echo 0 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs")).ok()).isTrue();
        assertThat(k.dmesg()).anyMatch(l -> l.endsWith("pci 0000:01:10.0: Removing from iommu group 4"));
        assertThat(refusal(k, "vfio-pci,host=0000:01:10.0")).isEqualTo("qemu-system-x86_64: -device"
                + " vfio-pci,host=0000:01:10.0: vfio /sys/bus/pci/devices/0000:01:10.0: no such host device:"
                + " No such file or directory");
    }

    @Test
    void refusalsCarryQemusTextsAndLeaveTheHostAsItWas() throws Exception {
        Kernel k = fixtureHost();
        // run here with the real qemu-system-x86_64 7.2 (no VFIO needed for these)
        assertThat(refusal(k, "vfio-pci,host=0000:00:04.0,foo=1"))
                .isEqualTo("qemu-system-x86_64: -device vfio-pci,host=0000:00:04.0,foo=1: Property 'vfio-pci.foo' not found");
        assertThat(refusal(k, "vfio-pci,host=zz"))
                .isEqualTo("qemu-system-x86_64: -device vfio-pci,host=zz: Property 'vfio-pci.host' doesn't take value 'zz'");
        assertThat(refusal(k, "vfio-pci,host=00:04.0,x-no-mmap=maybe"))
                .isEqualTo("qemu-system-x86_64: -device vfio-pci,host=00:04.0,x-no-mmap=maybe: Parameter 'x-no-mmap' expects 'on' or 'off'");
        assertThat(refusal(k, "vfio-pci")).isEqualTo("qemu-system-x86_64: -device vfio-pci: No provided host device\n"
                + "Use -device vfio-pci,host=DDDD:BB:DD.F or -device vfio-pci,sysfsdev=PATH_TO_DEVICE");
        // texts from QEMU 7.2's source (../shared/reference/vmm.md §1), not yet captured on a VFIO host
        assertThat(refusal(k, "vfio-pci,host=02:00.0")).isEqualTo("qemu-system-x86_64: -device vfio-pci,host=02:00.0: "
                + "vfio /sys/bus/pci/devices/0000:02:00.0: no such host device: No such file or directory");
        assertThat(refusal(k, "vfio-pci,host=00:06.0")).isEqualTo("qemu-system-x86_64: -device vfio-pci,host=00:06.0: "
                + "vfio 0000:00:06.0: failed to open /dev/vfio/3: No such file or directory");
        assertThat(refusal(k, "vfio-pci,host=00:05.0")).isEqualTo("qemu-system-x86_64: -device vfio-pci,host=00:05.0: "
                + "vfio 0000:00:05.0: group 2 is not viable\n"
                + "Please ensure all devices within the iommu_group are bound to their vfio bus driver.");
        // nothing stayed open: the captures still pass on this host
        assertMatches(run(k, vmArgs("a-config"), read("a-config.qtest")), "a-config");
    }

    @Test
    void withoutMmapTheBarGoesThroughTheDeviceFile() throws Exception {
        Kernel k = fixtureHost();
        List<String> args = vmArgs("c-dma");
        int i = args.indexOf("vfio-pci,host=0000:00:04.0");
        args.set(i, "vfio-pci,host=0000:00:04.0,x-no-mmap=on");
        Run r = run(k, args, read("c-dma.qtest"));
        assertThat(r.out()).isEqualTo(read("c-dma.out"));
    }

    @Test
    void theCommandWritesTheWholeHostLogWithTheRunsLinesLast(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Path dmesg = tmp.resolve("host.dmesg");
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(o, true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(e, true, StandardCharsets.UTF_8);
        int rc = QtestHost.run(read("host.args").trim() + " -nodefaults", DIR.resolve("host-setup.sh"), dmesg,
                vmArgs("a-config"), new BufferedReader(new StringReader(read("a-config.qtest"))), out, err, false);
        assertThat(rc).isZero();
        assertThat(o.toString(StandardCharsets.UTF_8)).isEqualTo(read("a-config.out"));
        assertThat(e.toString(StandardCharsets.UTF_8)).isEqualTo(read("a-config.err"));
        List<String> log = Files.readAllLines(dmesg);
        assertThat(log.getFirst()).startsWith("[    0.000000] Command line: ");
        assertThat(log.getLast()).endsWith("] ACPI: \\_SB_.GSIE: Enabled at IRQ 20");
    }

    @Test
    void aBadSetupLineStopsBeforeTheVm(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Path setup = tmp.resolve("setup.sh");
        Files.writeString(setup, "modprobe vfio-pci\necho vfio-pci > /sys/bus/pci/devices/0000:00:09.0/driver_override\n");
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int rc = QtestHost.run(read("host.args").trim() + " -nodefaults", setup, null, vmArgs("a-config"),
                new BufferedReader(new StringReader(read("a-config.qtest"))),
                new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8), false);
        assertThat(rc).isEqualTo(1);
        assertThat(o.toString(StandardCharsets.UTF_8)).isEmpty();
        // busybox sh's text, as the root shell model prints it
        assertThat(e.toString(StandardCharsets.UTF_8))
                .isEqualTo("sh: can't create /sys/bus/pci/devices/0000:00:09.0/driver_override: nonexistent directory\n");
    }

    @Test
    void behindTheVIommuTheDeviceFollowsTheUnitWhichStartsWithDmarOff() throws Exception {
        Kernel k = fixtureHost();
        List<String> args = vmArgs("c-dma");
        int i = args.indexOf("-device");
        args.addAll(i, List.of("-device", "intel-iommu,caching-mode=on"));
        Vmm vmm = Vmm.start(k, args, io.viommu.machine.device.MachineLog.SILENT, l -> { });
        try {
            // DMAR is off until the guest enables it: the nodmar alias, all guest RAM mapped at GPA
            assertThat(vmm.assignedDevices().getFirst().listener().mode())
                    .isEqualTo(io.viommu.vmm.VfioListener.Mode.SYSTEM_MEMORY);
            ByteArrayOutputStream o = new ByteArrayOutputStream();
            QtestServer s = new QtestServer(vmm.machine(), new PrintStream(o, true, StandardCharsets.UTF_8), System.err);
            for (String line : read("c-dma.qtest").lines().toList()) {
                s.handle(line);
            }
            assertThat(o.toString(StandardCharsets.UTF_8)).isEqualTo(read("c-dma.out"));
        } finally {
            vmm.shutdown();
        }
        // listed before intel-iommu, vfio-pci takes system memory for good (QEMU 7.2 has no check)
        List<String> before = vmArgs("c-dma");
        before.addAll(List.of("-device", "intel-iommu,caching-mode=on"));
        Vmm v2 = Vmm.start(k, before, io.viommu.machine.device.MachineLog.SILENT, l -> { });
        try {
            assertThat(v2.assignedDevices().getFirst().listener().mode())
                    .isEqualTo(io.viommu.vmm.VfioListener.Mode.SYSTEM_MEMORY);
        } finally {
            v2.shutdown();
        }
    }

    @Test
    void aGroupHeldByAnotherVmIsBusy() throws Exception {
        Kernel k = fixtureHost();
        Vmm first = Vmm.start(k, vmArgs("a-config"), io.viommu.machine.device.MachineLog.SILENT, l -> { });
        try {
            // open("/dev/vfio/1") -> EBUSY (vfio_group_fops_open); QEMU's text, vmm.md §1 step 5
            assertThat(VmmFixtureTest.run(k, vmArgs("a-config"), "").err()).isEqualTo(
                    "qemu-system-x86_64: -device vfio-pci,host=0000:00:04.0: vfio 0000:00:04.0: "
                            + "failed to open /dev/vfio/1: Device or resource busy\n");
        } finally {
            first.shutdown();
        }
    }

    @Test
    void aTakenSlotIsRefusedBeforeTheHostIsTouched() throws Exception {
        Kernel k = fixtureHost();
        List<String> args = new ArrayList<>(List.of("-M", "q35", "-accel", "tcg", "-S", "-display", "none", "-nodefaults",
                "-m", "128M", "-device", "edu,addr=04.0", "-device", "vfio-pci,host=00:04.0,addr=04.0"));
        int before = k.log().messages().size();
        try {
            Vmm.start(k, args, io.viommu.machine.device.MachineLog.SILENT, l -> { });
            throw new AssertionError("accepted");
        } catch (MachineConfigException e) {
            // checked with qemu-system-x86_64 7.2 here: the devfn check comes before vfio_realize
            assertThat(e.getMessage()).isEqualTo("qemu-system-x86_64: -device vfio-pci,host=00:04.0,addr=04.0: "
                    + "PCI: slot 4 function 0 not available for vfio-pci, in use by edu,id=(null)");
        }
        assertThat(k.log().messages()).hasSize(before); // no device opened: no ACPI link line
    }
}
