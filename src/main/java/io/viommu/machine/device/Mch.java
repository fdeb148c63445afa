package io.viommu.machine.device;

import io.viommu.pci.ConfigSpace;
import io.viommu.pci.PciFunction;

/**
 * The q35 memory controller hub at 00:00.0 (Intel 3 Series / Q35 "MCH", 8086:29c0), as far as
 * a qtest script can see it: its configuration space (every byte of the 256 matches QEMU 7.2
 * with -nodefaults and no firmware) and PCIEXBAR, which places the ECAM window.
 *
 * <p>Register table (values and write masks read back from QEMU 7.2 over qtest):
 * <pre>
 *  0x50 GGC        16 bits, reset 0x0010, only bit 4 writable
 *  0x60 PCIEXBAR   64 bits, reset 0xb0000000 (disabled), all bits writable
 *                  bit 0 enable, bits 2:1 length (00 256 MiB, 01 128 MiB, 10 64 MiB, 11 reserved)
 *  0x9c..0x9e      SMBASE/SMRAM/ESMRAMC, reset 00 02 38: read-only here (the SMRAM lock
 *                  machinery is not modelled; QEMU's D_LCK makes them partly sticky)
 *  everything else from 0x40 writable, reset 0 (PAM 0x90..0x96 included: PAM remapping of
 *  0xC0000..0xFFFFF is not modelled)
 * </pre>
 */
public final class Mch extends PciFunction {
    public static final int VENDOR_INTEL = 0x8086;
    public static final int DEVICE_ID = 0x29c0;
    public static final int GGC = 0x50;
    public static final int PCIEXBAR = 0x60;
    public static final long PCIEXBAR_DEFAULT = 0xb000_0000L;
    public static final long PCIEXBAR_ENABLE = 1;
    public static final long PCIEXBAR_LENGTH_MASK = 0x6;
    /** Address bits 35:28; QEMU adds bit 26 for 128 MiB and bit 25 for 64 MiB (sic: checked). */
    static final long PCIEXBAR_ADMSK = 0xf_f000_0000L;
    static final long PCIEXBAR_128ADMSK = 1L << 26;
    static final long PCIEXBAR_64ADMSK = 1L << 25;
    public static final int SMBASE = 0x9c;

    /**
     * The host bridge's ECAM (MMCFG) window that PCIEXBAR places, as QEMU's
     * {@code pcie_host_mmcfg_update}: {@code base < 0} removes it.
     */
    public interface EcamWindow {
        void place(long base, long size);
    }

    private final EcamWindow host;

    public Mch(EcamWindow host) {
        super("mch", VENDOR_INTEL, DEVICE_ID, 0x060000, 0, false, ConfigSpace.CONVENTIONAL_SIZE);
        this.host = host;
        config.define(GGC, 2, 0x0010, 0x0010, 0);
        config.define(PCIEXBAR, 8, PCIEXBAR_DEFAULT, -1L, 0);
        config.define(SMBASE, 3, 0x380200, 0, 0);
    }

    @Override
    protected void afterConfigWrite(int offset, int len) {
        if (offset < PCIEXBAR + 8 && offset + len > PCIEXBAR) {
            updatePciexbar();
        }
    }

    /**
     * QEMU {@code mch_update_pciexbar}: enable bit, length, and the address under the length's
     * mask. The reserved length leaves the current window as it is (checked with QEMU 7.2).
     */
    private void updatePciexbar() {
        long v = config.get(PCIEXBAR, 8);
        long mask = PCIEXBAR_ADMSK;
        long length;
        switch ((int) (v & PCIEXBAR_LENGTH_MASK)) {
            case 0 -> length = 256L << 20;
            case 2 -> {
                length = 128L << 20;
                mask |= PCIEXBAR_128ADMSK | PCIEXBAR_64ADMSK;
            }
            case 4 -> {
                length = 64L << 20;
                mask |= PCIEXBAR_64ADMSK;
            }
            default -> {
                return;
            }
        }
        if ((v & PCIEXBAR_ENABLE) != 0) {
            host.place(v & mask, length);
        } else {
            host.place(-1, 0);
        }
    }
}
