package io.viommu.linux.net;

import io.viommu.linux.driver.DriverCore;
import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.KernelLog;
import io.viommu.linux.driver.KernelMessage;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.sysfs.ClassDevices;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The kernel's network devices: a NIC driver that binds registers a {@code net_device} named as
 * the kernel names it ({@code dev_alloc_name("eth%d")}: the lowest free number; no udev renames
 * it, as in the busybox hosts of the lab captures), with the next ifindex (never reused; lo is 1),
 * and unregisters it in its remove. What {@code ip} changes is kept here: the administrative
 * state (IFF_UP) and the IPv4 addresses, each with the prefix route the kernel adds while the
 * interface is up ({@code fib_add_ifaddr}). A planner reads {@link #interfaces()} to see which
 * NIC is in use.
 *
 * <p>The MAC is QEMU's default ({@code 52:54:00:12:34:56} plus the NIC's position among the
 * machine's NICs): a {@code mac=} property is not seen here.
 */
public final class NetworkInterfaces implements DriverCore.BindingListener, DriverCore.ModuleListener, ClassDevices {
    /** The drivers that register a net_device for their device. */
    private static final Set<String> NIC_DRIVERS = Set.of("e1000", "e1000e", "igb", "igbvf");

    /** One IPv4 address with its prefix length. */
    public record Address(int ip, int prefix) {
        public String text() {
            return dotted(ip) + "/" + prefix;
        }

        /** The prefix route's destination, {@code 10.0.0.0/24}. */
        public String network() {
            int mask = prefix == 0 ? 0 : -1 << (32 - prefix);
            return dotted(ip & mask) + "/" + prefix;
        }
    }

    /** A net_device. */
    public static final class Interface {
        private final String name;
        private final int ifindex;
        private final String device;
        private final String driver;
        private final String mac;
        private boolean up;
        private final List<Address> addresses = new ArrayList<>();

        Interface(String name, int ifindex, String device, String driver, String mac) {
            this.name = name;
            this.ifindex = ifindex;
            this.device = device;
            this.driver = driver;
            this.mac = mac;
        }

        public String name() {
            return name;
        }

        public int ifindex() {
            return ifindex;
        }

        /** The PCI device ({@code 0000:00:05.1}) behind it. */
        public String device() {
            return device;
        }

        public String driver() {
            return driver;
        }

        public String mac() {
            return mac;
        }

        public boolean up() {
            return up;
        }

        public List<Address> addresses() {
            return List.copyOf(addresses);
        }
    }

    /** A route of the main table: {@code 10.0.0.0/24 dev eth0 scope link src 10.0.0.1}. */
    public record Route(String destination, String device, String source) {
    }

    private final KernelLog log;
    private final List<String> nicOrder;
    private final List<Interface> interfaces = new ArrayList<>();
    private final BitSet ethNumbers = new BitSet();
    private int nextIfindex = 2; // 1 is lo
    private long generation;

    /**
     * @param nicOrder the PCI names of the machine's NICs in the order QEMU created them (their
     *     default MACs follow it)
     */
    public NetworkInterfaces(KernelLog log, List<String> nicOrder) {
        this.log = log;
        this.nicOrder = List.copyOf(nicOrder);
    }

    @Override
    public void loaded(String module) {
        if (module.equals("e1000")) { // e1000_init_module
            log.info("e1000: Intel(R) PRO/1000 Network Driver");
            log.info("e1000: Copyright (c) 1999-2006 Intel Corporation.");
        }
    }

    @Override
    public void bound(PciDevice dev) {
        String drv = dev.driver().name();
        boolean virtioNet = drv.equals("virtio-pci") && (dev.function().classCode() >> 8) == 0x0200;
        if (!NIC_DRIVERS.contains(drv) && !virtioNet) {
            return;
        }
        int n = ethNumbers.nextClearBit(0);
        ethNumbers.set(n);
        int pos = nicOrder.indexOf(dev.name());
        String mac = String.format("52:54:00:12:34:%02x", 0x56 + Math.max(pos, 0));
        Interface i = new Interface("eth" + n, nextIfindex++, dev.name(), drv, mac);
        interfaces.add(i);
        generation++;
        if (drv.equals("e1000")) { // e1000_probe's two lines
            log.add(KernelMessage.INFO, "e1000 " + dev.name() + " " + i.name + ": (PCI:33MHz:32-bit) " + mac);
            log.add(KernelMessage.INFO, "e1000 " + dev.name() + " " + i.name + ": Intel(R) PRO/1000 Network Connection");
        }
    }

    @Override
    public void unbinding(PciDevice dev) {
        generation++;
        interfaces.removeIf(i -> {
            if (i.device.equals(dev.name())) {
                ethNumbers.clear(Integer.parseInt(i.name.substring(3)));
                return true;
            }
            return false;
        });
    }

    @Override
    public long generation() {
        return generation;
    }

    /** /sys/class/net/NAME -> BDF/net/NAME with operstate, address and ifindex (what host scan reads). */
    @Override
    public List<ClassDevices.Entry> classDevices() {
        List<ClassDevices.Entry> out = new ArrayList<>();
        for (Interface i : interfaces) {
            Map<String, Supplier<String>> attrs = new LinkedHashMap<>();
            attrs.put("operstate", () -> i.up ? "up" : "down");
            attrs.put("address", () -> i.mac);
            attrs.put("ifindex", () -> Integer.toString(i.ifindex));
            out.add(new ClassDevices.Entry("net", i.name, i.device, "net/" + i.name, attrs));
        }
        return out;
    }

    /** The interfaces in ifindex order. */
    public List<Interface> interfaces() {
        return List.copyOf(interfaces);
    }

    public Optional<Interface> byName(String name) {
        return interfaces.stream().filter(i -> i.name.equals(name)).findFirst();
    }

    /** {@code SIOCSIFFLAGS} IFF_UP on or off; -ENODEV without such an interface. */
    public int setUp(String name, boolean up) {
        Optional<Interface> i = byName(name);
        if (i.isEmpty()) {
            return Errno.ENODEV.negative();
        }
        i.get().up = up;
        generation++;
        return 0;
    }

    /**
     * {@code RTM_NEWADDR}: -ENODEV without the interface, -EEXIST when it has the address
     * already; {@code a} null is a request whose IFA_LOCAL attribute is not 4 bytes, which
     * netlink's attribute validation refuses with -ERANGE and a rate-limited warning.
     */
    public int addAddress(String name, Address a) {
        Optional<Interface> i = byName(name);
        if (i.isEmpty()) {
            return Errno.ENODEV.negative();
        }
        if (a == null) {
            log.add(KernelMessage.WARNING, "netlink: 'ip': attribute type 2 has an invalid length.");
            return Errno.ERANGE.negative();
        }
        for (Address b : i.get().addresses) {
            if (b.ip == a.ip && b.prefix == a.prefix) {
                return Errno.EEXIST.negative();
            }
        }
        i.get().addresses.add(a);
        generation++;
        return 0;
    }

    /** The main table's prefix routes: one per address of an up interface, /32 adds none. */
    public List<Route> routes() {
        List<Route> out = new ArrayList<>();
        for (Interface i : interfaces) {
            if (!i.up) {
                continue;
            }
            for (Address a : i.addresses) {
                if (a.prefix < 32) {
                    out.add(new Route(a.network(), i.name, dotted(a.ip)));
                }
            }
        }
        return out;
    }

    /** {@code inet_pton} plus an optional {@code /N}: null when not an IPv4 address. */
    public static Address parseAddress(String text) {
        String[] parts = text.split("/", -1);
        if (parts.length > 2) {
            return null;
        }
        String[] q = parts[0].split("\\.", -1);
        if (q.length != 4) {
            return null;
        }
        int ip = 0;
        try {
            for (String s : q) {
                int v = Integer.parseInt(s);
                if (v < 0 || v > 255 || s.isEmpty() || !s.chars().allMatch(Character::isDigit)) {
                    return null;
                }
                ip = ip << 8 | v;
            }
            int prefix = parts.length == 2 ? Integer.parseInt(parts[1]) : 32;
            if (prefix < 0 || prefix > 32) {
                return null;
            }
            return new Address(ip, prefix);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    static String dotted(int ip) {
        return (ip >>> 24) + "." + (ip >>> 16 & 0xff) + "." + (ip >>> 8 & 0xff) + "." + (ip & 0xff);
    }
}
