package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.viommu.linux.Kernel;
import io.viommu.linux.shell.RootShell;
import io.viommu.vmm.VmRun;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The whole QEMU command lines of the seeds (../shared/seeds) under {@code viommu run}: every
 * option is used or named as having no effect, files the model does not read are reported, and
 * the BDFs and guest IOMMU groups are QEMU's (checked with qemu-system-x86_64 7.2's info pci, and
 * against the groups the seed's own guest listed). Only the host device's address is the test
 * host's: 02:00.0 (seed 001) or 01:00.0 (seed 003) are on it; the seed's b3:00.0 is replaced
 * by 02:00.0 (that bus number needs 179 bridges).
 */
class RunSeedsTest {
    /** A host with an e1000e at 01:00.0 and an edu at 02:00.0 (behind two root ports), both on vfio-pci. */
    static final String HOST = "-M q35 -m 4G -nodefaults -device intel-iommu,caching-mode=on"
            + " -device pcie-root-port,id=rp1,chassis=1,slot=1 -device pcie-root-port,id=rp2,chassis=2,slot=2"
            + " -device e1000e,bus=rp1 -device edu,bus=rp2";

    static Kernel host() throws Exception {
        Kernel k = QtestHost.bootHost(HOST);
        RootShell.Run r = new RootShell(k).runScript(List.of("modprobe vfio-pci",
                "echo vfio-pci > /sys/bus/pci/devices/0000:01:00.0/driver_override",
                "echo 0000:01:00.0 > /sys/bus/pci/drivers_probe",
                "echo vfio-pci > /sys/bus/pci/devices/0000:02:00.0/driver_override",
                "echo 0000:02:00.0 > /sys/bus/pci/drivers_probe"));
        assertThat(r.ok()).isTrue();
        return k;
    }

    record Out(int rc, JsonNode report, String err) {
    }

    static Out run(String line) throws Exception {
        List<String> args = new ArrayList<>(List.of(line.trim().split("\\s+")));
        assertThat(args.remove(0)).isEqualTo("qemu-system-x86_64");
        RunCommand c = new RunCommand();
        c.hostArgs = HOST;
        c.json = true;
        c.vmArgs = args;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int rc = c.runOn(host(), VmRun.Workload.NONE, new PrintStream(o, true, StandardCharsets.UTF_8),
                new PrintStream(e, true, StandardCharsets.UTF_8));
        return new Out(rc, new ObjectMapper().readTree(o.toString(StandardCharsets.UTF_8)), e.toString(StandardCharsets.UTF_8));
    }

    static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    static List<String> topology(JsonNode r) {
        List<String> out = new ArrayList<>();
        r.at("/vm/topology").forEach(f -> out.add(f.get("bdf").asText() + " " + f.get("ids").asText() + " group "
                + f.get("group").asText()));
        return out;
    }

    /** 002_f1c3e4f102f5d34e.txt, the L1 VM; $IMAGE and ${VMN} filled in, host=b3:00.0 -> 02:00.0. */
    static final String SEED_002_L1 = "qemu-system-x86_64 -machine q35,accel=kvm,kernel_irqchip=split -enable-kvm"
            + " -bios OVMF.fd -smp sockets=1,cpus=4,cores=2 -cpu host -m 1024 -vga none -nographic"
            + " -drive file=l1.img,if=virtio,aio=threads,format=raw"
            + " -netdev user,id=mynet0,hostfwd=tcp::10022-:22,hostfwd=tcp::12375-:2375"
            + " -device virtio-net-pci,netdev=mynet0 -device virtio-rng-pci"
            + " -monitor telnet:127.0.0.1:55555,server,nowait -debugcon file:debug.log"
            + " -global isa-debugcon.iobase=0x402 -device intel-iommu,intremap=on,caching-mode=on"
            + " -device vfio-pci,host=02:00.0";

    @Test
    void seed002NestedL1CommandLineRunsWhole() throws Exception {
        Out r = run(SEED_002_L1);
        assertThat(r.rc()).as(r.err()).isZero();
        // QEMU 7.2's slots (info pci): virtio-net, virtio-rng, the assigned device, then the -drive's
        // virtio-blk after every -device; groups as the seed's guest listed /sys/kernel/iommu_groups
        assertThat(topology(r.report())).containsExactly("0000:00:00.0 8086:29c0 group 0",
                "0000:00:01.0 1af4:1000 group 1", "0000:00:02.0 1af4:1005 group 2", "0000:00:03.0 1234:11e8 group 3",
                "0000:00:04.0 1af4:1001 group 4", "0000:00:1f.0 8086:2918 group 5", "0000:00:1f.2 8086:2922 group 5",
                "0000:00:1f.3 8086:2930 group 5");
        assertThat(r.report().at("/vm/cpus").asInt()).isEqualTo(4);
        assertThat(r.report().at("/vm/ramBytes").asLong()).isEqualTo(1L << 30);
        assertThat(r.report().at("/vm/accelerator").asText()).isEqualTo("kvm, kernel-irqchip=split");
        assertThat(r.report().at("/vm/assigned/0/guestBdf").asText()).isEqualTo("0000:00:03.0");
        assertThat(r.report().at("/samples/0/bytesMatched").asBoolean()).isTrue();
        List<String> none = texts(r.report().get("noEffect"));
        for (String opt : List.of("-bios OVMF.fd", "-cpu host", "-nographic", "-drive file=l1.img", "-netdev user",
                "-monitor telnet", "-debugcon file:debug.log", "-global isa-debugcon.iobase=0x402")) {
            assertThat(none).as(opt).anyMatch(n -> n.startsWith(opt));
        }
        assertThat(none).anyMatch(n -> n.startsWith("-bios OVMF.fd: not read"));
        assertThat(none).anyMatch(n -> n.contains("the image l1.img is not read"));
        // no silent bypass: the three virtio devices lack iommu_platform=on under the vIOMMU
        assertThat(texts(r.report().get("warnings")).stream().filter(w -> w.contains("has no iommu_platform=on")))
                .extracting(w -> w.substring(0, w.indexOf(" has no")))
                .containsExactly("viommu: warning: virtio-net-pci at 00:01.0", "viommu: warning: virtio-rng-pci at 00:02.0",
                        "viommu: warning: virtio-blk-pci at 00:04.0");
        // and each of them really does its DMA on system memory: a frame, entropy, a disk write and read
        JsonNode virtio = r.report().get("virtio");
        assertThat(virtio.findValuesAsText("device")).containsExactly("virtio-net-pci", "virtio-rng-pci", "virtio-blk-pci");
        for (JsonNode v : virtio) {
            assertThat(v.get("path").asText()).isEqualTo("bypass");
            assertThat(v.get("translated").asInt()).isZero();
            assertThat(v.get("bytesMatched").asBoolean()).as(v.toString()).isTrue();
        }
    }

    /** What seed 002's L1 printed, as the seed gives it (dmesg's timestamps and the page's collapsed spaces). */
    static final String SEED_002_L1_DMESG = """
            [ 0.000000] ACPI: DMAR 0x000000003E86C000 000048 (v01 BOCHS BXPCDMAR 00000001 BXPC 00000001)
            [ 0.000000] DMAR: IOMMU enabled
            [ 0.145746] DMAR: Host address width 39
            [ 0.145747] DMAR: DRHD base: 0x000000fed90000 flags: 0x1
            [ 0.145769] DMAR: dmar0: reg_base_addr fed90000 ver 1:0 cap 12008c22260286 ecap f00f5a
            [ 0.145776] DMAR: No RMRR found
            [ 0.145776] DMAR: No ATSR found
            [ 0.145825] DMAR: dmar0: Using Queued invalidation
            [ 0.218192] DMAR: Setting RMRR:
            [ 0.218193] DMAR: Prepare 0-16MiB unity mapping for LPC
            [ 0.219038] DMAR: Setting identity map for device 0000:00:1f.0 [0x0 - 0xffffff]
            [ 0.257194] DMAR: Intel(R) Virtualization Technology for Directed I/O
            """;
    static final String SEED_002_L1_FIND = """
            /sys/kernel/iommu_groups/5/devices/0000:00:1f.2
            /sys/kernel/iommu_groups/5/devices/0000:00:1f.0
            /sys/kernel/iommu_groups/5/devices/0000:00:1f.3
            /sys/kernel/iommu_groups/3/devices/0000:00:03.0
            /sys/kernel/iommu_groups/1/devices/0000:00:01.0
            /sys/kernel/iommu_groups/4/devices/0000:00:04.0
            /sys/kernel/iommu_groups/2/devices/0000:00:02.0
            /sys/kernel/iommu_groups/0/devices/0000:00:00.0
            """;

    /** A line of the seed that a Linux 6.1 L1 on QEMU 7.2 does not print, or the reverse, and why. */
    record Unmatched(java.util.function.Predicate<String> line, String why) {
    }

    /** The seed's L1 ran a 2019 kernel (before 5.3): lines it printed that Linux 6.1 has not. */
    static final List<Unmatched> SEED_ONLY = List.of(
            new Unmatched(l -> l.equals("DMAR: Setting RMRR:") || l.equals("DMAR: Prepare 0-16MiB unity mapping for LPC")
                    || l.startsWith("DMAR: Setting identity map for device 0000:00:1f.0"),
                    "kernel version: the LPC/floppy 0-16 MiB identity map (INTEL_IOMMU_FLOPPY_WA) is gone from 6.1;"
                            + " 6.1 reserves that range for 00:1f.0 as a direct-relaxable region instead"));

    /** Lines Linux 6.1 prints in that position that the seed's older kernel did not. */
    static final List<Unmatched> MODEL_ONLY = List.of(
            new Unmatched(l -> l.startsWith("ACPI: Reserving DMAR table memory at "), "kernel version: 5.11+ reserves"
                    + " the ACPI tables' memory and says so"),
            new Unmatched(l -> l.equals("DMAR: No SATC found"), "kernel version: SATC parsing is 5.9+"),
            new Unmatched(l -> l.equals("DMAR: VT-d Scalable Mode not enabled, no PASID allocation")
                    || l.equals("DMAR: IOMMU batching disallowed due to virtualization"), "kernel version: 6.1's boot"
                    + " messages (scalable mode off: QEMU 7.2 offers none by default; caching mode under a hypervisor)"),
            new Unmatched(l -> l.startsWith("DMAR-IR: "), "the seed shows no interrupt-remapping line (its guest's"
                    + " kernel configuration is not shown); the model's line has no capture either (Linux 6.1 panics"
                    + " with intremap=on under the lab's TCG)"));

    /**
     * The fields of a DMAR line that depend on firmware or QEMU's version blanked: the ACPI table's
     * address (OVMF vs the model's SeaBIOS layout), length and OEM table id (QEMU 4's table
     * included every PCI device with the DRHD's INCLUDE_PCI_ALL flag and an OEM id BXPCDMAR;
     * QEMU 7.2 lists device scopes, flags 0x0, id BXPC), and CAP (QEMU 7.2 adds DRD/DWD, bits 54-55).
     */
    static String versionFieldsBlanked(String l) {
        return l.replaceFirst("^ACPI: DMAR 0x\\p{XDigit}{16} \\p{XDigit}{6} \\(v01 BOCHS BXPC\\w*", "ACPI: DMAR * * (v01 BOCHS *")
                .replaceFirst("^(DMAR: DRHD base: 0x\\p{XDigit}+ flags: )0x[01]$", "$1*")
                .replaceFirst(" cap \\p{XDigit}+ ecap ", " cap * ecap ");
    }

    static List<String> normalised(String dmesg) {
        return dmesg.lines().map(l -> l.replaceFirst("^\\[\\s*\\d+\\.\\d+\\] ", "").replaceAll("\\s+", " ").strip())
                .filter(l -> !l.isEmpty()).toList();
    }

    /**
     * Seed 002's L1 command line booted (its {@code $@} is {@code -kernel vmlinuz -append
     * intel_iommu=on}: the seed says L1 boots with intel_iommu=on, and the model reads no image):
     * L1's {@code dmesg | grep -e DMAR -e IOMMU} equals the seed's line by line once dmesg's
     * timestamps are dropped, the firmware-/QEMU-version fields of three lines blanked
     * ({@link #versionFieldsBlanked}) and the lines named in {@link #SEED_ONLY} / {@link
     * #MODEL_ONLY} (kernel version; the unshown interrupt-remapping line) set aside; {@code find
     * /sys/kernel/iommu_groups/ -type l} and the {@code readlink} of the assigned device's link
     * equal the seed's byte for byte (kernfs's readdir order included).
     */
    /** L1's answers to the seed's three commands: the grep'd dmesg (normalised), the find output, the readlink. */
    record L1View(List<String> dmesg, String find, String readlink) {
    }

    static L1View l1View(List<String> extra) throws Exception {
        List<String> args = new ArrayList<>(List.of(SEED_002_L1.split("\\s+")));
        args.remove(0);
        args.addAll(extra);
        io.viommu.vmm.Nest nest = io.viommu.vmm.Nest.on(host());
        try {
            io.viommu.vmm.Nest.Level l1 = nest.push(FirmwareFiles.withoutMissing(args), false, l -> { });
            io.viommu.tour.TourShell sh = new io.viommu.tour.TourShell(l1.guest().kernel(), "root@l1 ~ #");
            return new L1View(normalised(sh.run("dmesg | grep -e DMAR -e IOMMU")),
                    sh.run("find /sys/kernel/iommu_groups/ -type l"),
                    sh.run("readlink /sys/kernel/iommu_groups/3/devices/0000:00:03.0"));
        } finally {
            nest.shutdown();
        }
    }

    /** {@code lines} without those {@code set} names, the version fields blanked. */
    static List<String> kept(List<String> lines, List<Unmatched> set) {
        return lines.stream().filter(l -> set.stream().noneMatch(u -> u.line().test(l)))
                .map(RunSeedsTest::versionFieldsBlanked).toList();
    }

    /**
     * Seed 002's L1 command line booted (its {@code $@} is {@code -kernel vmlinuz -append
     * intel_iommu=on}: the seed says L1 boots with intel_iommu=on, and the model reads no image):
     * L1's {@code dmesg | grep -e DMAR -e IOMMU} equals the seed's line by line once dmesg's
     * timestamps are dropped, the firmware-/QEMU-version fields of three lines blanked
     * ({@link #versionFieldsBlanked}) and the lines named in {@link #SEED_ONLY} / {@link
     * #MODEL_ONLY} (kernel version; the unshown interrupt-remapping line) set aside; {@code find
     * /sys/kernel/iommu_groups/ -type l} and the {@code readlink} of the assigned device's link
     * equal the seed's byte for byte (kernfs's readdir order included). Without intel_iommu=on
     * (Debian's 6.1 still runs VT-d, by default) the comparison fails: "DMAR: IOMMU enabled" is missing.
     */
    @Test
    void seed002L1BootReportMatchesTheSeedLineByLine() throws Exception {
        L1View v = l1View(List.of("-kernel", "vmlinuz", "-append", "intel_iommu=on")); // the seed's $@
        List<String> seed = normalised(SEED_002_L1_DMESG);
        assertThat(kept(v.dmesg(), MODEL_ONLY)).as(String.join("\n", v.dmesg()))
                .containsExactlyElementsOf(kept(seed, SEED_ONLY));
        // every exception named is used: none hides a line that no longer differs
        for (Unmatched u : MODEL_ONLY) {
            assertThat(v.dmesg()).as(u.why()).anyMatch(u.line());
        }
        for (Unmatched u : SEED_ONLY) {
            assertThat(seed).as(u.why()).anyMatch(u.line());
        }
        // the lines that need no blanking, verbatim (ecap: intremap=on and caching-mode=on, as the seed's)
        assertThat(v.dmesg()).containsSubsequence("DMAR: IOMMU enabled", "DMAR: Host address width 39",
                "DMAR: dmar0: reg_base_addr fed90000 ver 1:0 cap d2008c22260286 ecap f00f5a", "DMAR: No RMRR found",
                "DMAR: No ATSR found", "DMAR: dmar0: Using Queued invalidation",
                "DMAR: Intel(R) Virtualization Technology for Directed I/O");
        assertThat(v.find()).isEqualTo(SEED_002_L1_FIND);
        assertThat(v.readlink()).isEqualTo("../../../../devices/pci0000:00/0000:00:03.0\n");

        L1View plain = l1View(List.of());
        assertThat(kept(plain.dmesg(), MODEL_ONLY)).isNotEqualTo(kept(seed, SEED_ONLY)).doesNotContain("DMAR: IOMMU enabled")
                .contains("DMAR: Intel(R) Virtualization Technology for Directed I/O");
    }

    @Test
    void seed001AssignedDeviceLineRuns() throws Exception {
        Out r = run("qemu-system-x86_64 -M q35,accel=kvm,kernel-irqchip=split -m 2G"
                + " -device intel-iommu,intremap=on,caching-mode=on -device vfio-pci,host=02:00.0");
        assertThat(r.rc()).as(r.err()).isZero();
        assertThat(r.report().at("/vm/assigned/0/guestBdf").asText()).isEqualTo("0000:00:03.0"); // after VGA, e1000e
        assertThat(r.report().at("/samples/0/ok").asBoolean()).isTrue();
        assertThat(r.report().at("/samples/0/deviceDma").asText()).startsWith("ok: edu DMA");
    }

    @Test
    void seed001GeneralUsageLineIsRefusedForItsTypoAsQemuRefusesIt() throws Exception {
        Out r = run("qemu-system-x86_64 -machine q35,accl=kvm,kernel-irqchip=split -m 2G"
                + " -device intel-iommu,intremap=on -netdev user,id=net0 -device e1000,netdev=net0");
        assertThat(r.rc()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("qemu-system-x86_64: Property 'pc-q35-7.2-machine.accl' not found\n");
        Out fixed = run("qemu-system-x86_64 -machine q35,accel=kvm,kernel-irqchip=split -m 2G"
                + " -device intel-iommu,intremap=on -netdev user,id=net0 -device e1000,netdev=net0");
        assertThat(fixed.rc()).as(fixed.err()).isZero();
        // QEMU's default std VGA at 00:01.0 (no -nodefaults, no -vga none), then the e1000
        assertThat(topology(fixed.report())).contains("0000:00:01.0 1234:1111 group 1", "0000:00:02.0 8086:100e group 2");
        assertThat(fixed.report().at("/vm/topology/2/driver").asText()).isEqualTo("e1000");
    }

    @Test
    void seed001VirtioLineRuns() throws Exception {
        Out r = run("qemu-system-x86_64 -M q35,accel=kvm,kernel-irqchip=split -m 2G"
                + " -device intel-iommu,intremap=on,device-iotlb=on -device ioh3420,id=pcie.1,chassis=1"
                + " -device virtio-net-pci,bus=pcie.1,netdev=net0,disable-legacy=on,disable-modern=off,iommu_platform=on,ats=on"
                + " -netdev tap,id=net0,vhostforce");
        assertThat(r.rc()).as(r.err()).isZero();
        // ioh3420 has no ACS: the virtio-net-pci behind it shares the port's group
        assertThat(topology(r.report())).contains("0000:00:02.0 8086:3420 group 2", "0000:01:00.0 1af4:1041 group 2");
        assertThat(texts(r.report().get("noEffect"))).anyMatch(n -> n.startsWith("-netdev tap,id=net0,vhostforce:"));
        assertThat(texts(r.report().get("warnings"))).noneMatch(w -> w.contains("iommu_platform"));
    }

    @Test
    void seed003LineWithoutMachineRunsOnQ35AndSaysSo() throws Exception {
        Out r = run("qemu-system-x86_64 -enable-kvm -cdrom linux.iso -boot d -device vfio-pci,host=01:00.0");
        assertThat(r.rc()).as(r.err()).isZero();
        assertThat(texts(r.report().get("warnings"))).anyMatch(w -> w.startsWith("viommu: warning: no -machine given"));
        assertThat(texts(r.report().get("noEffect"))).anyMatch(n -> n.startsWith("-cdrom linux.iso: the image"))
                .anyMatch(n -> n.startsWith("-boot d:"));
        assertThat(r.report().at("/vm/assigned/0/guestDriver").asText()).isEqualTo("e1000e"); // coldplug in the guest
        assertThat(r.report().at("/samples/0/bytesMatched").asBoolean()).isTrue();
        assertThat(r.report().at("/vm/viommu").isNull()).isTrue();
    }

    @Test
    void theArgvLibvirtLaunchesRuns() throws Exception {
        // libvirt 9.0's layout (vmm.md §4): JSON -device and -object, pc-q35-7.2 with kernel_irqchip=split and
        // memory-backend=pc.ram, -accel kvm, -overcommit, -sandbox, -msg, -no-user-config, -S
        Out r = run("qemu-system-x86_64 -name guest=vm1,debug-threads=on -S"
                + " -object {\"qom-type\":\"secret\",\"id\":\"masterKey0\",\"format\":\"raw\",\"file\":\"/var/lib/libvirt/qemu/domain-1-vm1/master-key.aes\"}"
                + " -machine pc-q35-7.2,usb=off,dump-guest-core=off,kernel_irqchip=split,memory-backend=pc.ram"
                + " -accel kvm -cpu host,migratable=on -m 128"
                + " -object {\"qom-type\":\"memory-backend-ram\",\"id\":\"pc.ram\",\"size\":134217728}"
                + " -overcommit mem-lock=off -smp 1,sockets=1,cores=1,threads=1"
                + " -uuid 1b9a3c6e-0000-4000-8000-000000000001 -display none -no-user-config -nodefaults"
                + " -chardev socket,id=charmonitor,fd=31,server=on,wait=off -mon chardev=charmonitor,id=monitor,mode=control"
                + " -rtc base=utc -no-shutdown -boot strict=on"
                + " -device {\"driver\":\"intel-iommu\",\"id\":\"iommu0\",\"intremap\":\"on\",\"caching-mode\":true}"
                + " -device {\"driver\":\"vfio-pci\",\"host\":\"0000:02:00.0\",\"id\":\"hostdev0\",\"bus\":\"pcie.0\",\"addr\":\"0x2\"}"
                + " -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny -msg timestamp=on");
        assertThat(r.rc()).as(r.err()).isZero();
        assertThat(r.report().at("/vm/assigned/0/guestBdf").asText()).isEqualTo("0000:00:02.0");
        assertThat(r.report().at("/vm/viommu/cachingMode").asBoolean()).isTrue();
        assertThat(r.report().at("/vm/accelerator").asText()).isEqualTo("kvm, kernel-irqchip=split");
        assertThat(r.report().at("/samples/0/ok").asBoolean()).isTrue();
        List<String> none = texts(r.report().get("noEffect"));
        for (String opt : List.of("-S", "-name", "-cpu", "-overcommit", "-uuid", "-display", "-no-user-config", "-chardev",
                "-mon", "-rtc", "-no-shutdown", "-boot", "-sandbox", "-msg")) {
            assertThat(none).as(opt).anyMatch(n -> n.startsWith(opt + " ") || n.startsWith(opt + ":"));
        }
        assertThat(texts(r.report().get("warnings"))).anyMatch(w -> w.startsWith("viommu: warning: -object {"));
    }
}
