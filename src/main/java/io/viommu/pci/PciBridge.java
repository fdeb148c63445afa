package io.viommu.pci;

/**
 * A PCI-to-PCI bridge function (type-1 header, PCI-to-PCI Bridge Architecture 1.2 chapter 3)
 * and the bus below it. Configuration cycles are routed as QEMU 7.2's {@code pci_find_bus_nr}
 * does: by the programmed secondary and subordinate bus numbers only (neither the command
 * register nor the windows take part), so until firmware numbers the bridge nothing behind it
 * answers.
 * <pre>
 *  0x18 primary bus   0x19 secondary bus   0x1a subordinate bus   0x1b secondary latency (writable)
 *  0x1c I/O base/limit (7:4 writable, 3:0 read-only 0: 16-bit I/O)   0x1e secondary status (W1C errors)
 *  0x20/0x22 memory base/limit (15:4 writable)
 *  0x24/0x26 prefetchable base/limit (15:4 writable, 3:0 read-only 1: 64-bit)  0x28/0x2c upper 32 bits
 *  0x30/0x32 I/O upper 16 bits   0x3e bridge control
 * </pre>
 * Reset values of the windows differ per QEMU device: its PCIe ports start with the windows
 * closed (base above limit: I/O 0xf0/0x00, memory 0xfff0/0x0000, prefetchable 0xfff1/0x0001),
 * its conventional bridges and the switch ports with zeros (read back from QEMU 7.2).
 */
public class PciBridge extends PciFunction {
    /** How the windows and the secondary status look after reset. */
    public enum WindowReset { CLOSED, ZERO }

    private final PciBus secondary;

    protected PciBridge(String typeName, int vendorId, int deviceId, int revision, int configSize,
                        String busName, boolean expressBus, WindowReset windows, int secondaryStatus) {
        super(typeName, vendorId, deviceId, 0x060400, revision, false, configSize);
        config.define(PciRegs.HEADER_TYPE, 1, PciRegs.HEADER_TYPE_BRIDGE, 0, 0);
        config.define(PciRegs.SUBSYSTEM_VENDOR_ID, 4, 0, 0, 0); // type-1 headers have no subsystem ids
        config.define(PciRegs.PRIMARY_BUS, 4, 0, 0xffffffffL, 0);
        boolean closed = windows == WindowReset.CLOSED;
        config.define(PciRegs.IO_BASE, 1, closed ? 0xf0 : 0, 0xf0, 0);
        config.define(PciRegs.IO_LIMIT, 1, 0, 0xf0, 0);
        config.define(PciRegs.SEC_STATUS, 2, secondaryStatus, 0, PciRegs.STATUS_W1C);
        config.define(PciRegs.MEMORY_BASE, 2, closed ? 0xfff0 : 0, 0xfff0, 0);
        config.define(PciRegs.MEMORY_LIMIT, 2, 0, 0xfff0, 0);
        config.define(PciRegs.PREF_MEMORY_BASE, 2, closed ? 0xfff1 : 0x1, 0xfff0, 0);
        config.define(PciRegs.PREF_MEMORY_LIMIT, 2, 0x1, 0xfff0, 0);
        config.define(PciRegs.PREF_BASE_UPPER32, 4, 0, 0xffffffffL, 0);
        config.define(PciRegs.PREF_LIMIT_UPPER32, 4, 0, 0xffffffffL, 0);
        config.define(PciRegs.IO_BASE_UPPER16, 4, 0, 0xffffffffL, 0);
        config.define(PciRegs.BRIDGE_ROM_ADDRESS, 4, 0, 0, 0);
        config.define(PciRegs.BRIDGE_CONTROL, 2, 0, 0x0fff, 0);
        this.secondary = new PciBus(busName, this, expressBus);
    }

    /** The bus right below the bridge. */
    public PciBus secondaryBus() {
        return secondary;
    }

    public int primaryBusNumber() {
        return (int) config.get(PciRegs.PRIMARY_BUS, 1);
    }

    public int secondaryBusNumber() {
        return (int) config.get(PciRegs.SECONDARY_BUS, 1);
    }

    public int subordinateBusNumber() {
        return (int) config.get(PciRegs.SUBORDINATE_BUS, 1);
    }

    /** QEMU {@code pci_secondary_bus_in_range}: secondary <= bus <= subordinate. */
    public boolean busInRange(int busNumber) {
        return secondaryBusNumber() <= busNumber && busNumber <= subordinateBusNumber();
    }

    /** Called after a function is plugged on the secondary bus (PCIe ports train their link). */
    protected void childPlugged(PciFunction child) {
    }
}
