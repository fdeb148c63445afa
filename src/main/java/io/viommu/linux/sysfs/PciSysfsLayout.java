package io.viommu.linux.sysfs;

import io.viommu.linux.driver.DriverCore;
import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.KernelMessage;
import io.viommu.linux.driver.KernelText;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.driver.PciDeviceId;
import io.viommu.linux.driver.PciDriver;
import io.viommu.linux.driver.ReservedRegion;
import io.viommu.linux.driver.ResetMethod;
import io.viommu.memory.Page;
import io.viommu.pci.RequesterId;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/**
 * Lays out the PCI part of sysfs over the kernel model, with Linux 6.1's files, formats and
 * store functions (drivers/pci/pci-sysfs.c, iov.c, pci-driver.c, drivers/base/bus.c,
 * drivers/iommu/iommu.c):
 * <pre>
 * /sys/devices/pci0000:00/DDDD:BB:DD.F[/DDDD:BB:DD.F...]/   one directory per function, below its bridge
 *     vendor device subsystem_vendor subsystem_device ("0x%04x") class ("0x%06x") revision ("0x%02x")
 *     config (binary, cfg_size) driver_override modalias uevent
 *     reset reset_method                      only when the function has a reset method
 *     sriov_{totalvfs,numvfs,offset,stride,vf_device,drivers_autoprobe} virtfnN -> VF   on a PF
 *     physfn -> PF                            on a VF
 *     driver -> bus/pci/drivers/NAME          only while bound
 *     iommu_group -> kernel/iommu_groups/N    when in a group
 *     subsystem -> bus/pci
 * /sys/bus/pci/devices/NAME -> the device directory
 * /sys/bus/pci/drivers/NAME/{bind,unbind,new_id,remove_id,uevent} and NAME -> device links
 * /sys/bus/pci/{drivers_probe,drivers_autoprobe,uevent}
 * /sys/kernel/iommu_groups/N/{devices/NAME ->, type, reserved_regions}
 * </pre>
 * Stores return the count written or a negative errno, checking in Linux's order.
 */
final class PciSysfsLayout {
    static final String SYS = "/sys";
    static final String ROOT_BUS_DIR = "/sys/devices/pci0000:00";
    static final String BUS_PCI = "/sys/bus/pci";
    static final String DRIVERS = "/sys/bus/pci/drivers";
    static final String GROUPS = "/sys/kernel/iommu_groups";

    private final DriverCore core;
    private final java.util.function.Function<io.viommu.pci.RequesterId, String> resources;
    private final SysfsNode.Dir root = new SysfsNode.Dir();

    private PciSysfsLayout(DriverCore core, java.util.function.Function<io.viommu.pci.RequesterId, String> resources) {
        this.core = core;
        this.resources = resources;
    }

    /** Builds the whole tree as the kernel's state is now ({@code resources}: the resource files, or null). */
    static SysfsNode.Dir build(DriverCore core, java.util.function.Function<io.viommu.pci.RequesterId, String> resources) {
        PciSysfsLayout l = new PciSysfsLayout(core, resources);
        l.layout();
        return l.root;
    }

    // ---------------------------------------------------------------- tree building

    private SysfsNode.Dir mkdirs(String path) {
        SysfsNode.Dir d = root;
        for (String c : path.split("/")) {
            if (c.isEmpty()) {
                continue;
            }
            SysfsNode n = d.children.get(c);
            SysfsNode.Dir sub;
            if (n instanceof SysfsNode.Dir existing) {
                sub = existing;
            } else {
                sub = new SysfsNode.Dir();
                d.children.put(c, sub);
            }
            d = sub;
        }
        return d;
    }

    private void put(String dir, String name, SysfsNode node) {
        mkdirs(dir).children.put(name, node);
    }

    static String devicePath(PciDevice dev) {
        StringBuilder sb = new StringBuilder();
        List<String> chain = new ArrayList<>();
        for (PciDevice d = dev; d != null; d = d.parent()) {
            chain.add(0, d.name());
        }
        sb.append(ROOT_BUS_DIR);
        for (String c : chain) {
            sb.append('/').append(c);
        }
        return sb.toString();
    }

    private void layout() {
        mkdirs(ROOT_BUS_DIR);
        mkdirs(BUS_PCI + "/devices");
        mkdirs(DRIVERS);
        mkdirs(GROUPS);
        put(BUS_PCI, "drivers_probe", SysfsNode.Attr.wo(this::driversProbeStore));
        put(BUS_PCI, "drivers_autoprobe", SysfsNode.Attr.rw(
                () -> (core.driversAutoprobe() ? 1 : 0) + "\n",
                buf -> {
                    // drivers_autoprobe_store: only the first character counts
                    core.setDriversAutoprobe(buf.isEmpty() || buf.charAt(0) != '0');
                    return buf.length();
                }));
        put(BUS_PCI, "uevent", SysfsNode.Attr.wo(PciSysfsLayout::ueventStore));
        for (PciDevice dev : core.devices()) {
            device(dev);
        }
        for (PciDriver drv : core.drivers()) {
            driver(drv);
        }
        for (int g : core.groups().groups()) {
            group(g);
        }
        if (core.iommuUnit() != null) {
            iommuUnit(core.iommuUnit());
        }
    }

    /**
     * /sys/devices/virtual/iommu/NAME with intel-iommu/{version,address,cap,ecap,domains_supported}
     * (intel/iommu.c's attribute group) and devices/ links to every translated device; the
     * /sys/class/iommu/NAME link; an "iommu" link in each such device. (domains_used is not
     * shown: the model does not track domain ids yet.)
     */
    private void iommuUnit(io.viommu.linux.driver.IommuUnit u) {
        String p = "/sys/devices/virtual/iommu/" + u.name();
        SysfsNode.Dir d = mkdirs(p);
        SysfsNode.Dir intel = mkdirs(p + "/intel-iommu");
        intel.children.put("version", SysfsNode.Attr.ro(() -> ((u.version() >> 4) & 0xf) + ":" + (u.version() & 0xf) + "\n"));
        intel.children.put("address", SysfsNode.Attr.ro(() -> Long.toHexString(u.regBase()) + "\n"));
        intel.children.put("cap", SysfsNode.Attr.ro(() -> Long.toHexString(u.cap()) + "\n"));
        intel.children.put("ecap", SysfsNode.Attr.ro(() -> Long.toHexString(u.ecap()) + "\n"));
        intel.children.put("domains_supported", SysfsNode.Attr.ro(() -> u.domainsSupported() + "\n"));
        SysfsNode.Dir devs = mkdirs(p + "/devices");
        d.children.put("uevent", SysfsNode.Attr.rw(() -> "", PciSysfsLayout::ueventStore));
        put("/sys/class/iommu", u.name(), new SysfsNode.Link(p));
        for (PciDevice dev : core.devices()) {
            if (core.groupOf(dev).isPresent()) {
                devs.children.put(dev.name(), new SysfsNode.Link(devicePath(dev)));
                mkdirs(devicePath(dev)).children.put("iommu", new SysfsNode.Link(p));
            }
        }
    }

    // ---------------------------------------------------------------- devices

    private void device(PciDevice dev) {
        String p = devicePath(dev);
        var f = dev.function();
        SysfsNode.Dir d = mkdirs(p);
        put(BUS_PCI + "/devices", dev.name(), new SysfsNode.Link(p));
        d.children.put("vendor", SysfsNode.Attr.ro(() -> hex4(f.vendorId())));
        d.children.put("device", SysfsNode.Attr.ro(() -> hex4(f.deviceId())));
        d.children.put("subsystem_vendor", SysfsNode.Attr.ro(() -> hex4(f.subsystemVendorId())));
        d.children.put("subsystem_device", SysfsNode.Attr.ro(() -> hex4(f.subsystemId())));
        d.children.put("class", SysfsNode.Attr.ro(() -> String.format("0x%06x\n", f.classCode())));
        d.children.put("revision", SysfsNode.Attr.ro(() -> String.format("0x%02x\n", f.revision())));
        d.children.put("modalias", SysfsNode.Attr.ro(() -> modalias(dev) + "\n"));
        d.children.put("uevent", SysfsNode.Attr.rw(() -> uevent(dev), PciSysfsLayout::ueventStore));
        d.children.put("driver_override", SysfsNode.Attr.rw(
                () -> (dev.driverOverride() == null ? "(null)" : dev.driverOverride()) + "\n",
                buf -> driverOverrideStore(dev, buf)));
        d.children.put("config", SysfsNode.Attr.binary(0644, dev.cfgSize(),
                (off, n) -> configRead(dev, off, n), (off, data) -> configWrite(dev, off, data)));
        d.children.put("subsystem", new SysfsNode.Link(BUS_PCI));
        if (resources != null) {
            d.children.put("resource", SysfsNode.Attr.ro(() -> resources.apply(dev.rid())));
        }
        if (dev.hasResetAttributes()) {
            d.children.put("reset", SysfsNode.Attr.wo(buf -> resetStore(dev, buf)));
            d.children.put("reset_method", SysfsNode.Attr.rw(() -> resetMethodShow(dev), buf -> resetMethodStore(dev, buf)));
        }
        if (dev.sriov() != null) {
            PciDevice.Sriov s = dev.sriov();
            d.children.put("sriov_totalvfs", SysfsNode.Attr.ro(() -> s.driverMaxVfs() + "\n"));
            d.children.put("sriov_numvfs", SysfsNode.Attr.rw(0664, () -> s.numVfs() + "\n", buf -> sriovNumvfsStore(dev, buf)));
            d.children.put("sriov_offset", SysfsNode.Attr.ro(() -> s.offset() + "\n"));
            d.children.put("sriov_stride", SysfsNode.Attr.ro(() -> s.stride() + "\n"));
            d.children.put("sriov_vf_device", SysfsNode.Attr.ro(() -> Integer.toHexString(s.vfDevice()) + "\n"));
            d.children.put("sriov_drivers_autoprobe", SysfsNode.Attr.rw(0664,
                    () -> (s.driversAutoprobe() ? 1 : 0) + "\n", buf -> sriovAutoprobeStore(dev, buf)));
            for (PciDevice vf : s.virtualFunctions()) {
                d.children.put("virtfn" + vf.vfIndex(), new SysfsNode.Link(devicePath(vf)));
            }
        }
        if (dev.physfn() != null) {
            d.children.put("physfn", new SysfsNode.Link(devicePath(dev.physfn())));
        }
        if (dev.driver() != null) {
            d.children.put("driver", new SysfsNode.Link(DRIVERS + "/" + dev.driver().name()));
        }
        OptionalInt g = core.groupOf(dev);
        if (g.isPresent()) {
            d.children.put("iommu_group", new SysfsNode.Link(GROUPS + "/" + g.getAsInt()));
        }
    }

    static String hex4(int v) {
        return String.format("0x%04x\n", v);
    }

    /** {@code pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X}. */
    static String modalias(PciDevice dev) {
        var f = dev.function();
        int c = f.classCode();
        return String.format("pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X", f.vendorId(), f.deviceId(),
                f.subsystemVendorId(), f.subsystemId(), c >> 16, (c >> 8) & 0xff, c & 0xff);
    }

    /** {@code dev_uevent} + {@code pci_uevent}. */
    static String uevent(PciDevice dev) {
        var f = dev.function();
        StringBuilder sb = new StringBuilder();
        if (dev.driver() != null) {
            sb.append("DRIVER=").append(dev.driver().name()).append('\n');
        }
        sb.append(String.format("PCI_CLASS=%X\n", f.classCode()));
        sb.append(String.format("PCI_ID=%04X:%04X\n", f.vendorId(), f.deviceId()));
        sb.append(String.format("PCI_SUBSYS_ID=%04X:%04X\n", f.subsystemVendorId(), f.subsystemId()));
        sb.append("PCI_SLOT_NAME=").append(dev.name()).append('\n');
        sb.append("MODALIAS=").append(modalias(dev)).append('\n');
        return sb.toString();
    }

    private static final List<String> UEVENT_ACTIONS = List.of("add", "remove", "change", "move", "online", "offline",
            "bind", "unbind");

    /**
     * {@code uevent_store} / {@code kobject_synth_uevent}: an action name, optionally followed by a
     * UUID and arguments; -EINVAL otherwise. (Sending the event has no effect in the model.)
     */
    static long ueventStore(String buf) {
        String s = buf;
        int count = s.length();
        if (count > 0 && (s.charAt(count - 1) == '\n' || s.charAt(count - 1) == '\0')) {
            count--;
        }
        s = s.substring(0, count);
        if (s.isEmpty()) {
            return Errno.EINVAL.negative();
        }
        int sp = s.indexOf(' ');
        String action = sp < 0 ? s : s.substring(0, sp);
        if (!UEVENT_ACTIONS.contains(action)) {
            return Errno.EINVAL.negative();
        }
        if (sp >= 0) {
            String args = s.substring(sp + 1);
            String uuid = args.split(" ", 2)[0];
            if (!uuid.matches("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")) {
                return Errno.EINVAL.negative();
            }
        }
        return buf.length();
    }

    /**
     * {@code driver_override_store} / {@code driver_set_override}: -EINVAL from a page less one
     * byte; an empty C string or one starting with a newline clears; else the text up to the
     * first newline. Does not rebind.
     */
    long driverOverrideStore(PciDevice dev, String buf) {
        if (buf.length() >= Page.SIZE - 1) {
            return Errno.EINVAL.negative();
        }
        String s = KernelText.cstr(buf);
        if (s.isEmpty()) {
            core.setDriverOverride(dev, null);
            return buf.length();
        }
        int nl = s.indexOf('\n');
        if (nl == 0) {
            core.setDriverOverride(dev, null);
        } else {
            core.setDriverOverride(dev, nl < 0 ? s : s.substring(0, nl));
        }
        return buf.length();
    }

    /**
     * {@code pci_read_config}: as root, up to cfg_size bytes from the offset, read through
     * configuration cycles in naturally aligned pieces.
     */
    private byte[] configRead(PciDevice dev, long off, int count) {
        byte[] out = new byte[count];
        RequesterId rid = dev.rid();
        int pos = (int) off;
        int i = 0;
        while (i < count) {
            int len = (pos & 3) == 0 && count - i >= 4 ? 4 : (pos & 1) == 0 && count - i >= 2 ? 2 : 1;
            long v = core.config().read(rid, pos, len);
            for (int b = 0; b < len; b++) {
                out[i + b] = (byte) (v >>> (8 * b));
            }
            i += len;
            pos += len;
        }
        return out;
    }

    /** {@code pci_write_config}: the same pieces, written. */
    private long configWrite(PciDevice dev, long off, byte[] data) {
        RequesterId rid = dev.rid();
        int pos = (int) off;
        int i = 0;
        while (i < data.length) {
            int len = (pos & 3) == 0 && data.length - i >= 4 ? 4 : (pos & 1) == 0 && data.length - i >= 2 ? 2 : 1;
            long v = 0;
            for (int b = 0; b < len; b++) {
                v |= (data[i + b] & 0xffL) << (8 * b);
            }
            core.config().write(rid, pos, v, len);
            i += len;
            pos += len;
        }
        return data.length;
    }

    /** {@code reset_store}: kstrtoul, value must be 1, then {@code pci_reset_function}. */
    private long resetStore(PciDevice dev, String buf) {
        KernelText.Parsed p = KernelText.kstrtoull(buf, 0);
        if (!p.ok() || p.value() != 1) {
            return Errno.EINVAL.negative();
        }
        int rc = core.resetFunction(dev);
        return rc < 0 ? rc : buf.length();
    }

    private static String resetMethodShow(PciDevice dev) {
        if (dev.resetMethods().isEmpty()) {
            return "";
        }
        List<String> names = new ArrayList<>();
        for (ResetMethod m : dev.resetMethods()) {
            names.add(m.sysfsName);
        }
        return String.join(" ", names) + "\n";
    }

    /**
     * {@code reset_method_store}: "" disables all, "default" re-probes, else a space-separated list
     * of method names each of which must probe successfully now (-EINVAL otherwise).
     */
    private long resetMethodStore(PciDevice dev, String buf) {
        if (KernelText.sysfsStreq(buf, "")) {
            core.setResetMethods(dev, List.of());
            return buf.length();
        }
        if (KernelText.sysfsStreq(buf, "default")) {
            core.restoreDefaultResetMethods(dev);
            return buf.length();
        }
        List<ResetMethod> chosen = new ArrayList<>();
        for (String name : KernelText.cstr(buf).split(" ", -1)) {
            if (KernelText.sysfsStreq(name, "")) {
                continue;
            }
            String n = name.strip();
            ResetMethod m = ResetMethod.byName(n);
            if (m == null || chosen.size() >= ResetMethod.values().length || core.probeResetMethod(dev, m) != 0) {
                return Errno.EINVAL.negative();
            }
            chosen.add(m);
        }
        core.setResetMethods(dev, chosen);
        return buf.length();
    }

    /**
     * {@code sriov_numvfs_store}, in Linux's order: not a u16 -EINVAL; above the VF limit
     * -ERANGE; equal to the current count: done; no driver or no sriov_configure -ENOENT; 0
     * disables; VFs already enabled -EBUSY; else the driver's result.
     */
    private long sriovNumvfsStore(PciDevice dev, String buf) {
        KernelText.Parsed p = KernelText.kstrtou16(buf, 0);
        if (!p.ok()) {
            return Errno.EINVAL.negative();
        }
        int n = (int) p.value();
        PciDevice.Sriov s = dev.sriov();
        if (n > s.driverMaxVfs()) {
            return Errno.ERANGE.negative();
        }
        if (n == s.numVfs()) {
            return buf.length();
        }
        if (dev.driver() == null) {
            log(dev, "no driver bound to device; cannot configure SR-IOV");
            return Errno.ENOENT.negative();
        }
        if (!dev.driver().hasSriovConfigure()) {
            log(dev, "driver does not support SR-IOV configuration via sysfs");
            return Errno.ENOENT.negative();
        }
        if (n == 0) {
            int rc = core.sriovConfigure(dev, 0);
            return rc < 0 ? rc : buf.length();
        }
        if (s.numVfs() != 0) {
            warn(dev, s.numVfs() + " VFs already enabled. Disable before enabling " + n + " VFs");
            return Errno.EBUSY.negative();
        }
        int rc = core.sriovConfigure(dev, n);
        if (rc < 0) {
            return rc;
        }
        if (rc != n) {
            warn(dev, n + " VFs requested; only " + rc + " enabled");
        }
        return buf.length();
    }

    private void log(PciDevice dev, String text) {
        core.devLog(KernelMessage.INFO, dev, text);
    }

    private void warn(PciDevice dev, String text) {
        core.devLog(KernelMessage.WARNING, dev, text);
    }

    /** {@code sriov_drivers_autoprobe_store}: kstrtobool or -EINVAL. */
    private long sriovAutoprobeStore(PciDevice dev, String buf) {
        KernelText.Parsed p = KernelText.kstrtobool(buf);
        if (!p.ok()) {
            return Errno.EINVAL.negative();
        }
        core.setSriovDriversAutoprobe(dev, p.value() != 0);
        return buf.length();
    }

    /**
     * {@code drivers_probe_store}: -ENODEV without such a device; else {@code device_attach} if
     * unbound, whose error (not "no driver") is returned.
     */
    private long driversProbeStore(String buf) {
        var dev = core.findDeviceByName(buf);
        if (dev.isEmpty()) {
            return Errno.ENODEV.negative();
        }
        if (dev.get().driver() == null) {
            int rc = core.deviceAttach(dev.get());
            if (rc < 0) {
                return rc;
            }
        }
        return buf.length();
    }

    // ---------------------------------------------------------------- drivers

    private void driver(PciDriver drv) {
        String p = DRIVERS + "/" + drv.name();
        SysfsNode.Dir d = mkdirs(p);
        d.children.put("bind", SysfsNode.Attr.wo(buf -> bindStore(drv, buf)));
        d.children.put("unbind", SysfsNode.Attr.wo(buf -> unbindStore(drv, buf)));
        d.children.put("new_id", SysfsNode.Attr.wo(buf -> newIdStore(drv, buf)));
        d.children.put("remove_id", SysfsNode.Attr.wo(buf -> removeIdStore(drv, buf)));
        d.children.put("uevent", SysfsNode.Attr.wo(PciSysfsLayout::ueventStore));
        for (PciDevice dev : core.boundTo(drv)) {
            d.children.put(dev.name(), new SysfsNode.Link(devicePath(dev)));
        }
    }

    /**
     * {@code bind_store}: -ENODEV unless the device exists and the driver matches it; then
     * {@code device_driver_attach} (-EBUSY when bound, the probe's error otherwise).
     */
    private long bindStore(PciDriver drv, String buf) {
        var dev = core.findDeviceByName(buf);
        if (dev.isEmpty() || !core.driverMatchDevice(drv, dev.get())) {
            return Errno.ENODEV.negative();
        }
        int rc = core.deviceDriverAttach(drv, dev.get());
        return rc < 0 ? rc : buf.length();
    }

    /** {@code unbind_store}: -ENODEV unless the device is bound to this driver. */
    private long unbindStore(PciDriver drv, String buf) {
        var dev = core.findDeviceByName(buf);
        if (dev.isEmpty() || dev.get().driver() != drv) {
            return Errno.ENODEV.negative();
        }
        core.deviceReleaseDriver(dev.get());
        return buf.length();
    }

    /**
     * {@code new_id_store}: {@code "%x %x %x %x %x %x %lx"}; fewer than 2 fields -EINVAL; with fewer
     * than 7 fields an id the driver already matches (for a device with those ids and no
     * override) -EEXIST; a driver_data no id_table entry carries -EINVAL; then
     * {@code pci_add_dynid}, which probes matching unbound devices.
     */
    private long newIdStore(PciDriver drv, String buf) {
        long[] f = KernelText.scanHex(buf, 7);
        if (f.length < 2) {
            return Errno.EINVAL.negative();
        }
        int vendor = (int) f[0];
        int device = (int) f[1];
        int subvendor = f.length > 2 ? (int) f[2] : PciDeviceId.ANY;
        int subdevice = f.length > 3 ? (int) f[3] : PciDeviceId.ANY;
        int cls = f.length > 4 ? (int) f[4] : 0;
        int mask = f.length > 5 ? (int) f[5] : 0;
        long driverData = f.length > 6 ? f[6] : 0;
        if (f.length != 7) {
            // a zeroed pci_dev: 16-bit id fields, class as given, no driver_override
            PciDeviceId.Identity probe = new PciDeviceId.Identity(vendor & 0xffff, device & 0xffff,
                    subvendor & 0xffff, subdevice & 0xffff, cls);
            if (drv.match(probe, null) != null) {
                return Errno.EEXIST.negative();
            }
        }
        if (drv.idTable() != null) {
            boolean found = false;
            for (PciDeviceId id : drv.idTable()) {
                if (id.vendor() == 0 && id.subvendor() == 0 && id.classMask() == 0) {
                    break;
                }
                if (id.driverData() == driverData) {
                    found = true;
                    break;
                }
            }
            if (!found) {
                return Errno.EINVAL.negative();
            }
        }
        core.addDynamicId(drv, new PciDeviceId(vendor, device, subvendor, subdevice, cls, mask, driverData, false));
        return buf.length();
    }

    /**
     * {@code remove_id_store}: {@code "%x %x %x %x %x %x"}, fewer than 2 fields -EINVAL; removes the
     * first dynamic id with that vendor and device whose subsystem ids match (unless given as
     * ANY, the default) and whose class agrees under the given mask; -ENODEV when none.
     */
    private long removeIdStore(PciDriver drv, String buf) {
        long[] f = KernelText.scanHex(buf, 6);
        if (f.length < 2) {
            return Errno.EINVAL.negative();
        }
        int vendor = (int) f[0];
        int device = (int) f[1];
        int subvendor = f.length > 2 ? (int) f[2] : PciDeviceId.ANY;
        int subdevice = f.length > 3 ? (int) f[3] : PciDeviceId.ANY;
        int cls = f.length > 4 ? (int) f[4] : 0;
        int mask = f.length > 5 ? (int) f[5] : 0;
        var ids = drv.dynamicIds();
        for (int i = 0; i < ids.size(); i++) {
            PciDeviceId id = ids.get(i);
            if (id.vendor() == vendor && id.device() == device
                    && (subvendor == PciDeviceId.ANY || id.subvendor() == subvendor)
                    && (subdevice == PciDeviceId.ANY || id.subdevice() == subdevice)
                    && ((id.classCode() ^ cls) & mask) == 0) {
                ids.remove(i);
                return buf.length();
            }
        }
        return Errno.ENODEV.negative();
    }

    // ---------------------------------------------------------------- IOMMU groups

    private void group(int g) {
        String p = GROUPS + "/" + g;
        SysfsNode.Dir d = mkdirs(p);
        SysfsNode.Dir devs = mkdirs(p + "/devices");
        for (RequesterId rid : core.groups().members(g)) {
            core.devices().stream().filter(x -> x.rid().equals(rid)).findFirst()
                    .ifPresent(dev -> devs.children.put(dev.name(), new SysfsNode.Link(devicePath(dev))));
        }
        d.children.put("type", SysfsNode.Attr.rw(() -> {
            String t = core.groups().type(g);
            return (t == null ? "unknown" : t) + "\n";
        }, buf -> groupTypeStore(g, buf)));
        d.children.put("reserved_regions", SysfsNode.Attr.ro(() -> {
            StringBuilder sb = new StringBuilder();
            for (ReservedRegion r : core.groups().reservedRegions(g)) {
                sb.append(r.sysfsLine());
            }
            return sb.toString();
        }));
    }

    /**
     * {@code iommu_group_store_type}: no default domain -EINVAL; a name other than identity, DMA,
     * DMA-FQ, auto -EINVAL; a group of more than one device -EINVAL; a bound device -EBUSY
     * (except DMA to DMA-FQ); then the group code changes the domain.
     */
    private long groupTypeStore(int g, String buf) {
        if (core.groups().type(g) == null) {
            return Errno.EINVAL.negative();
        }
        String req = null;
        for (String t : List.of("identity", "DMA", "DMA-FQ", "auto")) {
            if (KernelText.sysfsStreq(buf, t)) {
                req = t;
            }
        }
        if (req == null) {
            return Errno.EINVAL.negative();
        }
        List<RequesterId> members = core.groups().members(g);
        if (members.size() != 1) {
            return Errno.EINVAL.negative();
        }
        var dev = core.devices().stream().filter(x -> x.rid().equals(members.get(0))).findFirst();
        if (dev.isPresent() && dev.get().driver() != null
                && !(req.equals("DMA-FQ") && "DMA".equals(core.groups().type(g)))) {
            return Errno.EBUSY.negative();
        }
        int rc = core.groups().changeDefaultDomain(g, req);
        return rc < 0 ? rc : buf.length();
    }
}
