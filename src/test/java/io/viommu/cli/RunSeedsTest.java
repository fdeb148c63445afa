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
