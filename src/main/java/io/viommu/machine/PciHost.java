package io.viommu.machine;

import io.viommu.memory.Mmio;
import io.viommu.pci.AccessRules;
import io.viommu.pci.PciBus;

/**
 * The q35 host's two configuration mechanisms for the root bus:
 * <ul>
 * <li>Mechanism #1 (PCI Local Bus 3.0 section 3.2.2.3.2): the CONFIG_ADDRESS register at
 *     port 0xCF8 and the CONFIG_DATA window at 0xCFC..0xCFF.</li>
 * <li>ECAM (PCIe base spec section 7.2.2), placed by the MCH's PCIEXBAR register.</li>
 * </ul>
 * Behaviour at the edges is QEMU 7.2's, checked over qtest: CONFIG_ADDRESS keeps all 32 bits
 * written by a 4-byte write at 0xCF8 and ignores narrower writes; any read of it returns the
 * register (the dispatcher truncates it to the access size); CONFIG_DATA at offset {@code o}
 * reaches register {@code (CONFIG_ADDRESS | o) & 0xff} (an OR, as {@code pci_data_read});
 * with bit 31 clear or no function there, reads are all ones. Bus numbers other than the root's
 * reach functions behind bridges by the bridges' programmed bus numbers ({@link PciBus#route}).
 */
public final class PciHost {
    public static final int CONFIG_ADDRESS_PORT = 0xcf8;
    public static final int CONFIG_DATA_PORT = 0xcfc;
    /** CONFIG_ADDRESS: bit 31 enable, 23:16 bus, 15:11 device, 10:8 function, 7:0 register. */
    public static final int CONFIG_ADDRESS_ENABLE = 1 << 31;

    private final PciBus bus;
    private int configAddress;
    private long ecamBase = -1;
    private long ecamSize;

    public PciHost(PciBus bus) {
        this.bus = bus;
    }

    public int configAddress() {
        return configAddress;
    }

    /** Port 0xCF8, 4 bytes (QEMU {@code pci_host_config_read/write}). */
    public final Mmio configAddressPort = new Mmio() {
        @Override
        public long load(long offset, int size) {
            return configAddress & 0xffff_ffffL;
        }

        @Override
        public void store(long offset, long value, int size) {
            if (offset == 0 && size == 4) {
                configAddress = (int) value;
            }
        }
    };

    /** Port 0xCFC..0xCFF. */
    public final Mmio configDataPort = new Mmio() {
        @Override
        public long load(long offset, int size) {
            if ((configAddress & CONFIG_ADDRESS_ENABLE) == 0) {
                return -1L;
            }
            int addr = configAddress | (int) (offset & 3);
            return readFunction((addr >>> 16) & 0xff, (addr >>> 8) & 0xff, addr & 0xff, size, 0x100);
        }

        @Override
        public void store(long offset, long value, int size) {
            if ((configAddress & CONFIG_ADDRESS_ENABLE) == 0) {
                return;
            }
            int addr = configAddress | (int) (offset & 3);
            writeFunction((addr >>> 16) & 0xff, (addr >>> 8) & 0xff, addr & 0xff, value, size, 0x100);
        }
    };

    /** The ECAM window's register view: bus 27:20, device 19:15, function 14:12, register 11:0. */
    public final Mmio ecam = new Mmio() {
        @Override
        public long load(long offset, int size) {
            return readFunction((int) (offset >>> 20) & 0xff, (int) (offset >>> 12) & 0xff,
                    (int) (offset & 0xfff), size, 0x1000);
        }

        @Override
        public void store(long offset, long value, int size) {
            writeFunction((int) (offset >>> 20) & 0xff, (int) (offset >>> 12) & 0xff,
                    (int) (offset & 0xfff), value, size, 0x1000);
        }
    };

    /**
     * As QEMU's {@code pci_host_config_read_common}: all ones for a missing function or a
     * register at or past the function's config size (the mechanism's own limit included).
     */
    private long readFunction(int busNumber, int devfn, int reg, int size, int mechanismLimit) {
        var f = bus.route(busNumber, devfn);
        int limit = f == null ? 0 : Math.min(mechanismLimit, f.configSpace().size());
        if (f == null || reg >= limit) {
            return -1L;
        }
        return f.configRead(reg, Math.min(size, limit - reg));
    }

    private void writeFunction(int busNumber, int devfn, int reg, long value, int size, int mechanismLimit) {
        var f = bus.route(busNumber, devfn);
        if (f == null) {
            return;
        }
        int limit = Math.min(mechanismLimit, f.configSpace().size());
        if (reg >= limit) {
            return;
        }
        f.configWrite(reg, value, Math.min(size, limit - reg));
    }

    /** Places (or with {@code base < 0} removes) the ECAM window; called by the MCH. */
    void placeEcam(long base, long size) {
        this.ecamBase = base;
        this.ecamSize = size;
    }

    public long ecamBase() {
        return ecamBase;
    }

    public long ecamSize() {
        return ecamSize;
    }

    /** The ECAM window as the system map sees it (QEMU pcie_mmcfg ops: 1..4 byte accesses). */
    AddressMap.Window ecamWindow() {
        return addr -> ecamBase >= 0 && Long.compareUnsigned(addr - ecamBase, ecamSize) < 0
                ? new AddressMap.Hit("pcie-mmcfg", ecamBase, ecamSize, ecam, AccessRules.UP_TO_4, null, 0)
                : null;
    }
}
