package io.viommu.host;

import io.viommu.linux.acpi.DmarTable;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Everything {@code host scan} read from one host, as plain data: the input of the pure
 * {@link HostPlanner}. Fields that could not be read are {@code null} (documented per field).
 *
 * @param source             where it was read ({@link HostFiles#describe()})
 * @param kernelRelease      /proc/sys/kernel/osrelease, "" if unknown
 * @param kernelConfig       the IOMMU/VFIO/KVM options of the kernel's .config (value "y", "m" or
 *                           "n" for "is not set"); null when neither /proc/config.gz nor
 *                           /boot/config-RELEASE was readable
 * @param iommuGroupsDir     /sys/kernel/iommu_groups exists (the kernel has CONFIG_IOMMU_API)
 * @param modules            modules of interest present in /sys/module, with their parameters
 * @param devNodes           device nodes of interest that exist: /dev/kvm, /dev/vfio/*, /dev/iommu
 * @param irqRemapping       from /proc/interrupts: true when interrupt chips are "IR-..."
 *                           (remapped), false when MSI/IO-APIC chips are not, null when unknown
 */
public record HostSnapshot(String source, KernelCmdline cmdline, CpuInfo cpu, String kernelRelease,
                           Map<String, String> kernelConfig, Firmware firmware, List<IommuUnit> iommus,
                           boolean iommuGroupsDir, List<HostGroup> groups, List<HostDevice> devices,
                           Map<String, Map<String, String>> modules, List<String> devNodes, Boolean irqRemapping) {

    /** Whether an ACPI table was found and could be read. */
    public enum TableState { ABSENT, UNREADABLE, READ }

    /**
     * @param acpiTables names in /sys/firmware/acpi/tables (top level); empty if ACPI is not exposed
     * @param oemId      the OEM id of the first readable table header (identifies the VMM on VMs)
     */
    public record Firmware(List<String> acpiTables, TableState dmarState, DmarTable dmar, TableState ivrsState,
                           IvrsTable ivrs, String oemId) {
    }

    /**
     * An entry of /sys/class/iommu.
     *
     * @param kind    "intel-iommu" (dmarN), "amd-iommu" (ivhdN) or the name of its attribute group
     * @param cap     VT-d capability register (intel-iommu/cap), null otherwise
     * @param ecap    VT-d extended capability register (intel-iommu/ecap)
     * @param devices PCI functions this unit translates (its devices/ directory)
     */
    public record IommuUnit(String name, String kind, Long cap, Long ecap, String version, String address,
                            List<PciAddress> devices) {
    }

    /** /sys/kernel/iommu_groups/N: default domain type ("DMA", "DMA-FQ", "identity", ...), reserved regions, members. */
    public record HostGroup(int id, String type, List<String> reservedRegions, List<PciAddress> devices) {
    }

    /** The sriov_* files of a physical function. Optional files are null when absent. */
    public record SriovFiles(int totalVfs, int numVfs, Integer offset, Integer stride, String vfDevice,
                             Boolean driversAutoprobe) {
    }

    /**
     * One directory of /sys/bus/pci/devices.
     *
     * @param sysfsPath     canonical host path (/sys/devices/pci0000:00/...)
     * @param parent        the PCI bridge above it in that path, null on a root bus
     * @param driver        bound driver's name, null when unbound
     * @param group         IOMMU group number, null without a group
     * @param config        parsed config space, null when unreadable
     * @param resetMethods  reset_method contents (Linux >= 5.15); empty when neither reset_method nor
     *                      reset exists (the kernel found no reset method); null when only reset exists
     *                      (a kernel older than 5.15: methods unknown)
     * @param hostUses      what the running host uses it for: "root filesystem (/dev/vda)", "boot VGA",
     *                      "network interface eth0 (up)", "disk vdb"
     */
    public record HostDevice(PciAddress address, int vendor, int device, int subVendor, int subDevice,
                             int classCode, String sysfsPath, PciAddress parent, String driver, Integer group,
                             PciConfig config, List<String> resetMethods, SriovFiles sriov, PciAddress physfn,
                             List<PciAddress> virtfns, String driverOverride, List<String> hostUses) {
        public boolean isBridge() {
            return config != null ? config.isBridge() : (classCode >> 8) == 0x0604 || (classCode >> 8) == 0x0609;
        }

        /** Base class 0x06 (bridge device): host bridges, ISA bridges, PCI bridges. Not assignment candidates. */
        public boolean isBridgeClass() {
            return (classCode >> 16) == 0x06;
        }
    }

    public Optional<HostDevice> device(PciAddress a) {
        return devices.stream().filter(d -> d.address().equals(a)).findFirst();
    }

    public Optional<HostGroup> group(int id) {
        return groups.stream().filter(g -> g.id() == id).findFirst();
    }
}
