package io.viommu.host;

import io.viommu.linux.acpi.DmarTable;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The result of {@code host scan}: plain records that are both the human report's input and the
 * {@code --json} document (schema "viommu.host-scan/1", field by field as declared here; absent
 * values are JSON null). Documented in docs/host-scan.md.
 */
public record HostReport(String schema, String source, Host host, List<Check> checks, Iommu iommu,
                         InterruptRemapping interruptRemapping, List<Group> groups, List<Device> devices,
                         Summary summary) {
    public static final String SCHEMA = "viommu.host-scan/1";

    public enum Status { PASS, WARN, FAIL, INFO }

    /** How much a reason matters to an assignment: BLOCKER stops it, ACTION is a step to take first. */
    public enum Severity { BLOCKER, ACTION, WARNING, INFO }

    public record Host(String kernel, String cpuVendor, String cpuModel, int cpus, boolean vmx, boolean svm,
                       boolean hypervisor, List<String> cmdline, Map<String, String> kernelConfig,
                       Map<String, Map<String, String>> modules, List<String> devNodes, List<String> acpiTables,
                       String acpiOemId) {
    }

    /** One line of the virt-host-validate-like checklist; {@code id} is stable for tools. */
    public record Check(String id, Status status, String title, String detail) {
    }

    /**
     * @param firmware  "DMAR", "IVRS", "DMAR (unreadable)", "none"
     * @param enabled   the kernel runs an IOMMU: /sys/class/iommu has entries or IOMMU groups exist
     * @param vendor    "intel", "amd", "virtio" or null
     * @param cause     one line: why not enabled (null when enabled)
     * @param reasons   why not enabled in detail (empty when enabled), most fundamental first
     * @param defaultDomain group type seen on the groups ("DMA", "DMA-FQ", "identity"), null without groups
     */
    public record Iommu(String firmware, boolean enabled, String vendor, String cause, List<String> reasons, Dmar dmar,
                        IvrsTable ivrs, List<Unit> units, String defaultDomain) {
    }

    /**
     * The firmware's DMAR table as the report shows it: a view of {@link DmarTable} (the one
     * decoder) with the host address width in bits and device scopes as text.
     *
     * @param hostAddressWidth in bits; 0 when the bytes are not a DMAR table
     */
    public record Dmar(String oemId, int hostAddressWidth, int flags, boolean interruptRemapping,
                       boolean x2apicOptOut, boolean dmaControlOptIn, List<Drhd> drhds,
                       List<Rmrr> rmrrs, List<Atsr> atsrs, List<String> problems) {
        public static Dmar of(DmarTable t) {
            return new Dmar(t.oemId(), t.length() == 0 ? 0 : t.hostAddressWidth() + 1, t.flags(),
                    t.interruptRemapping(), t.x2apicOptOut(), t.dmaControlOptIn(),
                    t.of(DmarTable.TYPE_DRHD).stream().map(s -> new Drhd(s.segment(), s.a(),
                            (s.flags() & DmarTable.DRHD_INCLUDE_PCI_ALL) != 0, scopes(s))).toList(),
                    t.of(DmarTable.TYPE_RMRR).stream().map(s -> new Rmrr(s.segment(), s.a(), s.b(), scopes(s))).toList(),
                    t.of(DmarTable.TYPE_ATSR).stream().map(s -> new Atsr(s.segment(),
                            (s.flags() & DmarTable.ATSR_ALL_PORTS) != 0, scopes(s))).toList(),
                    t.problems());
        }

        /** Device scopes as text: "endpoint 00:02.0", "bridge 00:1c.0", "IOAPIC 8", "endpoint 00:1c.0/00.0". */
        static List<String> scopes(DmarTable.Structure s) {
            return s.scopes().stream().map(Dmar::scope).toList();
        }

        static String scope(DmarTable.Scope sc) {
            String kind = switch (sc.type()) {
                case DmarTable.SCOPE_ENDPOINT -> "endpoint";
                case DmarTable.SCOPE_BRIDGE -> "bridge";
                case DmarTable.SCOPE_IOAPIC -> "IOAPIC";
                case DmarTable.SCOPE_HPET -> "HPET";
                case DmarTable.SCOPE_ACPI_NAMESPACE -> "ACPI";
                default -> "scope-" + sc.type();
            };
            return switch (sc.type()) {
                case DmarTable.SCOPE_IOAPIC, DmarTable.SCOPE_HPET, DmarTable.SCOPE_ACPI_NAMESPACE ->
                        kind + " " + sc.enumerationId();
                default -> kind + " " + String.format("%02x:", sc.startBus()) + sc.path().stream()
                        .map(p -> String.format("%02x.%x", p[0], p[1])).collect(Collectors.joining("/"));
            };
        }
    }

    public record Drhd(int segment, long registerBase, boolean includePciAll, List<String> scopes) {
    }

    public record Rmrr(int segment, long base, long limit, List<String> scopes) {
    }

    public record Atsr(int segment, boolean allPorts, List<String> scopes) {
    }

    /** A /sys/class/iommu entry; cap/ecap hex strings and the bits that matter decoded. */
    public record Unit(String name, String kind, String cap, String ecap, String version, String address,
                       List<String> features, List<String> devices) {
    }

    /** @param state "enabled", "disabled", "unsupported", "unavailable" (no IOMMU) or "unknown" */
    public record InterruptRemapping(String state, List<String> reasons, boolean vfioAllowsUnsafe) {
    }

    /**
     * @param endpoints  members that are not bridges: what an assignment must take along
     * @param viable     VFIO would accept the group now: every endpoint unbound or bound to vfio-pci/pci-stub
     * @param driversInUse "BDF: driver" for endpoints bound to a host driver
     */
    public record Group(int id, String type, List<String> devices, List<String> endpoints, boolean viable,
                        List<String> driversInUse, List<String> reservedRegions) {
    }

    /**
     * @param id         "vvvv:dddd"
     * @param classCode  "0xCCSSPP"
     * @param pcieType   PCIe device/port type, "conventional" without a PCIe capability, null if unreadable
     * @param reset      reset methods (from reset_method, or inferred from capabilities when the file is absent)
     */
    public record Device(String address, String id, String subsystem, String classCode, String description,
                         String driver, Integer group, String parent, String pcieType, boolean multifunction,
                         List<String> capabilities, List<AcsHop> acsPath, Reset reset, Sriov sriov, String physfn,
                         List<String> hostUses, Assignment assignment) {
    }

    /** One bridge on the way from a device to its root bus, and what it does for isolation. */
    public record AcsHop(String bridge, String type, String acsCap, String acsCtrl, String effect) {
    }

    /** @param source "reset_method" (the kernel's list) or "inferred" (from FLR/PM capabilities) */
    public record Reset(List<String> methods, String source) {
    }

    public record Sriov(int totalVfs, int numVfs, Integer offset, Integer stride, String vfDevice, List<String> vfs) {
    }

    public record Reason(Severity severity, String message) {
    }

    /**
     * @param verdict    "assignable", "assignable-with-group", "blocked", "not-a-candidate"
     * @param mustGoWith other endpoints of the IOMMU group, assigned (or at least detached from the host) together
     * @param steps      shell commands, in order, to hand the group to vfio-pci (empty when blocked)
     * @param qemu       QEMU arguments, one -device per function
     * @param libvirt    libvirt {@code <hostdev>} elements, one per function
     */
    public record Assignment(String verdict, List<String> mustGoWith, List<Reason> reasons, List<String> steps,
                             List<String> qemu, String libvirt) {
    }

    public record Summary(String verdict, List<String> assignable, List<String> assignableWithGroup,
                          List<String> blocked) {
    }
}
