package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.viommu.linux.Kernel;
import io.viommu.vmm.VmRun;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code viommu run} end to end: host, (managed binding), VMM, guest kernel, DMA, report. */
class RunCommandTest {
    /**
     * The fixture host (../shared/fixtures/vmm): edu 04.0, edu 05.0 + e1000 05.1 (one group), edu 06.0, e1000 07.0;
     * plus two e1000 in one multifunction group at 08.0/08.1.
     */
    static final String HOST = "-machine q35 -m 2G -smp 2 -append intel_iommu=on -nodefaults"
            + " -device intel-iommu,intremap=off,caching-mode=on -device edu,addr=04.0"
            + " -device edu,addr=05.0,multifunction=on -device e1000,addr=05.1 -device edu,addr=06.0"
            + " -device e1000,addr=07.0 -device e1000,addr=08.0,multifunction=on -device e1000,addr=08.1";

    @TempDir
    Path tmp;

    record Out(int rc, String out, String err) {
    }

    static Kernel host(String... setup) throws Exception {
        Kernel k = QtestHost.bootHost(HOST);
        List<String> lines = new ArrayList<>(List.of("modprobe vfio-pci", "modprobe e1000",
                "echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts"));
        lines.addAll(List.of(setup));
        var run = new io.viommu.linux.shell.RootShell(k).runScript(lines);
        assertThat(run.ok()).isTrue();
        return k;
    }

    static Out run(Kernel host, boolean managed, boolean json, VmRun.Workload w, String... vmArgs) {
        RunCommand c = new RunCommand();
        c.hostArgs = HOST;
        c.managed = managed;
        c.json = json;
        c.packets = 64;
        c.ring = 16;
        c.vmArgs = List.of(vmArgs);
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int rc = c.runOn(host, w, new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8));
        return new Out(rc, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    static final String[] VIOMMU_VM = {"-M", "q35", "-m", "128M", "-nodefaults", "-device",
        "intel-iommu,caching-mode=on", "-device", "vfio-pci,host=0000:00:05.0", "-device", "vfio-pci,host=0000:00:06.0"};

    /** A --host-setup file: vfio-pci loaded, VFIO allowed without interrupt remapping (the host has none). */
    Path unsafeInterruptsSetup() throws IOException {
        Path setup = tmp.resolve("setup.sh");
        Files.writeString(setup, "modprobe vfio-pci\n"
                + "echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts\n");
        return setup;
    }

    /** Every file of the host's exported /sys and /proc, path to bytes. */
    Map<String, String> sysfs(Kernel k, String name) throws IOException {
        Path d = tmp.resolve(name);
        k.exportTo(d);
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(d)) {
            for (Path p : s.toList()) {
                if (Files.isSymbolicLink(p)) {
                    out.put(d.relativize(p).toString(), "-> " + Files.readSymbolicLink(p));
                } else if (Files.isRegularFile(p)) {
                    out.put(d.relativize(p).toString(), new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1));
                }
            }
        }
        return out;
    }

    /** stdout parsed as exactly one JSON document (trailing tokens fail). */
    static JsonNode oneDocument(String out) throws Exception {
        return new ObjectMapper().enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .readTree(out);
    }

    /** The paths whose content differs (or exist on one side only), with both contents. */
    static List<String> differences(Map<String, String> a, Map<String, String> b) {
        List<String> out = new ArrayList<>();
        java.util.Set<String> keys = new java.util.TreeSet<>(a.keySet());
        keys.addAll(b.keySet());
        for (String k : keys) {
            // Linux gives a network interface a new ifindex each time it registers (dev_new_index
            // never hands an old one out again): eth0 re-bound to e1000 is eth0 with a new index
            if (!k.endsWith("/ifindex") && !java.util.Objects.equals(msiMessageMasked(k, a.get(k)),
                    msiMessageMasked(k, b.get(k)))) {
                out.add(k + ": before " + a.get(k) + " after " + b.get(k));
            }
        }
        return out;
    }

    /**
     * A config file with its MSI capability's message (address, data) blanked: the run's
     * interrupt sample enabled MSI on the device, and Linux's pci_msi_shutdown only clears the
     * enable bit, so the last message stays in the registers (as on a real host after a VM).
     */
    static String msiMessageMasked(String path, String config) {
        if (config == null || !path.endsWith("/config")) {
            return config;
        }
        char[] c = config.toCharArray();
        for (int cap = c.length > 0x34 ? c[0x34] & 0xfc : 0, n = 0; cap != 0 && cap + 0x0e <= c.length && n < 48; n++) {
            if (c[cap] == 0x05) { // PCI_CAP_ID_MSI
                java.util.Arrays.fill(c, cap + 4, cap + 0x0e, '\0');
            }
            cap = c[cap + 1] & 0xfc;
        }
        return new String(c);
    }

    @Test
    void managedRunWithCachingModeViommuFollowsEachDmaAndGivesTheGroupBackByteForByte() throws Exception {
        Kernel host = host();
        Map<String, String> before = sysfs(host, "before");
        assertThat(before.get("sys/devices/pci0000:00/0000:00:05.1/driver")).endsWith("/e1000");
        Out r = run(host, true, false, VmRun.Workload.NONE, VIOMMU_VM);
        assertThat(r.rc()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("0000:00:05.1  e1000 -> vfio-pci -> e1000",
                "0000:00:05.0  (no driver) -> vfio-pci -> (no driver)",
                "vIOMMU: intel-iommu caching-mode=on",
                "0000:00:06.0  (no driver) -> vfio-pci -> (no driver)",
                "assigned: host 0000:00:05.0 is 0000:00:01.0 in the VM, guest group 1",
                "assigned: host 0000:00:06.0 is 0000:00:02.0 in the VM, guest group 2",
                "= the host frame behind the VMM's page",
                "the device's own DMA: ok: edu DMA",
                "after dma_unmap_single the same DMA faults in the host unit (reason 0x5",
                "DMA faults logged by the host (host unit)      2  (the after-unmap probes above)", "RESULT  ok");
        assertThat(r.out()).doesNotContain("DIFFERENT");
        assertThat(differences(before, sysfs(host, "after"))).isEmpty();
    }

    /** QEMU refuses the VM after --managed bound the groups: its text, exit 1, the host's /sys as before. */
    void refusedAndGivenBack(String expectedError, String... vmArgs) throws Exception {
        Kernel host = host();
        Map<String, String> before = sysfs(host, "before");
        Out r = run(host, true, false, VmRun.Workload.NONE, vmArgs);
        assertThat(r.rc()).isEqualTo(1);
        assertThat(r.err()).contains(expectedError);
        assertThat(r.out()).contains("0000:00:05.1  e1000 -> vfio-pci -> e1000", "RESULT  FAILED");
        assertThat(differences(before, sysfs(host, "after"))).isEmpty();
    }

    @Test
    void managedBindingIsGivenBackWhenQemuRefusesTheVm() throws Exception {
        refusedAndGivenBack("qemu-system-x86_64: -device vfio-pci,host=0000:00:06.0,bogus=on: Property"
                + " 'vfio-pci.bogus' not found", "-M", "q35", "-m", "128M", "-nodefaults", "-device",
                "intel-iommu,caching-mode=on", "-device", "vfio-pci,host=0000:00:05.0", "-device",
                "vfio-pci,host=0000:00:06.0,bogus=on");
    }

    @Test
    void managedBindingIsGivenBackWhenTheWorkloadFailsInTheGuest() throws Exception {
        Kernel host = host();
        Map<String, String> before = sysfs(host, "before");
        // static needs VFIO in the guest, so a vIOMMU: the VM starts, the guest boots, then it fails
        Out r = run(host, true, false, VmRun.Workload.STATIC, "-M", "q35", "-m", "128M", "-nodefaults",
                "-device", "vfio-pci,host=0000:00:05.0", "-device", "vfio-pci,host=0000:00:05.1");
        assertThat(r.rc()).as(r.out()).isEqualTo(1);
        assertThat(r.err()).contains("viommu run: --workload static: VFIO in the guest needs the guest's intel-iommu"
                + " driver");
        assertThat(differences(before, sysfs(host, "after"))).isEmpty();
    }

    @Test
    void withoutViommuTheDeviceDmasToGuestPhysicalAddressesAndAllRamIsMapped() throws Exception {
        Kernel host = host("echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override",
                "echo 0000:00:04.0 > /sys/bus/pci/drivers_probe");
        Out r = run(host, false, true, VmRun.Workload.NONE, "-M", "q35", "-m", "128M", "-nodefaults",
                "-device", "vfio-pci,host=0000:00:04.0");
        assertThat(r.rc()).as(r.err()).isZero();
        JsonNode j = oneDocument(r.out());
        assertThat(j.get("ok").asBoolean()).isTrue();
        assertThat(j.at("/vm/viommu").isNull()).isTrue();
        JsonNode s = j.at("/samples/0");
        assertThat(s.get("iova").asText()).isEqualTo(s.get("gpa").asText());
        assertThat(s.get("hostPhysical").asText()).isEqualTo(s.get("processFrame").asText());
        assertThat(s.get("bytesMatched").asBoolean()).isTrue();
        assertThat(s.get("afterUnmap").asText()).startsWith("still reaches host-physical " + s.get("hostPhysical").asText());
        assertThat(j.at("/counts/hostFaults").asLong()).isZero();
        assertThat(j.at("/host/devices/0/container/bytesMapped").asLong()).isEqualTo(128L << 20);
        assertThat(j.at("/counts/hostMapCalls").asLong()).isEqualTo(1);
        assertThat(j.at("/counts/invalidationsTrapped").asLong()).isZero();
        assertThat(j.get("warnings").toString()).contains("Cannot reset device 0000:00:04.0");
    }

    @Test
    void nicRingWorkloadOnAnAssignedEduUnderCachingModeMirrorsEveryMapIntoTheHost() throws Exception {
        Kernel host = host();
        Out r = run(host, true, true, VmRun.Workload.NIC_RING, VIOMMU_VM);
        assertThat(r.rc()).as(r.err()).isZero();
        JsonNode w = oneDocument(r.out()).get("workload");
        assertThat(w.get("delivered").asLong()).isEqualTo(64);
        assertThat(w.get("dmaFaults").asLong()).isZero();
        // caching mode, strict: every map and every unmap is a trapped invalidation and a host VFIO call
        assertThat(w.get("hostMapCalls").asLong()).isGreaterThanOrEqualTo(64 + 16);
        assertThat(w.get("hostUnmapCalls").asLong()).isGreaterThanOrEqualTo(64);
    }

    @Test
    void staticWorkloadMapsOnceThroughTheGuestsVfio() throws Exception {
        Kernel host = host();
        Out r = run(host, true, true, VmRun.Workload.STATIC, VIOMMU_VM);
        assertThat(r.rc()).as(r.err()).isZero();
        JsonNode w = oneDocument(r.out()).get("workload");
        assertThat(w.get("mapping").asText()).isEqualTo("VFIO static");
        assertThat(w.get("delivered").asLong()).isEqualTo(64);
        assertThat(w.get("mapsPerPacket").asDouble()).isZero();
        assertThat(w.get("hostMapCalls").asLong()).isBetween(1L, 2L); // the one MAP_DMA, mirrored
    }

    @Test
    void twoFunctionsOfOneHostGroupBehindTheViommuAreRefusedAsQemuRefusesThem() throws Exception {
        refusedAndGivenBack("qemu-system-x86_64: -device vfio-pci,host=0000:00:05.1: vfio 0000:00:05.1:"
                + " group 2 used in multiple address spaces", "-M", "q35", "-m", "128M", "-nodefaults", "-device",
                "intel-iommu,caching-mode=on", "-device", "vfio-pci,host=0000:00:05.0", "-device",
                "vfio-pci,host=0000:00:05.1");
    }

    @Test
    void vfioPciListedBeforeTheViommuBypassesItAndTheGuestsDmaDoesNotLand() throws Exception {
        // the order trap (docs/vmm.md): the container keeps system memory, the guest programs its vIOMMU
        // for a device that never uses it, and its IOVA reaches the host unit as a GPA
        Kernel host = host();
        Out r = run(host, true, false, VmRun.Workload.NONE, "-M", "q35", "-m", "128M", "-nodefaults",
                "-device", "vfio-pci,host=0000:00:06.0", "-device", "intel-iommu,caching-mode=on");
        assertThat(r.rc()).isEqualTo(1);
        assertThat(r.out()).contains("viommu: warning: vfio-pci 0000:00:06.0 (00:01.0 in the VM) is listed before"
                + " -device intel-iommu", "which this device BYPASSES", "-> host unit     FAULT",
                "bytes: none moved (the host unit refused the DMA)", "DMA faults logged by the host (host unit)      1");
        assertThat(r.err()).startsWith("viommu run: the DMA of 0000:00:06.0 (0000:00:01.0 in the VM) to guest IOVA 0x");
    }

    @Test
    void aGroupOfTwoNicsIsGivenBackWithTheirInterfaceNames() throws Exception {
        Kernel host = host();
        Map<String, String> before = sysfs(host, "before");
        assertThat(before.keySet()).anyMatch(k -> k.startsWith("sys/devices/pci0000:00/0000:00:08.0/net/eth2/"))
                .anyMatch(k -> k.startsWith("sys/devices/pci0000:00/0000:00:08.1/net/eth3/"));
        Out r = run(host, true, false, VmRun.Workload.NONE, "-M", "q35", "-m", "128M", "-nodefaults",
                "-device", "vfio-pci,host=0000:00:08.0");
        assertThat(r.rc()).as(r.err()).isZero();
        // eth3 was taken first, so eth2 comes back first and gets its name again
        assertThat(r.out()).contains("0000:00:08.1  e1000 -> vfio-pci -> e1000\n      0000:00:08.0  e1000");
        assertThat(differences(before, sysfs(host, "after"))).isEmpty();
    }

    @Test
    void aWorkloadWithoutAnAssignedDeviceSaysSo() throws Exception {
        Kernel host = host();
        Out r = run(host, false, false, VmRun.Workload.NIC_RING, "-M", "q35", "-m", "128M", "-nodefaults",
                "-device", "intel-iommu,caching-mode=on");
        assertThat(r.rc()).isEqualTo(1);
        assertThat(r.err()).contains("--workload nic-ring needs an assigned device (-device vfio-pci,host=...) and"
                + " this VM has none");
    }

    @Test
    void commandLineParsingAndUsageErrors() {
        CliRun noHost = CliRun.of("run", "-M", "q35");
        assertThat(noHost.code()).isEqualTo(2);
        assertThat(noHost.err()).contains("viommu run: --host \"ARGS\" (or --host-sysfs DIR) is required");
        CliRun badWorkload = CliRun.of("run", "--host", "-M q35 -m 2G", "--workload", "ring", "-M", "q35");
        assertThat(badWorkload.code()).isEqualTo(2);
        assertThat(badWorkload.err()).contains("--workload ring: unknown workload (none, nic-ring or static)");
        CliRun domain = CliRun.of("run", "--host", "-M q35 -m 2G", "--domain", "/nonexistent/vm.xml");
        assertThat(domain.code()).isEqualTo(1);
        assertThat(domain.err()).contains("error: Failed to open file '/nonexistent/vm.xml': No such file or directory");
        CliRun both = CliRun.of("run", "--host", "-M q35 -m 2G", "--domain", "vm.xml", "-M", "q35");
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("--domain and VM arguments are alternatives");
        CliRun badHost = CliRun.of("run", "--host", "-M q35 -device nosuch", "--json", "-M", "q35");
        assertThat(badHost.code()).isEqualTo(1);
        assertThat(badHost.err()).contains("viommu run: --host: qemu-system-x86_64: -device nosuch: 'nosuch' is not a"
                + " valid device model name");
        assertThat(badHost.out()).startsWith("{").contains("\"ok\" : false");
        CliRun json = CliRun.of("run", "--host", "-M q35 -m 2G -nodefaults", "--json", "-M", "q35", "-m", "128M",
                "-nodefaults", "-device", "intel-iommu,caching-mode=on");
        assertThat(json.code()).as(json.err()).isZero();
        assertThat(json.out()).startsWith("{").contains("\"ok\" : true");
    }

    @Test
    void aModelOfASavedHostRunsTheVm() throws Exception {
        // The hand-made Intel host: its 82599's second VF (02:10.2) is recorded bound to vfio-pci
        CliRun r = CliRun.of("run", "--host-sysfs", "src/test/host-trees/intel-vtd", "--json", "-M", "q35", "-m",
                "128M", "-nodefaults", "-device", "intel-iommu,caching-mode=on", "-device", "vfio-pci,host=0000:02:10.2");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode doc = oneDocument(r.out());
        assertThat(doc.toString()).contains("--host-sysfs src/test/host-trees/intel-vtd").contains("0000:02:10.2");
        assertThat(r.err()).contains("viommu: --host-sysfs src/test/host-trees/intel-vtd: 0000:02:00.0: 2 VFs enabled");
        // the PF is on no driver the model has: refused as QEMU refuses a device not on vfio-pci
        CliRun pf = CliRun.of("run", "--host-sysfs", "src/test/host-trees/intel-vtd", "-M", "q35", "-m", "128M",
                "-nodefaults", "-device", "vfio-pci,host=0000:02:00.0");
        assertThat(pf.code()).isEqualTo(1);
        CliRun both = CliRun.of("run", "--host", "-M q35", "--host-sysfs", "src/test/host-trees/intel-vtd", "-M", "q35");
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("--host and --host-sysfs are alternatives");
    }

    @Test
    void aLibvirtDomainRunsWithItsManagedHostdevOnARootPortBehindTheViommu() throws Exception {
        Path setup = unsafeInterruptsSetup();
        Path xml = tmp.resolve("vm.xml");
        Files.writeString(xml, """
                <domain type='qemu'>
                  <name>edu-vm</name>
                  <memory unit='MiB'>128</memory>
                  <vcpu>1</vcpu>
                  <os><type arch='x86_64' machine='q35'>hvm</type></os>
                  <features><acpi/><apic/><ioapic driver='qemu'/></features>
                  <devices>
                    <iommu model='intel'><driver intremap='on' caching_mode='on'/></iommu>
                    <hostdev mode='subsystem' type='pci' managed='yes'>
                      <source><address domain='0x0000' bus='0x00' slot='0x06' function='0x0'/></source>
                    </hostdev>
                  </devices>
                </domain>
                """);
        CliRun r = CliRun.of("run", "--host", HOST, "--host-setup", setup.toString(), "--domain", xml.toString());
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        // libvirt puts the hostdev on a pcie-root-port of its own (bus 2 here), behind the vIOMMU
        assertThat(r.out()).contains("0000:00:06.0  (no driver) -> vfio-pci -> (no driver)",
                "assigned: host 0000:00:06.0 is 0000:02:00.0 in the VM", // after libvirt's qemu-xhci on bus 1
                "its DMA goes through the vIOMMU", "the device's own DMA: ok: edu DMA", "RESULT  ok");
        assertThat(r.err()).doesNotContain("bypasses");
    }

    /**
     * A domain with {@code <interface type='network'>} (libvirt-native-7.out): the tap libvirt
     * would open on the network is named as having no effect, with the start error libvirt gives
     * when the network is not active; the virtio NIC and disk keep iommu_platform/ats, and their
     * guest drivers' requests go through the vIOMMU's ATS path, every byte compared.
     */
    @Test
    void aLibvirtDomainWithANetworkInterfaceRunsItsVirtioDevicesBehindTheViommu() throws Exception {
        CliRun r = CliRun.of("run", "--host", HOST, "--json", "--domain",
                "src/test/resources/libvirt/cases/net-network-viommu.xml");
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        assertThat(r.err()).contains("viommu: note: <interface type='network'> (line 20) on network 'default':"
                + " libvirt opens a tap device on the network's bridge and passes it as fd=25",
                "network 'default' is not active");
        JsonNode doc = oneDocument(r.out());
        assertThat(doc.get("noEffect").toString()).contains("the descriptor is not opened").contains("/var/lib/libvirt/images/viommu-test.img");
        JsonNode virtio = doc.get("virtio");
        assertThat(virtio).hasSize(2);
        for (JsonNode v : virtio) {
            assertThat(v.get("path").asText()).as(v.toString()).isEqualTo("vIOMMU (ATS)");
            assertThat(v.get("bypassed").asInt()).isZero();
            assertThat(v.get("bytesMatched").asBoolean()).isTrue();
            assertThat(v.get("ok").asBoolean()).isTrue();
        }
        assertThat(virtio.findValuesAsText("device")).containsExactlyInAnyOrder("virtio-net-pci", "virtio-blk-pci");
        // libvirt's balloon has no <driver iommu='on'/> here: its bypass is named, the NIC's and disk's are not
        assertThat(doc.get("warnings").toString()).contains("virtio-balloon-pci at 04:00.0 has no iommu_platform=on")
                .doesNotContain("virtio-net-pci at").doesNotContain("virtio-blk-pci at");
        assertThat(doc.get("ok").asBoolean()).isTrue();
    }

    /**
     * A managed device whose group member is in use by another VM: libvirt detaches only what is
     * not on vfio-pci yet (here nothing) and does not look at /dev/vfio, so QEMU's open of the
     * group fails with its text; exit 1, the host's /sys as it was with the other VM running.
     */
    @Test
    void aManagedDeviceWhoseGroupMemberIsInUseByAnotherVmFailsWithQemusText() throws Exception {
        Kernel host = host();
        io.viommu.vmm.ManagedBinding.prepare(host, List.of("0000:00:05.0"));
        io.viommu.vmm.Vmm other = io.viommu.vmm.Vmm.start(host, List.of("-M", "q35", "-m", "128M", "-nodefaults",
                "-device", "vfio-pci,host=0000:00:05.0"), io.viommu.machine.device.MachineLog.SILENT, l -> { });
        assertThat(other).isNotNull();
        Map<String, String> before = sysfs(host, "before");
        Out r = run(host, true, false, VmRun.Workload.NONE, "-M", "q35", "-m", "128M", "-nodefaults",
                "-device", "vfio-pci,host=0000:00:05.1");
        assertThat(r.rc()).as(r.out() + r.err()).isEqualTo(1);
        assertThat(r.err()).contains("qemu-system-x86_64: -device vfio-pci,host=0000:00:05.1: vfio 0000:00:05.1:"
                + " failed to open /dev/vfio/");
        assertThat(r.err()).contains("Device or resource busy");
        assertThat(differences(before, sysfs(host, "after"))).isEmpty();
    }

    /** --host-dmesg FILE gets every host kernel line of the run: the boot's and the VM's (vfio-pci, DMAR). */
    @Test
    void hostDmesgHoldsTheHostKernelsLinesOfTheRun() throws Exception {
        Path setup = unsafeInterruptsSetup();
        Path dmesg = tmp.resolve("host.dmesg");
        CliRun r = CliRun.of("run", "--host", HOST, "--host-setup", setup.toString(), "--host-dmesg", dmesg.toString(),
                "--managed", "-M", "q35", "-m", "128M", "-nodefaults", "-device", "intel-iommu,caching-mode=on",
                "-device", "vfio-pci,host=0000:00:06.0");
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        List<String> lines = Files.readAllLines(dmesg);
        assertThat(lines).allMatch(l -> l.startsWith("[    0.000000] "));
        assertThat(String.join("\n", lines)).contains("DMAR: IOMMU enabled", "VFIO - User Level meta-driver version: 0.3",
                "DMAR: [DMA Write NO_PASID] Request device [00:06.0]"); // the after-unmap probe, logged by the host
    }

    /**
     * A domain libvirt accepts and QEMU 7.2 refuses (aw_bits='40', captured in libvirt-native.out)
     * with a managed='yes' hostdev: run binds its group as --domain does, QEMU's text, exit 1, the
     * binding undone and the host's /sys as before, byte for byte.
     */
    @Test
    void aDomainQemuRefusesGivesItsManagedGroupBack() throws Exception {
        Kernel host = host();
        Map<String, String> before = sysfs(host, "before");
        io.viommu.vmm.libvirt.Domain d = io.viommu.vmm.libvirt.LibvirtDomain.parse("""
                <domain type='qemu'>
                  <name>aw40</name>
                  <memory unit='MiB'>128</memory>
                  <os><type arch='x86_64' machine='q35'>hvm</type></os>
                  <devices>
                    <iommu model='intel'><driver caching_mode='on' aw_bits='40'/></iommu>
                    <hostdev mode='subsystem' type='pci' managed='yes'>
                      <source><address domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></source>
                    </hostdev>
                  </devices>
                </domain>
                """);
        assertThat(d.managedHostdevs()).hasSize(1);
        Out r = run(host, true, false, VmRun.Workload.NONE, d.toQemuArgv().toArray(String[]::new));
        assertThat(r.rc()).as(r.out() + r.err()).isEqualTo(1);
        assertThat(r.err()).contains("Supported values for aw-bits are: 39, 48");
        assertThat(r.out()).contains("0000:00:05.1  e1000 -> vfio-pci -> e1000", "RESULT  FAILED");
        assertThat(differences(before, sysfs(host, "after"))).isEmpty();
    }
}
