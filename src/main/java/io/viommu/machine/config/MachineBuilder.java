package io.viommu.machine.config;

import io.viommu.machine.Machine;
import io.viommu.machine.device.EduDevice;
import io.viommu.machine.device.Endpoints;
import io.viommu.machine.device.MachineLog;
import io.viommu.pci.AtsEndpoint;
import io.viommu.pci.DmaPort;
import io.viommu.pci.PciBridge;
import io.viommu.pci.PciBus;
import io.viommu.pci.PciFunction;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.VtdConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Builds the {@link Machine} a QEMU 7.2 command line describes, in QEMU's order: the q35 board
 * ({@link Machine#q35}), QEMU's default devices (std VGA unless -nodefaults or -vga none; the
 * NICs of -nic/-net, or the default e1000e when there is no -net/-netdev/-nic and no
 * -nodefaults), first free slots from 00:01.0 in that order; the -bios image; then the
 * {@code -device} options in order ({@link DeviceCatalog} lists the models), each realized as
 * QEMU's {@code qdev_device_add} does, with its property checks and error texts.
 *
 * <p>This is the wiring (Firecracker's {@code device_manager}): the command line, the ids and
 * buses it names, chassis slots, netdevs and block nodes live here; the platform
 * ({@code io.viommu.machine}) and the device models ({@code io.viommu.machine.device}) know
 * nothing of command lines.
 */
public final class MachineBuilder {
    private final Machine machine;
    private final QemuCommandLine commandLine;
    private final MachineLog log;
    private final Map<String, Object> ids = new LinkedHashMap<>();
    private final Map<String, PciBus> busesById = new HashMap<>();
    private final Set<Long> chassisSlots = new HashSet<>();
    private final Set<String> nvmeSubsystems = new HashSet<>();
    private final Set<String> usedNetdevs = new HashSet<>();
    private int nextMacIndex;

    private final Extensions extensions;

    /**
     * What a layer above the machine adds to it (the VMM): where the RAM lives, and device
     * models the catalog does not have ({@code vfio-pci}), without this package knowing them.
     *
     * @param ram     the RAM's backing store for a RAM size, or null for the machine's own
     * @param devices extra {@code -device} drivers by name
     */
    public record Extensions(java.util.function.LongFunction<io.viommu.memory.AddressSpace> ram,
                             Map<String, DeviceFactory> devices) {
        public static final Extensions NONE = new Extensions(null, Map.of());
    }

    /** A {@code -device} model supplied from above (see {@link Extensions}). */
    @FunctionalInterface
    public interface DeviceFactory {
        /**
         * Realizes the device that will sit at {@code devfn} of {@code bus} (QEMU assigns the
         * devfn before the device's realize): {@code props} are its own properties (bus, addr,
         * multifunction and id already taken by the builder); a refusal throws with
         * {@code prefix} + QEMU's text.
         */
        PciFunction realize(Machine machine, PciBus bus, int devfn, String prefix, String id, Map<String, String> props)
                throws MachineConfigException;
    }

    private MachineBuilder(QemuCommandLine cl, MachineLog log, Extensions ext) {
        this.commandLine = cl;
        this.log = log;
        this.extensions = ext;
        this.machine = ext.ram() == null ? Machine.q35(cl.ramSize(), cl.smp(), cl.guest())
                : Machine.q35(cl.ramSize(), cl.smp(), cl.guest(), ext.ram().apply(cl.ramSize()));
        busesById.put(machine.rootBus().name(), machine.rootBus());
    }

    /**
     * A machine and the parsed command line it was built from, whose {@link QemuCommandLine#warnings()}
     * name the options accepted but ignored (to be printed, not to vanish).
     */
    public record Built(Machine machine, QemuCommandLine commandLine) {
    }

    /** Builds the machine a QEMU command line describes. */
    public static Machine fromCommandLine(List<String> qemuArgs, MachineLog log) throws MachineConfigException {
        return build(qemuArgs, log).machine();
    }

    /** Builds the machine a QEMU command line describes, and keeps the parsed command line. */
    public static Built build(List<String> qemuArgs, MachineLog log) throws MachineConfigException {
        return build(qemuArgs, log, Extensions.NONE);
    }

    /** As {@link #build(List, MachineLog)}, with what a VMM adds ({@link Extensions}). */
    public static Built build(List<String> qemuArgs, MachineLog log, Extensions ext) throws MachineConfigException {
        QemuCommandLine cl = QemuCommandLine.parse(qemuArgs);
        try {
            cl.accelerator().checkApicIdLimit(cl.smp().apicIdLimit());
        } catch (MachineConfigException e) {
            throw new MachineConfigException(QemuCommandLine.PROGRAM + ": " + e.getMessage());
        }
        MachineBuilder b = new MachineBuilder(cl, log, ext);
        b.addDefaultDevices(cl);
        if (cl.bios() != null) {
            b.loadBios(cl.bios());
        }
        for (QemuCommandLine.DeviceOption d : cl.devices()) {
            b.addDevice(d);
        }
        return new Built(b.machine, cl);
    }

    /**
     * QEMU's machine-init devices, before any -device (pc_vga_init, then pc_nic_init): checked
     * with 7.2, where they take 00:01.0 and 00:02.0 and push -device functions to 00:03.0.
     */
    private void addDefaultDevices(QemuCommandLine cl) throws MachineConfigException {
        String vga = cl.defaults().vga();
        switch (vga) {
            case "none" -> { }
            case "std" -> plugDefault(new Endpoints.StdVga(16, true), QemuCommandLine.PROGRAM + ": -vga std: ");
            default -> throw new MachineConfigException(QemuCommandLine.PROGRAM + ": -vga " + vga
                    + ": viommu models only -vga std and -vga none");
        }
        for (QemuCommandLine.NicOption nic : cl.nics()) {
            String prefix = QemuCommandLine.PROGRAM + ": -nic " + nic.argument() + ": ";
            DeviceProps props = new DeviceProps(prefix, nic.model(),
                    nic.mac() == null ? Map.of() : Map.of("mac", nic.mac()));
            Endpoints.Placement at = new Endpoints.Placement(true, true);
            PciFunction f = switch (nic.model()) {
                case "e1000e" -> new Endpoints.E1000e(at, mac(props), 0x8086, 0);
                case "e1000", "e1000-82540em" -> {
                    mac(props);
                    yield new Endpoints.E1000();
                }
                case "virtio", "virtio-net-pci" -> new Endpoints.VirtioPci(Endpoints.VirtioKind.NET, at, true, true, 4,
                        false, false, new io.viommu.machine.device.VirtioFunctions.Net(mac(props)));
                case "igb", "igb-82576" -> new Endpoints.Igb82576(nic.model(), at, mac(props));
                default -> throw new MachineConfigException(prefix + "viommu models NIC models e1000e, e1000,"
                        + " virtio-net-pci and igb (got '" + nic.model() + "')");
            };
            plugDefault(f, prefix);
        }
    }

    private void plugDefault(PciFunction f, String prefix) throws MachineConfigException {
        try {
            machine.plug(f, machine.rootBus(), -1);
        } catch (PciBus.PlugException e) {
            throw new MachineConfigException(prefix + e.getMessage());
        }
        if (f instanceof io.viommu.machine.device.Endpoints.VirtioPci v) {
            v.attachMemory(machine.memory());
        }
    }

    /**
     * The MAC a NIC gets: its {@code mac} property, else QEMU's
     * {@code qemu_macaddr_default_if_unset}: 52:54:00:12:34:56 plus a counter over the NICs
     * created without one, in creation order (checked through e1000e serial numbers).
     */
    byte[] mac(DeviceProps props) throws MachineConfigException {
        String v = props.string("mac", null);
        if (v != null) {
            String[] parts = v.split(":");
            if (parts.length != 6) {
                throw props.error("Property '" + props.type() + ".mac' doesn't take value '" + v + "'");
            }
            byte[] mac = new byte[6];
            for (int i = 0; i < 6; i++) {
                try {
                    mac[i] = (byte) Integer.parseInt(parts[i], 16);
                } catch (NumberFormatException e) {
                    throw props.error("Property '" + props.type() + ".mac' doesn't take value '" + v + "'");
                }
            }
            return mac;
        }
        int idx = nextMacIndex++;
        return new byte[] {0x52, 0x54, 0x00, 0x12, 0x34, (byte) (0x56 + idx)};
    }

    /**
     * Reads a firmware image for {@link Machine#mapBios}: QEMU refuses an image whose size is
     * not a non-zero multiple of 64 KiB (and one it cannot read) with the same message.
     */
    private void loadBios(String file) throws MachineConfigException {
        byte[] image;
        try {
            image = Files.readAllBytes(Path.of(file));
        } catch (IOException | RuntimeException e) {
            image = new byte[0];
        }
        if (image.length == 0 || image.length % (64 << 10) != 0) {
            throw new MachineConfigException("qemu: could not load PC BIOS '" + file + "'");
        }
        machine.mapBios(image);
    }

    /** Realizes one {@code -device} option, as QEMU's {@code qdev_device_add}. */
    private void addDevice(QemuCommandLine.DeviceOption d) throws MachineConfigException {
        String prefix = QemuCommandLine.PROGRAM + ": -device " + d.argument() + ": ";
        Map<String, String> props = new LinkedHashMap<>(d.properties());
        String id = props.remove("id");
        if (id != null && ids.containsKey(id)) {
            throw new MachineConfigException(prefix + "Duplicate ID '" + id + "' for device");
        }
        switch (d.driver()) {
            case "intel-iommu" -> addIommu(prefix, props);
            case "edu" -> addEdu(prefix, id, props);
            case "nvme-subsys" -> {
                new DeviceProps(prefix, d.driver(), props).checkKnown(Set.of("nqn"));
                if (id != null) {
                    nvmeSubsystems.add(id);
                }
            }
            default -> {
                DeviceFactory ext = extensions.devices().get(d.driver());
                if (ext != null) {
                    addExtension(ext, prefix, id, d.driver(), props);
                    break;
                }
                if (!DeviceCatalog.isPciDevice(d.driver())) {
                    throw new MachineConfigException(prefix + "'" + d.driver() + "' is not a valid device model name");
                }
                DeviceCatalog.realize(this, d.driver(), id, new DeviceProps(prefix, d.driver(), props));
            }
        }
        if (id != null) {
            ids.put(id, d);
        }
    }

    /** A device from {@link Extensions}: the generic PCI properties here, the rest to its factory. */
    private void addExtension(DeviceFactory factory, String prefix, String id, String driver, Map<String, String> props)
            throws MachineConfigException {
        DeviceProps p = new DeviceProps(prefix, driver, props);
        PciBus bus = resolveBus(p);
        int devfn = -1;
        if (p.has("addr")) {
            devfn = parseDevfn(p.string("addr", ""));
            if (devfn < 0) {
                throw p.error("Property '" + driver + ".addr' doesn't take value '" + p.string("addr", "") + "'");
            }
        }
        boolean multifunction = p.bool("multifunction", false);
        Map<String, String> own = new LinkedHashMap<>(props);
        own.remove("bus");
        own.remove("addr");
        own.remove("multifunction");
        if (devfn >= 0 && bus.function(devfn) != null) {
            // do_pci_register_device refuses a taken devfn before the device's realize runs
            PciFunction other = bus.function(devfn);
            throw p.error(String.format("PCI: slot %d function %d not available for %s, in use by %s,id=%s",
                    devfn >> 3, devfn & 7, driver, other.typeName(), other.id() == null ? "(null)" : other.id()));
        }
        if (devfn < 0) { // do_pci_register_device: the first free slot, before realize
            for (int d = 0; d < 256 && devfn < 0; d += 8) {
                if (bus.function(d) == null) {
                    devfn = d;
                }
            }
        }
        PciFunction f = factory.realize(machine, bus, devfn, prefix, id, own);
        // QEMU, not the host device, decides the multifunction bit (the header bit is emulated)
        f.setMultiFunction(multifunction);
        f.setProperties(props);
        plugUserDevice(p, id, f, bus, devfn);
    }

    // ---- services for DeviceCatalog ----

    /** The bus named by {@code bus=} (pcie.0 or a bridge's id), or QEMU's error. */
    PciBus resolveBus(DeviceProps p) throws MachineConfigException {
        String name = p.string("bus", machine.rootBus().name());
        PciBus b = busesById.get(name);
        if (b == null) {
            throw p.error("Bus '" + name + "' not found");
        }
        return b;
    }

    /** Registers a PCIe slot (QEMU pcie_chassis_add_slot): chassis and slot must be unique. */
    void addChassisSlot(DeviceProps p, int chassis, int slot) throws MachineConfigException {
        if (!chassisSlots.add((long) chassis << 16 | slot)) {
            throw p.error("Can't add chassis slot, error -16");
        }
    }

    boolean hasNvmeSubsystem(String id) {
        return nvmeSubsystems.contains(id);
    }

    /** Checks {@code netdev=} of a NIC: it must exist and be unused (QEMU's texts). */
    void claimNetdev(DeviceProps p, String propertyOwner) throws MachineConfigException {
        String nd = p.string("netdev", null);
        if (nd == null) {
            return;
        }
        if (!commandLine.netdevs().containsKey(nd)) {
            throw p.error("Property '" + propertyOwner + ".netdev' can't find value '" + nd + "'");
        }
        if (!usedNetdevs.add(nd)) {
            throw p.error("Property '" + propertyOwner + ".netdev' can't take value '" + nd + "', it's in use");
        }
    }

    boolean hasBlockNode(String name) {
        return commandLine.blockNodes().contains(name);
    }

    int guestCpus() {
        return commandLine.guest().cpus();
    }

    /** Plugs a realized -device function at {@code devfn} (-1: first free slot) and wires its DMA. */
    void plugUserDevice(DeviceProps p, String id, PciFunction f, PciBus bus, int devfn) throws MachineConfigException {
        f.setId(id);
        try {
            machine.plugDevice(f, bus, devfn);
        } catch (PciBus.PlugException e) {
            throw p.error(e.getMessage());
        }
        if (f instanceof io.viommu.machine.device.Endpoints.VirtioPci v) {
            v.attachMemory(machine.memory()); // without ACCESS_PLATFORM virtio uses address_space_memory
        }
        if (f instanceof PciBridge b && id != null) {
            busesById.put(id, b.secondaryBus());
        }
    }

    private void addIommu(String prefix, Map<String, String> props) throws MachineConfigException {
        if (machine.iommu() != null) {
            throw new MachineConfigException(prefix + "QEMU does not support multiple vIOMMUs for x86 yet.");
        }
        props.remove("bus"); // a sysbus device; QEMU accepts no PCI bus for it anyway
        // viommu extension: interrupt entry cache size (0, the default, reads every IRTE as QEMU).
        String iec = props.remove("iec-entries");
        int iecEntries = 0;
        if (iec != null) {
            Long n = QemuCommandLine.parseUnsigned(iec);
            if (n == null || n < 0 || n > 65536) {
                throw new MachineConfigException(prefix + "iec-entries must be between 0 and 65536");
            }
            iecEntries = n.intValue();
        }
        VtdConfig config;
        try {
            config = VtdConfig.fromQemuProperties(commandLine.accelerator().iommuProperties(props));
        } catch (IllegalArgumentException e) {
            throw new MachineConfigException(prefix + e.getMessage());
        }
        machine.attachIommu(config, iecEntries).setTrace(new io.viommu.vtd.VtdTrace() {
            private final java.util.Set<String> reported = new java.util.HashSet<>();

            // QEMU's error_report_once: on stderr, once per call site for the process
            @Override
            public void errorReportOnce(String site, String message) {
                if (reported.add(site)) {
                    log.guestError(QemuCommandLine.PROGRAM + ": " + message);
                }
            }
        });
    }

    private void addEdu(String prefix, String id, Map<String, String> props) throws MachineConfigException {
        long dmaMask = EduDevice.DEFAULT_DMA_MASK;
        int devfn = -1;
        boolean multifunction = false;
        boolean ats = false;
        for (Map.Entry<String, String> e : props.entrySet()) {
            String v = e.getValue();
            switch (e.getKey()) {
                case "dma_mask" -> {
                    Long m = QemuCommandLine.parseUnsigned(v);
                    if (m == null) {
                        throw new MachineConfigException(prefix + "Parameter 'dma_mask' expects integer");
                    }
                    dmaMask = m;
                }
                case "addr" -> {
                    devfn = parseDevfn(v);
                    if (devfn < 0) {
                        throw new MachineConfigException(prefix + "Property 'edu.addr' doesn't take value '" + v + "'");
                    }
                }
                case "bus" -> {
                    if (!busesById.containsKey(v)) {
                        throw new MachineConfigException(prefix + "Bus '" + v + "' not found");
                    }
                }
                case "multifunction" -> {
                    if (!v.equals("on") && !v.equals("off") && !v.equals("true") && !v.equals("false")) {
                        throw new MachineConfigException(prefix + "Parameter 'multifunction' expects 'on' or 'off'");
                    }
                    multifunction = v.equals("on") || v.equals("true");
                }
                case "x-ats" -> { // viommu extension: ATS capability on edu
                    if (!v.equals("on") && !v.equals("off") && !v.equals("true") && !v.equals("false")) {
                        throw new MachineConfigException(prefix + "Parameter 'x-ats' expects 'on' or 'off'");
                    }
                    ats = v.equals("on") || v.equals("true");
                }
                default -> throw new MachineConfigException(prefix + "Property 'edu." + e.getKey() + "' not found");
            }
        }
        EduDevice edu = new EduDevice(dmaMask, log, ats);
        edu.setId(id);
        edu.setProperties(props);
        edu.setMultiFunction(multifunction);
        DmaPort port; // no IOMMU before -device intel-iommu: an explicit bypass
        try {
            port = machine.plugDevice(edu, busesById.get(props.getOrDefault("bus", machine.rootBus().name())), devfn);
        } catch (PciBus.PlugException e) {
            throw new MachineConfigException(prefix + e.getMessage());
        }
        IntelIommu iommu = machine.iommu();
        if (ats && iommu != null) {
            // ATS needs a translation agent; without an IOMMU the capability is inert.
            AtsEndpoint endpoint = new AtsEndpoint(edu.address(), edu.atsCapability(), iommu.ats());
            iommu.ats().attach(edu.address(), endpoint.deviceTlb());
            port.attachAts(endpoint);
        }
    }

    /** QEMU's PCI devfn property syntax: {@code slot[.function]} in hex, slot <= 0x1f, function <= 7. */
    static int parseDevfn(String v) {
        String[] parts = v.split("\\.", -1);
        if (parts.length > 2) {
            return -1;
        }
        Long slot = parseHex(parts[0]);
        Long fn = parts.length == 2 ? parseHex(parts[1]) : Long.valueOf(0);
        if (slot == null || fn == null || slot > 0x1f || fn > 7) {
            return -1;
        }
        return (int) (slot << 3 | fn);
    }

    private static Long parseHex(String s) {
        String t = s.toLowerCase(Locale.ROOT);
        if (t.startsWith("0x")) {
            t = t.substring(2);
        }
        if (t.isEmpty() || t.length() > 8 || !t.matches("[0-9a-f]+")) {
            return null;
        }
        return Long.parseLong(t, 16);
    }
}
