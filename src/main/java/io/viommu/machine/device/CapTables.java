package io.viommu.machine.device;

import io.viommu.pci.ConfigSpace;
import io.viommu.pci.PciRegs;

/**
 * Capability register tables of QEMU 7.2 devices that the model declares but does not act on
 * (their values read back from QEMU 7.2 over qtest): MSI structures of bridges (several vectors,
 * per-vector masking), the bridge subsystem id, slot id, SHPC, vendor-specific virtio structures,
 * and the extended AER, DSN and ATS structures.
 */
final class CapTables {
    private CapTables() {
    }

    static final int MSI_CTRL_64BIT = 0x0080;
    static final int MSI_CTRL_PER_VECTOR_MASK = 0x0100;

    /** MSI (PCI 3.0 section 6.8.1) as {@code msi_init}: enable and MME writable, size by flags. */
    static int msiSize(int ctrl) {
        boolean is64 = (ctrl & MSI_CTRL_64BIT) != 0;
        boolean pvm = (ctrl & MSI_CTRL_PER_VECTOR_MASK) != 0;
        return (is64 ? 0x0e : 0x0a) + (pvm ? (is64 ? 0x0a : 0x0a) : 0);
    }

    static void msi(ConfigSpace c, int off, int ctrl) {
        c.define(off, msiSize(ctrl), PciRegs.CAP_ID_MSI, 0, 0);
        int mmc = (ctrl >>> 1) & 7;
        c.define(off + 2, 2, ctrl, 0x0001 | (mmc != 0 ? 0x0070 : 0), 0);
        c.define(off + 4, 4, 0, 0xffff_fffcL, 0);
        boolean is64 = (ctrl & MSI_CTRL_64BIT) != 0;
        if (is64) {
            c.define(off + 8, 4, 0, 0xffff_ffffL, 0);
        }
        c.define(off + (is64 ? 0x0c : 0x08), 2, 0, 0xffff, 0);
    }

    /** Bridge subsystem vendor id capability (id 0x0d), 8 bytes. */
    static void ssvid(ConfigSpace c, int off, int vendor, int device) {
        c.define(off, 8, PciRegs.CAP_ID_SSVID | (long) vendor << 32 | (long) device << 48, 0, 0);
    }

    /** Slot identification capability (id 0x04): expansion slot register 0x20 (first in chassis), chassis. */
    static void slotId(ConfigSpace c, int off, int chassis) {
        c.define(off, 4, PciRegs.CAP_ID_SLOT_ID | 0x20 << 16 | (chassis & 0xff) << 24, 0, 0);
    }

    /** SHPC capability (id 0x0c): dword select and data, 8 bytes (the controller is not modelled). */
    static void shpc(ConfigSpace c, int off) {
        c.define(off, 8, PciRegs.CAP_ID_SHPC, 0, 0);
        c.define(off + 2, 1, 0, 0xff, 0);
    }

    /** virtio vendor capability (virtio 1.1 section 4.1.4): type, BAR, offset, length. */
    static void virtio(ConfigSpace c, int off, int len, int cfgType, int bar, int offset, int length) {
        c.define(off, 4, PciRegs.CAP_ID_VENDOR | len << 16 | cfgType << 24, 0, 0);
        c.define(off + 4, 4, bar, 0, 0);
        c.define(off + 8, 4, offset, 0, 0);
        c.define(off + 12, 4, length, 0, 0);
        if (len > 16) {
            c.define(off + 16, len - 16, 0, 0, 0); // notify_off_multiplier / pci_cfg_data: set by the caller
        }
    }

    /** AER body after the header, reset values as QEMU's {@code pcie_aer_init} leaves them. */
    static void aer(ConfigSpace c, int off, boolean rootPort) {
        c.define(off + 0x04, 4, 0, 0, 0x003ff030L);     // uncorrectable status (W1C)
        c.define(off + 0x08, 4, 0, 0x003ff030L, 0);     // uncorrectable mask
        c.define(off + 0x0c, 4, 0x00462030L, 0x003ff030L, 0); // uncorrectable severity
        c.define(off + 0x10, 4, 0, 0, 0x0000f1c1L);     // correctable status (W1C)
        c.define(off + 0x14, 4, 0x0000e000L, 0x0000f1c1L, 0); // correctable mask
        c.define(off + 0x18, 4, rootPort ? 0x2a0 : 0xa0, 0x140, 0); // capabilities and control
    }

    /** Device serial number (PCIe 4.0 section 7.9.3): 64-bit serial after the header. */
    static void dsn(ConfigSpace c, int off, long serial) {
        c.define(off + 4, 8, serial, 0, 0);
    }

    /** ATS (PCIe 4.0 section 10.5.1): capability 0x0020 (page aligned request), control writable. */
    static void ats(ConfigSpace c, int off) {
        c.define(off + 4, 2, 0x0020, 0, 0);
        c.define(off + 6, 2, 0, 0x801f, 0);
    }

    /** QEMU's e1000e/igb serial number from the MAC: 52:54:00:12:34:56 reads 52 54 00 ff ff 12 34 56. */
    static long dsnFromMac(byte[] mac) {
        long v = 0;
        int[] order = {0, 1, 2};
        for (int i : order) {
            v = v << 8 | (mac[i] & 0xff);
        }
        v = v << 16 | 0xffff;
        for (int i = 3; i < 6; i++) {
            v = v << 8 | (mac[i] & 0xff);
        }
        return v;
    }
}
