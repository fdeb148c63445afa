package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.viommu.fixtures.LinuxCapture;
import io.viommu.host.ConfigCheck;
import io.viommu.host.ConfigEmit;
import io.viommu.host.HostReader;
import io.viommu.host.ModelHost;
import io.viommu.vmm.libvirt.LibvirtDomain;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code host plan --emit} and {@code check} end to end: what --emit prints runs unchanged with
 * {@code viommu run} on the same model host (the DMA sample lands), libvirt 9.0 accepts the emitted
 * XML (captured), and {@code check} agrees with {@code run}: where check says error run fails with
 * the message check quoted, where check is clean (or warns) run succeeds.
 */
class EmitCheckTest {
    static final Path EXAMPLES = Path.of("docs/examples");
    static final Path EMIT = Path.of("src/test/resources/emit");

    @TempDir
    Path tmp;

    static String planHost() throws Exception {
        return Files.readString(EXAMPLES.resolve("plan-host.args")).trim();
    }

    /** stdout of --emit qemu: one shell word a line. */
    static List<String> words(String out) {
        List<String> args = new ArrayList<>();
        for (String l : out.split("\n")) {
            List<String> w = LinuxCapture.shellSplit(l);
            assertThat(w).as(l).hasSize(1);
            args.add(w.get(0));
        }
        return args;
    }

    static List<String> with(List<String> head, List<String> tail) {
        List<String> out = new ArrayList<>(head);
        out.addAll(tail);
        return out;
    }

    @Test
    void emitQemuPrintsOnlyTheArgumentsOneALineAndThePlanOnStderr() throws Exception {
        // --for qemu (the default): plain assignment, no vIOMMU
        CliRun r = CliRun.of("host", "plan", "00:07.0", "--emit", "qemu", "--model", planHost());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).isEqualTo("""
                -machine
                q35,accel=kvm
                -m
                256M
                -device
                vfio-pci,host=0000:00:07.0,id=hostdev0
                """);
        assertThat(r.err()).contains("0000:00:07.0 (00:07.0)  Intel 82540EM", "Verdict: ready",
                "viommu host plan: note: the host must hand the devices to vfio-pci before the VM starts: viommu host"
                        + " apply 00:07.0 --yes",
                "viommu host plan: note: no vIOMMU: the VM's RAM is mapped for the devices once");
        // 256M: a quarter of the model host's 1 GiB (its /proc/meminfo); --memory overrides it
        CliRun m = CliRun.of("host", "plan", "00:07.0", "--emit", "qemu", "--memory", "512M", "--model", planHost());
        assertThat(words(m.out())).containsSubsequence("-m", "512M");
    }

    @Test
    void aGuestThatUsesVfioItselfGetsTheVirtualIommuFirstWithKernelIrqchipSplit() throws Exception {
        String vIommu = """
                -machine
                q35,accel=kvm,kernel-irqchip=split
                -m
                256M
                -device
                intel-iommu,intremap=on,caching-mode=on
                -device
                vfio-pci,host=0000:00:07.0,id=hostdev0
                """;
        CliRun dpdk = CliRun.of("host", "plan", "00:07.0", "--for", "dpdk", "--emit", "qemu", "--model", planHost());
        assertThat(dpdk.code()).as(dpdk.err()).isZero();
        assertThat(dpdk.out()).isEqualTo(vIommu);
        assertThat(dpdk.err()).contains("note: in the guest: intel_iommu=on on its kernel command line, hugepages,")
                .doesNotContain("no vIOMMU");
        CliRun nested = CliRun.of("host", "plan", "00:07.0", "--guest-vfio", "--emit", "qemu", "--model", planHost());
        assertThat(nested.out()).isEqualTo(vIommu);
        assertThat(nested.err()).contains("note: in the guest: intel_iommu=on on its kernel command line, and the devices");
        // virtio devices imply the vIOMMU: each behind a root port of its own, iommu_platform and ATS on, device-IOTLB
        CliRun v = CliRun.of("host", "plan", "00:07.0", "--virtio", "rng", "--emit", "qemu", "--model", planHost());
        assertThat(words(v.out())).containsExactly("-machine", "q35,accel=kvm,kernel-irqchip=split", "-m", "256M",
                "-device", "intel-iommu,intremap=on,caching-mode=on,device-iotlb=on",
                "-device", "pcie-root-port,id=viommu-rp0,chassis=1",
                "-device", "virtio-rng-pci,bus=viommu-rp0,disable-legacy=on,iommu_platform=on,ats=on",
                "-device", "vfio-pci,host=0000:00:07.0,id=hostdev0");
    }

    @Test
    void twoDevicesOfOneGroupAreEmittedWithAWarningOnlyBehindTheVirtualIommu() throws Exception {
        // plain: both share system memory, which QEMU accepts; run on the host the plan left: both DMA samples land
        CliRun plain = CliRun.of("host", "plan", "00:05.0", "00:05.1", "--emit", "qemu", "--model", planHost());
        assertThat(plain.code()).isZero();
        List<String> args = words(plain.out());
        assertThat(args).filteredOn(a -> a.startsWith("vfio-pci"))
                .containsExactly("vfio-pci,host=0000:00:05.0,id=hostdev0", "vfio-pci,host=0000:00:05.1,id=hostdev1");
        assertThat(plain.err()).doesNotContain("share IOMMU group");
        String applied = EXAMPLES.resolve("plan-applied.sh").toString();
        CliRun run = CliRun.of(with(List.of("run", "--host", planHost(), "--host-setup", applied), args));
        assertThat(run.code()).as(run.out() + run.err()).isZero();
        assertThat(run.out()).contains("assigned: host 0000:00:05.0 is", "assigned: host 0000:00:05.1 is", "RESULT  ok");
        assertThat(CliRun.of(with(List.of("check", "--host", planHost(), "--host-setup", applied), args)).code()).isZero();
        // behind the vIOMMU each has an address space of its own: QEMU 7.2 refuses the second, and says so
        CliRun r = CliRun.of("host", "plan", "00:05.0", "00:05.1", "--guest-vfio", "--emit", "qemu", "--model", planHost());
        assertThat(r.code()).isZero();
        assertThat(r.err()).contains("viommu host plan: note: warning: 0000:00:05.0 and 0000:00:05.1 share IOMMU group 4:"
                + " behind the vIOMMU each device has an address space of its own and QEMU 7.2 refuses the second"
                + " (\"group 4 used in multiple address spaces\")");
        assertThat(r.err()).doesNotContain("libvirt: managed='no'");
        CliRun refused = CliRun.of(with(List.of("run", "--host", planHost(), "--host-setup", applied), words(r.out())));
        assertThat(refused.code()).isEqualTo(1);
        assertThat(refused.err()).contains("group 4 used in multiple address spaces");
    }

    @Test
    void theHelpSaysWhatEmitAndCheckDo() {
        String plan = CliRun.of("host", "plan", "--help").out().replaceAll("\\s+", " ");
        assertThat(plan).contains("With --emit qemu|libvirt it prints instead the VM configuration that goes with the"
                + " plan (QEMU arguments or libvirt elements) on stdout, and the plan on stderr.");
        assertThat(plan).contains("--guest-vfio With --emit: the guest hands the devices on through VFIO itself",
                "--virtio=KIND[,KIND...] With --emit: also give the VM virtio devices whose DMA goes through the vIOMMU (implies"
                        + " it), KIND net (user networking), blk (the image --disk names) or rng",
                "--disk=FILE With --virtio blk: the guest's disk image", "or dpdk, a DPDK process that takes them from"
                        + " vfio-pci (with --emit: DPDK in the VM, which then gets the vIOMMU");
        String check = CliRun.of("check", "--help").out().replaceAll("\\s+", " ");
        assertThat(check).contains("Check a VM configuration against a host without starting it:",
                "Exit status: 0 no error (warnings allowed), 1 at least one error, 2 usage error.");
        assertThat(CliRun.of("--help").out()).contains("  check ");
    }

    @Test
    void aRefusedPlanEmitsNothing() throws Exception {
        // eth1 on 00:07.0 is up and routed: refused as dpdk-devbind refuses it
        CliRun r = CliRun.of("host", "plan", "eth1", "--emit", "qemu", "--model", planHost(), "--host-setup",
                EXAMPLES.resolve("plan-setup.sh").toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).contains("routing table indicates that interface eth1 is active",
                "viommu host plan: --emit qemu: nothing emitted: the plan is refused (above)");
    }

    @Test
    void emitUsageErrors() throws Exception {
        assertThat(CliRun.of("host", "plan", "00:07.0", "--emit", "xml", "--model", planHost()).err())
                .isEqualTo("viommu host plan: --emit xml: expected qemu or libvirt\n");
        assertThat(CliRun.of("host", "plan", "00:07.0", "--emit", "qemu", "--json").code()).isEqualTo(2);
        assertThat(CliRun.of("host", "plan", "00:07.0", "--virtio", "net").err())
                .isEqualTo("viommu host plan: --virtio shapes what --emit prints: give --emit qemu|libvirt\n");
        assertThat(CliRun.of("host", "plan", "00:07.0", "--guest-vfio").err())
                .isEqualTo("viommu host plan: --guest-vfio shapes what --emit prints: give --emit qemu|libvirt\n");
        CliRun scsi = CliRun.of("host", "plan", "00:07.0", "--emit", "qemu", "--virtio", "net,scsi");
        assertThat(scsi.code()).isEqualTo(2);
        assertThat(scsi.err()).isEqualTo("viommu host plan: --virtio scsi: expected net, blk or rng (the virtio devices the"
                + " machine model has with iommu_platform and ats: virtio-net-pci, virtio-blk-pci, virtio-rng-pci)\n");
        assertThat(CliRun.of("host", "plan", "00:07.0", "--emit", "libvirt", "--virtio", "rng").err())
                .isEqualTo("viommu host plan: --virtio rng is for --emit qemu: viommu's libvirt translator has no <rng>"
                        + " element, so `viommu run --domain` could not run what would be printed\n");
        assertThat(CliRun.of("host", "plan", "00:07.0", "--emit", "qemu", "--virtio", "blk").err())
                .isEqualTo("viommu host plan: --virtio blk: name the guest's disk image with --disk FILE\n");
        assertThat(CliRun.of("host", "plan", "00:07.0", "--emit", "qemu", "--disk", "g.img").err())
                .isEqualTo("viommu host plan: --disk is the image of --virtio blk: give --virtio blk too\n");
        assertThat(CliRun.of("host", "plan", "00:07.0", "--emit", "qemu", "--virtio", "blk", "--disk", "a,b.img").err())
                .startsWith("viommu host plan: --disk a,b.img: a comma or control character in the path");
        assertThat(CliRun.of("host", "plan", "00:07.0", "--emit", "qemu", "--memory", "12x").err())
                .startsWith("viommu host plan: --memory 12x: expected a size from 16M to 1T");
    }

    @Test
    void shellQuotingOnlyWhereNeeded() {
        assertThat(ConfigEmit.shellQuote("vfio-pci,host=0000:00:07.0,id=hostdev0")).isEqualTo("vfio-pci,host=0000:00:07.0,id=hostdev0");
        assertThat(ConfigEmit.shellQuote("{\"driver\":\"intel-iommu\"}")).isEqualTo("'{\"driver\":\"intel-iommu\"}'");
        assertThat(ConfigEmit.shellQuote("it's")).isEqualTo("'it'\\''s'");
        assertThat(LinuxCapture.shellSplit(ConfigEmit.shellQuote("it's a $x"))).containsExactly("it's a $x");
        assertThat(ConfigEmit.shellQuote("")).isEqualTo("''");
    }

    @Test
    void theEmittedQemuArgumentsRunUnchangedWithRunManagedAndCheckClean() throws Exception {
        String host = planHost();
        // with the vIOMMU and all three virtio devices: every DMA of them and of the assigned device goes through it
        CliRun e = CliRun.of("host", "plan", "00:07.0", "--emit", "qemu", "--virtio", "net,blk", "--virtio", "rng",
                "--disk", "guest.img", "--model", host);
        assertThat(e.code()).as(e.err()).isZero();
        List<String> args = words(e.out());
        assertThat(args).containsSubsequence("intel-iommu,intremap=on,caching-mode=on,device-iotlb=on",
                "pcie-root-port,id=viommu-rp0,chassis=1",
                "virtio-net-pci,netdev=viommu-net0,bus=viommu-rp0,disable-legacy=on,iommu_platform=on,ats=on",
                "pcie-root-port,id=viommu-rp1,chassis=2", "file=guest.img,if=none,id=viommu-disk0,format=raw",
                "virtio-blk-pci,drive=viommu-disk0,bus=viommu-rp1,disable-legacy=on,iommu_platform=on,ats=on",
                "pcie-root-port,id=viommu-rp2,chassis=3",
                "virtio-rng-pci,bus=viommu-rp2,disable-legacy=on,iommu_platform=on,ats=on",
                "vfio-pci,host=0000:00:07.0,id=hostdev0");
        CliRun run = CliRun.of(with(List.of("run", "--host", host, "--managed"), args));
        assertThat(run.code()).as(run.out() + run.err()).isZero();
        assertThat(run.out()).contains("vIOMMU: intel-iommu caching-mode=on intremap=on eim=on device-iotlb=on",
                "1af4:1041  virtio-net-pci", "1af4:1042  virtio-blk-pci", "1af4:1044  virtio-rng-pci",
                "assigned: host 0000:00:07.0 is", "its DMA goes through the vIOMMU",
                "bytes: 64 written at the host-physical address, read back at the GPA in guest RAM: identical",
                "DMAs 6 (through the vIOMMU 6, bypassing it 0), faults 0", "RESULT  ok");
        assertThat(run.out()).doesNotContain("has no iommu_platform=on");
        // the host is not prepared (run --managed prepares it): check says so, and nothing else
        CliRun c = CliRun.of(with(List.of("check", "--host", host), args));
        assertThat(c.code()).isEqualTo(1);
        assertThat(c.out()).contains("failed to open /dev/vfio/", "refused: 1 error, 0 warnings");

        // plain assignment: no vIOMMU, the VMM maps all guest RAM at its GPA
        CliRun p = CliRun.of("host", "plan", "00:07.0", "--emit", "qemu", "--model", host);
        List<String> plain = words(p.out());
        CliRun runPlain = CliRun.of(with(List.of("run", "--host", host, "--managed"), plain));
        assertThat(runPlain.code()).as(runPlain.out() + runPlain.err()).isZero();
        assertThat(runPlain.out()).contains("vIOMMU: none", "kernel-irqchip=on",
                "its DMA goes through system memory (no vIOMMU)",
                "bytes: 64 written at the host-physical address, read back at the GPA in guest RAM: identical", "RESULT  ok");
        CliRun checkPlain = CliRun.of(with(List.of("check", "--host", host), plain));
        assertThat(checkPlain.out()).contains("failed to open /dev/vfio/", "refused: 1 error, 0 warnings");
    }

    @Test
    void theEmittedArgumentsRunUnchangedOnceThePlanIsAppliedByHostSetup() throws Exception {
        // 00:05.0 shares its group with the e1000 at 00:05.1: only 00:05.0 is given to the VM;
        // plan-applied.sh is plan-setup.sh followed by the plan's own commands
        String host = planHost();
        String setup = EXAMPLES.resolve("plan-setup.sh").toString();
        String applied = EXAMPLES.resolve("plan-applied.sh").toString();
        CliRun plan = CliRun.of("host", "plan", "00:05.0", "--json", "--model", host, "--host-setup", setup);
        JsonNode p = new ObjectMapper().readTree(plan.out());
        List<String> lines = new ArrayList<>(Files.readAllLines(Path.of(setup)).subList(1, 5));
        p.get("commands").forEach(x -> lines.add(x.asText()));
        assertThat(Files.readAllLines(Path.of(applied)).subList(1, Files.readAllLines(Path.of(applied)).size()))
                .isEqualTo(lines);

        CliRun e = CliRun.of("host", "plan", "00:05.0", "--emit", "qemu", "--model", host, "--host-setup", setup);
        List<String> args = words(e.out());
        assertThat(args).filteredOn(a -> a.startsWith("vfio-pci")).containsExactly("vfio-pci,host=0000:00:05.0,id=hostdev0");
        CliRun check = CliRun.of(with(List.of("check", "--host", host, "--host-setup", applied), args));
        assertThat(check.code()).as(check.out()).isZero();
        assertThat(check.out()).endsWith("ok: 0 errors, 0 warnings; it starts as given\n");
        CliRun run = CliRun.of(with(List.of("run", "--host", host, "--host-setup", applied), args));
        assertThat(run.code()).as(run.out() + run.err()).isZero();
        assertThat(run.out()).contains("assigned: host 0000:00:05.0 is", "RESULT  ok");
        // before the plan is applied: check says the group is not viable, and run fails with that text
        CliRun notYet = CliRun.of(with(List.of("check", "--host", host, "--host-setup", setup), args));
        assertThat(notYet.code()).isEqualTo(1);
        CliRun runNotYet = CliRun.of(with(List.of("run", "--host", host, "--host-setup", setup), args));
        assertThat(runNotYet.code()).isEqualTo(1);
        String says = notYet.out().lines().filter(l -> l.startsWith("  says: ")).findFirst().orElseThrow().substring(8);
        assertThat(runNotYet.err()).contains(says);
    }

    /** The {@code <hostdev>} --emit libvirt prints for the model host's 00:07.0. */
    static final String HOSTDEV_07 = """
              <hostdev mode='subsystem' type='pci' managed='yes'>
                <driver name='vfio'/>
                <source>
                  <address domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>
                </source>
              </hostdev>
            """;

    /** A minimal domain around the emitted elements, as src/test/resources/emit/*.xml were made (see command there). */
    static String domain(String name, String emitted) {
        Matcher f = Pattern.compile("(?s)<features>\n(.*?)</features>\n").matcher(emitted);
        Matcher d = Pattern.compile("(?s)<devices>\n(.*?)</devices>\n").matcher(emitted);
        boolean features = f.find(); // the plain form (no vIOMMU) has none
        assertThat(d.find()).isTrue();
        return "<domain type='kvm'>\n  <name>" + name + "</name>\n  <memory unit='MiB'>256</memory>\n  <vcpu>1</vcpu>\n"
                + "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n"
                + "  <features>\n    <acpi/>\n" + (features ? indent(f.group(1)) : "") + "  </features>\n"
                + "  <devices>\n" + indent(d.group(1)) + "  </devices>\n</domain>\n";
    }

    private static String indent(String s) {
        StringBuilder sb = new StringBuilder();
        s.lines().forEach(l -> sb.append("  ").append(l).append('\n'));
        return sb.toString();
    }

    @Test
    void theEmittedLibvirtXmlRunsUnchangedWithRunDomain() throws Exception {
        String host = planHost();
        CliRun e = CliRun.of("host", "plan", "00:07.0", "--guest-vfio", "--emit", "libvirt", "--model", host);
        assertThat(e.code()).as(e.err()).isZero();
        assertThat(e.out()).isEqualTo("""
                <features>
                  <ioapic driver='qemu'/>
                </features>
                <devices>
                  <iommu model='intel'>
                    <driver intremap='on' caching_mode='on'/>
                  </iommu>
                """ + HOSTDEV_07 + """
                  <memballoon model='virtio'>
                    <driver iommu='on'/>
                  </memballoon>
                </devices>
                """);
        CliRun run = checkedAndRun(host, "emit-hostdev", e.out());
        assertThat(run.out()).contains("0000:00:07.0  (no driver) -> vfio-pci -> (no driver)",
                "assigned: host 0000:00:07.0 is", "read back at the GPA in guest RAM: identical", "RESULT  ok");

        // a shared group: managed='no', run on the host the plan left
        CliRun shared = CliRun.of("host", "plan", "00:05.0", "--emit", "libvirt", "--virtio", "net", "--model", host,
                "--host-setup", EXAMPLES.resolve("plan-setup.sh").toString());
        assertThat(shared.out()).contains("<hostdev mode='subsystem' type='pci' managed='no'>",
                "<driver intremap='on' caching_mode='on' iotlb='on'/>", "<driver iommu='on' ats='on'/>");
        assertThat(shared.err()).contains("libvirt: managed='no' for 0000:00:05.0");
        Path file2 = tmp.resolve("shared.xml");
        Files.writeString(file2, domain("shared", shared.out()));
        String applied = EXAMPLES.resolve("plan-applied.sh").toString();
        assertThat(CliRun.of("check", "--host", host, "--host-setup", applied, "--domain", file2.toString()).code()).isZero();
        CliRun run2 = CliRun.of("run", "--host", host, "--host-setup", applied, "--domain", file2.toString());
        assertThat(run2.code()).as(run2.out() + run2.err()).isZero();
        assertThat(run2.out()).contains("assigned: host 0000:00:05.0 is", "RESULT  ok");
    }

    @Test
    void thePlainAndTheVirtioLibvirtFormsRunUnchangedWithRunDomain() throws Exception {
        String host = planHost();
        // plain assignment: a <hostdev> only, no <features>, no <iommu>, the balloon left to libvirt
        CliRun e = CliRun.of("host", "plan", "00:07.0", "--emit", "libvirt", "--model", host);
        assertThat(e.code()).as(e.err()).isZero();
        assertThat(e.out()).isEqualTo("<devices>\n" + HOSTDEV_07 + "</devices>\n");
        CliRun run = checkedAndRun(host, "emit-plain", e.out());
        assertThat(run.out()).contains("vIOMMU: none", "its DMA goes through system memory (no vIOMMU)",
                "read back at the GPA in guest RAM: identical", "RESULT  ok");

        // virtio-net and virtio-blk behind the vIOMMU
        CliRun v = CliRun.of("host", "plan", "00:07.0", "--emit", "libvirt", "--virtio", "net,blk", "--disk",
                VIRTIO_DISK, "--model", host);
        assertThat(v.code()).as(v.err()).isZero();
        assertThat(v.out()).contains("<driver intremap='on' caching_mode='on' iotlb='on'/>", """
                  <disk type='file' device='disk'>
                    <driver name='qemu' type='raw' iommu='on' ats='on'/>
                    <source file='/tmp/viommu-emit/guest.img'/>
                    <target dev='vda' bus='virtio'/>
                  </disk>
                """, "<interface type='user'>\n    <model type='virtio'/>\n    <driver iommu='on' ats='on'/>");
        CliRun vrun = checkedAndRun(host, "emit-virtio", v.out());
        assertThat(vrun.out()).contains("1af4:1041  virtio-net-pci", "1af4:1042  virtio-blk-pci",
                "its DMA goes through the vIOMMU", "RESULT  ok");
        // a relative --disk is made absolute for libvirt (libvirtd does not run in the caller's directory)
        CliRun rel = CliRun.of("host", "plan", "00:07.0", "--emit", "libvirt", "--virtio", "blk", "--disk", "g.img",
                "--model", host);
        assertThat(rel.out()).contains("<source file='" + Path.of("g.img").toAbsolutePath() + "'/>");
    }

    /**
     * The emitted elements wrapped as domain NAME, which must be the file libvirt 9.0 was given
     * (src/test/resources/emit/NAME.xml), then checked clean and run with {@code run --domain}.
     */
    private CliRun checkedAndRun(String host, String name, String emitted) throws Exception {
        String xml = domain(name, emitted);
        assertThat(xml).isEqualTo(Files.readString(EMIT.resolve(name + ".xml")));
        Path file = tmp.resolve(name + ".xml");
        Files.writeString(file, xml);
        CliRun check = CliRun.of("check", "--host", host, "--domain", file.toString());
        assertThat(check.code()).as(check.out()).isZero();
        assertThat(check.out()).endsWith("ok: 0 errors, 0 warnings; it starts as given\n");
        CliRun run = CliRun.of("run", "--host", host, "--domain", file.toString());
        assertThat(run.code()).as(run.out() + run.err()).isZero();
        return run;
    }

    /** The disk image of the virtio captures (the capture command creates it; viommu does not read it). */
    static final String VIRTIO_DISK = "/tmp/viommu-emit/guest.img";

    /** The host-specific parts of a libvirt line: PATH, uuid, a random MAC, the domain id, the monitor's fd. */
    static String normalise(String line) {
        return line.replaceFirst("PATH=[^ ]* ", "PATH=P ").replaceAll("-uuid \\S+", "-uuid U")
                .replaceAll("\"mac\":\"[0-9a-f:]+\"", "\"mac\":\"M\"").replaceAll("/domain-\\d+-", "/domain--1-")
                .replaceAll("-chardev socket,id=charmonitor,[^ ]*", "-chardev socket,id=charmonitor,...");
    }

    static String section(String out, String file, boolean started) {
        String s = out.substring(out.indexOf("== " + file + "\n"));
        s = s.substring(s.indexOf('\n') + 1);
        if (started) {
            s = s.substring(s.indexOf("-- started:\n") + "-- started:\n".length());
        }
        return s.substring(0, s.indexOf('\n'));
    }

    @Test
    void libvirt90AcceptsTheEmittedXmlAndBuildsTheArgvViommuBuilds() throws Exception {
        String out = Files.readString(EMIT.resolve("libvirt-native.out"), StandardCharsets.UTF_8);
        assertThat(out).doesNotContain("error: ");
        // the hostdev domain: domxml-to-native's line is the argv viommu builds
        String ours = LibvirtDomain.parse(EMIT.resolve("emit-hostdev.xml")).toNativeLine();
        assertThat(normalise(ours)).isEqualTo(normalise(section(out, "emit-hostdev.xml", false)));
        assertThat(ours).contains("-machine pc-q35-7.2,usb=off,kernel_irqchip=split,",
                "-device '{\"driver\":\"intel-iommu\",\"id\":\"iommu0\",\"intremap\":\"on\",\"caching-mode\":true}'",
                "\"driver\":\"vfio-pci\",\"host\":\"0000:00:07.0\"",
                "-device '{\"driver\":\"virtio-balloon-pci\",\"iommu_platform\":true,");
        // with the virtio NIC: the line of the real start (domxml-to-native makes every interface a tap)
        String started = LibvirtDomain.parse(EMIT.resolve("emit-virtio-nohostdev.xml")).toNativeLine();
        assertThat(normalise(started)).isEqualTo(normalise(section(out, "emit-virtio-nohostdev.xml", true)));
        assertThat(started).contains("\"device-iotlb\":true",
                "\"driver\":\"virtio-net-pci\",\"iommu_platform\":true,\"ats\":true");
        assertThat(started).contains("-blockdev '{\"driver\":\"file\",\"filename\":\"/tmp/viommu-emit/guest.img\"",
                "\"driver\":\"virtio-blk-pci\",\"iommu_platform\":true,\"ats\":true");
        // the plain form: a vfio-pci and libvirt's own balloon, no vIOMMU, no kernel_irqchip
        String plain = LibvirtDomain.parse(EMIT.resolve("emit-plain.xml")).toNativeLine();
        assertThat(normalise(plain)).isEqualTo(normalise(section(out, "emit-plain.xml", false)));
        assertThat(plain).contains("-machine pc-q35-7.2,usb=off,dump-guest-core=off", "\"driver\":\"vfio-pci\"",
                "{\"driver\":\"virtio-balloon-pci\",\"id\":\"balloon0\"").doesNotContain("intel-iommu", "kernel_irqchip");
        String withHostdev = LibvirtDomain.parse(EMIT.resolve("emit-virtio.xml")).toNativeLine();
        String nic = " -netdev '\\{[^']*\\}' -device '\\{\"driver\":\"virtio-net-pci\",[^']*\\}'";
        assertThat(normalise(withHostdev).replaceAll(nic, ""))
                .isEqualTo(normalise(section(out, "emit-virtio.xml", false)).replaceAll(nic, ""));
    }

    // ---------------------------------------------------------------- check agrees with run

    record Case(String name, boolean error, String... vm) {
    }

    @Test
    void checkAgreesWithRun() throws Exception {
        Path setup = tmp.resolve("setup.sh");
        Files.write(setup, io.viommu.host.ConfigCheckTest.SETUP);
        String host = io.viommu.host.ConfigCheckTest.HOST;
        String[] base = {"-M", "q35", "-m", "128M", "-nodefaults"};
        List<Case> cases = List.of(
                new Case("clean", false, "-device", "intel-iommu,caching-mode=on", "-device", "vfio-pci,host=0000:00:04.0"),
                new Case("vfio before the vIOMMU", true, "-device", "vfio-pci,host=0000:00:04.0",
                        "-device", "intel-iommu,caching-mode=on"),
                new Case("virtio without iommu_platform (warning)", false, "-device", "intel-iommu,caching-mode=on",
                        "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0", "-device",
                        "vfio-pci,host=0000:00:04.0"),
                new Case("no caching mode", true, "-device", "intel-iommu", "-device", "vfio-pci,host=0000:00:04.0"),
                new Case("intremap with kernel-irqchip=on", true, "-machine", "q35,accel=kvm", "-device",
                        "intel-iommu,intremap=on,caching-mode=on", "-device", "vfio-pci,host=0000:00:04.0"),
                new Case("not on vfio-pci", true, "-device", "vfio-pci,host=0000:00:06.0"),
                new Case("group not viable", true, "-device", "vfio-pci,host=0000:00:08.0"),
                new Case("off vfio-pci in a viable group", true, "-device", "vfio-pci,host=0000:00:05.0"),
                new Case("given twice", true, "-device", "intel-iommu,caching-mode=on", "-device",
                        "vfio-pci,host=0000:00:04.0", "-device", "vfio-pci,host=0000:00:04.0"),
                new Case("given twice without a vIOMMU", true, "-device", "vfio-pci,host=0000:00:04.0", "-device",
                        "vfio-pci,host=0000:00:04.0"),
                new Case("two devices of one group behind the vIOMMU", true, "-device", "intel-iommu,caching-mode=on",
                        "-device", "vfio-pci,host=0000:00:05.1", "-device", "vfio-pci,host=0000:00:05.0"),
                new Case("no such device", true, "-device", "vfio-pci,host=0000:00:09.0"));
        for (Case c : cases) {
            List<String> vm = with(List.of(base), List.of(c.vm()));
            CliRun check = CliRun.of(with(List.of("check", "--host", host, "--host-setup", setup.toString()), vm));
            CliRun run = CliRun.of(with(List.of("run", "--host", host, "--host-setup", setup.toString()), vm));
            assertThat(check.code()).as(c.name() + ": " + check.out()).isEqualTo(c.error() ? 1 : 0);
            // each finding names its device and comes with its fix
            long findings = check.out().lines().filter(l -> l.matches("(error|warning): \\S.*: .*")).count();
            assertThat(findings > 0).as(c.name()).isEqualTo(!c.name().equals("clean"));
            assertThat(check.out().lines().filter(l -> l.matches("  fix: \\S.*")).count()).as(c.name()).isEqualTo(findings);
            assertThat(run.code()).as(c.name() + ": " + run.err()).isEqualTo(c.error() ? 1 : 0);
            if (c.error()) {
                // the error run stops at is the one check quoted first; QEMU starts a vfio-pci listed
                // before intel-iommu without a word, and its DMA then misses the guest's page
                String says = check.out().lines().filter(l -> l.startsWith("  says: ")).findFirst()
                        .map(l -> l.substring(8)).orElse("did not land in the guest page");
                assertThat(run.err()).as(c.name()).contains(says);
            } else {
                assertThat(run.out()).as(c.name()).contains("RESULT  ok");
            }
            if (c.name().equals("vfio before the vIOMMU")) {
                // no QEMU text to quote (7.2 starts it silently, see VmmViommuCaptureTest's vfio-first capture):
                // check's finding says what run's own warning says
                String warning = run.out().lines().filter(l -> l.contains("viommu: warning: vfio-pci 0000:00:04.0"))
                        .findFirst().orElseThrow().trim();
                String said = warning.substring(warning.indexOf(" is listed before ") + 4);
                assertThat(check.out()).contains("error: -device vfio-pci,host=0000:00:04.0: " + said);
            }
        }
    }

    // ---------------------------------------------------------------- the seeds

    static ConfigCheck.Result checkSeed(String line) throws Exception {
        List<String> args = new ArrayList<>(List.of(line.trim().split("\\s+")));
        assertThat(args.remove(0)).isEqualTo("qemu-system-x86_64");
        return ConfigCheck.check(HostReader.read(new ModelHost(RunSeedsTest.host(), RunSeedsTest.HOST)),
                FirmwareFiles.withoutMissing(args));
    }

    static List<String> findings(ConfigCheck.Result r) {
        return r.findings().stream().map(f -> f.severity().name().toLowerCase() + " " + f.device() + ": "
                + f.what().substring(0, Math.min(f.what().length(), 40))).toList();
    }

    @Test
    void theSeedsCommandLinesChecked() throws Exception {
        // 001, assigned device (host 02:00.0 is the test host's edu on vfio-pci): clean
        assertThat(checkSeed("qemu-system-x86_64 -M q35,accel=kvm,kernel-irqchip=split -m 2G"
                + " -device intel-iommu,intremap=on,caching-mode=on -device vfio-pci,host=02:00.0").findings()).isEmpty();
        // 001, general usage: the wiki's typo, refused as QEMU (and run) refuse it
        ConfigCheck.Result typo = checkSeed("qemu-system-x86_64 -machine q35,accl=kvm,kernel-irqchip=split -m 2G"
                + " -device intel-iommu,intremap=on -netdev user,id=net0 -device e1000,netdev=net0");
        assertThat(typo.ok()).isFalse();
        assertThat(typo.findings().get(0).qemu()).isEqualTo("qemu-system-x86_64: Property 'pc-q35-7.2-machine.accl' not found");
        // 001, virtio with ATS behind ioh3420 and device-iotlb: clean
        assertThat(checkSeed("qemu-system-x86_64 -M q35,accel=kvm,kernel-irqchip=split -m 2G"
                + " -device intel-iommu,intremap=on,device-iotlb=on -device ioh3420,id=pcie.1,chassis=1"
                + " -device virtio-net-pci,bus=pcie.1,netdev=net0,disable-legacy=on,disable-modern=off,iommu_platform=on,ats=on"
                + " -netdev tap,id=net0,vhostforce").findings()).isEmpty();
        // 002, the L1 VM: three virtio devices bypass the vIOMMU (intel-iommu after them is fine for emulated devices)
        ConfigCheck.Result l1 = checkSeed(RunSeedsTest.SEED_002_L1);
        assertThat(l1.ok()).isTrue();
        assertThat(findings(l1)).containsExactly(
                "warning -device virtio-net-pci,netdev=mynet0: its DMA bypasses the vIOMMU: without iom",
                "warning -device virtio-rng-pci: its DMA bypasses the vIOMMU: without iom",
                "warning -device virtio-blk-pci,drive=virtio0 (from -drive file=l1.img,if=virtio,aio=threads,format=raw):"
                        + " its DMA bypasses the vIOMMU: without iom");
        // 002, "assigning virtio devices to vfio": ats=on on pcie.0 is ignored
        ConfigCheck.Result l2 = checkSeed("qemu-system-x86_64 -M q35 -netdev user,id=mynet0"
                + " -device virtio-net-pci,netdev=mynet0,disable-legacy=on,disable-modern=off,iommu_platform=on,ats=on"
                + " -device intel-iommu,intremap=on,caching-mode=on,device-iotlb=on");
        assertThat(findings(l2)).containsExactly("warning -device virtio-net-pci,netdev=mynet0,disable-legacy=on,"
                + "disable-modern=off,iommu_platform=on,ats=on: ats=on is ignored: QEMU 7.2 adds the ATS");
        // 003: no vIOMMU, the host's 01:00.0 on vfio-pci: clean
        assertThat(checkSeed("qemu-system-x86_64 -enable-kvm -cdrom linux.iso -boot d -device vfio-pci,host=01:00.0")
                .findings()).isEmpty();
    }

    @Test
    void checkReadsASavedHostAsRunNamesIt() {
        String tree = "src/test/host-trees/intel-vtd";
        CliRun clean = CliRun.of("check", "--host-sysfs", tree, "-M", "q35", "-device", "intel-iommu,caching-mode=on",
                "-device", "vfio-pci,host=0000:02:10.2");
        assertThat(clean.code()).as(clean.out()).isZero();
        CliRun nic = CliRun.of("check", "--host-sysfs", tree, "-M", "q35", "-device", "vfio-pci,host=0000:02:00.0");
        assertThat(nic.code()).isEqualTo(1);
        assertThat(nic.out()).contains("host device 0000:02:00.0 is bound to ixgbe");
        CliRun off = CliRun.of("check", "--sysfs", "src/test/host-trees/intel-vtd-off", "-M", "q35", "-device",
                "vfio-pci,host=0000:00:02.0");
        assertThat(off.out()).contains("says: qemu-system-x86_64: -device vfio-pci,host=0000:00:02.0: vfio 0000:00:02.0:"
                + " no iommu_group found: No such file or directory");
    }

    @Test
    void checkJsonAndUsage() throws Exception {
        CliRun r = CliRun.of("check", "--json", "--host", io.viommu.host.ConfigCheckTest.HOST, "-M", "q35",
                "-device", "intel-iommu", "-device", "vfio-pci,host=0000:00:04.0,id=hostdev0");
        assertThat(r.code()).isEqualTo(1);
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertThat(j.get("schema").asText()).isEqualTo("viommu.check/1");
        assertThat(j.get("ok").asBoolean()).isFalse();
        assertThat(j.get("errors").asInt()).isEqualTo(2); // caching mode; 04.0 not on vfio-pci (no setup)
        assertThat(j.at("/findings/0/severity").asText()).isEqualTo("ERROR");
        assertThat(j.at("/findings/0/device").asText()).isEqualTo("vfio-pci hostdev0");
        assertThat(j.at("/findings/1/fix").asText()).isEqualTo("-device intel-iommu,caching-mode=on");
        assertThat(CliRun.of("check").code()).isEqualTo(2);
        assertThat(CliRun.of("check", "--host", "x", "--host-sysfs", "/tmp", "-M", "q35").err())
                .isEqualTo("viommu check: --host and --host-sysfs are alternatives: give one\n");
        assertThat(CliRun.of("check", "--domain", "a.xml", "-M", "q35").code()).isEqualTo(2);
        CliRun missing = CliRun.of("check", "--host", io.viommu.host.ConfigCheckTest.HOST, "--domain", "/nonexistent/d.xml");
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.out()).contains("says: error: Failed to open file '/nonexistent/d.xml': No such file or directory");
    }
}
