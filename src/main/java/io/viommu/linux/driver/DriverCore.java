package io.viommu.linux.driver;

import io.viommu.pci.ConfigAccess;
import io.viommu.pci.PciRegs;
import io.viommu.pci.PcieCapability;
import io.viommu.pci.RequesterId;
import io.viommu.pci.SriovCapability;
import io.viommu.pci.Topology;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The PCI bus and driver core of the kernel model (Linux drivers/base/dd.c, bus.c and
 * drivers/pci/{probe,pci-driver,iov}.c): the devices the kernel enumerated, the registered
 * drivers, binding and unbinding with Linux's rules and errnos, dynamic ids, SR-IOV enable and
 * disable through the PF's configuration space, reset, and the IOMMU group DMA ownership that
 * VFIO relies on ({@code iommu_device_use_default_domain}, {@code iommu_group_claim_dma_owner}).
 *
 * <p>Kernel convention: operations return 0 (or a positive count) on success and a negative
 * errno on failure ({@link Errno#fromReturn}). Nothing here throws on bad input.
 *
 * <p>Hardware is reached only through {@link ConfigAccess} and a re-scan of the hierarchy, as a
 * kernel reaches it; the group assignment comes from an {@link IommuGroupView} (the kernel's
 * IOMMU group code), and messages go to the kernel's {@link KernelLog}.
 *
 * <p>It is a component of {@code io.viommu.linux.Kernel}: {@code Kernel.boot(machine).drivers()}
 * is the way to get one; the kernel constructs it at the point of boot where Linux scans PCI.
 */
public final class DriverCore {
    /** Per-group DMA ownership: {@code owner_cnt} and {@code owner} of {@code struct iommu_group}. */
    private static final class Ownership {
        int ownerCount;
        Object owner;
    }

    private final ConfigAccess cfg;
    private final Supplier<Topology> rescan;
    private final IommuGroupView groups;
    private final KernelLog log;
    private Topology topology;
    private final Map<String, PciDevice> devices = new LinkedHashMap<>();
    private final Map<String, PciDriver> drivers = new LinkedHashMap<>();
    private final List<String> modules = new ArrayList<>();
    private final Map<String, Map<String, String>> moduleParams = new HashMap<>();
    private final List<ModuleListener> moduleListeners = new ArrayList<>();
    private final List<BindingListener> bindingListeners = new ArrayList<>();
    private final Set<String> loading = new HashSet<>(); // modules whose dependencies are being loaded
    private final Map<Integer, Ownership> ownership = new HashMap<>();
    private final Deque<Runnable> work = new ArrayDeque<>();
    private boolean driversAutoprobe = true;
    private long generation;
    private IommuUnit iommuUnit;
    private DmaOps dmaOps;

    /**
     * The kernel's PCI scan over a hierarchy the firmware numbered ({@code pci_scan_child_bus}
     * with {@code pci_device_add} for each function): ARI configuration, SR-IOV init, reset
     * methods, config size. No driver is registered yet: {@link #registerBuiltinDrivers} is the
     * later initcall. A component of {@code io.viommu.linux.Kernel}, which constructs it during
     * boot with its IOMMU group code behind {@code groups} and its log.
     *
     * @param rescan re-reads the hierarchy (after ARI or SR-IOV changes in configuration space)
     */
    public DriverCore(ConfigAccess cfg, Supplier<Topology> rescan, IommuGroupView groups, KernelLog log) {
        this.cfg = cfg;
        this.rescan = rescan;
        this.groups = groups;
        this.log = log;
        Topology t = rescan.get();
        for (Topology.Function f : t.functions()) {
            configureAri(t, f); // pci_configure_ari, before the bus below is scanned
        }
        this.topology = rescan.get();
        for (Topology.Function f : topology.functions()) {
            if (!f.virtualFunction()) {
                addDevice(f, null, -1);
            }
        }
    }

    /**
     * {@code device_initcall}s of the built-in PCI drivers: pcieport registers and binds the PCIe
     * ports ({@code pcie_portdrv_init}). Linux runs them after the IOMMU initialised
     * ({@code pci_iommu_init} is a rootfs_initcall), so the ports are in their groups by then.
     */
    public void registerBuiltinDrivers() {
        registerDriver(Drivers.create(Drivers.PCIEPORT, Map.of(), this));
    }

    /** The registered DMAR unit, or null (no IOMMU, or the kernel did not enable it). */
    /** The DMA API DMA-API drivers map through; null in a driver core without a kernel (nothing is mapped). */
    public DmaOps dmaOps() {
        return dmaOps;
    }

    /** Set by the kernel once its IOMMU driver initialised (before any driver registers). */
    public void setDmaOps(DmaOps ops) {
        this.dmaOps = ops;
    }

    public IommuUnit iommuUnit() {
        return iommuUnit;
    }

    private IrqCore irqCore;

    /** The kernel's interrupt core (request_irq, MSI vectors); null in a driver core without a kernel. */
    public IrqCore irqCore() {
        return irqCore;
    }

    /** Set by the kernel at boot. */
    public void setIrqCore(IrqCore irqs) {
        this.irqCore = irqs;
    }

    /** Sets (or with null removes) the DMAR unit sysfs shows under /sys/class/iommu. */
    public void setIommuUnit(IommuUnit unit) {
        this.iommuUnit = unit;
        generation++;
    }

    // ---------------------------------------------------------------- queries

    public ConfigAccess config() {
        return cfg;
    }

    /** The hierarchy as last scanned (boot, or after SR-IOV changes). */
    public Topology topology() {
        return topology;
    }

    public IommuGroupView groups() {
        return groups;
    }

    /** Devices in the order the kernel added them. */
    public List<PciDevice> devices() {
        return List.copyOf(devices.values());
    }

    public Optional<PciDevice> device(String name) {
        return Optional.ofNullable(devices.get(name));
    }

    /** Drivers in registration order. */
    public List<PciDriver> drivers() {
        return List.copyOf(drivers.values());
    }

    public Optional<PciDriver> driver(String name) {
        return Optional.ofNullable(drivers.get(name));
    }

    /** Loaded modules, in load order. */
    public List<String> modules() {
        return Collections.unmodifiableList(modules);
    }

    /** The kernel log (shared with the rest of the kernel), oldest first. */
    public List<KernelMessage> log() {
        return log.messages();
    }

    /** Incremented on every change of devices, drivers or bindings (sysfs rebuilds its tree on change). */
    public long generation() {
        return generation;
    }

    /** The devices bound to a driver, in device order. */
    public List<PciDevice> boundTo(PciDriver drv) {
        List<PciDevice> out = new ArrayList<>();
        for (PciDevice d : devices.values()) {
            if (d.driver == drv) {
                out.add(d);
            }
        }
        return out;
    }

    public OptionalInt groupOf(PciDevice dev) {
        return groups.groupOf(dev.rid());
    }

    /** Bus-wide {@code drivers_autoprobe}: whether a newly registered driver probes existing devices. */
    public boolean driversAutoprobe() {
        return driversAutoprobe;
    }

    public void setDriversAutoprobe(boolean on) {
        driversAutoprobe = on;
    }

    // ---------------------------------------------------------------- log

    void log(int level, String text) {
        log.add(level, text);
    }

    /** {@code dev_printk}: "<driver or bus> <device>: text". */
    public void devLog(int level, PciDevice dev, String text) {
        String who = dev.driver == null ? "pci" : dev.driver.name();
        log(level, who + " " + dev.name() + ": " + text);
    }

    /** Queues work that runs after the current operation (the kernel's workqueues). */
    void schedule(Runnable r) {
        work.add(r);
    }

    /**
     * Runs queued work. Work queued by an operation runs at the next entry into the kernel model
     * (sysfs calls this before each access, module loading before loading), i.e. after the
     * operation returned to user space, as a workqueue item runs shortly after it was queued.
     */
    public void flushWork() {
        for (int guard = 0; !work.isEmpty() && guard < 10_000; guard++) {
            work.poll().run();
        }
    }

    // ---------------------------------------------------------------- modules

    /** {@code modprobe NAME}: 0, or -ENOENT for an unknown module. Loading twice is a no-op. */
    public int loadModule(String name) {
        return loadModule(name, Map.of());
    }

    /**
     * {@code modprobe NAME key=value...}: first the modules it depends on ({@link Drivers#dependencies},
     * loaded without parameters, as modprobe does from modules.dep), then the module itself:
     * its {@link ModuleListener}s run (the module's init: VFIO creates /dev/vfio, UIO its class),
     * and its PCI driver registers, which probes every matching unbound device (unless bus-wide
     * drivers_autoprobe is off); then its post soft dependencies ({@code MODULE_SOFTDEP("post:
     * ...")}). Module parameters modelled: vfio-pci {@code ids}, {@code enable_sriov}; pci-stub
     * {@code ids}; vfio {@code enable_unsafe_noiommu_mode}; vfio_iommu_type1
     * {@code allow_unsafe_interrupts}, {@code dma_entry_limit}.
     */
    public int loadModule(String name, Map<String, String> params) {
        flushWork();
        String mod = Drivers.moduleName(name);
        if (modules.contains(mod) || (Drivers.builtinModules().contains(mod))) {
            return 0;
        }
        if (!Drivers.known(mod)) {
            return Errno.ENOENT.negative();
        }
        // kmod's probe list: the module's own parameters reach it even when a dependency names
        // it as a soft dependency (vfio's "post: vfio_iommu_type1"): it is not loaded early.
        loading.add(mod);
        try {
            for (String dep : Drivers.dependencies(mod)) {
                loadModule(dep);
            }
        } finally {
            loading.remove(mod);
        }
        if (modules.contains(mod)) {
            return 0; // loaded meanwhile as a soft dependency of one of its dependencies
        }
        modules.add(mod);
        moduleParams.put(mod, new HashMap<>(params));
        generation++;
        for (ModuleListener l : List.copyOf(moduleListeners)) {
            l.loaded(mod);
        }
        String drv = Drivers.driverOfModule(mod);
        if (drv != null) {
            PciDriver d = Drivers.create(drv, params, this);
            registerDriver(d);
            Drivers.afterRegister(d, params, this);
        }
        for (String post : Drivers.softDependenciesPost(mod)) {
            if (!loading.contains(post)) {
                loadModule(post);
            }
        }
        return 0;
    }

    /**
     * udev's coldplug at the end of boot ({@code udevadm trigger --action=add}): for every device
     * without a driver, {@code modprobe} of each module whose aliases match its modalias (the
     * module's driver then probes it). Returns the modules it loaded, in order.
     */
    public List<String> coldplug() {
        List<String> loaded = new ArrayList<>();
        for (PciDevice dev : List.copyOf(devices())) {
            if (dev.driver() != null) {
                continue;
            }
            for (String mod : Drivers.modulesForAlias(dev.identity())) {
                if (!modules.contains(mod) && loadModule(mod) == 0) {
                    loaded.add(mod);
                }
            }
        }
        return loaded;
    }

    /**
     * Module life-cycle hooks: what a module's {@code module_init} / {@code module_exit} set up
     * outside the PCI driver core (the kernel model's VFIO and UIO cores).
     */
    public interface ModuleListener {
        /** The module was inserted (after its dependencies, before its PCI driver registers). */
        void loaded(String module);

        /** The module was removed (after its PCI driver unbound and unregistered). */
        default void unloaded(String module) {
        }
    }

    public void addModuleListener(ModuleListener l) {
        moduleListeners.add(l);
    }

    /**
     * What a bound driver registers with the rest of the kernel (a net_device, a gendisk): told
     * after a probe succeeded and before the driver's remove runs (the netdev leaves in remove).
     */
    public interface BindingListener {
        void bound(PciDevice dev);

        void unbinding(PciDevice dev);
    }

    public void addBindingListener(BindingListener l) {
        bindingListeners.add(l);
    }

    /**
     * A module parameter ({@code /sys/module/MOD/parameters/NAME}) as given at load time or set
     * since, or null when the module is not loaded or the parameter was never given.
     */
    public String moduleParameter(String module, String name) {
        Map<String, String> p = moduleParams.get(Drivers.moduleName(module));
        return p == null ? null : p.get(name);
    }

    /** Writes a runtime-writable module parameter; -ENOENT when the module is not loaded. */
    public int setModuleParameter(String module, String name, String value) {
        Map<String, String> p = moduleParams.get(Drivers.moduleName(module));
        if (p == null) {
            return Errno.ENOENT.negative();
        }
        p.put(name, value);
        return 0;
    }

    /** A boolean module parameter ({@code param_set_bool}: kstrtobool), false when unset or unparsable. */
    public boolean moduleFlag(String module, String name) {
        String v = moduleParameter(module, name);
        if (v == null) {
            return false;
        }
        KernelText.Parsed b = KernelText.kstrtobool(v);
        return b.ok() && b.value() == 1;
    }

    /** {@code rmmod}: unbinds the module's driver from every device and unregisters it. */
    public int unloadModule(String name) {
        flushWork();
        String mod = Drivers.moduleName(name);
        if (Drivers.builtinModules().contains(mod)) {
            return Errno.EPERM.negative();
        }
        if (!modules.contains(mod)) {
            return Errno.ENOENT.negative();
        }
        for (String other : modules) {
            if (Drivers.dependencies(other).contains(mod)) {
                return Errno.EBUSY.negative(); // "rmmod: ERROR: Module vfio is in use by: vfio_pci"
            }
        }
        modules.remove(mod);
        moduleParams.remove(mod);
        generation++;
        String drvName = Drivers.driverOfModule(mod);
        PciDriver d = drvName == null ? null : drivers.get(drvName);
        if (d != null) {
            for (PciDevice dev : boundTo(d)) {
                deviceReleaseDriver(dev);
            }
            drivers.remove(d.name());
            generation++;
        }
        for (ModuleListener l : List.copyOf(moduleListeners)) {
            l.unloaded(mod);
        }
        return 0;
    }

    /** {@code driver_register} + {@code bus_add_driver}: appears in sysfs, then probes (driver_attach). */
    public void registerDriver(PciDriver d) {
        if (drivers.containsKey(d.name())) {
            return;
        }
        drivers.put(d.name(), d);
        generation++;
        if (driversAutoprobe) {
            driverAttach(d);
        }
    }

    // ---------------------------------------------------------------- binding

    /** {@code bus_find_device_by_name}: the device whose name equals {@code buf} (sysfs_streq). */
    public Optional<PciDevice> findDeviceByName(String buf) {
        for (PciDevice d : devices.values()) {
            if (KernelText.sysfsStreq(d.name(), buf)) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }

    /** {@code driver_match_device} = {@code pci_bus_match}: the driver's ids or the override match. */
    public boolean driverMatchDevice(PciDriver drv, PciDevice dev) {
        return drv.match(dev.identity(), dev.driverOverride) != null;
    }

    /**
     * {@code device_driver_attach} (the bind file): -EBUSY when the device has a driver, then
     * {@link #reallyProbe}; probe failures come back as their negative errno.
     */
    public int deviceDriverAttach(PciDriver drv, PciDevice dev) {
        if (dev.removed) {
            return Errno.ENODEV.negative();
        }
        if (dev.driver != null) {
            return Errno.EBUSY.negative();
        }
        return reallyProbe(drv, dev);
    }

    /**
     * {@code really_probe} for PCI: {@code pci_dma_configure} claims the group's default domain for
     * a driver that is not driver_managed_dma (-EBUSY while VFIO owns the group), then
     * {@code pci_device_probe}: a VF probes only with its PF's sriov_drivers_autoprobe set or a
     * driver_override ({@code pci_device_can_probe}, else -ENODEV); then the id match and the
     * driver's probe.
     */
    private int reallyProbe(PciDriver drv, PciDevice dev) {
        if (dmaClaimBlocked(drv, dev)) {
            return Errno.EBUSY.negative(); // iommu_device_use_default_domain
        }
        OptionalInt group = groups.groupOf(dev.rid());
        boolean claims = !drv.driverManagedDma() && group.isPresent();
        if (dev.isVirtfn() && !dev.physfn().sriov.driversAutoprobe && dev.driverOverride == null) {
            return Errno.ENODEV.negative();
        }
        if (drv.match(dev.identity(), dev.driverOverride) == null) {
            return Errno.ENODEV.negative();
        }
        dev.driver = drv; // visible to the probe, as dev->driver is during probe
        int rc;
        try {
            rc = drv.probe() == null ? 0 : drv.probe().probe(this, dev);
        } catch (RuntimeException e) {
            rc = Errno.EIO.negative(); // a model bug must not escape a sysfs write
            log(KernelMessage.ERR, drv.name() + ": probe of " + dev.name() + " failed: " + e);
        }
        if (rc != 0) {
            dev.driver = null;
            if (rc != Errno.ENODEV.negative() && rc != Errno.ENXIO.negative()) {
                log(KernelMessage.WARNING, drv.name() + ": probe of " + dev.name() + " failed with error " + rc);
            }
            return rc < 0 ? rc : -rc;
        }
        if (claims) {
            ownership.computeIfAbsent(group.getAsInt(), g -> new Ownership()).ownerCount++;
        }
        generation++;
        if (drv.name().equals("e1000")) {
            acpiIrqEnable(dev); // e1000_probe: pci_enable_device_mem (the only driver checked against a capture)
        }
        for (BindingListener l : List.copyOf(bindingListeners)) {
            l.bound(dev);
        }
        return 0;
    }

    /** ACPI PCI interrupt links already allocated (acpi_pci_link: link->irq.initialized). */
    private final Set<String> irqLinks = new HashSet<>();

    /**
     * {@code acpi_pci_irq_enable}, as {@code pci_enable_device} calls it: the device's pin,
     * swizzled up to the root bus (pci_swizzle_interrupt_pin), names a link of q35's _PRT in
     * APIC mode (GSIA..GSIH = GSI 16..23, QEMU's q35 DSDT); the first device enabled on a link
     * allocates it and Linux logs {@code ACPI: \_SB_.GSIx: Enabled at IRQ n} (acpi_pci_link_allocate).
     */
    public void acpiIrqEnable(PciDevice dev) {
        int gsi = legacyGsi(dev);
        if (gsi == 0) {
            return;
        }
        String link = "GSI" + (char) ('A' + gsi - 16);
        if (irqLinks.add(link)) {
            log(KernelMessage.INFO, "ACPI: \\_SB_." + link + ": Enabled at IRQ " + gsi);
        }
    }

    /**
     * The GSI of the device's INTx pin as q35's _PRT routes it (the pin swizzled up to the root
     * bus, then the root slot's link GSIA..GSIH = GSI 16..23): {@code pdev->irq} once
     * acpi_pci_irq_enable ran; 0 for a device without a pin.
     */
    public int legacyGsi(PciDevice dev) {
        int pin = (int) cfg.read(dev.rid(), PciRegs.INTERRUPT_PIN, 1);
        if (pin == 0 || pin > 4) {
            return 0;
        }
        PciDevice d = dev;
        while (d.parent() != null) {
            pin = ((pin - 1 + d.rid().device()) % 4) + 1;
            d = d.parent();
        }
        return io.viommu.machine.Machine.intxGsi(d.rid().device(), pin);
    }

    /** {@code pci_find_capability}: the offset of the device's first capability {@code id}, 0 when absent. */
    public int findCapability(PciDevice dev, int id) {
        if ((cfg.read(dev.rid(), PciRegs.STATUS, 2) & PciRegs.STATUS_CAP_LIST) == 0) {
            return 0;
        }
        int pos = (int) cfg.read(dev.rid(), PciRegs.CAPABILITY_LIST, 1) & 0xfc;
        for (int n = 0; pos >= PciRegs.HEADER_SIZE && n < 48; n++) { // PCI_FIND_CAP_TTL
            if (cfg.read(dev.rid(), pos, 1) == id) {
                return pos;
            }
            pos = (int) cfg.read(dev.rid(), pos + 1, 1) & 0xfc;
        }
        return 0;
    }

    /** Whether binding {@code drv} would take the default domain of a group a user owns (VFIO). */
    private boolean dmaClaimBlocked(PciDriver drv, PciDevice dev) {
        OptionalInt group = groups.groupOf(dev.rid());
        if (drv.driverManagedDma() || group.isEmpty()) {
            return false;
        }
        Ownership o = ownership.get(group.getAsInt());
        return o != null && o.ownerCount > 0 && o.owner != null;
    }

    /**
     * {@code device_attach}: tries the drivers in registration order; the first that binds wins,
     * a probe failure lets the next try. 1 when bound, 0 when none took it (or already bound).
     */
    public int deviceAttach(PciDevice dev) {
        if (dev.driver != null) {
            return 1;
        }
        for (PciDriver d : List.copyOf(drivers.values())) {
            if (!driverMatchDevice(d, dev)) {
                continue;
            }
            if (dmaClaimBlocked(d, dev)) {
                return Errno.EBUSY.negative(); // a dma_configure failure ends the walk
            }
            if (reallyProbe(d, dev) == 0) {
                return 1;
            }
        }
        return 0;
    }

    /** {@code driver_attach}: probes every unbound device the driver matches; errors are ignored. */
    public void driverAttach(PciDriver drv) {
        for (PciDevice dev : List.copyOf(devices.values())) {
            if (!dev.removed && dev.driver == null && driverMatchDevice(drv, dev)) {
                reallyProbe(drv, dev);
            }
        }
    }

    /**
     * {@code device_release_driver}: the driver's remove, then {@code pci_iov_remove} (the PF's
     * VF limit returns to TotalVFs; "driver left SR-IOV enabled" when it did), then the group's
     * default-domain claim is dropped.
     */
    public void deviceReleaseDriver(PciDevice dev) {
        PciDriver drv = dev.driver;
        if (drv == null) {
            return;
        }
        for (BindingListener l : List.copyOf(bindingListeners)) {
            l.unbinding(dev);
        }
        if (drv.remove() != null) {
            try {
                drv.remove().remove(this, dev);
            } catch (RuntimeException e) {
                log(KernelMessage.ERR, drv.name() + ": remove of " + dev.name() + " failed: " + e);
            }
        }
        if (dev.sriov != null) {
            dev.sriov.driverMaxVfs = dev.sriov.totalVfs;
            if (dev.sriov.numVfs != 0) {
                devLog(KernelMessage.WARNING, dev, "driver left SR-IOV enabled after remove");
            }
        }
        OptionalInt group = groups.groupOf(dev.rid());
        if (!drv.driverManagedDma() && group.isPresent()) {
            Ownership o = ownership.get(group.getAsInt());
            if (o != null && o.ownerCount > 0) {
                o.ownerCount--;
            }
        }
        dev.driver = null;
        generation++;
    }

    /** driver_override as {@code driver_set_override} stores it: null clears. */
    public void setDriverOverride(PciDevice dev, String override) {
        dev.driverOverride = override;
    }

    /**
     * {@code pci_add_dynid}: appends the id and probes every matching unbound device
     * ({@code driver_attach}, whatever drivers_autoprobe says).
     */
    public void addDynamicId(PciDriver drv, PciDeviceId id) {
        drv.dynamicIds().add(id);
        driverAttach(drv);
    }

    // ---------------------------------------------------------------- IOMMU group ownership

    /**
     * {@code iommu_group_claim_dma_owner} (VFIO attaching a group to a container): -EPERM while
     * any device of the group has a DMA-API driver bound or another owner holds it.
     */
    public int claimDmaOwner(int group, Object owner) {
        Ownership o = ownership.computeIfAbsent(group, g -> new Ownership());
        if (o.ownerCount > 0) {
            return Errno.EPERM.negative();
        }
        o.owner = owner;
        o.ownerCount++;
        return 0;
    }

    /** {@code iommu_group_release_dma_owner}. */
    public void releaseDmaOwner(int group, Object owner) {
        Ownership o = ownership.get(group);
        if (o != null && o.owner == owner) {
            o.owner = null;
            o.ownerCount = 0;
        }
    }

    /** The group's user-space owner, or null. */
    public Object dmaOwner(int group) {
        Ownership o = ownership.get(group);
        return o == null ? null : o.owner;
    }

    /** VFIO viability: no device of the group has a DMA-API driver bound. */
    public boolean groupViable(int group) {
        for (RequesterId rid : groups.members(group)) {
            PciDevice d = deviceByRid(rid);
            if (d != null && d.driver != null && !d.driver.driverManagedDma()) {
                return false;
            }
        }
        return true;
    }

    PciDevice deviceByRid(RequesterId rid) {
        for (PciDevice d : devices.values()) {
            if (d.rid().equals(rid)) {
                return d;
            }
        }
        return null;
    }

    // ---------------------------------------------------------------- SR-IOV

    /** {@code pci_sriov_set_totalvfs}: a driver lowers the VF limit sysfs enforces (igb: 7). */
    public int setSriovTotalVfs(PciDevice pf, int n) {
        if (pf.sriov == null) {
            return 0;
        }
        if (n > pf.sriov.totalVfs) {
            return Errno.EINVAL.negative();
        }
        pf.sriov.driverMaxVfs = n;
        return 0;
    }

    /** {@code sriov_numvfs} hands the request to the bound driver's sriov_configure. */
    public int sriovConfigure(PciDevice pf, int numVfs) {
        try {
            return pf.driver.sriovConfigure().configure(this, pf, numVfs);
        } catch (RuntimeException e) {
            log(KernelMessage.ERR, pf.name() + ": sriov_configure failed: " + e);
            return Errno.EIO.negative();
        }
    }

    /** {@code pci_sriov_configure_simple}: enable or disable and report the count. */
    public int sriovConfigureSimple(PciDevice pf, int numVfs) {
        if (pf.sriov == null) {
            return Errno.ENODEV.negative();
        }
        if (numVfs == 0) {
            disableSriov(pf);
            return 0;
        }
        int rc = enableSriov(pf, numVfs);
        return rc < 0 ? rc : numVfs;
    }

    /**
     * {@code pci_enable_sriov} / {@code sriov_enable}: -EINVAL when VFs exist; -EIO for an
     * InitialVFs the capability contradicts; -EINVAL above TotalVFs (or above InitialVFs without
     * VF migration); -ENOMEM when the last VF's bus lies outside the bus range below the PF's
     * bridge. Then NumVFs is written (offset and stride re-read), VF Enable and VF MSE set through
     * configuration space, and each VF is added: group, reset methods, physfn/virtfnN, then
     * probed. VF BAR resources are not checked: the model assumes they were assigned.
     */
    public int enableSriov(PciDevice pf, int n) {
        PciDevice.Sriov iov = pf.sriov;
        if (iov == null) {
            return Errno.ENODEV.negative();
        }
        if (n == 0) {
            return 0;
        }
        if (iov.numVfs != 0) {
            return Errno.EINVAL.negative();
        }
        RequesterId rid = pf.rid();
        int initial = (int) cfg.read(rid, iov.pos + SriovCapability.INITIAL_VFS, 2);
        long cap = cfg.read(rid, iov.pos + SriovCapability.CAP, 4);
        boolean vfMigration = (cap & 1) != 0; // PCI_SRIOV_CAP_VFM
        if (initial > iov.totalVfs || (!vfMigration && initial != iov.totalVfs)) {
            return Errno.EIO.negative();
        }
        if (n > iov.totalVfs || (!vfMigration && n > initial)) {
            return Errno.EINVAL.negative();
        }
        int lastBus = virtfnBus(pf, n - 1);
        int busEnd = busEnd(pf);
        if (lastBus > busEnd) {
            devLog(KernelMessage.ERR, pf, String.format("can't enable %d VFs (bus %02x out of range of [bus %02x-%02x])",
                    n, lastBus, rid.bus(), busEnd));
            return Errno.ENOMEM.negative();
        }
        iov.initialVfs = initial;
        setNumVfs(pf, n);
        iov.ctrl |= SriovCapability.CTRL_VFE | SriovCapability.CTRL_MSE;
        cfg.write(rid, iov.pos + SriovCapability.CTRL, iov.ctrl, 2);
        topology = rescan.get();
        for (int i = 0; i < n; i++) {
            addVirtfn(pf, i);
        }
        iov.numVfs = n;
        generation++;
        return 0;
    }

    /**
     * {@code pci_disable_sriov} / {@code sriov_disable}: removes each VF (driver released, group
     * left), clears VF Enable and VF MSE, writes NumVFs 0.
     */
    public void disableSriov(PciDevice pf) {
        PciDevice.Sriov iov = pf.sriov;
        if (iov == null || iov.numVfs == 0) {
            return;
        }
        for (PciDevice vf : List.copyOf(iov.vfs)) {
            removeDevice(vf);
        }
        iov.vfs.clear();
        iov.ctrl &= ~(SriovCapability.CTRL_VFE | SriovCapability.CTRL_MSE);
        cfg.write(pf.rid(), iov.pos + SriovCapability.CTRL, iov.ctrl, 2);
        setNumVfs(pf, 0);
        iov.numVfs = 0;
        topology = rescan.get();
        generation++;
    }

    /** {@code pci_iov_set_numvfs}: writes NumVFs and re-reads First VF Offset and VF Stride. */
    private void setNumVfs(PciDevice pf, int n) {
        PciDevice.Sriov iov = pf.sriov;
        cfg.write(pf.rid(), iov.pos + SriovCapability.NUM_VFS, n, 2);
        iov.offset = (int) cfg.read(pf.rid(), iov.pos + SriovCapability.VF_OFFSET, 2);
        iov.stride = (int) cfg.read(pf.rid(), iov.pos + SriovCapability.VF_STRIDE, 2);
    }

    /** {@code pci_iov_virtfn_bus}. */
    static int virtfnBus(PciDevice pf, int vf) {
        PciDevice.Sriov iov = pf.sriov;
        return pf.rid().bus() + ((pf.rid().devfn() + iov.offset + iov.stride * vf) >> 8);
    }

    /** {@code pci_iov_virtfn_devfn}. */
    static int virtfnDevfn(PciDevice pf, int vf) {
        PciDevice.Sriov iov = pf.sriov;
        return (pf.rid().devfn() + iov.offset + iov.stride * vf) & 0xff;
    }

    /** The end of the PF's bus range ({@code bus->busn_res.end}): the bridge's subordinate, 0xff on the root bus. */
    private int busEnd(PciDevice pf) {
        RequesterId bridge = pf.function().parentBridge();
        if (bridge == null) {
            return 0xff;
        }
        return topology.function(bridge).map(Topology.Function::subordinateBus).orElse(0xff);
    }

    /** {@code pci_iov_add_virtfn}. */
    private void addVirtfn(PciDevice pf, int index) {
        int bus = virtfnBus(pf, index);
        if (bus > 0xff) {
            return;
        }
        RequesterId rid = RequesterId.of(bus, virtfnDevfn(pf, index));
        Optional<Topology.Function> f = topology.function(rid);
        if (f.isEmpty() || !f.get().virtualFunction()) {
            devLog(KernelMessage.ERR, pf, "VF " + index + " at " + rid + " did not appear in the hierarchy");
            return;
        }
        PciDevice vf = addDevice(f.get(), pf, index);
        pf.sriov.vfs.add(vf);
        if (pf.driver != null && pf.driver.name().equals(Drivers.VFIO_PCI)) {
            // vfio_pci_bus_notifier: VFs of a vfio-pci PF are steered to vfio-pci
            devLog(KernelMessage.INFO, pf, "Captured SR-IOV VF " + vf.name() + " driver_override");
            vf.driverOverride = Drivers.VFIO_PCI;
        }
        deviceAttach(vf); // pci_bus_add_device
    }

    /**
     * {@code pci_device_add}: the kernel's pci_dev with its reset methods and config size; a VF
     * is announced to the group code ({@code iommu_probe_device}).
     */
    private PciDevice addDevice(Topology.Function f, PciDevice physfn, int vfIndex) {
        PciDevice parent;
        if (physfn != null) {
            parent = physfn.parent();
        } else {
            parent = f.parentBridge() == null ? null : deviceByRid(f.parentBridge());
        }
        PciDevice dev = new PciDevice(f, parent, physfn, vfIndex, cfgSize(f));
        if (physfn != null) {
            log(KernelMessage.INFO, String.format("pci %s: [%04x:%04x] type %02x class %#08x",
                    dev.name(), f.vendorId(), f.deviceId(), f.headerLayout(), f.classCode()));
        }
        if (f.sriov() != null) {
            sriovInit(dev);
        }
        // pci_init_reset_methods runs before the device joins its bus's list: only the functions
        // added before it count as "other devices on the bus" for the bus reset probe.
        List<ResetMethod> methods = new ArrayList<>();
        for (ResetMethod m : ResetMethod.values()) {
            int rc = m.probe(this, dev);
            if (rc == 0) {
                methods.add(m);
            } else if (rc != Errno.ENOTTY.negative()) {
                break;
            }
        }
        dev.initResetMethods(methods);
        devices.put(dev.name(), dev);
        if (physfn != null) {
            groups.deviceAdded(topology, f.rid()); // iommu_probe_device from the bus notifier
        }
        generation++;
        return dev;
    }

    /** {@code pci_stop_and_remove_bus_device} for a VF. */
    private void removeDevice(PciDevice dev) {
        deviceReleaseDriver(dev);
        groups.deviceRemoved(topology, dev.rid()); // iommu_release_device
        dev.removed = true;
        devices.remove(dev.name());
        generation++;
    }

    /**
     * {@code sriov_init}: ARI Capable Hierarchy when ARI forwarding is on above the PF (and no
     * other PF on the bus set it already); offset and stride checked over NumVFs = TotalVFs..1
     * ({@code compute_max_vf_buses}: -EIO and no SR-IOV when an offset or stride reads 0), then
     * NumVFs 0.
     */
    private void sriovInit(PciDevice dev) {
        Topology.Sriov s = dev.function().sriov();
        RequesterId rid = dev.rid();
        int pos = s.offset();
        int total = (int) cfg.read(rid, pos + SriovCapability.TOTAL_VFS, 2);
        if (total == 0) {
            return;
        }
        boolean otherPf = false;
        for (PciDevice d : devices.values()) {
            if (d != dev && d.sriov != null && d.rid().bus() == rid.bus()) {
                otherPf = true;
            }
        }
        int ctrl = 0;
        if (!otherPf && ariEnabledAbove(dev.function())) {
            ctrl |= SriovCapability.CTRL_ARI;
        }
        cfg.write(rid, pos + SriovCapability.CTRL, ctrl, 2);
        PciDevice.Sriov iov = new PciDevice.Sriov(pos, total,
                (int) cfg.read(rid, pos + SriovCapability.INITIAL_VFS, 2),
                (int) cfg.read(rid, pos + SriovCapability.VF_DEVICE_ID, 2));
        iov.ctrl = ctrl;
        dev.sriov = iov;
        for (int n = total; n > 0; n--) {
            setNumVfs(dev, n);
            if (iov.offset == 0 || (n > 1 && iov.stride == 0)) {
                setNumVfs(dev, 0);
                dev.sriov = null;
                devLog(KernelMessage.ERR, dev, "SR-IOV: invalid First VF Offset / VF Stride");
                return;
            }
        }
        setNumVfs(dev, 0);
    }

    private boolean ariEnabledAbove(Topology.Function f) {
        RequesterId bridge = f.parentBridge();
        if (bridge == null) {
            return false;
        }
        return topology.function(bridge).map(Topology.Function::ariForwardingEnabled).orElse(false);
    }

    /**
     * {@code pci_configure_ari}: for function 0 of a PCIe device below a port that supports ARI
     * forwarding, sets the port's ARI Forwarding Enable when the device has the ARI capability
     * and clears it otherwise.
     */
    private void configureAri(Topology t, Topology.Function f) {
        if (!f.isExpress() || f.rid().devfn() != 0 || f.parentBridge() == null || f.virtualFunction()) {
            return;
        }
        RequesterId bridge = f.parentBridge();
        Topology.Function b = t.function(bridge).orElse(null);
        if (b == null || !b.ariForwardingSupported()) {
            return;
        }
        int off = b.capability(PciRegs.CAP_ID_EXP, false).map(Topology.Capability::offset).orElse(-1);
        if (off < 0) {
            return;
        }
        long ctl2 = cfg.read(bridge, off + PcieCapability.DEVCTL2, 2);
        long next = f.hasAri() ? ctl2 | PcieCapability.DEVCTL2_ARI_FORWARDING : ctl2 & ~PcieCapability.DEVCTL2_ARI_FORWARDING;
        if (next != ctl2) {
            cfg.write(bridge, off + PcieCapability.DEVCTL2, next, 2);
        }
    }

    /**
     * {@code pci_cfg_space_size}: 4096 for PCIe functions and host bridges whose extended space
     * answers (and is not an alias of the first 256 bytes), else 256.
     */
    private int cfgSize(Topology.Function f) {
        boolean hostBridge = (f.classCode() >> 8) == 0x0600;
        if (!f.isExpress() && !hostBridge) {
            return 256;
        }
        long first = cfg.read(f.rid(), 0x100, 4);
        if (first == 0xffff_ffffL) {
            return 256;
        }
        long header = cfg.read(f.rid(), 0, 4);
        boolean aliased = true;
        for (int pos = 0x100; pos < 0x1000; pos += 0x100) {
            if (cfg.read(f.rid(), pos, 4) != header) {
                aliased = false;
                break;
            }
        }
        return aliased ? 256 : 4096;
    }

    // ---------------------------------------------------------------- reset

    /**
     * {@code pci_reset_function}: -ENOTTY without a reset method; otherwise the first method in
     * the device's list that does not answer -ENOTTY resets it (command register saved and
     * restored around it, as {@code pci_dev_save_and_disable}/{@code pci_dev_restore}).
     */
    public int resetFunction(PciDevice dev) {
        if (dev.resetMethods().isEmpty()) {
            return Errno.ENOTTY.negative();
        }
        long command = cfg.read(dev.rid(), PciRegs.COMMAND, 2);
        long[] header = new long[16];
        for (int i = 0; i < header.length; i++) {
            header[i] = cfg.read(dev.rid(), 4 * i, 4); // pci_save_state: the header's 16 dwords
        }
        int rc = Errno.ENOTTY.negative();
        for (ResetMethod m : dev.resetMethods()) {
            if (m.probe(this, dev) != 0 && m != ResetMethod.BUS) {
                continue;
            }
            rc = m.reset(this, dev);
            if (rc != Errno.ENOTTY.negative()) {
                break;
            }
        }
        restoreHeader(dev, header);
        cfg.write(dev.rid(), PciRegs.COMMAND, command, 2);
        return rc;
    }

    /**
     * {@code pci_restore_config_space} of a type 0 header: dwords 15..10, 9..4, 3..0, each
     * written back only where the reset changed it (a function reset put its BARs back to 0).
     */
    private void restoreHeader(PciDevice dev, long[] saved) {
        if ((cfg.read(dev.rid(), PciRegs.HEADER_TYPE, 1) & 0x7f) != PciRegs.HEADER_TYPE_NORMAL) {
            return;
        }
        int[][] ranges = {{15, 10}, {9, 4}, {3, 0}};
        for (int[] r : ranges) {
            for (int i = r[0]; i >= r[1]; i--) {
                if (cfg.read(dev.rid(), 4 * i, 4) != saved[i]) {
                    cfg.write(dev.rid(), 4 * i, saved[i], 4);
                }
            }
        }
    }

    /**
     * {@code pci_init_reset_methods} again ("default" written to reset_method): probed now, so
     * the bus reset probe sees every function on the bus, not only those added before.
     */
    public void restoreDefaultResetMethods(PciDevice dev) {
        List<ResetMethod> methods = new ArrayList<>();
        for (ResetMethod m : ResetMethod.values()) {
            int rc = m.probe(this, dev);
            if (rc == 0) {
                methods.add(m);
            } else if (rc != Errno.ENOTTY.negative()) {
                break;
            }
        }
        dev.setResetMethods(methods);
    }

    /** sriov_drivers_autoprobe of a PF. */
    public void setSriovDriversAutoprobe(PciDevice pf, boolean on) {
        if (pf.sriov != null) {
            pf.sriov.driversAutoprobe = on;
        }
    }

    /** Probes one method for {@code reset_method} writes: 0 when usable now. */
    public int probeResetMethod(PciDevice dev, ResetMethod m) {
        return m.probe(this, dev);
    }

    public void setResetMethods(PciDevice dev, List<ResetMethod> methods) {
        dev.setResetMethods(methods);
    }
}
