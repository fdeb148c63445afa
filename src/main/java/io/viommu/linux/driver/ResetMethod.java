package io.viommu.linux.driver;

import io.viommu.pci.PciRegs;
import io.viommu.pci.PcieCapability;
import io.viommu.pci.PmCapability;

/**
 * Linux 6.1's {@code pci_reset_fn_methods}, in priority order, with the names sysfs
 * {@code reset_method} uses. {@code pci_init_reset_methods} probes each and keeps those that
 * answer 0 (stopping at the first that fails with anything but -ENOTTY).
 *
 * <p>Modelled probes: {@code device_specific} has no entry for any modelled device
 * ({@code pci_dev_reset_methods} lists Intel 82599 VFs, Chelsio, some graphics...);
 * {@code acpi} needs an _RST method QEMU does not provide; {@code flr}: DevCap FLR in the PCIe
 * capability; {@code af_flr}: the Advanced Features capability with TP and FLR; {@code pm}: a PM
 * capability whose PMCSR does not say No_Soft_Reset; {@code bus}: secondary bus reset of the
 * parent bridge, for a non-bridge that is alone on a bus that has a bridge
 * ({@code pci_parent_bus_reset}; the hotplug-slot variant needs pciehp, which does not drive
 * QEMU's ACPI-hotplug root ports, so it falls back to the same rule).
 */
public enum ResetMethod {
    DEVICE_SPECIFIC("device_specific"),
    ACPI("acpi"),
    FLR("flr"),
    AF_FLR("af_flr"),
    PM("pm"),
    BUS("bus");

    /** PCI Advanced Features capability (id 0x13): +3 AF capabilities, bit 0 TP, bit 1 FLR. */
    static final int CAP_ID_AF = 0x13;
    static final int AF_CAP = 3;
    static final int AF_CAP_TP = 0x01;
    static final int AF_CAP_FLR = 0x02;

    public final String sysfsName;

    ResetMethod(String sysfsName) {
        this.sysfsName = sysfsName;
    }

    public static ResetMethod byName(String name) {
        for (ResetMethod m : values()) {
            if (m.sysfsName.equals(name)) {
                return m;
            }
        }
        return null;
    }

    /** The probe ({@code reset_fn(dev, PCI_RESET_PROBE)}): 0 when usable, -ENOTTY when not. */
    int probe(DriverCore core, PciDevice dev) {
        int enotty = Errno.ENOTTY.negative();
        var f = dev.function();
        switch (this) {
            case FLR -> {
                var exp = f.capability(PciRegs.CAP_ID_EXP, false);
                if (exp.isEmpty()) {
                    return enotty;
                }
                long devcap = core.config().read(f.rid(), exp.get().offset() + PcieCapability.DEVCAP, 4);
                return (devcap & PcieCapability.DEVCAP_FLR) != 0 ? 0 : enotty;
            }
            case AF_FLR -> {
                var af = f.capability(CAP_ID_AF, false);
                if (af.isEmpty()) {
                    return enotty;
                }
                long cap = core.config().read(f.rid(), af.get().offset() + AF_CAP, 1);
                return (cap & AF_CAP_TP) != 0 && (cap & AF_CAP_FLR) != 0 ? 0 : enotty;
            }
            case PM -> {
                var pm = f.capability(PciRegs.CAP_ID_PM, false);
                if (pm.isEmpty()) {
                    return enotty;
                }
                long csr = core.config().read(f.rid(), pm.get().offset() + PmCapability.PMCSR, 2);
                return (csr & PmCapability.PMCSR_NO_SOFT_RESET) != 0 ? enotty : 0;
            }
            case BUS -> {
                if (f.parentBridge() == null || f.isBridge()) {
                    return enotty; // root bus, virtual bus, or a bridge (dev->subordinate)
                }
                for (PciDevice other : core.devices()) {
                    if (other != dev && other.rid().bus() == f.rid().bus()) {
                        return enotty;
                    }
                }
                return 0;
            }
            default -> {
                return enotty;
            }
        }
    }

    /** Performs the reset through configuration space as Linux does it; 0 or a negative errno. */
    int reset(DriverCore core, PciDevice dev) {
        var f = dev.function();
        var cfg = core.config();
        switch (this) {
            case FLR -> {
                int devctl = f.capability(PciRegs.CAP_ID_EXP, false).orElseThrow().offset() + PcieCapability.DEVCTL;
                long v = cfg.read(f.rid(), devctl, 2);
                cfg.write(f.rid(), devctl, v | PcieCapability.DEVCTL_BCR_FLR, 2); // pcie_flr
                return 0;
            }
            case AF_FLR -> {
                int ctrl = f.capability(CAP_ID_AF, false).orElseThrow().offset() + 4; // PCI_AF_CTRL
                cfg.write(f.rid(), ctrl, 0x01, 1); // PCI_AF_CTRL_FLR
                return 0;
            }
            case PM -> {
                int csr = f.capability(PciRegs.CAP_ID_PM, false).orElseThrow().offset() + PmCapability.PMCSR;
                long v = cfg.read(f.rid(), csr, 2) & ~0x3L;
                cfg.write(f.rid(), csr, v | 0x3, 2); // D3hot
                cfg.write(f.rid(), csr, v, 2);       // back to D0
                return 0;
            }
            case BUS -> {
                var bridge = f.parentBridge();
                long bc = cfg.read(bridge, PciRegs.BRIDGE_CONTROL, 2);
                cfg.write(bridge, PciRegs.BRIDGE_CONTROL, bc | PciRegs.BRIDGE_CONTROL_BUS_RESET, 2);
                cfg.write(bridge, PciRegs.BRIDGE_CONTROL, bc & ~PciRegs.BRIDGE_CONTROL_BUS_RESET, 2);
                return 0;
            }
            default -> {
                return Errno.ENOTTY.negative();
            }
        }
    }
}
