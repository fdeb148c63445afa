package io.viommu.linux.uio;

import io.viommu.linux.driver.DriverCore;
import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.vfio.DevNode;
import io.viommu.linux.vfio.UserProcess;
import io.viommu.linux.vfio.VfioException;
import io.viommu.machine.Machine;
import io.viommu.pci.PciFunction;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The UIO framework with {@code uio_pci_generic} (drivers/uio/uio.c, uio_pci_generic.c): every
 * device bound to uio_pci_generic gets a /dev/uioN (N the lowest free, {@code uio_get_minor})
 * and /sys/class/uio/uioN with {@code name} "uio_pci_generic" and {@code version} "0.01.0".
 *
 * <p>This is the unsafe path: uio_pci_generic gives user space the device's registers (the BAR
 * through sysfs {@code resourceN}), its whole configuration space (sysfs {@code config}), and
 * its INTx, and nothing else. There is no DMA API, no IOMMU domain for user memory and no
 * pinning: user space finds the physical address of its buffers in /proc/self/pagemap and
 * programs them into the device. When the IOMMU does not translate for the device (no IOMMU,
 * {@code intel_iommu=off}, or an identity domain as with {@code iommu=pt}), the device's DMA
 * reaches any physical address — a wrong address from a buggy driver corrupts kernel memory.
 * When the IOMMU translates (the device in a DMA default domain), the user's DMA faults instead,
 * which is why UIO setups run with {@code iommu=pt} or without an IOMMU.
 *
 * <p>Binding goes through the driver core (uio_pci_generic takes the group's default domain like
 * any DMA-API driver: it blocks VFIO from the group).
 */
public final class Uio {
    /** {@code uio_major}: dynamic ({@code __register_chrdev(0, ...)}); a typical value. */
    public static final int UIO_MAJOR = 243;
    public static final String DRIVER = "uio_pci_generic";
    /** {@code DRIVER_VERSION} of uio_pci_generic. */
    public static final String VERSION = "0.01.0";

    private final DriverCore core;
    private final Machine machine;
    private final Map<String, Integer> minors = new LinkedHashMap<>();
    private final BitSet used = new BitSet();
    private final Map<Integer, UioDevice> open = new LinkedHashMap<>();

    /**
     * The uio module's init ({@code uio_init}): made by the kernel when the module is loaded
     * (by itself or as uio_pci_generic's dependency; {@code io.viommu.linux.Kernel#uio}).
     */
    public Uio(DriverCore core, Machine machine) {
        this.core = core;
        this.machine = machine;
    }

    public DriverCore kernel() {
        return core;
    }

    /** uio_register_device at probe / uio_unregister_device at remove, as seen from the driver core. */
    private void refresh() {
        core.flushWork();
        List<String> bound = new ArrayList<>();
        for (PciDevice d : core.devices()) {
            if (d.driver() != null && d.driver().name().equals(DRIVER)) {
                bound.add(d.name());
            }
        }
        for (String n : List.copyOf(minors.keySet())) {
            if (!bound.contains(n)) {
                int m = minors.remove(n);
                used.clear(m);
                UioDevice u = open.remove(m);
                if (u != null) {
                    u.revoke();
                }
            }
        }
        for (String n : bound) {
            if (!minors.containsKey(n)) {
                int m = used.nextClearBit(0);
                used.set(m);
                minors.put(n, m);
            }
        }
    }

    /** /dev/uioN nodes, by minor. */
    public List<DevNode> devNodes() {
        refresh();
        List<DevNode> out = new ArrayList<>();
        minors.entrySet().stream().sorted(Map.Entry.comparingByValue())
                .forEach(e -> out.add(new DevNode("uio" + e.getValue(), "crw-------", UIO_MAJOR, e.getValue())));
        return out;
    }

    /** /sys/class/uio/uioN/{name,version}; null for a missing node. */
    public String classAttribute(int minor, String attribute) {
        refresh();
        if (!minors.containsValue(minor)) {
            return null;
        }
        return switch (attribute) {
            case "name" -> DRIVER + "\n";
            case "version" -> VERSION + "\n";
            case "event" -> open.containsKey(minor) ? open.get(minor).eventCount() + "\n" : "0\n";
            default -> null;
        };
    }

    /**
     * {@code open("/dev/uioN")}, with the sysfs files of the device (config, resourceN) that a
     * UIO driver also opens: -ENOENT for no such node, -EACCES for a process without root's
     * rights (the nodes and files are root's, mode 0600).
     */
    public UioDevice open(UserProcess process, String path) {
        refresh();
        String name = path.startsWith("/dev/") ? path.substring("/dev/".length()) : path;
        for (Map.Entry<String, Integer> e : minors.entrySet()) {
            if (("uio" + e.getValue()).equals(name)) {
                if (!process.capable(UserProcess.Cap.SYS_ADMIN)) {
                    throw new VfioException(Errno.EACCES, path + " is root's (0600)");
                }
                PciDevice dev = core.device(e.getKey()).orElseThrow();
                PciFunction f = machine.rootBus().route(dev.rid().bus(), dev.rid().devfn());
                UioDevice u = new UioDevice(this, dev, f, process);
                open.put(e.getValue(), u);
                return u;
            }
        }
        throw new VfioException(Errno.ENOENT, path + ": no such UIO device");
    }
}
