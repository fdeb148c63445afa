package io.viommu.linux;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.machine.Machine;
import io.viommu.machine.MachineLog;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every real-Linux capture in ../shared/fixtures/linux, booted on the model: the machine from the
 * capture's {@code === QEMU} line (its -append is the kernel command line), the boot report
 * compared with the capture's first blocks: CMDLINE, every DMESG line (timestamps and the
 * firmware-chosen ACPI table address aside), DEV lines and GROUP lines. The later blocks of the
 * t5/t6 captures (scripted sysfs actions) belong to the sysfs model's tests.
 */
class LinuxFixtureTest {
    static final Path FIXTURES = Path.of("..", "shared", "fixtures", "linux");

    /**
     * Lines real Linux prints that match the capture's grep but come from outside the Intel
     * IOMMU stack the model covers. Each entry says why it may be missing from the model.
     */
    static final Set<String> NOT_MODELLED = Set.of(
            // drivers/iommu/amd/iommu_v2.c module init: printed on every x86 machine without an AMD IOMMU.
            "AMD-Vi: AMD IOMMUv2 functionality not available on this system - This is not a bug.");

    private static final Pattern TIMESTAMP = Pattern.compile("^\\[\\s*\\d+\\.\\d+\\] ");
    private static final Pattern ACPI_DMAR = Pattern.compile("^ACPI: DMAR 0x[0-9A-F]{16} ");
    private static final Pattern RESERVE =
            Pattern.compile("^ACPI: Reserving DMAR table memory at \\[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\\]$");

    record Capture(String name, List<String> qemuArgs, String cmdline, List<String> dmesg, List<String> dev,
                   List<String> groups) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Capture> captures() throws IOException {
        List<Capture> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(FIXTURES)) {
            for (Path p : files.filter(f -> f.toString().endsWith(".txt")).sorted().toList()) {
                out.add(read(p));
            }
        }
        assertThat(out).hasSizeGreaterThanOrEqualTo(6);
        return out.stream();
    }

    static Capture read(Path p) throws IOException {
        List<String> lines = Files.readAllLines(p);
        String qemu = lines.stream().filter(l -> l.startsWith("=== QEMU ")).findFirst().orElseThrow();
        List<String> args = shellSplit(qemu.substring("=== QEMU ".length()));
        String cmdline = lines.stream().filter(l -> l.startsWith("=== CMDLINE ")).findFirst().orElseThrow()
                .substring("=== CMDLINE ".length());
        return new Capture(p.getFileName().toString(), args.subList(1, args.size()), cmdline,
                block(lines, "=== DMESG"), block(lines, "=== DEVICES"), block(lines, "=== GROUPS"));
    }

    /** The lines after the first {@code header} up to the next "=== " line. */
    static List<String> block(List<String> lines, String header) {
        List<String> out = new ArrayList<>();
        int i = lines.indexOf(header);
        for (i++; i > 0 && i < lines.size() && !lines.get(i).startsWith("=== "); i++) {
            out.add(lines.get(i));
        }
        return out;
    }

    /** Splits a shell command line (double quotes only, as the captures use). */
    static List<String> shellSplit(String s) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        boolean any = false;
        for (char c : s.toCharArray()) {
            if (c == '"') {
                quoted = !quoted;
                any = true;
            } else if (Character.isWhitespace(c) && !quoted) {
                if (any) {
                    out.add(cur.toString());
                    cur.setLength(0);
                    any = false;
                }
            } else {
                cur.append(c);
                any = true;
            }
        }
        if (any) {
            out.add(cur.toString());
        }
        return out;
    }

    /** A dmesg line without timestamp and ACPI address; the reserved range becomes its length. */
    static String normalise(String line) {
        String l = TIMESTAMP.matcher(line).replaceFirst("");
        l = ACPI_DMAR.matcher(l).replaceFirst("ACPI: DMAR <address> ");
        Matcher m = RESERVE.matcher(l);
        if (m.matches()) {
            long len = Long.parseLong(m.group(2), 16) - Long.parseLong(m.group(1), 16) + 1;
            l = "ACPI: Reserving DMAR table memory, length 0x" + Long.toHexString(len);
        }
        return l;
    }

    static Kernel boot(Capture c) throws Exception {
        return Kernel.boot(Machine.fromCommandLine(c.qemuArgs(), MachineLog.SILENT));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("captures")
    void kernelCommandLineIsTheQemuAppend(Capture c) throws Exception {
        List<String> report = BootReport.lines(c.qemuArgs(), boot(c));
        assertThat(report).contains("=== CMDLINE " + c.cmdline());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("captures")
    void dmesgLinesMatchTheCapture(Capture c) throws Exception {
        List<String> expected = c.dmesg().stream().map(LinuxFixtureTest::normalise)
                .filter(l -> !NOT_MODELLED.contains(l)).toList();
        List<String> actual = BootReport.dmesgLines(boot(c)).stream().map(LinuxFixtureTest::normalise).toList();
        assertThat(actual).containsExactlyElementsOf(expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("captures")
    void reportDmesgBlockCarriesPlaceholderTimestamps(Capture c) throws Exception {
        List<String> report = BootReport.lines(c.qemuArgs(), boot(c));
        List<String> dmesg = block(report, "=== DMESG");
        assertThat(dmesg).allMatch(l -> l.startsWith(BootReport.TIMESTAMP));
        assertThat(dmesg.stream().map(LinuxFixtureTest::normalise).toList())
                .containsExactlyElementsOf(BootReport.dmesgLines(boot(c)).stream().map(LinuxFixtureTest::normalise).toList());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("captures")
    void deviceLinesMatchTheCapture(Capture c) throws Exception {
        assertThat(BootReport.deviceLines(boot(c))).containsExactlyElementsOf(c.dev());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("captures")
    void groupLinesMatchTheCapture(Capture c) throws Exception {
        assertThat(BootReport.groupLines(boot(c))).containsExactlyElementsOf(c.groups());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("captures")
    void reportBlocksAreTheCapturesBlocks(Capture c) throws Exception {
        List<String> report = BootReport.lines(c.qemuArgs(), boot(c));
        assertThat(block(report, "=== DEVICES")).containsExactlyElementsOf(c.dev());
        assertThat(block(report, "=== GROUPS")).containsExactlyElementsOf(c.groups());
        assertThat(report.get(0)).startsWith("=== QEMU qemu-system-x86_64 -machine q35");
    }
}
