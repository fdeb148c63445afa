package io.viommu.linux.driver;

import java.util.ArrayList;
import java.util.List;

/**
 * A PCI driver ({@code struct pci_driver}): name, static id table, dynamic ids (new_id), whether
 * it manages DMA itself ({@code driver_managed_dma}: vfio-pci, pci-stub, pcieport, which do not
 * claim the IOMMU group's default domain), its probe, and its {@code sriov_configure} if any.
 * Behaviour is given as small functions over the {@link DriverCore}; {@link Drivers} defines
 * the modelled drivers.
 */
public final class PciDriver {
    /** {@code probe}: 0 when the driver takes the device, else a negative errno. */
    @FunctionalInterface
    public interface Probe {
        int probe(DriverCore core, PciDevice dev);
    }

    /** {@code remove}: the driver lets go of a device (after which the core unbinds it). */
    @FunctionalInterface
    public interface Remove {
        void remove(DriverCore core, PciDevice dev);
    }

    /** {@code sriov_configure}: the number of VFs enabled (>= 0) or a negative errno. */
    @FunctionalInterface
    public interface SriovConfigure {
        int configure(DriverCore core, PciDevice pf, int numVfs);
    }

    private final String name;
    private final String module;
    private final boolean driverManagedDma;
    private final List<PciDeviceId> idTable;
    private final List<PciDeviceId> dynamicIds = new ArrayList<>();
    private final Probe probe;
    private final Remove remove;
    private final SriovConfigure sriovConfigure;
    private DriverDma dma;

    /**
     * @param module  the module that provides it, null when built in
     * @param idTable null for a driver without one (pci-stub, uio_pci_generic: dynamic ids only)
     */
    public PciDriver(String name, String module, boolean driverManagedDma, List<PciDeviceId> idTable,
                     Probe probe, Remove remove, SriovConfigure sriovConfigure) {
        this.name = name;
        this.module = module;
        this.driverManagedDma = driverManagedDma;
        this.idTable = idTable == null ? null : List.copyOf(idTable);
        this.probe = probe;
        this.remove = remove;
        this.sriovConfigure = sriovConfigure;
    }

    public String name() {
        return name;
    }

    /** The providing module, or null for a built-in driver. */
    public String module() {
        return module;
    }

    public boolean driverManagedDma() {
        return driverManagedDma;
    }

    /** The static id table, or null when the driver has none. */
    public List<PciDeviceId> idTable() {
        return idTable;
    }

    /** Dynamic ids in the order they were added (new_id, module {@code ids=}). */
    public List<PciDeviceId> dynamicIds() {
        return dynamicIds;
    }

    /** The DMA the driver maps for each bound device (DMA-API drivers), or null when it maps nothing. */
    public DriverDma dma() {
        return dma;
    }

    void setDma(DriverDma dma) {
        this.dma = dma;
    }

    Probe probe() {
        return probe;
    }

    Remove remove() {
        return remove;
    }

    public boolean hasSriovConfigure() {
        return sriovConfigure != null;
    }

    SriovConfigure sriovConfigure() {
        return sriovConfigure;
    }

    /**
     * {@code pci_match_device}: a driver_override naming another driver excludes it; dynamic ids
     * first; then the static table, where an override-only entry counts only when an override is
     * set; finally any device whose override names this driver matches.
     */
    public PciDeviceId match(PciDeviceId.Identity id, String driverOverride) {
        if (driverOverride != null && !driverOverride.equals(name)) {
            return null;
        }
        for (PciDeviceId d : dynamicIds) {
            if (d.matches(id)) {
                return d;
            }
        }
        if (idTable != null) {
            for (PciDeviceId d : idTable) {
                if (d.matches(id) && (!d.overrideOnly() || driverOverride != null)) {
                    return d;
                }
            }
        }
        if (driverOverride != null) {
            return PciDeviceId.device(PciDeviceId.ANY, PciDeviceId.ANY); // pci_device_id_any
        }
        return null;
    }

    @Override
    public String toString() {
        return name;
    }
}
