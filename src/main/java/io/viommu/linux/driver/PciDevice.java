package io.viommu.linux.driver;

import io.viommu.pci.RequesterId;
import io.viommu.pci.Topology;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The kernel's {@code struct pci_dev} for one function: its identity as enumerated, the device
 * model parent (for the sysfs path), the bound driver, driver_override, reset methods,
 * configuration space size and, for a PF, the SR-IOV state ({@code struct pci_sriov}).
 */
public final class PciDevice {
    /** {@code struct pci_sriov}: what Linux caches about a PF's SR-IOV capability. */
    public static final class Sriov {
        final int pos;
        final int totalVfs;
        int initialVfs;
        int driverMaxVfs;
        int numVfs;
        int offset;
        int stride;
        final int vfDevice;
        int ctrl;
        boolean driversAutoprobe = true;
        final List<PciDevice> vfs = new ArrayList<>();

        Sriov(int pos, int totalVfs, int initialVfs, int vfDevice) {
            this.pos = pos;
            this.totalVfs = totalVfs;
            this.initialVfs = initialVfs;
            this.driverMaxVfs = totalVfs;
            this.vfDevice = vfDevice;
        }

        public int position() {
            return pos;
        }

        public int totalVfs() {
            return totalVfs;
        }

        /** {@code pci_sriov_get_totalvfs}: TotalVFs unless the bound driver lowered it. */
        public int driverMaxVfs() {
            return driverMaxVfs;
        }

        public int numVfs() {
            return numVfs;
        }

        public int offset() {
            return offset;
        }

        public int stride() {
            return stride;
        }

        public int vfDevice() {
            return vfDevice;
        }

        public boolean driversAutoprobe() {
            return driversAutoprobe;
        }

        /** The VFs the kernel added, VF 0 first. */
        public List<PciDevice> virtualFunctions() {
            return Collections.unmodifiableList(vfs);
        }
    }

    private final Topology.Function function;
    private final PciDevice parent;
    private final PciDevice physfn;
    private final int vfIndex;
    private final int cfgSize;
    private List<ResetMethod> defaultResetMethods = List.of();
    private boolean resetAttributes;
    private List<ResetMethod> resetMethods = List.of();
    PciDriver driver;
    String driverOverride;
    Sriov sriov;
    boolean removed;

    PciDevice(Topology.Function function, PciDevice parent, PciDevice physfn, int vfIndex, int cfgSize) {
        this.function = function;
        this.parent = parent;
        this.physfn = physfn;
        this.vfIndex = vfIndex;
        this.cfgSize = cfgSize;
    }

    /** {@code pci_init_reset_methods} at device add; the reset attributes exist iff any method does. */
    void initResetMethods(List<ResetMethod> methods) {
        this.defaultResetMethods = List.copyOf(methods);
        this.resetMethods = this.defaultResetMethods;
        this.resetAttributes = !methods.isEmpty();
    }

    /** Linux's device name, "0000:bb:dd.f". */
    public String name() {
        return function.bdf();
    }

    public RequesterId rid() {
        return function.rid();
    }

    /** The function as enumerated when the kernel added it. */
    public Topology.Function function() {
        return function;
    }

    /** {@code dev.parent} when it is a PCI device (the bridge above; a VF shares its PF's), else null. */
    public PciDevice parent() {
        return parent;
    }

    /** For a VF, its PF; else null. */
    public PciDevice physfn() {
        return physfn;
    }

    public boolean isVirtfn() {
        return physfn != null;
    }

    /** VF number (0-based) below its PF; -1 for other functions. */
    public int vfIndex() {
        return vfIndex;
    }

    public PciDeviceId.Identity identity() {
        Topology.Function f = function;
        return new PciDeviceId.Identity(f.vendorId(), f.deviceId(), f.subsystemVendorId(), f.subsystemId(), f.classCode());
    }

    /** The bound driver or null. */
    public PciDriver driver() {
        return driver;
    }

    /** driver_override or null. */
    public String driverOverride() {
        return driverOverride;
    }

    /** SR-IOV state of a PF (null for other functions, including PFs whose sriov_init failed). */
    public Sriov sriov() {
        return sriov;
    }

    /** {@code dev->cfg_size}: 256 or 4096. */
    public int cfgSize() {
        return cfgSize;
    }

    /** The reset methods in use, in Linux's priority order ({@code dev->reset_methods}). */
    public List<ResetMethod> resetMethods() {
        return resetMethods;
    }

    void setResetMethods(List<ResetMethod> methods) {
        this.resetMethods = List.copyOf(methods);
    }

    List<ResetMethod> defaultResetMethods() {
        return defaultResetMethods;
    }

    /** Whether sysfs has {@code reset} and {@code reset_method} (decided when the device was added). */
    public boolean hasResetAttributes() {
        return resetAttributes;
    }

    public boolean isBridge() {
        return function.isBridge();
    }

    @Override
    public String toString() {
        return name();
    }
}
