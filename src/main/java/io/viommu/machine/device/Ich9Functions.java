package io.viommu.machine.device;

import io.viommu.pci.AccessRules;
import io.viommu.pci.Bar;
import io.viommu.pci.ConfigSpace;
import io.viommu.pci.PciFunction;

/**
 * The ICH9 functions q35 always has at slot 0x1f. Only their configuration spaces are
 * modelled (IDs, class, header, command/status, capabilities, BAR sizing, the registers a
 * firmware programs), with reset values and write masks read back from QEMU 7.2; the
 * functions behind them (LPC bridge, AHCI, SMBus controller) are not. Their BARs size and
 * program like QEMU's but decode nothing.
 */
public final class Ich9Functions {
    private Ich9Functions() {
    }

    public static final int VENDOR_INTEL = 0x8086;

    /**
     * 00:1f.0 LPC bridge (8086:2918). Table:
     * <pre>
     *  0x40 PMBASE     reset 0x00000001, writable 0x0000ff87 (as QEMU 7.2 reads back)
     *  0x60 PIRQA..D   reset 0x80808080 (routing disabled), writable
     *  0x68 PIRQE..H   reset 0x80808080, writable
     *  0xa0 GEN_PMCON_1 bit 4 (SMI_LOCK) stays set once written with 1
     * </pre>
     */
    public static final class Lpc extends PciFunction {
        public static final int PMBASE = 0x40;
        public static final int PIRQ_A_D = 0x60;
        public static final int PIRQ_E_H = 0x68;
        public static final int GEN_PMCON_1 = 0xa0;
        public static final int GEN_PMCON_1_SMI_LOCK = 1 << 4;
        private boolean smiLock;

        public Lpc() {
            super("ICH9-LPC", VENDOR_INTEL, 0x2918, 0x060100, 2, true, ConfigSpace.CONVENTIONAL_SIZE);
            config.define(PMBASE, 4, 0x1, 0xff87, 0);
            config.define(PIRQ_A_D, 4, 0x80808080L, 0xffffffffL, 0);
            config.define(PIRQ_E_H, 4, 0x80808080L, 0xffffffffL, 0);
        }

        @Override
        protected void afterConfigWrite(int offset, int len) {
            if (offset <= GEN_PMCON_1 && offset + len > GEN_PMCON_1) {
                long v = config.get(GEN_PMCON_1, 1);
                smiLock |= (v & GEN_PMCON_1_SMI_LOCK) != 0;
                if (smiLock) {
                    config.set(GEN_PMCON_1, 1, v | GEN_PMCON_1_SMI_LOCK);
                }
            }
        }
    }

    /**
     * 00:1f.2 SATA controller in AHCI mode (8086:2922). Table:
     * <pre>
     *  0x20 BAR4 I/O, 32 bytes (index/data pair)   0x24 BAR5 memory, 4 KiB (ABAR)
     *  0x34 capabilities -> 0x80
     *  0x80 MSI, 64-bit, one vector, next 0xa8
     *  0x90 MAP, reset 0x40, writable
     *  0xa8 SATA capability (id 0x12, revision 1.0), 0xac 0x00000048: read-only
     * </pre>
     */
    public static final class Ahci extends PciFunction {
        public static final int MSI_OFFSET = 0x80;
        public static final int MAP = 0x90;
        public static final int SATA_CAP = 0xa8;

        public Ahci() {
            super("ich9-ahci", VENDOR_INTEL, 0x2922, 0x010601, 2, true, ConfigSpace.CONVENTIONAL_SIZE);
            setInterruptPin(1);
            registerBar(4, Bar.Kind.IO, 32, false, null, AccessRules.ANY);
            registerBar(5, Bar.Kind.MEMORY32, 4096, false, null, AccessRules.ANY);
            addMsi(MSI_OFFSET, true);
            config.define(MAP, 1, 0x40, 0xff, 0);
            addCapability(SATA_CAP, 8);
            config.define(SATA_CAP, 4, 0x00100012, 0, 0);
            config.define(SATA_CAP + 4, 4, 0x48, 0, 0);
        }
    }

    /**
     * 00:1f.3 SMBus controller (8086:2930). Table:
     * <pre>
     *  0x20 BAR4 I/O, 64 bytes
     *  0x40 HOSTC, writable except bit 3 (as QEMU 7.2 reads back 0xfffffff7)
     * </pre>
     */
    public static final class Smbus extends PciFunction {
        public static final int HOSTC = 0x40;

        public Smbus() {
            super("ICH9-SMB", VENDOR_INTEL, 0x2930, 0x0c0500, 2, true, ConfigSpace.CONVENTIONAL_SIZE);
            setInterruptPin(1);
            registerBar(4, Bar.Kind.IO, 64, false, null, AccessRules.ANY);
            config.define(HOSTC, 4, 0, 0xfffffff7L, 0);
        }
    }
}
