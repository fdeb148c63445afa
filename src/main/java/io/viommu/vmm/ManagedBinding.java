package io.viommu.vmm;

import io.viommu.linux.Kernel;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.sysfs.SysfsWrite;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.OptionalInt;
import java.util.Set;

/**
 * libvirt's {@code managed='yes'} for the devices a VM is given (vmm.md §4; src/util/virpci.c
 * virPCIDeviceDetach / virPCIDeviceReattach), done through the host's sysfs and journaled: every
 * endpoint of each device's IOMMU group is bound to vfio-pci ({@code modprobe vfio-pci}, then
 * per device: {@code driver_override} := vfio-pci, {@code driver/unbind} when bound,
 * {@code drivers_probe}); {@link #giveBack} undoes the journal in reverse ({@code
 * driver_override} cleared with "\n", unbind from vfio-pci, {@code drivers_probe}, which binds
 * the driver the device had). A member already on vfio-pci is left alone and not given back.
 *
 * <p>libvirt 9.0 detaches only the listed devices and refuses a group member in use; viommu
 * binds every endpoint of the group, so the VM's group is viable (what a user would otherwise
 * do by hand), and gives them all back.
 */
public final class ManagedBinding {
    /** One device moved to vfio-pci: its name and the driver it had (null: none). */
    public record Step(String device, String previousDriver) {
    }

    private final Kernel host;
    private final Deque<Step> journal = new ArrayDeque<>();

    private ManagedBinding(Kernel host) {
        this.host = host;
    }

    /** A refusal or failure, with libvirt's text. */
    public static final class ManagedException extends Exception {
        ManagedException(String message) {
            super(message);
        }
    }

    /**
     * Binds every endpoint in the groups of {@code devices} (host names {@code 0000:BB:DD.F}) to
     * vfio-pci. On a failure whatever it did is given back before it throws.
     */
    public static ManagedBinding prepare(Kernel host, List<String> devices) throws ManagedException {
        ManagedBinding b = new ManagedBinding(host);
        try {
            b.detachAll(devices);
        } catch (ManagedException | RuntimeException e) {
            b.giveBack();
            throw e;
        }
        return b;
    }

    private void detachAll(List<String> devices) throws ManagedException {
        var core = host.drivers();
        Set<String> members = new LinkedHashSet<>();
        for (String name : devices) {
            PciDevice d = core.device(name).orElse(null);
            if (d == null) {
                throw new ManagedException("Device " + name + " not found: could not access /sys/bus/pci/devices/" + name
                        + "/config: No such file or directory");
            }
            if (d.isBridge()) {
                throw new ManagedException("Non-endpoint PCI devices cannot be assigned to guests");
            }
            OptionalInt g = core.groupOf(d);
            if (g.isEmpty()) {
                members.add(name); // QEMU will refuse it (no iommu_group); libvirt detaches it anyway
                continue;
            }
            for (var rid : host.groups().group(g.getAsInt()).orElseThrow().devices()) {
                core.device("0000:" + rid).filter(m -> !m.isBridge()).ifPresent(m -> members.add(m.name()));
            }
        }
        // NICs first, highest ethN first: the give-back rebinds in reverse and the kernel names a new
        // interface with the lowest free ethN, so each gets its old name back (as host apply/undo does)
        List<String> order = new ArrayList<>(members);
        order.sort((x, y) -> Integer.compare(ifNumber(y), ifNumber(x)));
        members.clear();
        members.addAll(order);
        // virPCIProbeStubDriver: modprobe vfio-pci
        if (core.loadModule("vfio-pci") != 0) {
            throw new ManagedException("Failed to load PCI stub module vfio-pci");
        }
        for (String name : members) {
            PciDevice d = core.device(name).orElseThrow();
            String drv = d.driver() == null ? null : d.driver().name();
            if ("vfio-pci".equals(drv)) {
                continue; // virPCIDeviceDetach: already bound to the stub, nothing to do or give back
            }
            journal.push(new Step(name, drv));
            String dev = "/sys/bus/pci/devices/" + name;
            write(dev + "/driver_override", "vfio-pci", "Failed to add driver 'vfio-pci' to driver_override "
                    + " interface of PCI device '" + name + "'");
            if (drv != null) {
                write(dev + "/driver/unbind", name, "Failed to unbind PCI device '" + name + "' from " + drv);
            }
            write("/sys/bus/pci/drivers_probe", name, "Failed to trigger a probe for PCI device '" + name + "'");
        }
    }

    /** N of the device's ethN, or -1 without a network interface. */
    private int ifNumber(String device) {
        for (var i : host.network().interfaces()) {
            if (i.device().equals(device) && i.name().matches("eth\\d+")) {
                return Integer.parseInt(i.name().substring(3));
            }
        }
        return -1;
    }

    private void write(String path, String value, String failure) throws ManagedException {
        SysfsWrite w = host.sysfs().write(path, value);
        if (!w.ok()) {
            throw new ManagedException(failure);
        }
    }

    /** The devices moved, in the order they were moved. */
    public List<Step> steps() {
        List<Step> out = new ArrayList<>(journal);
        java.util.Collections.reverse(out);
        return out;
    }

    /**
     * virPCIDeviceReattach for each journaled device, newest first: driver_override cleared,
     * unbound from vfio-pci, drivers_probe. Returns libvirt's warning per device that could not
     * be given back ({@code Failed to re-attach PCI device: ...}); the rest go on.
     */
    public List<String> giveBack() {
        List<String> warnings = new ArrayList<>();
        while (!journal.isEmpty()) {
            Step s = journal.pop();
            String dev = "/sys/bus/pci/devices/" + s.device();
            try {
                write(dev + "/driver_override", "\n", "Failed to remove driver_override of PCI device '" + s.device() + "'");
                PciDevice d = host.drivers().device(s.device()).orElseThrow();
                if (d.driver() != null) {
                    write(dev + "/driver/unbind", s.device(), "Failed to unbind PCI device '" + s.device() + "' from "
                            + d.driver().name());
                }
                if (s.previousDriver() != null) {
                    write("/sys/bus/pci/drivers_probe", s.device(), "Failed to trigger a probe for PCI device '"
                            + s.device() + "'");
                }
            } catch (ManagedException | RuntimeException e) {
                warnings.add("Failed to re-attach PCI device: " + e.getMessage());
            }
        }
        return warnings;
    }
}
