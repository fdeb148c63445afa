package io.viommu.vmm.libvirt;

import io.viommu.vmm.libvirt.Domain.Balloon;
import io.viommu.vmm.libvirt.Domain.Controller;
import io.viommu.vmm.libvirt.Domain.Disk;
import io.viommu.vmm.libvirt.Domain.Hostdev;
import io.viommu.vmm.libvirt.Domain.Iommu;
import io.viommu.vmm.libvirt.Domain.Net;
import io.viommu.vmm.libvirt.Domain.PciAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * Reads a libvirt domain XML file and checks it as libvirt 9.0 does (parse errors of
 * domain_conf.c and virxml.c, domain_validate.c, qemu_validate.c, the PCI address checks of
 * domain_addr.c), with libvirt's messages. The elements translated are listed in
 * docs/libvirt.md; every other element or attribute is named in {@link Domain#warnings()}.
 *
 * <p>Checked against the real libvirt 9.0.0 of Debian 12 ({@code virsh domxml-to-native
 * qemu-argv}, and a real start for interfaces): src/test/resources/libvirt.
 */
public final class LibvirtDomain {
    /** virDomainVirtType: the domain types libvirt's parser knows. */
    private static final Set<String> VIRT_TYPES = Set.of("none", "qemu", "kqemu", "kvm", "xen", "lxc", "uml",
            "openvz", "test", "vmware", "hyperv", "vbox", "phyp", "parallels", "bhyve", "vz");

    private final List<String> notes = new ArrayList<>();

    private LibvirtDomain() {
    }

    /** Reads, validates and translates FILE; a refusal carries libvirt's message. */
    public static Domain parse(Path file) throws LibvirtException {
        return new LibvirtDomain().domain(DomainXmlReader.read(file));
    }

    /** As {@link #parse(Path)}, from the document's text. */
    public static Domain parse(String xml) throws LibvirtException {
        return new LibvirtDomain().domain(DomainXmlReader.parse(xml));
    }

    private Domain domain(XmlElement root) throws LibvirtException {
        if (!root.name.equals("domain")) {
            throw new LibvirtException("XML error: expecting root element of 'domain', not '" + root.name + "'");
        }
        root.markRead();
        String type = root.attr("type");
        if (type == null) {
            throw new LibvirtException("internal error: missing domain type attribute");
        }
        if (!VIRT_TYPES.contains(type)) {
            throw new LibvirtException("unsupported configuration: invalid domain type " + type);
        }
        XmlElement nameEl = root.child("name");
        if (nameEl == null || nameEl.text().isEmpty()) {
            throw new LibvirtException("missing name information");
        }
        String name = nameEl.text();
        XmlElement uuidEl = root.child("uuid");
        String uuid = uuidEl != null ? uuidEl.text().toLowerCase(Locale.ROOT)
                : UUID.nameUUIDFromBytes(name.getBytes(StandardCharsets.UTF_8)).toString();
        long memoryKiB = memory(root);
        XmlElement cur = root.child("currentMemory");
        if (cur != null) {
            cur.attr("unit");
            cur.text(); // the balloon's target: not on the command line
        }
        int vcpus = vcpus(root);
        XmlElement os = root.child("os");
        if (os == null || os.child("type") == null) {
            throw new LibvirtException("XML error: an os <type> must be specified");
        }
        XmlElement osType = os.child("type");
        String arch = osType.attr("arch");
        String osKind = osType.text();
        if (!osKind.equals("hvm")) {
            throw new LibvirtException("viommu: <os><type>" + osKind + "</type> is not translated: viommu models hvm only");
        }
        if (arch != null && !arch.equals("x86_64")) {
            throw new LibvirtException("viommu: <type arch='" + arch + "'> is not translated: viommu models x86_64 only");
        }
        String machine = osType.attr("machine");
        if (machine == null || machine.equals("q35")) {
            machine = "pc-q35-7.2";
        }
        List<String> bootDevs = new ArrayList<>();
        for (XmlElement b : os.children("boot")) {
            bootDevs.add(b.attr("dev"));
        }
        if (bootDevs.isEmpty()) {
            bootDevs.add("hd"); // libvirt's default boot device
        }
        boolean acpi = false;
        String ioapic = null;
        XmlElement features = root.child("features");
        if (features != null) {
            acpi = features.child("acpi") != null;
            features.child("apic");
            XmlElement io = features.child("ioapic");
            if (io != null) {
                ioapic = io.attr("driver");
                if (ioapic != null && !ioapic.equals("qemu") && !ioapic.equals("kvm")) {
                    throw new LibvirtException("XML error: Invalid value for attribute 'driver' in element 'ioapic': '"
                            + ioapic + "'.");
                }
            }
        }
        String cpuHost = cpu(root);
        defaults(root);
        XmlElement devices = root.child("devices");
        String emulator = Domain.DEFAULT_EMULATOR;
        Optional<Iommu> iommu = Optional.empty();
        List<Hostdev> hostdevs = new ArrayList<>();
        List<Net> nets = new ArrayList<>();
        List<Disk> disks = new ArrayList<>();
        List<Controller> controllers = new ArrayList<>();
        boolean usb = true;
        Balloon balloon = new Balloon(null, null, Optional.empty());
        if (devices != null) {
            XmlElement em = devices.child("emulator");
            if (em != null) {
                emulator = em.text();
            }
            List<XmlElement> iommus = devices.children("iommu");
            if (iommus.size() > 1) {
                throw new LibvirtException("XML error: only a single IOMMU device is supported");
            }
            if (!iommus.isEmpty()) {
                iommu = Optional.of(iommu(iommus.get(0)));
            }
            for (XmlElement c : devices.children("controller")) {
                String ctype = c.attr("type");
                if ("usb".equals(ctype)) {
                    String model = c.attr("model");
                    c.attr("index");
                    if ("none".equals(model)) {
                        usb = false;
                    } else if (model != null && !model.equals("qemu-xhci")) {
                        throw new LibvirtException("viommu: <controller type='usb' model='" + model
                                + "'> is not translated: viommu translates model='qemu-xhci' (q35's default) and model='none'");
                    }
                } else if ("pci".equals(ctype)) {
                    controllers.add(controller(c));
                } else {
                    c.markRead();
                    throw new LibvirtException("viommu: <controller type='" + ctype + "'> (line " + c.line
                            + ") is not translated: viommu translates type='pci' and type='usb'");
                }
            }
            for (XmlElement h : devices.children("hostdev")) {
                hostdevs.add(hostdev(h, hostdevs));
            }
            for (XmlElement n : devices.children("interface")) {
                nets.add(net(n, nets.size()));
            }
            for (XmlElement k : devices.children("disk")) {
                disks.add(disk(k));
            }
            // virDomainDiskInsert keeps disks sorted by target (vda before vdb)
            disks.sort(java.util.Comparator.comparingInt(k -> NativeArgv.targetIndex(k.target())));
            XmlElement mb = devices.child("memballoon");
            if (mb != null) {
                String model = mb.attr("model");
                if ("none".equals(model)) {
                    balloon = null;
                } else if (!"virtio".equals(model)) {
                    throw new LibvirtException("XML error: Invalid value for attribute 'model' in element 'memballoon': '"
                            + model + "'.");
                } else {
                    Boolean[] io = virtioDriver(mb.child("driver"));
                    balloon = new Balloon(io[0], io[1], guestAddress(mb));
                }
            }
        }
        List<String> warnings = new ArrayList<>(notes);
        List<String> unread = new ArrayList<>();
        root.unread("", unread);
        for (String u : unread) {
            warnings.add("viommu: warning: " + u + " is not translated: viommu's argv has nothing for it"
                    + " (libvirt may add options for it)");
        }
        if (!type.equals("kvm") && !type.equals("qemu")) {
            // virQEMUCapsIsVirtTypeSupported, once the emulator is known
            throw new LibvirtException("unsupported configuration: Emulator '" + emulator
                    + "' does not support virt type '" + type + "'");
        }
        Domain d = new Domain(name, uuid, type.equals("kvm"), memoryKiB, vcpus, machine, acpi, ioapic, cpuHost,
                emulator, iommu, List.copyOf(hostdevs), List.copyOf(nets), List.copyOf(disks),
                List.copyOf(controllers), usb, balloon, List.copyOf(bootDevs), List.copyOf(warnings));
        validate(d, machine);
        NativeArgv.check(d);
        return d;
    }

    /** domain_validate.c and qemu_validate.c, in libvirt's order for these elements. */
    private static void validate(Domain d, String machine) throws LibvirtException {
        if (d.iommu().isPresent()) {
            Iommu i = d.iommu().get();
            if (Boolean.TRUE.equals(i.intremap()) && !"qemu".equals(d.ioapic())) {
                throw new LibvirtException("unsupported configuration: IOMMU interrupt remapping requires split I/O APIC"
                        + " (ioapic driver='qemu')");
            }
            if (Boolean.TRUE.equals(i.eim()) && !Boolean.TRUE.equals(i.intremap())) {
                throw new LibvirtException("unsupported configuration: IOMMU eim requires interrupt remapping to be enabled");
            }
            if (!machine.equals("q35") && !machine.startsWith("pc-q35")) {
                throw new LibvirtException("unsupported configuration: IOMMU device: 'intel' is only supported with Q35 machines");
            }
        }
        if (!machine.startsWith("pc-q35")) {
            throw new LibvirtException("viommu: machine '" + machine + "' is not translated: viommu models q35"
                    + " (machine='q35' or 'pc-q35-X.Y')");
        }
    }

    /**
     * Elements whose values here are libvirt's defaults and change nothing on the command line
     * ({@code -rtc base=utc}, {@code -no-shutdown} are always there): read, so they are not
     * named as untranslated. Any other value stays unread and is named.
     */
    private static void defaults(XmlElement root) {
        XmlElement clock = root.child("clock");
        if (clock != null && "utc".equals(clock.attr("offset")) && clock.children().isEmpty()) {
            clock.markRead();
        } else if (clock != null) {
            clock.unmarkRead();
        }
        for (String[] ev : new String[][] {{"on_poweroff", "destroy"}, {"on_reboot", "restart"}, {"on_crash", "destroy"}}) {
            XmlElement e = root.child(ev[0]);
            if (e != null && !e.text().equals(ev[1])) {
                e.unmarkRead();
            }
        }
    }

    private static long memory(XmlElement root) throws LibvirtException {
        XmlElement m = root.child("memory");
        if (m == null) {
            throw new LibvirtException("XML error: Memory size must be specified via <memory> or in the <numa> configuration");
        }
        String unit = m.attr("unit");
        String text = m.text();
        Long v = unsigned(text);
        if (v == null) {
            throw new LibvirtException("XML error: Invalid value '" + text + "' for element or attribute './memory[1]'");
        }
        long scale = switch (unit == null ? "kib" : unit.toLowerCase(Locale.ROOT)) {
            case "b", "byte", "bytes" -> 1;
            case "kb" -> 1000;
            case "k", "kib" -> 1L << 10;
            case "mb" -> 1000L * 1000;
            case "m", "mib" -> 1L << 20;
            case "gb" -> 1000L * 1000 * 1000;
            case "g", "gib" -> 1L << 30;
            case "tb" -> 1000L * 1000 * 1000 * 1000;
            case "t", "tib" -> 1L << 40;
            default -> throw new LibvirtException("invalid argument: unknown suffix '" + unit + "'");
        };
        long bytes = Math.multiplyHigh(v, scale) != 0 ? Long.MAX_VALUE : v * scale;
        long kib = (bytes + 1023) / 1024;
        if (kib == 0) {
            throw new LibvirtException("XML error: Memory size must be specified via <memory> or in the <numa> configuration");
        }
        return kib;
    }

    private static int vcpus(XmlElement root) throws LibvirtException {
        XmlElement v = root.child("vcpu");
        if (v == null) {
            return 1;
        }
        v.attr("placement");
        String text = v.text();
        Long n = unsigned(text);
        if (n == null || n == 0 || n > 255) {
            throw new LibvirtException(n != null && n > 255
                    ? "viommu: <vcpu>" + text + "</vcpu>: viommu translates at most 255 vCPUs"
                    : "XML error: maximum vcpus count must be an integer");
        }
        return n.intValue();
    }

    private String cpu(XmlElement root) throws LibvirtException {
        XmlElement cpu = root.child("cpu");
        if (cpu == null) {
            return null;
        }
        String mode = cpu.attr("mode");
        if (!"host-passthrough".equals(mode)) {
            throw new LibvirtException("viommu: <cpu mode='" + mode + "'> is not translated: viommu translates"
                    + " mode='host-passthrough' and a domain without <cpu> (-cpu qemu64)");
        }
        cpu.attr("check");
        String migratable = cpu.attr("migratable");
        return migratable == null ? "on" : migratable;
    }

    private static Iommu iommu(XmlElement e) throws LibvirtException {
        String model = e.attr("model");
        if (model == null) {
            throw new LibvirtException("XML error: Missing required attribute 'model' in element 'iommu'");
        }
        if (!Set.of("intel", "smmuv3", "virtio").contains(model)) {
            throw new LibvirtException("XML error: Invalid value for attribute 'model' in element 'iommu': '" + model + "'.");
        }
        XmlElement drv = e.child("driver");
        Boolean intremap = null;
        Boolean cm = null;
        Boolean eim = null;
        Boolean iotlb = null;
        Integer aw = null;
        if (drv != null) {
            intremap = onOff(drv, "intremap");
            cm = onOff(drv, "caching_mode");
            iotlb = onOff(drv, "iotlb");
            eim = onOff(drv, "eim");
            String a = drv.attr("aw_bits");
            if (a != null) {
                Long v = unsigned(a);
                if (v == null || v > 0xffffffffL) {
                    throw new LibvirtException("XML error: Invalid value for attribute 'aw_bits' in element 'driver': '"
                            + a + "'. Expected non-negative integer value");
                }
                aw = v.intValue();
            }
        }
        if (e.child("address") != null && !model.equals("virtio")) {
            throw new LibvirtException("XML error: iommu model '" + model + "' can't have address");
        }
        if (!model.equals("intel")) {
            if (intremap != null || cm != null || eim != null || iotlb != null || (aw != null && aw != 0)) {
                throw new LibvirtException("XML error: iommu model '" + model + "' doesn't support additional attributes");
            }
            throw new LibvirtException("viommu: <iommu model='" + model + "'> is not translated: viommu models model='intel'");
        }
        return new Iommu(model, intremap, cm, eim, iotlb, aw == null || aw == 0 ? null : aw);
    }

    private static Controller controller(XmlElement c) throws LibvirtException {
        String idx = c.attr("index");
        Long index = idx == null ? Long.valueOf(0) : unsigned(idx);
        if (index == null) {
            throw new LibvirtException("XML error: Invalid value for attribute 'index' in element 'controller': '"
                    + idx + "'. Expected integer value");
        }
        String model = c.attr("model");
        if (index == 0) {
            if (model != null && !model.equals("pcie-root")) {
                throw new LibvirtException("viommu: <controller type='pci' index='0' model='" + model
                        + "'> is not translated: q35's bus 0 is model='pcie-root'");
            }
            return new Controller(0, "pcie-root", -1, -1, Optional.empty());
        }
        if (!"pcie-root-port".equals(model)) {
            throw new LibvirtException("viommu: <controller type='pci' model='" + model + "'> (line " + c.line
                    + ") is not translated: viommu translates model='pcie-root' and model='pcie-root-port'");
        }
        c.child("model"); // <model name='pcie-root-port'/>: the default name
        int chassis = -1;
        int port = -1;
        XmlElement t = c.child("target");
        if (t != null) {
            String ch = t.attr("chassis");
            String p = t.attr("port");
            chassis = ch == null ? -1 : uintAttr(ch, "chassis", "target").intValue();
            port = p == null ? -1 : uintAttr(p, "port", "target").intValue();
        }
        return new Controller(index.intValue(), model, chassis, port, guestAddress(c));
    }

    private static Hostdev hostdev(XmlElement h, List<Hostdev> earlier) throws LibvirtException {
        String mode = h.attr("mode");
        String type = h.attr("type");
        if (!"subsystem".equals(mode) || !"pci".equals(type)) {
            throw new LibvirtException("viommu: <hostdev mode='" + mode + "' type='" + type + "'> (line " + h.line
                    + ") is not translated: viommu translates mode='subsystem' type='pci'");
        }
        String managed = h.attr("managed");
        XmlElement drv = h.child("driver");
        if (drv != null) {
            String dn = drv.attr("name");
            if (dn != null && !dn.equals("vfio")) {
                if (!Set.of("default", "kvm", "xen").contains(dn)) {
                    throw new LibvirtException("XML error: Invalid value for attribute 'name' in element 'driver': '"
                            + dn + "'.");
                }
                // qemuBuildHostdevCommandLine (domxml-to-native) has only vfio
                throw new LibvirtException("internal error: invalid PCI passthrough type '" + dn + "'");
            }
        }
        XmlElement src = h.child("source");
        if (src == null) {
            throw new LibvirtException("XML error: Missing <source> element in hostdev device");
        }
        XmlElement sa = src.child("address");
        if (sa == null) {
            throw new LibvirtException("XML error: PCI host devices must use 'pci' or 'unassigned' address type");
        }
        PciAddress source = address(sa);
        for (Hostdev o : earlier) {
            if (o.source().equals(source)) {
                throw new LibvirtException("XML error: Hostdev already exists in the domain configuration");
            }
        }
        return new Hostdev(source, "yes".equals(managed), guestAddress(h));
    }

    private Net net(XmlElement n, int index) throws LibvirtException {
        String type = n.attr("type");
        if (!Set.of("user", "network", "bridge").contains(type)) {
            throw new LibvirtException("viommu: <interface type='" + type + "'> (line " + n.line + ") is not translated:"
                    + " viommu translates type='user', 'network' and 'bridge'");
        }
        String source = null;
        if (!type.equals("user")) {
            // virDomainNetDefParseXML: the source element, then its attribute named for the type
            XmlElement src = n.child("source");
            if (src == null) {
                throw new LibvirtException("XML error: interface type='" + type + "' requires a 'source' element");
            }
            source = src.attr(type);
            if (source == null) {
                throw new LibvirtException("XML error: Missing required attribute '" + type + "' in element 'source'");
            }
            int fd = NativeArgv.TAP_FD + index;
            notes.add("viommu: note: <interface type='" + type + "'> (line " + n.line + ") on " + type + " '" + source
                    + "': libvirt opens a tap device " + (type.equals("network") ? "on the network's bridge" : "on the bridge")
                    + " and passes it as fd=" + fd + " (-netdev tap); the model has no host network: the tap has no effect"
                    + " on the model, the NIC it feeds is modelled. A real start needs "
                    + (type.equals("network") ? "the network active (libvirt: \"Requested operation is not valid: network '"
                    + source + "' is not active\")" : "the bridge on the host (libvirt: \"Cannot get interface MTU on '"
                    + source + "': No such device\")"));
        }
        XmlElement m = n.child("model");
        String model = m == null ? null : m.attr("type");
        if (model == null) {
            throw new LibvirtException("viommu: <interface> (line " + n.line + ") without <model type=...> is not"
                    + " translated: give <model type='virtio'/> (or e1000e, e1000)");
        }
        if (!Set.of("virtio", "e1000e", "e1000").contains(model)) {
            throw new LibvirtException("viommu: <model type='" + model + "'> of <interface> (line " + n.line
                    + ") is not translated: viommu translates virtio, e1000e and e1000");
        }
        XmlElement mac = n.child("mac");
        String address = mac == null ? null : mac.attr("address");
        if (address == null) {
            // libvirt picks 52:54:00 and three random bytes; viommu derives them from the interface's index
            address = String.format("52:54:00:%02x:%02x:%02x", 0x12, 0x34, 0x56 + index);
            notes.add("viommu: note: <interface> (line " + n.line + ") has no <mac address=...>: libvirt picks a random"
                    + " 52:54:00:xx:xx:xx, viommu uses " + address);
        }
        Boolean[] io = virtioDriver(n.child("driver"));
        if (!model.equals("virtio") && (io[0] != null || io[1] != null)) {
            throw new LibvirtException("unsupported configuration: " + (io[0] != null ? "iommu" : "ats")
                    + " driver option is only supported for virtio devices");
        }
        return new Net(type, source, model, address.toLowerCase(Locale.ROOT), io[0], io[1], guestAddress(n));
    }

    private static Disk disk(XmlElement k) throws LibvirtException {
        String type = k.attr("type");
        String device = k.attr("device");
        XmlElement target = k.child("target");
        String bus = target == null ? null : target.attr("bus");
        String dev = target == null ? null : target.attr("dev");
        if (!"file".equals(type) || (device != null && !device.equals("disk")) || !"virtio".equals(bus)) {
            throw new LibvirtException("viommu: <disk type='" + type + "' device='" + device + "'> with bus '" + bus
                    + "' (line " + k.line + ") is not translated: viommu translates type='file' device='disk' on bus='virtio'");
        }
        if (dev == null || !dev.matches("vd[a-z]{1,3}")) {
            throw new LibvirtException("viommu: <target dev='" + dev + "'> of <disk> (line " + k.line
                    + ") is not translated: viommu translates virtio disk names vda, vdb, ...");
        }
        XmlElement src = k.child("source");
        String file = src == null ? null : src.attr("file");
        if (file == null) {
            throw new LibvirtException("viommu: <disk> (line " + k.line + ") without <source file=...> is not translated");
        }
        XmlElement drv = k.child("driver");
        String format = "raw";
        Boolean[] io = {null, null};
        if (drv != null) {
            drv.attr("name");
            String f = drv.attr("type");
            if (f != null) {
                format = f;
            }
            io = virtioDriver(drv);
        }
        return new Disk(file, format, dev, io[0], io[1], guestAddress(k));
    }

    /** {@code <driver iommu= ats=>} of a virtio device: {iommu, ats}, null when absent. */
    private static Boolean[] virtioDriver(XmlElement drv) throws LibvirtException {
        if (drv == null) {
            return new Boolean[] {null, null};
        }
        return new Boolean[] {onOff(drv, "iommu"), onOff(drv, "ats")};
    }

    private static Optional<PciAddress> guestAddress(XmlElement parent) throws LibvirtException {
        XmlElement a = parent.child("address");
        if (a == null) {
            return Optional.empty();
        }
        String type = a.attr("type");
        if (!"pci".equals(type)) {
            throw new LibvirtException("viommu: <address type='" + type + "'> (line " + a.line
                    + ") is not translated: viommu translates type='pci'");
        }
        PciAddress pa = address(a);
        // virPCIDeviceAddressIsEmpty: domain, bus and slot 0 mean "no address, assign one"
        return pa.domain() == 0 && pa.bus() == 0 && pa.slot() == 0 ? Optional.empty() : Optional.of(pa);
    }

    /** virPCIDeviceAddressParseXML and virPCIDeviceAddressIsValid. */
    private static PciAddress address(XmlElement a) throws LibvirtException {
        long domain = uintAttr(a.attr("domain"), "domain", "address");
        long bus = uintAttr(a.attr("bus"), "bus", "address");
        long slot = uintAttr(a.attr("slot"), "slot", "address");
        long fn = uintAttr(a.attr("function"), "function", "address");
        Boolean multi = onOff(a, "multifunction");
        boolean empty = domain == 0 && bus == 0 && slot == 0;
        if (!empty) {
            if (bus > 0xff) {
                throw new LibvirtException(String.format("XML error: Invalid PCI address bus='0x%x', must be <= 0xFF", bus));
            }
            if (slot > 0x1f) {
                throw new LibvirtException(String.format("XML error: Invalid PCI address slot='0x%x', must be <= 0x1F", slot));
            }
            if (fn > 7) {
                throw new LibvirtException(String.format("XML error: Invalid PCI address function=0x%x, must be <= 7", fn));
            }
        }
        return new PciAddress((int) domain, (int) bus, (int) slot, (int) fn, multi);
    }

    private static Long uintAttr(String v, String attr, String element) throws LibvirtException {
        if (v == null) {
            return 0L;
        }
        Long n = unsigned(v);
        if (n == null || n > 0xffffffffL) {
            throw new LibvirtException("XML error: Invalid value for attribute '" + attr + "' in element '" + element
                    + "': '" + v + "'. Expected non-negative integer value");
        }
        return n;
    }

    /** virXMLPropTristateSwitch: "on", "off", absent; anything else refused. */
    private static Boolean onOff(XmlElement e, String attr) throws LibvirtException {
        String v = e.attr(attr);
        if (v == null) {
            return null;
        }
        if (v.equals("on") || v.equals("off")) {
            return v.equals("on");
        }
        throw new LibvirtException("XML error: Invalid value for attribute '" + attr + "' in element '" + e.name
                + "': '" + v + "'.");
    }

    /** strtoul with base 0 (decimal, 0x hex, leading-0 octal) over the whole string, no sign. */
    static Long unsigned(String s) {
        if (s == null || s.isEmpty() || s.startsWith("-") || s.startsWith("+")) {
            return null;
        }
        int radix = 10;
        String t = s;
        if (t.startsWith("0x") || t.startsWith("0X")) {
            radix = 16;
            t = t.substring(2);
        } else if (t.length() > 1 && t.startsWith("0")) {
            radix = 8;
            t = t.substring(1);
        }
        try {
            return t.isEmpty() ? null : Long.parseLong(t, radix);
        } catch (NumberFormatException e) {
            return null;
        }
    }

}
