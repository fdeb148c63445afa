package io.viommu.vmm.libvirt;

import java.util.List;
import java.util.Optional;

/**
 * A libvirt domain as viommu translates it (what {@link LibvirtDomain#parse} read from the XML,
 * validated as libvirt 9.0 validates it), and the QEMU argv libvirt 9.0's qemu driver makes of it.
 *
 * @param name      {@code <name>}
 * @param uuid      {@code <uuid>}, or one derived from the name when absent (libvirt picks a random one)
 * @param kvm       {@code <domain type='kvm'>} ({@code -accel kvm}), false for type='qemu' ({@code -accel tcg})
 * @param memoryKiB {@code <memory>} in KiB
 * @param vcpus     {@code <vcpu>}
 * @param machine   the machine type as libvirt expands it ({@code q35} -> {@code pc-q35-7.2})
 * @param acpi      {@code <features><acpi/>} (without it libvirt adds {@code -no-acpi})
 * @param ioapic    {@code <ioapic driver=>}: "qemu", "kvm" or null
 * @param cpuHost   {@code <cpu mode='host-passthrough'>}: null without it, else its migratable value
 * @param emulator  {@code <emulator>} or libvirt's default binary
 * @param iommu     {@code <iommu>}, if any
 * @param hostdevs  {@code <hostdev mode='subsystem' type='pci'>} in document order
 * @param nets      {@code <interface>} in document order
 * @param disks     {@code <disk>} in document order
 * @param warnings  every element and attribute of the file that the translation does not use, by
 *                  name and line (libvirt itself would act on some of them or ignore them)
 */
public record Domain(String name, String uuid, boolean kvm, long memoryKiB, int vcpus, String machine,
                     boolean acpi, String ioapic, String cpuHost, String emulator, Optional<Iommu> iommu,
                     List<Hostdev> hostdevs, List<Net> nets, List<Disk> disks, List<Controller> controllers,
                     boolean usb, Balloon balloon, List<String> bootDevs, List<String> warnings) {

    /** libvirt's default QEMU binary on Debian. */
    public static final String DEFAULT_EMULATOR = "/usr/bin/qemu-system-x86_64";

    /** {@code <iommu model='intel'><driver .../>}: null fields were not given. */
    public record Iommu(String model, Boolean intremap, Boolean cachingMode, Boolean eim, Boolean iotlb, Integer awBits) {
    }

    /** A PCI address ({@code <address domain= bus= slot= function=/>}). */
    public record PciAddress(int domain, int bus, int slot, int function, Boolean multifunction) {
        /** {@code 0000:02:00.0}. */
        public String bdf() {
            return String.format("%04x:%02x:%02x.%x", domain, bus, slot, function);
        }
    }

    /**
     * An assigned host PCI device: its host address, whether libvirt manages its binding
     * ({@code managed='yes'}: libvirt detaches it and its group from their drivers before the
     * start and gives them back afterwards), and the guest address the XML pins, if any.
     */
    public record Hostdev(PciAddress source, boolean managed, Optional<PciAddress> guestAddress) {
    }

    /**
     * {@code <interface>}: type ({@code user}, {@code network}, {@code bridge}), the network's or
     * bridge's name ({@code <source network=>} / {@code <source bridge=>}; null for user), model,
     * MAC, {@code <driver iommu= ats=>}, guest address.
     */
    public record Net(String type, String source, String model, String mac, Boolean iommu, Boolean ats,
                      Optional<PciAddress> guestAddress) {
    }

    /** A virtio {@code <disk type='file'>}: image, format, target, {@code <driver iommu= ats=>}. */
    public record Disk(String file, String format, String target, Boolean iommu, Boolean ats,
                       Optional<PciAddress> guestAddress) {
    }

    /** {@code <controller type='pci'>}: index, model, target chassis/port (-1: libvirt picks), address. */
    public record Controller(int index, String model, int chassis, int port, Optional<PciAddress> address) {
    }

    /** {@code <memballoon model='virtio'>} (null in {@link Domain#balloon()} for model='none'). */
    public record Balloon(Boolean iommu, Boolean ats, Optional<PciAddress> guestAddress) {
    }

    /** The hostdevs with {@code managed='yes'}: the ones {@code viommu run} binds to vfio-pci and gives back. */
    public List<Hostdev> managedHostdevs() {
        return hostdevs.stream().filter(Hostdev::managed).toList();
    }

    /** The QEMU arguments (after the binary) libvirt 9.0 builds for this domain. */
    public List<String> toQemuArgv() {
        return NativeArgv.build(this);
    }

    /**
     * The whole line {@code virsh domxml-to-native qemu-argv} prints: libvirt's environment, the
     * binary and the arguments, each quoted as libvirt quotes them (virCommandToString).
     */
    public String toNativeLine() {
        return NativeArgv.line(this);
    }
}
