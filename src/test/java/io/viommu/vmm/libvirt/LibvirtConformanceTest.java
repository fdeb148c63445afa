package io.viommu.vmm.libvirt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every XML of src/test/resources/libvirt/cases against the real libvirt 9.0.0
 * ({@link LibvirtNative}): the argv equal to libvirt's (a real start's where the XML has an
 * {@code <interface>}, since domxml-to-native rewrites those), a refusal with libvirt's text.
 */
class LibvirtConformanceTest {
    private static final Map<String, LibvirtNative> NATIVE = LibvirtNative.load();

    /** Where viommu deliberately differs from domxml-to-native (docs/libvirt.md, README deviations). */
    private static final List<String> DEVIATIONS = List.of(
            "err-no-vfio-driver.xml",   // domxml-to-native needs <driver name='vfio'/>; a real start picks vfio
            "untranslated.xml");        // <serial>, <graphics>: named in warnings, not translated

    static Stream<LibvirtNative> accepted() {
        return NATIVE.values().stream().filter(n -> n.rc() == 0 && !DEVIATIONS.contains(n.file()));
    }

    static Stream<LibvirtNative> refused() {
        return NATIVE.values().stream().filter(n -> n.rc() == 1 && !DEVIATIONS.contains(n.file()));
    }

    @Test
    void theCapturesCoverTheCases() {
        assertThat(NATIVE).hasSizeGreaterThanOrEqualTo(30);
        assertThat(accepted().count()).isGreaterThanOrEqualTo(12);
        assertThat(refused().count()).isGreaterThanOrEqualTo(15);
    }

    /**
     * The argv equals libvirt's. With an {@code <interface>}, domxml-to-native's line has a tap
     * netdev and a NIC without iommu_platform/ats (qemuConnectDomainXMLToNative rewrites each
     * interface), so the real start's line is the reference; a domain that could not be started
     * here (a hostdev, a missing image) is compared without the interfaces' -netdev/-device pairs
     * on both sides, and the interfaces' form is held by the started captures (net-user, virtio-ats).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("accepted")
    void argvEqualsLibvirts(LibvirtNative n) throws Exception {
        Domain d = LibvirtDomain.parse(n.xml());
        if (d.nets().isEmpty()) {
            assertThat(d.toNativeLine()).isEqualTo(LibvirtNative.normalise(n.nativeLine()));
        } else if (n.startedLine() != null) {
            assertThat(LibvirtNative.tapFds(d.toNativeLine()))
                    .isEqualTo(LibvirtNative.tapFds(LibvirtNative.normalise(n.startedLine())));
        } else {
            String ours = withoutNics(d.toNativeLine());
            assertThat(ours).isNotEqualTo(d.toNativeLine());
            assertThat(ours).isEqualTo(withoutNics(LibvirtNative.normalise(n.nativeLine())));
        }
    }

    /** A JSON vfio-pci -device as an edu at the same place (id, bus, addr, multifunction kept). */
    static String eduForVfio(String arg) {
        if (!arg.startsWith("{\"driver\":\"vfio-pci\"")) {
            return arg;
        }
        try {
            var json = new com.fasterxml.jackson.databind.ObjectMapper();
            var in = json.readTree(arg);
            var out = json.createObjectNode().put("driver", "edu");
            for (String k : List.of("id", "bus", "addr", "multifunction")) {
                if (in.has(k)) {
                    out.set(k, in.get(k));
                }
            }
            return json.writeValueAsString(out);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String withoutNics(String line) {
        return line.replaceAll(" -netdev '\\{[^']*\\}' -device '\\{\"driver\":\"[^\"]*\",[^']*\"netdev\":[^']*\\}'", "");
    }

    /**
     * The argv of every accepted case builds the machine with the model's own QEMU command-line
     * handling, every device at libvirt's place: the root ports at their pcie.0 addresses, each
     * endpoint behind the port (or at the pcie.0 slot) libvirt chose. A hostdev's vfio-pci needs
     * the host's device (its realize opens the host's VFIO group, which a bare machine has not),
     * so for the placement its function is stood in by an {@code edu} with the same id, bus and
     * addr; the cases' vfio-pci devices themselves run on a model host in DomxmlToNativeTest and
     * RunCommandTest.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("accepted")
    void argvBuildsTheMachineWithDevicesWhereLibvirtPutThem(LibvirtNative n) throws Exception {
        Domain d = LibvirtDomain.parse(n.xml());
        org.junit.jupiter.api.Assumptions.assumeFalse(n.file().equals("awbits-40.xml"), "QEMU refuses it: below");
        List<String> argv = d.toQemuArgv().stream().map(LibvirtConformanceTest::eduForVfio).toList();
        assertThat(argv.stream().filter(x -> x.contains("\"driver\":\"edu\"")).count()).isEqualTo(d.hostdevs().size());
        io.viommu.machine.Machine m = io.viommu.machine.config.MachineBuilder.fromCommandLine(argv,
                io.viommu.machine.device.MachineLog.SILENT);
        java.util.Map<String, PciPlacement.Place> places = NativeArgv.places(d);
        long ports = d.toQemuArgv().stream().filter(x -> x.startsWith("{\"driver\":\"pcie-root-port\"")).count();
        assertThat(m.devices()).filteredOn(f -> f.typeName().equals("pcie-root-port")).hasSize((int) ports);
        assertThat(m.devices().stream().anyMatch(f -> f.typeName().equals("qemu-xhci"))).isEqualTo(d.usb());
        for (io.viommu.pci.PciFunction f : m.devices()) {
            if (f.id() == null || f.typeName().equals("pcie-root-port") || f.typeName().equals("intel-iommu")) {
                continue;
            }
            String key = switch (f.id()) {
                case "usb" -> "usb";
                case "balloon0" -> "balloon";
                default -> f.id().startsWith("net") ? f.id() : f.id().startsWith("virtio-disk")
                        ? "disk" + d.disks().stream().map(Domain.Disk::target).toList()
                                .indexOf("vd" + (char) ('a' + Integer.parseInt(f.id().substring(11)))) : f.id();
            };
            PciPlacement.Place p = places.get(key);
            assertThat(p).as(f.id()).isNotNull();
            assertThat(f.bus().isRoot() ? "pcie.0" : f.bus().name()).as(f.id()).isEqualTo(p.busName());
            assertThat(f.address().device()).as(f.id()).isEqualTo(p.slot());
            assertThat(f.address().function()).as(f.id()).isEqualTo(p.function());
        }
        assertThat(m.iommu() != null).isEqualTo(d.iommu().isPresent());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refused")
    void refusalHasLibvirtsText(LibvirtNative n) {
        assertThatThrownBy(() -> LibvirtDomain.parse(n.xml()))
                .isInstanceOf(LibvirtException.class)
                .satisfies(e -> assertThat(("error: " + e.getMessage()).split("\n", -1))
                        .containsExactlyElementsOf(n.error()));
    }

    @Test
    void aHostdevWithoutDriverIsTranslatedAsARealStartDoesNotAsDomxmlToNative() throws Exception {
        LibvirtNative n = NATIVE.get("err-no-vfio-driver.xml");
        assertThat(n.error()).containsExactly("error: internal error: invalid PCI passthrough type 'default'");
        Domain d = LibvirtDomain.parse(n.xml());
        assertThat(d.toQemuArgv()).contains(
                "{\"driver\":\"vfio-pci\",\"host\":\"0000:02:00.0\",\"id\":\"hostdev0\",\"bus\":\"pci.2\",\"addr\":\"0x0\"}");
    }

    /** libvirt passes aw_bits='40' on; QEMU 7.2 refuses it at start, and so does the model, with QEMU's line. */
    @Test
    void awBits40IsLibvirtsArgvButQemuRefusesIt() throws Exception {
        LibvirtNative n = NATIVE.get("awbits-40.xml");
        assertThat(n.rc()).isZero();
        String out = java.nio.file.Files.readString(LibvirtNative.DIR.resolve("libvirt-native.out"));
        String qemuLine = "qemu-system-x86_64: -device {\"driver\":\"intel-iommu\",\"id\":\"iommu0\",\"aw-bits\":40}:"
                + " Supported values for aw-bits are: 39, 48";
        assertThat(out).contains(qemuLine); // the real start's "qemu unexpectedly closed the monitor" text
        Domain d = LibvirtDomain.parse(n.xml());
        assertThatThrownBy(() -> io.viommu.machine.config.MachineBuilder.fromCommandLine(d.toQemuArgv(),
                io.viommu.machine.device.MachineLog.SILENT)).hasMessage(qemuLine);
    }

    @Test
    void untranslatedElementsAreNamedWithTheirLines() throws Exception {
        Domain d = LibvirtDomain.parse(NATIVE.get("untranslated.xml").xml());
        assertThat(String.join("\n", d.warnings()))
                .contains("<domain>/<devices>/<serial> (line 13)")
                .contains("<domain>/<devices>/<graphics> (line 14)")
                .contains("<domain>/<frobnicate> (line 18)")
                .contains("<domain>/<features>/<pae> (line 9)")
                .doesNotContain("<clock>")
                .doesNotContain("<on_poweroff>");
    }

    /**
     * {@code <interface type='network'>} and {@code type='bridge'}: a real start makes each a tap
     * on the network's bridge or the bridge, passed as a descriptor, and keeps the NIC's
     * iommu_platform/ats (libvirt-native-4.out: net-bridge.xml started with a br0;
     * libvirt-native-5.out: net-network-up.xml started on a network in bridge mode over it). viommu
     * prints that form; it differs from domxml-to-native's line (which drops iommu/ats:
     * libvirt-native-3.out, -6.out) in exactly those two keys of the virtio NIC that asked for them.
     */
    @Test
    void networkAndBridgeInterfacesAreTapsAsLibvirtStartsThem() throws Exception {
        for (String f : List.of("net-network.xml", "net-bridge.xml", "net-mixed.xml", "net-network-up.xml",
                "net-network-viommu.xml")) {
            LibvirtNative n = NATIVE.get(f);
            assertThat(n.rc()).as(f).isZero();
            Domain d = LibvirtDomain.parse(n.xml());
            String ours = LibvirtNative.tapFds(d.toNativeLine());
            assertThat(ours).as(f).contains((f.equals("net-mixed.xml") ? "-netdev '{\"type\":\"user\","
                    : "-netdev '{\"type\":\"tap\",\"fd\":\"N\",") + "\"id\":\"hostnet0\"}' -device"
                    + " '{\"driver\":\"virtio-net-pci\",\"iommu_platform\":true,\"ats\":true,\"netdev\":\"hostnet0\"");
            // domxml-to-native: every interface a tap (type='user' too), no iommu/ats on the NICs
            String asDomxmlToNative = ours.replace("\"iommu_platform\":true,\"ats\":true,\"netdev\"", "\"netdev\"")
                    .replace("{\"type\":\"user\",", "{\"type\":\"tap\",\"fd\":\"N\",");
            assertThat(asDomxmlToNative).as(f).isEqualTo(LibvirtNative.tapFds(LibvirtNative.normalise(n.nativeLine())));
            if (n.startedLine() != null) {
                assertThat(ours).isEqualTo(LibvirtNative.tapFds(LibvirtNative.normalise(n.startedLine())));
            }
        }
        assertThat(NATIVE.get("net-bridge.xml").startedLine()).isNotNull();
        assertThat(NATIVE.get("net-network-up.xml").startedLine()).isNotNull();
        // the model has no host network: each tap is named as having no effect, with libvirt's start error
        Domain d = LibvirtDomain.parse(NATIVE.get("net-network.xml").xml());
        assertThat(String.join("\n", d.warnings())).contains("viommu: note: <interface type='network'> (line 14) on"
                + " network 'default': libvirt opens a tap device on the network's bridge and passes it as fd=25",
                "the tap has no effect on the model",
                "(libvirt: \"Requested operation is not valid: network 'default' is not active\")");
        String out = java.nio.file.Files.readString(LibvirtNative.DIR.resolve("libvirt-native-3.out"));
        assertThat(out).contains("error: Requested operation is not valid: network 'default' is not active",
                "error: Cannot get interface MTU on 'br0': No such device");
        assertThat(String.join("\n", LibvirtDomain.parse(NATIVE.get("net-bridge.xml").xml()).warnings()))
                .contains("(libvirt: \"Cannot get interface MTU on 'br0': No such device\")");
    }

    @Test
    void otherInterfaceTypesAreRefusedNamingWhatIsTranslated() {
        String xml = "<domain type='qemu'><name>d</name><memory>131072</memory><os><type machine='q35'>hvm</type></os>"
                + "<devices><interface type='direct'><model type='virtio'/></interface></devices></domain>";
        assertThatThrownBy(() -> LibvirtDomain.parse(xml)).isInstanceOf(LibvirtException.class)
                .hasMessage("viommu: <interface type='direct'> (line 1) is not translated: viommu translates"
                        + " type='user', 'network' and 'bridge'");
    }
}
