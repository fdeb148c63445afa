package io.viommu.linux;

import io.viommu.linux.acpi.DmarTable;
import io.viommu.linux.driver.AcsOverride;
import io.viommu.linux.iommu.IommuGroup;
import io.viommu.machine.config.QemuCommandLine;
import io.viommu.pci.PciBridge;
import io.viommu.pci.PciBus;
import io.viommu.pci.PciFunction;
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
 * what Linux 6.1 computes; {@code === NOTE} lines name what the report shows that no real
 * capture checks (the interrupt-remapping line) and every {@code -device} the guest does not
 * see.
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
        if (k.dmesg().stream().anyMatch(l -> l.startsWith("DMAR-IR: "))) {
            out.add("=== NOTE interrupt remapping is on (intel-iommu intremap=on, QEMU's default): its DMAR-IR"
                    + " line is the model's, with no real capture to match it (Linux 6.1 under TCG panics with"
                    + " interrupt remapping, so the captures use intremap=off)");
        }
        out.addAll(unseenDevices(k));
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

    /**
     * A NOTE for every {@code -device} function the guest's PCI scan does not find, so that
     * nothing given on the command line disappears without a word. QEMU 7.2 accepts a function
     * above 0 in a slot without function 0 (checked: 00:06.1 alone answers config reads), but
     * Linux's pci_scan_slot stops at a missing function 0 and SeaBIOS skips the slot, so
     * neither it nor anything behind it is enumerated.
     */
    static List<String> unseenDevices(Kernel k) {
        List<String> out = new ArrayList<>();
        for (PciFunction f : k.machine().devices()) {
            if (seen(k.topology(), f)) {
                continue;
            }
            String why;
            PciBus bus = f.bus();
            PciBridge above = bus == null ? null : bus.parentBridge();
            if (above != null && !seen(k.topology(), above)) {
                why = "it sits behind " + describe(above) + ", which Linux does not see either";
            } else if (above != null && above.portType() != null && above.portType().isDownstreamPort()
                    && f.devfn() >> 3 != 0) {
                why = String.format("it is device %02x below %s, and below a root or downstream port Linux scans"
                        + " device 0 only (only_one_child); QEMU 7.2 accepts it", f.devfn() >> 3, describe(above));
            } else if (bus != null && f.devfn() % 8 != 0 && bus.function(f.devfn() & ~7) == null) {
                why = String.format("slot %02x has no function 0, and Linux's pci_scan_slot (like SeaBIOS)"
                        + " scans no further without one; QEMU 7.2 accepts it", f.devfn() >> 3);
            } else {
                why = "the guest's PCI scan does not reach it";
            }
            out.add("=== NOTE " + describe(f) + " is not enumerated by the guest: " + why);
        }
        return out;
    }

    private static boolean seen(Topology t, PciFunction f) {
        return t.function(f.address()).filter(x -> f.typeName().equals(x.qemuType())
                && java.util.Objects.equals(f.id(), x.qemuId())).isPresent();
    }

    /** {@code pcie-root-port id=b (bus pcie.0, addr 06.1)}: what the command line said. */
    private static String describe(PciFunction f) {
        String where = f.bus() == null ? "" : String.format(" (bus %s, addr %02x.%x)", f.bus().name(),
                f.devfn() >> 3, f.devfn() & 7);
        return f.typeName() + (f.id() == null ? "" : " id=" + f.id()) + where;
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
