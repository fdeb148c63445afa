package io.viommu.linux;

import io.viommu.linux.acpi.DmarTable;
import io.viommu.linux.driver.AcsOverride;
import io.viommu.linux.iommu.IommuGroup;
import io.viommu.machine.QemuCommandLine;
import io.viommu.pci.Topology;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The boot report in the format of the real-Linux captures (../shared/fixtures/linux):
 * <pre>
 *  === QEMU qemu-system-x86_64 ARGS
 *  === LAB BEGIN
 *  === CMDLINE kernel command line
 *  === DMESG           the kernel log's IOMMU lines (what `dmesg | grep -E 'DMAR|IOMMU|iommu|...'` keeps)
 *  [    0.000000] ...  timestamps are placeholders; the ACPI DMAR address is viommu's choice
 *  === DEVICES
 *  DEV bdf vendor device class group=N driver=D   (ls order; group=- when the device has none)
 *  === GROUPS
 *  GROUP N type=T bdf... (glob order of iommu_groups/*: lexical, 10 before 2; members sorted)
 *  === LAB END
 * </pre>
 * When the pcie_acs_override what-if is on, a {@code === WHAT-IF} line says the groups are not
 * what Linux 6.1 computes.
 */
public final class BootReport {
    /** Placeholder timestamp: tests and readers compare lines without it. */
    public static final String TIMESTAMP = "[    0.000000] ";
    /** The captures' filter: {@code dmesg | grep -E 'DMAR|IOMMU|iommu|Interrupt remapping|x2apic'}. */
    public static final Pattern DMESG_GREP = Pattern.compile("DMAR|IOMMU|iommu|Interrupt remapping|x2apic");

    private BootReport() {
    }

    public static List<String> lines(List<String> qemuArgs, Kernel k) {
        List<String> out = new ArrayList<>();
        out.add("=== QEMU " + QemuCommandLine.PROGRAM + (qemuArgs.isEmpty() ? "" : " " + quote(qemuArgs)));
        out.add("=== LAB BEGIN");
        out.add("=== CMDLINE " + k.commandLine().text());
        AcsOverride o = k.commandLine().acsOverride();
        if (o.active()) {
            out.add("=== WHAT-IF pcie_acs_override is an out-of-tree patch, not Linux 6.1: a stock kernel ignores it."
                    + " The groups below are what a patched kernel forms; the devices it declares isolated are not.");
        }
        if (k.dmarTable() != null && (k.dmarTable().flags() & DmarTable.FLAG_INTR_REMAP) != 0) {
            out.add("=== NOTE interrupt remapping (intel-iommu intremap=on) is not modelled: its DMAR-IR/x2apic"
                    + " lines are missing (Linux 6.1 under TCG panics with it; use intremap=off)");
        }
        out.add("=== DMESG");
        for (String l : dmesgLines(k)) {
            out.add(TIMESTAMP + l);
        }
        out.add("=== DEVICES");
        out.addAll(deviceLines(k));
        out.add("=== GROUPS");
        out.addAll(groupLines(k));
        out.add("=== LAB END");
        return out;
    }

    /** The kernel log's lines the captures' grep keeps ({@link #DMESG_GREP}), without timestamps. */
    public static List<String> dmesgLines(Kernel k) {
        return k.dmesg().stream().filter(l -> DMESG_GREP.matcher(l).find()).toList();
    }

    /** DEV lines, in the order {@code /sys/bus/pci/devices/*} lists them. */
    public static List<String> deviceLines(Kernel k) {
        List<String> out = new ArrayList<>();
        for (Topology.Function f : k.topology().byBdf()) {
            String group = k.groups().groupOf(f.rid()).map(g -> Integer.toString(g.id())).orElse("-");
            out.add(String.format("DEV %s 0x%04x 0x%04x 0x%06x group=%s driver=%s", f.bdf(), f.vendorId(),
                    f.deviceId(), f.classCode(), group, k.driver(f.rid()).orElse("-")));
        }
        return out;
    }

    /** GROUP lines: groups in lexical order of their number, members sorted, each followed by a space. */
    public static List<String> groupLines(Kernel k) {
        List<IommuGroup> groups = new ArrayList<>(k.groups().groups());
        groups.sort(Comparator.comparing(g -> Integer.toString(g.id())));
        List<String> out = new ArrayList<>();
        for (IommuGroup g : groups) {
            StringBuilder sb = new StringBuilder("GROUP ").append(g.id()).append(" type=")
                    .append(g.defaultDomain() == null ? "-" : g.defaultDomain().sysfsName()).append(' ');
            for (String m : g.memberBdfs()) {
                sb.append(m).append(' ');
            }
            out.add(sb.toString());
        }
        return out;
    }

    /** Shell form of arguments: those with blanks or quotes in double quotes. */
    static String quote(List<String> args) {
        List<String> out = new ArrayList<>();
        for (String a : args) {
            out.add(a.isEmpty() || a.matches(".*[\\s\"'].*") ? "\"" + a.replace("\"", "\\\"") + "\"" : a);
        }
        return String.join(" ", out);
    }
}
