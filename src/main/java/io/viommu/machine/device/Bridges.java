package io.viommu.machine.device;

import io.viommu.pci.AccessRules;
import io.viommu.pci.AcsCapability;
import io.viommu.pci.Bar;
import io.viommu.pci.ConfigSpace;
import io.viommu.pci.MsixCapability;
import io.viommu.pci.PciBridge;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import io.viommu.pci.PcieCapability.Layout;
import io.viommu.pci.PcieCapability.PortType;
import io.viommu.pci.PcieCapability;

/**
 * QEMU 7.2's PCI bridges and PCIe ports, with the IDs, capability lists and register values
 * read back from QEMU 7.2 (see src/test/resources/qemu-pci/*.golden):
 * <pre>
 *  device              ids        caps (list order)                       extended
 *  pcie-root-port      1b36:000c  PCIe@54 (root port, slot) MSI-X@48 SSVID@40   AER@100 ACS@148
 *  ioh3420             8086:3420  PCIe@90 MSI@60 SSVID@40                     AER@100 (no ACS)
 *  x3130-upstream      104c:8232  PCIe@90 (upstream) SSVID@80 MSI@70          AER@100
 *  xio3130-downstream  104c:8233  PCIe@90 (downstream, slot) SSVID@80 MSI@70  AER@100
 *  pcie-pci-bridge     1b36:000e  MSI@8c PM@84 PCIe@48 (PCIe-to-PCI) SHPC@40  AER@100
 *  pci-bridge          1b36:0001  MSI@4c SlotID@48 SHPC@40                    (conventional)
 * </pre>
 * Only the generic pcie-root-port has ACS (QEMU adds it where the class sets an ACS offset,
 * and only {@code pcie-root-port} does; {@code disable-acs=on} removes it; ioh3420 has the
 * property but no ACS either way - checked). ACS advertises SV TB RR CR UF DT (0x5f).
 */
public final class Bridges {
    private Bridges() {
    }

    static final int VENDOR_REDHAT = 0x1b36;
    static final int VENDOR_INTEL = 0x8086;
    static final int VENDOR_TI = 0x104c;

    /** A PCIe port: its link status and slot control follow what is plugged below it. */
    abstract static class PciePort extends PciBridge {
        final int expOffset;
        final boolean slot;

        PciePort(String type, int vendor, int device, int rev, String busName, int expOffset, Layout layout) {
            super(type, vendor, device, rev, ConfigSpace.PCIE_SIZE, busName, true,
                    layout.type() == PortType.ROOT_PORT ? WindowReset.CLOSED : WindowReset.ZERO, 0);
            this.expOffset = expOffset;
            this.slot = layout.slot();
        }

        final void declareExp(Layout layout) {
            addCapability(expOffset, layout.size());
            PcieCapability.declare(config, expOffset, layout);
            if (layout.type() != PortType.UPSTREAM_PORT) {
                config.set(expOffset + PcieCapability.LNKSTA, 2, PcieCapability.maxLinkStatus(layout.linkcap()));
            }
        }

        /**
         * QEMU trains the link to the device in slot 0: a PCIe device gives x1 2.5 GT/s, a
         * conventional one leaves the port's maximum; the slot powers on when populated.
         */
        @Override
        protected void childPlugged(PciFunction child) {
            if (child.devfn() != 0) {
                return;
            }
            if (child.findCapability(PciRegs.CAP_ID_EXP) >= 0) {
                config.set(expOffset + PcieCapability.LNKSTA, 2, PcieCapability.LNKSTA_X1_2_5GT);
            }
            if (slot) {
                config.set(expOffset + PcieCapability.SLTCTL, 2, PcieCapability.SLTCTL_POPULATED);
            }
        }
    }

    static int slotCap(int slot, boolean powerController) {
        int cap = PcieCapability.SLTCAP_QEMU | (slot & 0x1fff) << 19;
        return powerController ? cap : cap & ~PcieCapability.SLTCAP_PCP;
    }

    /** pcie-root-port (hw/pci-bridge/gen_pcie_root_port.c): x32 16 GT/s by default. */
    public static final class GenericRootPort extends PciePort {
        static final int LINKCAP = 0x0030_0604; // 16 GT/s, x32, DLL active and bandwidth notification

        public GenericRootPort(String busName, int chassis, int slot, int port, boolean acs, boolean powerController) {
            super("pcie-root-port", VENDOR_REDHAT, 0x000c, 0, busName, 0x54, layout(slot, port, powerController));
            setInterruptPin(1);
            registerBar(0, Bar.Kind.MEMORY32, 0x1000, false, null, AccessRules.ANY);
            declareExp(layout(slot, port, powerController));
            addCapability(0x48, MsixCapability.SIZE);
            MsixCapability.declare(config, 0x48, 1, 0, 0, 0, 0x800);
            addCapability(0x40, 8);
            CapTables.ssvid(config, 0x40, VENDOR_REDHAT, 0);
            addExtendedCapability(PciRegs.EXT_CAP_ID_AER, 2, 0x100, 0x48);
            CapTables.aer(config, 0x100, true);
            if (acs) {
                addExtendedCapability(PciRegs.EXT_CAP_ID_ACS, 1, 0x148, AcsCapability.SIZE);
                AcsCapability.declare(config, 0x148, AcsCapability.QEMU_PORT_CAP);
            }
        }

        static Layout layout(int slot, int port, boolean pcp) {
            return new Layout(2, PortType.ROOT_PORT, true, PcieCapability.DEVCAP_RBER, LINKCAP | port << 24,
                    slotCap(slot, pcp), PcieCapability.DEVCAP2_EFF_EETLPP | PcieCapability.DEVCAP2_ARI_FORWARDING,
                    0x1e, 0x4);
        }
    }

    /** ioh3420 (hw/pci-bridge/ioh3420.c): Intel X58 root port, x1 2.5 GT/s, MSI with 2 vectors. */
    public static final class Ioh3420 extends PciePort {
        public Ioh3420(String busName, int slot, int port, boolean powerController) {
            super("ioh3420", VENDOR_INTEL, 0x3420, 2, busName, 0x90, layout(slot, port, powerController));
            setInterruptPin(1);
            declareExp(layout(slot, port, powerController));
            addCapability(0x60, 0x14);
            CapTables.msi(config, 0x60, 0x0102);
            addCapability(0x40, 8);
            CapTables.ssvid(config, 0x40, VENDOR_INTEL, 0);
            addExtendedCapability(PciRegs.EXT_CAP_ID_AER, 2, 0x100, 0x48);
            CapTables.aer(config, 0x100, true);
        }

        static Layout layout(int slot, int port, boolean pcp) {
            return new Layout(2, PortType.ROOT_PORT, true, PcieCapability.DEVCAP_RBER,
                    PcieCapability.LNKCAP_X1_2_5GT_L0S | port << 24, slotCap(slot, pcp),
                    PcieCapability.DEVCAP2_EFF_EETLPP | PcieCapability.DEVCAP2_ARI_FORWARDING, 0, 0);
        }
    }

    /** x3130-upstream (hw/pci-bridge/xio3130_upstream.c): TI XIO3130 switch upstream port. */
    public static final class X3130Upstream extends PciePort {
        public X3130Upstream(String busName, int port) {
            super("x3130-upstream", VENDOR_TI, 0x8232, 2, busName, 0x90, layout(port));
            declareExp(layout(port));
            addCapability(0x80, 8);
            CapTables.ssvid(config, 0x80, 0, 0);
            addCapability(0x70, 0x0e);
            CapTables.msi(config, 0x70, CapTables.MSI_CTRL_64BIT);
            addExtendedCapability(PciRegs.EXT_CAP_ID_AER, 2, 0x100, 0x48);
            CapTables.aer(config, 0x100, false);
        }

        static Layout layout(int port) {
            return new Layout(2, PortType.UPSTREAM_PORT, false, PcieCapability.DEVCAP_RBER | PcieCapability.DEVCAP_FLR,
                    PcieCapability.LNKCAP_X1_2_5GT_L0S | port << 24, 0, PcieCapability.DEVCAP2_EFF_EETLPP, 0, 0);
        }
    }

    /** xio3130-downstream (hw/pci-bridge/xio3130_downstream.c): its link capability is 0x400. */
    public static final class Xio3130Downstream extends PciePort {
        public Xio3130Downstream(String busName, int slot, int port, boolean powerController) {
            super("xio3130-downstream", VENDOR_TI, 0x8233, 1, busName, 0x90, layout(slot, port, powerController));
            declareExp(layout(slot, port, powerController));
            addCapability(0x80, 8);
            CapTables.ssvid(config, 0x80, 0, 0);
            addCapability(0x70, 0x0e);
            CapTables.msi(config, 0x70, CapTables.MSI_CTRL_64BIT);
            addExtendedCapability(PciRegs.EXT_CAP_ID_AER, 2, 0x100, 0x48);
            CapTables.aer(config, 0x100, false);
        }

        static Layout layout(int slot, int port, boolean pcp) {
            return new Layout(2, PortType.DOWNSTREAM_PORT, true, PcieCapability.DEVCAP_RBER | PcieCapability.DEVCAP_FLR,
                    0x400 | port << 24, slotCap(slot, pcp),
                    PcieCapability.DEVCAP2_EFF_EETLPP | PcieCapability.DEVCAP2_ARI_FORWARDING, 0, 0);
        }
    }

    /** pcie-pci-bridge (hw/pci-bridge/pcie_pci_bridge.c): PCIe-to-PCI bridge with SHPC. */
    public static final class PciePciBridge extends PciBridge {
        public PciePciBridge(String busName, boolean msi) {
            super("pcie-pci-bridge", VENDOR_REDHAT, 0x000e, 0, ConfigSpace.PCIE_SIZE, busName, false,
                    WindowReset.ZERO, PciRegs.STATUS_66MHZ | PciRegs.STATUS_FAST_BACK);
            config.set(PciRegs.STATUS, 2, PciRegs.STATUS_66MHZ | PciRegs.STATUS_FAST_BACK);
            setInterruptPin(1);
            registerBar(0, Bar.Kind.MEMORY64, 0x100, false, null, AccessRules.ANY);
            if (msi) {
                addCapability(0x8c, 0x18);
                CapTables.msi(config, 0x8c, CapTables.MSI_CTRL_64BIT | CapTables.MSI_CTRL_PER_VECTOR_MASK);
            }
            addCapability(0x84, 8);
            io.viommu.pci.PmCapability.declare(config, 0x84, 0x0003, 0);
            Layout l = new Layout(2, PortType.PCIE_TO_PCI_BRIDGE, false, PcieCapability.DEVCAP_RBER,
                    PcieCapability.LNKCAP_X1_2_5GT_L0S, 0,
                    PcieCapability.DEVCAP2_EFF_EETLPP | PcieCapability.DEVCAP2_ARI_FORWARDING, 0, 0);
            addCapability(0x48, l.size());
            PcieCapability.declare(config, 0x48, l);
            addCapability(0x40, 8);
            CapTables.shpc(config, 0x40);
            addExtendedCapability(PciRegs.EXT_CAP_ID_AER, 2, 0x100, 0x48);
            CapTables.aer(config, 0x100, false);
        }
    }

    /** pci-bridge (hw/pci-bridge/pci_bridge_dev.c): conventional PCI-to-PCI bridge with SHPC. */
    public static final class PciBridgeDev extends PciBridge {
        public PciBridgeDev(String busName, int chassis, boolean msi, boolean shpc) {
            super("pci-bridge", VENDOR_REDHAT, 0x0001, 0, ConfigSpace.CONVENTIONAL_SIZE, busName, false,
                    WindowReset.ZERO, PciRegs.STATUS_66MHZ | PciRegs.STATUS_FAST_BACK);
            config.set(PciRegs.STATUS, 2, PciRegs.STATUS_66MHZ | PciRegs.STATUS_FAST_BACK);
            setInterruptPin(1);
            if (shpc) {
                registerBar(0, Bar.Kind.MEMORY64, 0x100, false, null, AccessRules.ANY);
            }
            if (msi) {
                addCapability(0x4c, 0x18);
                CapTables.msi(config, 0x4c, CapTables.MSI_CTRL_64BIT | CapTables.MSI_CTRL_PER_VECTOR_MASK);
            }
            addCapability(0x48, 4);
            CapTables.slotId(config, 0x48, chassis);
            if (shpc) {
                addCapability(0x40, 8);
                CapTables.shpc(config, 0x40);
            }
        }
    }
}
