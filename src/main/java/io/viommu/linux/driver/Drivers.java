package io.viommu.linux.driver;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The kernel modules the model knows, as Linux 6.1 defines them: a registry each driver adds
 * itself to with a {@link DriverModule} declared in its own class (name, module, id table, probe
 * rules, sriov_configure, module parameters), the way each Linux driver file ends with
 * {@code module_pci_driver()}:
 * {@link PcieportDriver pcieport} (built in), {@link NvmeDriver nvme},
 * {@link IntelNicDrivers e1000e, e1000, igb, igbvf}, {@link VirtioPciDriver virtio-pci},
 * {@link VfioPciDriver vfio-pci}, {@link PciStubDriver pci-stub} and
 * {@link UioPciGenericDriver uio_pci_generic}. Id tables hold the entries that matter for
 * QEMU's devices, not every id the real tables list.
 * The DMA-API drivers (nvme, e1000e, e1000, igb, igbvf, virtio-pci) set their DMA mask and map
 * their rings through the kernel's DMA API while bound ({@link DriverDma}); pcieport, vfio-pci,
 * pci-stub and uio_pci_generic map nothing.
 * Modules without a PCI driver that scripts load ({@code vfio}, {@code vfio_iommu_type1},
 * {@code uio}, ...) are accepted and do nothing here besides their dependencies (Debian 6.1's
 * modules.dep, the parts modelled) and the module listeners of the kernel's VFIO and UIO cores.
 */
public final class Drivers {
    private Drivers() {
    }

    public static final String PCIEPORT = "pcieport";
    public static final String VFIO_PCI = "vfio-pci";

    private static final Map<String, DriverModule> BY_MODULE = new LinkedHashMap<>();
    private static final Map<String, DriverModule> BY_DRIVER = new LinkedHashMap<>();

    static {
        for (DriverModule m : List.of(PcieportDriver.MODULE, NvmeDriver.MODULE, IntelNicDrivers.E1000E,
                IntelNicDrivers.E1000, IntelNicDrivers.IGB, IntelNicDrivers.IGBVF, VirtioPciDriver.MODULE,
                VfioPciDriver.MODULE, PciStubDriver.MODULE, UioPciGenericDriver.MODULE)) {
            register(m);
        }
        // vfio (6.1 vfio_main.c) names vfio_iommu_type1 in MODULE_SOFTDEP("post: ...") (and
        // vfio_iommu_spapr_tce, which x86 does not have).
        register(DriverModule.library("vfio").softDependsPost("vfio_iommu_type1"));
        for (String m : List.of("vfio_iommu_type1", "vfio_pci_core", "vfio_virqfd")) {
            register(DriverModule.library(m).dependsOn("vfio"));
        }
        for (String m : List.of("uio", "nvme_core", "virtio", "virtio_ring", "virtio_net", "virtio_blk", "kvm",
                "kvm_intel")) {
            register(DriverModule.library(m));
        }
    }

    /** Adds a module; its name and its driver's name must be new. */
    static void register(DriverModule m) {
        if (BY_MODULE.containsKey(m.name()) || (m.driver() != null && BY_DRIVER.containsKey(m.driver()))) {
            throw new IllegalArgumentException("module " + m.name() + " is registered already");
        }
        BY_MODULE.put(m.name(), m);
        if (m.driver() != null) {
            BY_DRIVER.put(m.driver(), m);
        }
    }

    /** modprobe's name normalisation: dashes and underscores are the same. */
    public static String moduleName(String name) {
        return name == null ? "" : name.replace('-', '_');
    }

    static boolean known(String module) {
        DriverModule m = BY_MODULE.get(module);
        return m != null && !m.builtin();
    }

    /** The modules a module needs loaded first (its modules.dep line). */
    static List<String> dependencies(String module) {
        DriverModule m = BY_MODULE.get(module);
        return m == null ? List.of() : m.dependencies();
    }

    /** {@code MODULE_SOFTDEP("post: ...")}: loaded right after the module. */
    static List<String> softDependenciesPost(String module) {
        DriverModule m = BY_MODULE.get(module);
        return m == null ? List.of() : m.softDependenciesPost();
    }

    static Set<String> builtinModules() {
        Set<String> out = new LinkedHashSet<>();
        BY_MODULE.values().stream().filter(DriverModule::builtin).forEach(m -> out.add(m.name()));
        return out;
    }

    /** The PCI driver a module registers, or null. */
    static String driverOfModule(String module) {
        DriverModule m = BY_MODULE.get(module);
        return m == null || m.builtin() ? null : m.driver();
    }

    /** Creates the driver named {@code name} (its state, like nvme's instance numbers, is per kernel). */
    static PciDriver create(String name, Map<String, String> params, DriverCore core) {
        DriverModule m = BY_DRIVER.get(name);
        if (m == null) {
            throw new IllegalArgumentException("no driver " + name);
        }
        return m.factory().create(params);
    }

    /** The rest of the driver's module init, once it is registered (module parameters). */
    static void afterRegister(PciDriver d, Map<String, String> params, DriverCore core) {
        DriverModule m = BY_DRIVER.get(d.name());
        if (m != null && m.afterRegister() != null) {
            m.afterRegister().afterRegister(d, params, core);
        }
    }

    /**
     * The {@code ids=} module parameter: dynamic ids added once the driver is registered
     * ({@code vfio_pci_fill_ids}, {@code pci_stub_init}); {@code prefix} starts its messages.
     */
    static void addIds(PciDriver d, Map<String, String> params, DriverCore core, String prefix) {
        String ids = params.get("ids");
        if (ids == null) {
            return;
        }
        for (String id : ids.split(",", -1)) {
            if (id.isEmpty()) {
                continue;
            }
            long[] f = KernelText.scanHex(id, 6, ':');
            if (f.length < 2) {
                core.log(KernelMessage.WARNING, prefix + "invalid id string \"" + id + "\"");
                continue;
            }
            int sv = f.length > 2 ? (int) f[2] : PciDeviceId.ANY;
            int sd = f.length > 3 ? (int) f[3] : PciDeviceId.ANY;
            int cls = f.length > 4 ? (int) f[4] : 0;
            int mask = f.length > 5 ? (int) f[5] : 0;
            core.log(KernelMessage.INFO, String.format("%sadd [%04x:%04x[%04x:%04x]] class %#08x/%08x",
                    prefix, (int) f[0], (int) f[1], sv, sd, cls, mask));
            core.addDynamicId(d, new PciDeviceId((int) f[0], (int) f[1], sv, sd, cls, mask, 0, false));
        }
    }

    /**
     * The modules whose PCI driver's static id table matches {@code id}: what {@code modprobe}
     * finds for the device's modalias in modules.alias (override-only entries, like vfio-pci's,
     * have no alias). Built-in drivers are not modules and are left out.
     */
    static List<String> modulesForAlias(PciDeviceId.Identity id) {
        List<String> out = new java.util.ArrayList<>();
        for (DriverModule m : BY_MODULE.values()) {
            if (m.builtin() || m.driver() == null) {
                continue;
            }
            PciDriver d = m.factory().create(Map.of());
            if (d.idTable() != null && d.match(id, null) != null) {
                out.add(m.name());
            }
        }
        return out;
    }
}
