package io.viommu.pci;

import io.viommu.memory.Mmio;

/**
 * One base address register of a function: what it decodes (its {@link Mmio} region, seen from
 * the BAR's base; null for a BAR whose registers are not modelled, which then decodes nothing
 * but still sizes and programs like the real one), how big it is, and which space it lives in. Placement is the guest's: the
 * address is whatever it programmed, decoded only while the command register enables the space
 * ({@link PciFunction#barAddress}).
 */
public record Bar(int index, Kind kind, long size, boolean prefetchable, Mmio region,
                  AccessRules rules) {
    public enum Kind { MEMORY32, MEMORY64, IO }

    /** QEMU's PCI_BAR_UNMAPPED: the BAR decodes nothing. */
    public static final long UNMAPPED = -1L;

    public Bar {
        if (index < 0 || index > 5 || (kind == Kind.MEMORY64 && index == 5)) {
            throw new IllegalArgumentException("bad BAR index " + index + " for " + kind);
        }
        if (Long.bitCount(size) != 1 || size < (kind == Kind.IO ? 4 : 16)) {
            throw new IllegalArgumentException("BAR size must be a power of two >= 4/16: " + size);
        }
    }

    /** Offset of the BAR's (low) dword in configuration space. */
    public int configOffset() {
        return PciRegs.BAR0 + 4 * index;
    }

    /** The read-only low bits of the BAR register (space and type indicators). */
    public int typeBits() {
        return switch (kind) {
            case IO -> PciRegs.BAR_SPACE_IO;
            case MEMORY32 -> prefetchable ? PciRegs.BAR_MEM_PREFETCH : 0;
            case MEMORY64 -> PciRegs.BAR_MEM_TYPE_64 | (prefetchable ? PciRegs.BAR_MEM_PREFETCH : 0);
        };
    }

    /**
     * Where the BAR decodes, from its register value and the command register, or
     * {@link #UNMAPPED}. Same rules as QEMU's {@code pci_bar_address}: the space must be enabled,
     * address 0 is not decoded (q35 does not allow it), and the region must not wrap or, for a
     * 32-bit BAR, reach 0xFFFFFFFF (which is what the all-ones sizing write leaves behind).
     */
    public static long decode(Kind kind, long size, long registerValue, int command) {
        int enable = kind == Kind.IO ? PciRegs.COMMAND_IO : PciRegs.COMMAND_MEMORY;
        if ((command & enable) == 0) {
            return UNMAPPED;
        }
        long base = registerValue & -size;
        long last = base + size - 1;
        if (Long.compareUnsigned(last, base) <= 0 || base == 0 || last == UNMAPPED) {
            return UNMAPPED;
        }
        if (kind != Kind.MEMORY64 && Long.compareUnsigned(last, 0xffff_ffffL) >= 0) {
            return UNMAPPED;
        }
        return base;
    }
}
