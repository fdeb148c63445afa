package io.viommu.machine;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import io.viommu.pci.RequesterId;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Configuration spaces of whole machines against QEMU 7.2: for each scenario of
 * src/test/resources/qemu-pci/scenarios.txt, scripts/qemu-pci-golden.py recorded what QEMU shows
 * (IDs, class, header, subsystem, pin, status, BAR sizes, bridge windows, every capability with
 * its key registers, every extended capability) after SeaBIOS-style bus numbering; the model,
 * built from the same arguments and numbered the same way, must print the same lines.
 */
class QemuPciGoldenTest {
    record Scenario(String name, List<RequesterId> extra, List<String> post, List<String> args) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Scenario> scenarios() throws IOException {
        List<Scenario> out = new ArrayList<>();
        for (String line : resource("scenarios.txt").split("\n")) {
            line = line.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\\|");
            List<RequesterId> extra = Arrays.stream(f[1].strip().split(",")).filter(s -> !s.isBlank())
                    .map(RequesterId::parse).toList();
            List<String> post = Arrays.stream(f[2].split(";")).map(String::strip).filter(s -> !s.isEmpty()).toList();
            out.add(new Scenario(f[0].strip(), extra, post, List.of(f[3].strip().split("\\s+"))));
        }
        return out.stream();
    }

    /**
     * intel-iommu's properties do not change PCI configuration space; they are dropped so that
     * these tests do not depend on which of them the VT-d model accepts.
     */
    static List<String> withoutIommuProperties(List<String> args) {
        return args.stream().map(a -> a.startsWith("intel-iommu,") ? "intel-iommu" : a).toList();
    }

    static String resource(String name) throws IOException {
        try (InputStream in = QemuPciGoldenTest.class.getResourceAsStream("/qemu-pci/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** The script's scan: depth first, function 0 decides multi-function, bridges already numbered. */
    static void scan(Machine m, int bus, List<RequesterId> found) {
        for (int dev = 0; dev < 32; dev++) {
            for (int fn = 0; fn < 8; fn++) {
                RequesterId rid = RequesterId.of(bus, dev, fn);
                if (MachineTest.cf8Read(m, rid, 0, 4) == 0xffff_ffffL) {
                    if (fn == 0) {
                        break;
                    }
                    continue;
                }
                int ht = (int) (MachineTest.cf8Read(m, rid, 0x0c, 4) >>> 16) & 0xff;
                found.add(rid);
                if ((ht & 0x7f) == 1) {
                    scan(m, (int) MachineTest.cf8Read(m, rid, 0x19, 1), found);
                }
                if (fn == 0 && (ht & 0x80) == 0) {
                    break;
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void configSpacesMatchQemu(Scenario s) throws Exception {
        List<String> args = new ArrayList<>(List.of("-machine", "q35"));
        args.addAll(withoutIommuProperties(s.args()));
        Machine m = MachineBuilder.fromCommandLine(args, MachineLog.SILENT);
        m.enumerate();
        List<RequesterId> found = new ArrayList<>();
        scan(m, 0, found);
        for (String c : s.post()) {
            String[] w = c.split(" ");
            int size = switch (w[0]) {
                case "writeb" -> 1;
                case "writew" -> 2;
                case "writel" -> 4;
                default -> throw new IllegalArgumentException(c);
            };
            m.memory().write(Long.decode(w[1]), Long.decode(w[2]), size);
        }
        found.addAll(s.extra());
        List<String> actual = new ArrayList<>();
        for (RequesterId rid : found) {
            actual.add(PciFingerprint.line(rid, PciFingerprint.readEcam(m, rid), PciFingerprint.barSizes(m, rid)));
        }
        List<String> expected = List.of(resource(s.name() + ".golden").strip().split("\n"));
        assertThat(actual).containsExactlyInAnyOrderElementsOf(expected);
    }
}
