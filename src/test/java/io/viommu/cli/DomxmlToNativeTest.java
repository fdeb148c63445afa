package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.fixtures.LinuxCapture;
import io.viommu.linux.Kernel;
import io.viommu.machine.Machine;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import io.viommu.pci.PciFunction;
import io.viommu.vmm.VfioPciDevice;
import io.viommu.vmm.Vmm;
import io.viommu.vmm.libvirt.Domain;
import io.viommu.vmm.libvirt.LibvirtDomain;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code viommu domxml-to-native}: virsh's form (environment, binary, arguments quoted as
 * libvirt quotes them; {@code error: } and an empty line on a refusal, exit 1), and what it
 * prints builds the VM with the model's own QEMU command-line handling: the machine alone, and
 * with a vfio-pci device the VMM on a model host whose device is bound to vfio-pci.
 */
class DomxmlToNativeTest {
    private static final Path CASES = Path.of("src/test/resources/libvirt/cases");

    /** The VM arguments of a printed line: after the environment and the binary. */
    static List<String> vmArgs(String printed) {
        List<String> words = LinuxCapture.shellSplit(printed.strip());
        int binary = 0;
        while (words.get(binary).contains("=")) {
            binary++;
        }
        assertThat(words.get(binary)).isEqualTo(Domain.DEFAULT_EMULATOR);
        return words.subList(binary + 1, words.size());
    }

    @Test
    void printsVirshsLineAndTheMachineBuildsFromIt() throws Exception {
        CliRun r = CliRun.of("domxml-to-native", CASES.resolve("virtio-ats.xml").toString());
        assertThat(r.code()).isZero();
        assertThat(r.err()).isEmpty();
        assertThat(r.out()).startsWith("LC_ALL=C PATH=").endsWith("-msg timestamp=on\n");
        assertThat(r.out()).contains(" -device '{\"driver\":\"virtio-net-pci\",\"iommu_platform\":true,\"ats\":true,");
        List<String> args = vmArgs(r.out());
        assertThat(args).isEqualTo(LibvirtDomain.parse(CASES.resolve("virtio-ats.xml")).toQemuArgv());

        Machine m = MachineBuilder.fromCommandLine(args, MachineLog.SILENT);
        // libvirt's places: virtio-net on pci.1, qemu-xhci on pci.2, virtio-blk on pci.3, balloon on pci.4
        assertThat(m.iommu()).isNotNull();
        assertThat(m.iommu().config().deviceIotlb()).isTrue();
        assertThat(behind(m, "pci.1")).extracting(PciFunction::typeName).isEqualTo("virtio-net-pci");
        assertThat(behind(m, "pci.2")).extracting(PciFunction::typeName).isEqualTo("qemu-xhci");
        assertThat(behind(m, "pci.3")).extracting(PciFunction::typeName).isEqualTo("virtio-blk-pci");
        assertThat(behind(m, "pci.4")).extracting(PciFunction::typeName).isEqualTo("virtio-balloon-pci");
        assertThat(behind(m, "pci.5")).isNull(); // libvirt's spare port for hotplug
        assertThat(behind(m, "pci.1").properties()).containsEntry("iommu_platform", "on").containsEntry("ats", "on");
    }

    @Test
    void theHostdevDomainStartsOnAModelHostWithItsDeviceBoundToVfioPci(@TempDir Path dir) throws Exception {
        // the fixture host: edu devices, 00:04.0 bound to vfio-pci (src/test/resources/vmm/host-setup.sh)
        // a guest address on pcie.0 given in the XML (libvirt's own choice, a pcie-root-port, is
        // run in RunCommandTest)
        Path xml = dir.resolve("edu.xml");
        Files.writeString(xml, Files.readString(CASES.resolve("iommu-intremap-cm.xml"))
                .replace("bus='0x02' slot='0x00' function='0x0'/>\n      </source>",
                        "bus='0x00' slot='0x04' function='0x0'/>\n      </source>\n"
                                + "      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>")
                .replace("type='kvm'", "type='qemu'") // tcg: the model's accel rules for intremap
                // the model host's user memory is 48 MiB (Kernel.USER_MEMORY_*); vfio pins all guest RAM
                .replace("<memory unit='KiB'>1048576</memory>", "<memory unit='MiB'>32</memory>"));
        assertThat(Files.readString(xml)).contains("slot='0x05'").contains("<memory unit='MiB'>32</memory>");
        CliRun r = CliRun.of("domxml-to-native", xml.toString());
        assertThat(r.code()).as(r.err()).isZero();
        List<String> args = vmArgs(r.out());
        assertThat(args).contains("{\"driver\":\"vfio-pci\",\"host\":\"0000:00:04.0\",\"id\":\"hostdev0\",\"bus\":\"pcie.0\",\"addr\":\"0x5\"}");
        Kernel host = VmmFixtureTest.fixtureHost();
        List<String> stderr = new ArrayList<>();
        Vmm vmm = Vmm.start(host, args, MachineLog.SILENT, stderr::add);
        try {
            assertThat(vmm.assignedDevices()).hasSize(1);
            VfioPciDevice d = vmm.assignedDevices().get(0);
            assertThat(d.hostName()).isEqualTo("0000:00:04.0");
            assertThat(d.bus().isRoot()).isTrue();
            assertThat(d.address().device()).isEqualTo(5);
            assertThat(d.inSystemMemory()).isFalse(); // behind the vIOMMU (caching-mode=on)
            assertThat(vmm.machine().iommu().config().cachingMode()).isTrue();
            // what the real QEMU 7.2 prints for the edu at its reset (fixtures/vmm a-config.err):
            // vfio_reset_handler's bus reset, then the device's own reset
            assertThat(stderr).filteredOn(l -> l.startsWith("qemu-system-x86_64: "))
                    .containsExactly("qemu-system-x86_64: vfio: Cannot reset device 0000:00:04.0, no available reset mechanism.",
                            "qemu-system-x86_64: vfio: Cannot reset device 0000:00:04.0, no available reset mechanism.");
            // libvirt's -object secret and memory backend are named by the model, not dropped
            assertThat(stderr).filteredOn(l -> !l.startsWith("qemu-system-x86_64: "))
                    .allSatisfy(l -> assertThat(l).startsWith("viommu: warning: -object {\"qom-type\":"));
        } finally {
            vmm.shutdown();
        }
        assertThat(LibvirtDomain.parse(xml).managedHostdevs()).extracting(h -> h.source().bdf())
                .containsExactly("0000:00:04.0");
    }

    /**
     * What domxml-to-native prints runs unchanged under {@code viommu run}: the domain with a
     * {@code type='network'} virtio NIC and a virtio disk behind an intel IOMMU, its argv pasted
     * as VM arguments; the guest's drivers' requests go through the vIOMMU, the tap libvirt would
     * pass is named as having no effect.
     */
    @Test
    void thePrintedArgvRunsUnchangedUnderViommuRun() throws Exception {
        CliRun printed = CliRun.of("domxml-to-native", CASES.resolve("net-network-viommu.xml").toString());
        assertThat(printed.code()).as(printed.err()).isZero();
        List<String> run = new ArrayList<>(List.of("run", "--host", RunCommandTest.HOST));
        run.addAll(vmArgs(printed.out()));
        CliRun r = CliRun.of(run);
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("virtio-net-pci at 0000:01:00.0:", "virtio-blk-pci at 0000:03:00.0:",
                "through the vIOMMU's ATS path", "-netdev {\"type\":\"tap\",\"fd\":\"25\",\"id\":\"hostnet0\"}: the"
                        + " backend (tap, vhost; the descriptor is not opened) has no effect", "RESULT  ok");
        assertThat(r.out()).doesNotContain("DIFFERENT").doesNotContain("NOT refused");
    }

    @Test
    void refusalIsVirshsErrorLineAndExit1() {
        CliRun r = CliRun.of("domxml-to-native", CASES.resolve("err-eim-no-intremap.xml").toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).isEqualTo("error: unsupported configuration: IOMMU eim requires interrupt remapping to be enabled\n\n");
    }

    @Test
    void malformedXmlNamesLineAndColumnWithoutAStackTrace() {
        CliRun r = CliRun.of("domxml-to-native", CASES.resolve("err-malformed.xml").toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("error: (domain_definition):12: Opening and ending tag mismatch: iommu line 11 and devices\n"
                + "  </devices>\n------------^\n\n");
    }

    @Test
    void aMissingFileIsNamed() {
        CliRun r = CliRun.of("domxml-to-native", "/nonexistent/dom.xml");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("error: Failed to open file '/nonexistent/dom.xml': No such file or directory\n\n");
    }

    @Test
    void untranslatedElementsGoToStderrAndTheArgvStillPrints() {
        CliRun r = CliRun.of("domxml-to-native", CASES.resolve("untranslated.xml").toString());
        assertThat(r.code()).isZero();
        assertThat(r.err()).contains("viommu: warning: <domain>/<devices>/<graphics> (line 14) is not translated");
        assertThat(r.out()).contains("-name guest=untranslated,debug-threads=on");
    }

    private static PciFunction behind(Machine m, String portId) {
        for (PciFunction f : m.devices()) {
            if (f.bus() != null && !f.bus().isRoot() && portId.equals(f.bus().name()) && f.address().device() == 0) {
                return f;
            }
        }
        return null;
    }
}
