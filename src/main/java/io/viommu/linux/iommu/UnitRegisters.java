package io.viommu.linux.iommu;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.PhysAddr;

/**
 * The CPU's view of one DMAR unit's register block: accesses go to the CPU's physical address
 * space at the DRHD's register base, exactly as readl/writel/dmar_readq/dmar_writeq through the
 * driver's ioremap do. Every access is counted: under a vIOMMU each one is a VM exit.
 */
final class UnitRegisters {
    private final AddressSpace cpu;
    private final long base;
    private final IommuCounters.Tally tally;

    UnitRegisters(AddressSpace cpu, long base, IommuCounters.Tally tally) {
        this.cpu = cpu;
        this.base = base;
        this.tally = tally;
    }

    long base() {
        return base;
    }

    int readl(int offset) {
        tally.mmioReads++;
        return (int) cpu.read(PhysAddr.of(base + offset), 4);
    }

    long readq(int offset) {
        tally.mmioReads++;
        return cpu.read(PhysAddr.of(base + offset), 8);
    }

    void writel(int offset, int value) {
        tally.mmioWrites++;
        cpu.write(PhysAddr.of(base + offset), value & 0xffff_ffffL, 4);
    }

    void writeq(int offset, long value) {
        tally.mmioWrites++;
        cpu.write(PhysAddr.of(base + offset), value, 8);
    }
}
