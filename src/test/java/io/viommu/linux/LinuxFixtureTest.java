package io.viommu.linux;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.fixtures.LinuxCapture;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
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

    static Stream<LinuxCapture> captures() {
        List<LinuxCapture> out = LinuxCapture.all();
        assertThat(out).hasSizeGreaterThanOrEqualTo(6);
        return out.stream();
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

    static Kernel boot(LinuxCapture c) throws Exception {
        return Kernel.boot(MachineBuilder.fromCommandLine(c.qemuArgs(), MachineLog.SILENT));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("captures")
    void kernelCommandLineIsTheQemuAppend(LinuxCapture c) throws Exception {
        List<String> report = BootReport.lines(c.qemuArgs(), boot(c));
        assertThat(report).contains("=== CMDLINE " + c.cmdline());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("captures")
    void dmesgLinesMatchTheCapture(LinuxCapture c) throws Exception {
        List<String> expected = c.dmesg().stream().map(LinuxFixtureTest::normalise)
                .filter(l -> !NOT_MODELLED.contains(l)).toList();
        List<String> actual = BootReport.dmesgLines(boot(c)).stream().map(LinuxFixtureTest::normalise).toList();
        assertThat(actual).containsExactlyElementsOf(expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("captures")
    void reportDmesgBlockCarriesPlaceholderTimestamps(LinuxCapture c) throws Exception {
        List<String> report = BootReport.lines(c.qemuArgs(), boot(c));
        List<String> dmesg = LinuxCapture.block(report, "=== DMESG");
        assertThat(dmesg).allMatch(l -> l.startsWith(BootReport.TIMESTAMP));
        assertThat(dmesg.stream().map(LinuxFixtureTest::normalise).toList())
                .containsExactlyElementsOf(BootReport.dmesgLines(boot(c)).stream().map(LinuxFixtureTest::normalise).toList());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("captures")
    void deviceLinesMatchTheCapture(LinuxCapture c) throws Exception {
        assertThat(BootReport.deviceLines(boot(c))).containsExactlyElementsOf(c.devices());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("captures")
    void groupLinesMatchTheCapture(LinuxCapture c) throws Exception {
        assertThat(BootReport.groupLines(boot(c))).containsExactlyElementsOf(c.groups());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("captures")
    void reportBlocksAreTheCapturesBlocks(LinuxCapture c) throws Exception {
        List<String> report = BootReport.lines(c.qemuArgs(), boot(c));
        assertThat(LinuxCapture.block(report, "=== DEVICES")).containsExactlyElementsOf(c.devices());
        assertThat(LinuxCapture.block(report, "=== GROUPS")).containsExactlyElementsOf(c.groups());
        assertThat(report.get(0)).startsWith("=== QEMU qemu-system-x86_64 -machine q35");
    }
}
