package io.viommu.vtd;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.memory.PhysicalMemory;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.MsiSink;
import io.viommu.pci.RequesterId;
import io.viommu.pci.TranslationResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Test bed: 256 MiB of RAM, one unit at offset 0 of its own register space, a recording MSI
 * sink, and helpers that lay out the same tables the QEMU probes used:
 * root table 0x100000, context table 0x101000, second-level tables 0x102000 (top), 0x103000,
 * 0x104000; IOVA 0x200000 -> 0x300000 RW, 0x201000 -> 0x301000 R, 0x202000 -> 0x302000 W.
 */
final class VtdBench {
    static final long ROOT = 0x100000;
    static final long CTX = 0x101000;
    static final long L3 = 0x102000;
    static final long L2 = 0x103000;
    static final long L1 = 0x104000;
    static final long L4 = 0x105000;
    static final long IQ = 0x110000;
    static final long STATUS = 0x120000;
    static final RequesterId EDU = RequesterId.of(0, 1, 0); // sid 0x08, QEMU's first -device

    record Msi(long address, int data) {
    }

    final PhysicalMemory ram = new PhysicalMemory(256L << 20);
    final List<Msi> msis = new ArrayList<>();
    final MsiSink sink = (a, d, s) -> msis.add(new Msi(a, d));
    final IntelIommu iommu;

    VtdBench() {
        this(VtdConfig.defaults());
    }

    VtdBench(VtdConfig config) {
        iommu = new IntelIommu(config, ram, sink);
    }

    static VtdBench withProps(Map<String, String> props) {
        return new VtdBench(VtdConfig.fromQemuProperties(props));
    }

    long readq(int off) {
        return iommu.load(off, 8);
    }

    long readl(int off) {
        return iommu.load(off, 4);
    }

    void writeq(int off, long v) {
        iommu.store(off, v, 8);
    }

    void writel(int off, long v) {
        iommu.store(off, v, 4);
    }

    /** Root/context entries for {@code sid} (domain 1, AW 1 = 3-level) and the standard mappings. */
    VtdBench tables(RequesterId sid) {
        ram.writeLong(PhysAddr.of(ROOT + sid.bus() * 16L), CTX | 1);
        ram.writeLong(PhysAddr.of(CTX + sid.devfn() * 16L), L3 | 1);
        ram.writeLong(PhysAddr.of(CTX + sid.devfn() * 16L + 8), (1 << 8) | 1);
        ram.writeLong(PhysAddr.of(L3), L2 | 3);
        ram.writeLong(PhysAddr.of(L2 + 8), L1 | 3);
        ram.writeLong(PhysAddr.of(L1), 0x300000 | 3);
        ram.writeLong(PhysAddr.of(L1 + 8), 0x301000 | 1);
        ram.writeLong(PhysAddr.of(L1 + 16), 0x302000 | 2);
        return this;
    }

    VtdBench tables() {
        return tables(EDU);
    }

    long contextLo(RequesterId sid) {
        return CTX + sid.devfn() * 16L;
    }

    /** RTADDR, SRTP, then TE, as a driver does. */
    VtdBench enable() {
        writeq(VtdRegisters.RTADDR, ROOT);
        writel(VtdRegisters.GCMD, VtdRegisters.GCMD_SRTP);
        writel(VtdRegisters.GCMD, VtdRegisters.GCMD_TE);
        return this;
    }

    VtdBench enableQueue() {
        writeq(VtdRegisters.IQA, IQ);
        int gsts = (int) readl(VtdRegisters.GSTS);
        writel(VtdRegisters.GCMD, (gsts & ~VtdRegisters.GSTS_RTPS) | VtdRegisters.GCMD_QIE);
        return this;
    }

    void descriptor(int index, long lo, long hi) {
        ram.writeLong(PhysAddr.of(IQ + index * 16L), lo);
        ram.writeLong(PhysAddr.of(IQ + index * 16L + 8), hi);
    }

    void tail(int index) {
        writeq(VtdRegisters.IQT, (long) index << 4);
    }

    TranslationResult write(long iova) {
        return iommu.translate(new DmaRequest(EDU, Iova.of(iova), 8, DmaAccess.WRITE));
    }

    TranslationResult read(long iova) {
        return iommu.translate(new DmaRequest(EDU, Iova.of(iova), 8, DmaAccess.READ));
    }

    TranslationResult dma(RequesterId sid, long iova, DmaAccess access) {
        return iommu.translate(new DmaRequest(sid, Iova.of(iova), 8, access));
    }

    long frcdLo(int i) {
        return readq(VtdRegisters.FRCD + 16 * i);
    }

    long frcdHi(int i) {
        return readq(VtdRegisters.FRCD + 16 * i + 8);
    }

    long fsts() {
        return readl(VtdRegisters.FSTS);
    }

    /** Clears the F bit of record {@code i} (W1C, upper dword) and PFO. */
    void clearFault(int i) {
        writel(VtdRegisters.FRCD + 16 * i + 12, 0x80000000L);
        writel(VtdRegisters.FSTS, VtdRegisters.FSTS_PFO);
    }
}
