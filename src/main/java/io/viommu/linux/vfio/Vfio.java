package io.viommu.linux.vfio;

import io.viommu.linux.driver.DriverCore;
import io.viommu.linux.driver.Drivers;
import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.KernelLog;
import io.viommu.linux.driver.KernelMessage;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.driver.ReservedRegion;
import io.viommu.machine.Machine;
import io.viommu.pci.PciFunction;
import io.viommu.pci.RequesterId;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;

/**
 * VFIO of one kernel (drivers/vfio/vfio_main.c, group.c, container.c, Linux 6.1), as a Java API
 * that mirrors the character devices and their ioctls: {@link #openContainer} is
 * {@code open("/dev/vfio/vfio")}, {@link #openGroup} {@code open("/dev/vfio/N")}, and the
 * returned {@link VfioContainer}, {@link VfioGroup} and {@link VfioDevice} carry the ioctls.
 * Failures throw {@link VfioException} with the errno Linux returns.
 *
 * <p>Groups: a VFIO group exists for every IOMMU group with a device bound to vfio-pci
 * ({@code vfio_register_group_dev} at probe; observed from the driver core at each entry
 * here, so its log lines come at the next VFIO call rather than inside the probe). Its
 * /dev/vfio minor is the lowest free. With the {@code vfio} module parameter
 * {@code enable_unsafe_noiommu_mode=1}, a device bound to vfio-pci that has no IOMMU group gets
 * a fake one ({@code vfio_noiommu_group_alloc}: IOMMU group named "vfio-noiommu", numbered
 * after the real ones) shown as /dev/vfio/noiommu-N, and the kernel is tainted
 * ({@code TAINT_USER}).
 *
 * <p>Module parameters are read from the driver core when used:
 * {@code vfio.enable_unsafe_noiommu_mode}, {@code vfio_iommu_type1.allow_unsafe_interrupts},
 * {@code vfio_iommu_type1.dma_entry_limit} (default 65535, read when a container's type1
 * instance is created).
 *
 * <p>Not modelled: iommufd and the cdev device files, the device-feature and migration
 * ioctls, interrupts (GET_IRQ_INFO/SET_IRQS), mmap of regions (BAR access goes through the
 * region read/write), group unbinding while a device file is open (Linux blocks the unbind;
 * here the device file turns stale and fails with ENODEV), permissions of the /dev nodes.
 */
public final class Vfio {
    /** {@code VFIO_API_VERSION}. */
    public static final int API_VERSION = 0;
    // VFIO_CHECK_EXTENSION / VFIO_SET_IOMMU arguments (include/uapi/linux/vfio.h)
    public static final long TYPE1_IOMMU = 1;
    public static final long SPAPR_TCE_IOMMU = 2;
    public static final long TYPE1v2_IOMMU = 3;
    public static final long DMA_CC_IOMMU = 4;
    public static final long EEH = 5;
    public static final long TYPE1_NESTING_IOMMU = 6;
    public static final long SPAPR_TCE_v2_IOMMU = 7;
    public static final long NOIOMMU_IOMMU = 8;
    public static final long UNMAP_ALL = 9;
    public static final long UPDATE_VADDR = 10;
    /** Default of {@code vfio_iommu_type1.dma_entry_limit} (U16_MAX). */
    public static final int DEFAULT_DMA_ENTRY_LIMIT = 65535;
    /** {@code TAINT_USER} (bit 6): /proc/sys/kernel/tainted shows 64. */
    public static final int TAINT_USER = 1 << 6;
    /** The /dev/vfio/vfio misc device: major 10, minor VFIO_MINOR 196, mode 0666. */
    public static final DevNode CONTAINER_NODE = new DevNode("vfio", "crw-rw-rw-", 10, 196);
    /**
     * Group nodes' major: allocated dynamically ({@code alloc_chrdev_region}); 246 is what the
     * Debian 6.1 kernel of the t6 capture got, and what is shown here.
     */
    public static final int GROUP_MAJOR = 246;

    final class GroupState {
        final int iommuGroup;
        final boolean noiommu;
        final int minor;
        VfioGroup open;

        GroupState(int iommuGroup, boolean noiommu, int minor) {
            this.iommuGroup = iommuGroup;
            this.noiommu = noiommu;
            this.minor = minor;
        }

        String nodeName() {
            return (noiommu ? "noiommu-" : "") + iommuGroup;
        }
    }

    private final DriverCore core;
    private final Machine machine;
    private final Type1Backend backend;
    private final Map<Integer, GroupState> groups = new TreeMap<>();
    /** Devices placed in fake noiommu groups, by name. */
    private final Map<String, Integer> noiommuGroupOf = new LinkedHashMap<>();
    private final BitSet minors = new BitSet();
    private final KernelLog log;
    private int taint;
    private final List<VfioDevice> openDevices = new ArrayList<>();
    /** Each vfio-pci PF's VF token ({@code vfio_pci_vf_init}: a random UUID until user space sets one). */
    private final Map<String, java.util.UUID> vfTokens = new LinkedHashMap<>();
    private final java.util.Random tokenSource = new java.util.Random(0x5eed);

    /**
     * The vfio module's init ({@code vfio_init}): made by the kernel when the module is loaded
     * ({@code io.viommu.linux.Kernel#vfio}), not by hand. {@code backend} is the IOMMU layer type1
     * maps through (null when the kernel has no active IOMMU driver: only no-IOMMU mode can work
     * then); messages go to the kernel's log.
     */
    public Vfio(DriverCore core, Machine machine, Type1Backend backend, KernelLog log) {
        this.core = core;
        this.machine = machine;
        this.backend = backend;
        this.log = log;
        info("VFIO - User Level meta-driver version: 0.3");
    }

    // ---------------------------------------------------------------- module state

    public DriverCore kernel() {
        return core;
    }

    Machine machine() {
        return machine;
    }

    Type1Backend backend() {
        return backend;
    }

    boolean noiommuMode() {
        return core.moduleFlag("vfio", "enable_unsafe_noiommu_mode");
    }

    /**
     * The IOMMU group VFIO's no-IOMMU mode made for {@code bdf} ({@code vfio_noiommu_group_alloc}:
     * a real {@code iommu_group}, so the device's {@code iommu_group} link names it, but its VFIO
     * node is {@code /dev/vfio/noiommu-N}, not {@code /dev/vfio/N}); empty for any other device.
     */
    public OptionalInt noiommuGroup(String bdf) {
        refresh();
        Integer g = noiommuGroupOf.get(bdf);
        return g == null ? OptionalInt.empty() : OptionalInt.of(g);
    }

    boolean allowUnsafeInterrupts() {
        return core.moduleFlag("vfio_iommu_type1", "allow_unsafe_interrupts");
    }

    int dmaEntryLimit() {
        String v = core.moduleParameter("vfio_iommu_type1", "dma_entry_limit");
        if (v == null) {
            return DEFAULT_DMA_ENTRY_LIMIT;
        }
        try {
            return (int) Math.min(Integer.MAX_VALUE, Long.parseUnsignedLong(v.trim()));
        } catch (NumberFormatException e) {
            return DEFAULT_DMA_ENTRY_LIMIT;
        }
    }

    List<ReservedRegion> reservedRegions(int iommuGroup) {
        return core.groups().reservedRegions(iommuGroup);
    }

    /** The kernel's taint mask as far as VFIO changed it ({@link #TAINT_USER}). */
    public int tainted() {
        refresh();
        return taint;
    }

    void info(String text) {
        log.add(KernelMessage.INFO, text);
    }

    void warn(String text) {
        log.add(KernelMessage.WARNING, text);
    }

    void devWarn(PciDevice dev, String text) {
        String who = dev.driver() == null ? "pci" : dev.driver().name();
        warn(who + " " + dev.name() + ": " + text);
    }

    // ---------------------------------------------------------------- groups

    /**
     * Brings the VFIO groups in line with the driver core: a group for every IOMMU group with a
     * vfio-pci device (a fake noiommu group for such a device without an IOMMU group when
     * no-IOMMU mode is on); groups whose last vfio-pci device left go away unless open.
     */
    void refresh() {
        core.flushWork();
        Map<Integer, Boolean> wanted = new LinkedHashMap<>();
        for (PciDevice d : core.devices()) {
            if (d.driver() == null || !d.driver().name().equals(Drivers.VFIO_PCI)) {
                noiommuGroupOf.remove(d.name());
                continue;
            }
            OptionalInt g = core.groupOf(d);
            if (g.isPresent()) {
                wanted.put(g.getAsInt(), false);
            } else if (noiommuGroupOf.containsKey(d.name())) {
                wanted.put(noiommuGroupOf.get(d.name()), true);
            } else if (noiommuMode()) {
                int id = freeIommuGroupId();
                noiommuGroupOf.put(d.name(), id);
                wanted.put(id, true);
                // vfio_noiommu_group_alloc: iommu_group_add_device, then the taint
                core.devLog(KernelMessage.INFO, d, "Adding to iommu group " + id);
                taint |= TAINT_USER;
                devWarn(d, "Adding kernel taint for vfio-noiommu group on device");
            }
        }
        for (GroupState s : List.copyOf(groups.values())) {
            if (!wanted.containsKey(s.iommuGroup) && s.open == null) {
                groups.remove(s.iommuGroup);
                minors.clear(s.minor);
            }
        }
        for (Map.Entry<Integer, Boolean> e : wanted.entrySet()) {
            if (!groups.containsKey(e.getKey())) {
                int minor = minors.nextClearBit(0);
                minors.set(minor);
                groups.put(e.getKey(), new GroupState(e.getKey(), e.getValue(), minor));
            }
        }
    }

    /** iommu_group_alloc's ida: the lowest id neither a real group nor a fake one uses. */
    private int freeIommuGroupId() {
        List<Integer> used = new ArrayList<>(core.groups().groups());
        used.addAll(noiommuGroupOf.values());
        int id = 0;
        while (used.contains(id)) {
            id++;
        }
        return id;
    }

    /** The vfio-pci devices of a group, in device order. */
    List<PciDevice> devicesOf(GroupState g) {
        List<PciDevice> out = new ArrayList<>();
        for (PciDevice d : core.devices()) {
            if (d.driver() == null || !d.driver().name().equals(Drivers.VFIO_PCI)) {
                continue;
            }
            OptionalInt id = core.groupOf(d);
            boolean member = g.noiommu ? Integer.valueOf(g.iommuGroup).equals(noiommuGroupOf.get(d.name()))
                    : id.isPresent() && id.getAsInt() == g.iommuGroup;
            if (member) {
                out.add(d);
            }
        }
        return out;
    }

    /** Every device of the IOMMU group (any driver): what viability looks at. */
    List<RequesterId> iommuGroupMembers(GroupState g) {
        if (g.noiommu) {
            List<RequesterId> out = new ArrayList<>();
            for (PciDevice d : devicesOf(g)) {
                out.add(d.rid());
            }
            return out;
        }
        return core.groups().members(g.iommuGroup);
    }

    /** The /dev/vfio directory: the container node, then the group nodes by name. */
    public List<DevNode> devNodes() {
        refresh();
        TreeMap<String, DevNode> byName = new TreeMap<>();
        byName.put(CONTAINER_NODE.name(), CONTAINER_NODE);
        for (GroupState g : groups.values()) {
            byName.put(g.nodeName(), new DevNode(g.nodeName(), "crw-------", GROUP_MAJOR, g.minor));
        }
        return List.copyOf(byName.values());
    }

    // ---------------------------------------------------------------- open

    /** {@code open("/dev/vfio/vfio")}: a new, empty container. */
    public VfioContainer openContainer(UserProcess process) {
        refresh();
        return new VfioContainer(this, process);
    }

    /**
     * {@code open("/dev/vfio/N")} or {@code open("/dev/vfio/noiommu-N")}: -ENOENT when no such
     * node exists; -EPERM for a no-IOMMU group without CAP_SYS_RAWIO; -EBUSY when the group is
     * already open ({@code vfio_group_fops_open}).
     */
    public VfioGroup openGroup(UserProcess process, String path) {
        refresh();
        String name = path.startsWith("/dev/vfio/") ? path.substring("/dev/vfio/".length()) : path;
        GroupState g = null;
        for (GroupState s : groups.values()) {
            if (s.nodeName().equals(name)) {
                g = s;
            }
        }
        if (g == null || devicesOf(g).isEmpty() && g.open == null) {
            throw Errnos.fail(Errno.ENOENT, path + ": no such VFIO group");
        }
        if (g.noiommu && !process.capable(UserProcess.Cap.SYS_RAWIO)) {
            throw Errnos.fail(Errno.EPERM, "no-IOMMU group needs CAP_SYS_RAWIO");
        }
        if (g.open != null) {
            throw Errnos.fail(Errno.EBUSY, path + " is already open");
        }
        g.open = new VfioGroup(this, g, process);
        return g.open;
    }

    /** The function model behind a device, for region access (a BAR's registers). */
    PciFunction function(PciDevice dev) {
        return machine == null ? null : machine.rootBus().route(dev.rid().bus(), dev.rid().devfn());
    }

    void deviceOpened(VfioDevice d) {
        openDevices.add(d);
    }

    void deviceClosed(VfioDevice d) {
        openDevices.remove(d);
    }

    /** The PF's current VF token. */
    java.util.UUID vfToken(PciDevice pf) {
        return vfTokens.computeIfAbsent(pf.name(), n -> new java.util.UUID(tokenSource.nextLong(), tokenSource.nextLong()));
    }

    void setVfToken(PciDevice pf, java.util.UUID token) {
        vfTokens.put(pf.name(), token);
    }

    /** {@code vf_token->users}: open device files of the PF's VFs. */
    int vfUsers(PciDevice pf) {
        int n = 0;
        for (VfioDevice d : openDevices) {
            if (d.pciDevice().physfn() == pf) {
                n++;
            }
        }
        return n;
    }

    void closed(GroupState g) {
        g.open = null;
        refresh();
    }
}
