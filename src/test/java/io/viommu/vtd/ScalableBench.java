package io.viommu.vtd;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.PasidPrefix;
import io.viommu.pci.RequesterId;
import io.viommu.pci.TranslationResult;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Scalable-mode test bed, the layout the QEMU 7.2 probes used (ScalableModeConformanceTest):
 * root table 0x100000 (bus 0, lower half -> context table 0x101000), edu's context entry at
 * 0x101100 (devfn 8) -> PASID directory 0x106000 -> PASID table 0x107000; PASID entry 0:
 * PGTT 2, AW 1, SLPTPTR 0x102000, DID 1. Second level: 0x102000 -> 0x103000 -> 0x104000 maps
 * 0x1000 -> 0x200000 (R) and 0x2000 -> 0x300000 (RW).
 *
 * <p>First level (4-level, FLPTPTR 0x108000 -> 0x109000 -> 0x10a000 -> 0x10b000, all U/S and
 * R/W): 0x1000 -> 0x200000, 0x2000 -> 0x300000 read-only, 0x3000 supervisor-only,
 * 0x4000 execute-disabled.
 */
final class ScalableBench {
    static final long ROOT = 0x100000;
    static final long CTX = 0x101000;
    static final long CTX_EDU = 0x101100;
    static final long SL3 = 0x102000;
    static final long SL2 = 0x103000;
    static final long SL1 = 0x104000;
    static final long PDIR = 0x106000;
    static final long PTBL = 0x107000;
    static final long FL4 = 0x108000;
    static final long FL3 = 0x109000;
    static final long FL2 = 0x10a000;
    static final long FL1 = 0x10b000;
    static final long IQ = 0x110000;
    static final long STATUS = 0x120000;
    static final long SL_PE = SL3 | (1 << 2) | (2 << 6) | 1;
    static final RequesterId EDU = RequesterId.of(0, 1, 0);

    final VtdBench b;

    ScalableBench(String... props) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("x-scalable-mode", "on");
        for (String p : props) {
            String[] kv = p.split("=", 2);
            m.put(kv[0], kv[1]);
        }
        b = VtdBench.withProps(m);
        b.ram.writeLong(PhysAddr.of(ROOT), CTX | 1);
        b.ram.writeLong(PhysAddr.of(CTX_EDU), PDIR | 1);
        b.ram.writeLong(PhysAddr.of(PDIR), PTBL | 1);
        pasidEntry(0, SL_PE, 1, 0);
        b.ram.writeLong(PhysAddr.of(SL3), SL2 | 3);
        b.ram.writeLong(PhysAddr.of(SL2), SL1 | 3);
        b.ram.writeLong(PhysAddr.of(SL1 + 8), 0x200000 | 1);
        b.ram.writeLong(PhysAddr.of(SL1 + 16), 0x300000 | 3);
        // first level: P | RW | US = 7
        b.ram.writeLong(PhysAddr.of(FL4), FL3 | 7);
        b.ram.writeLong(PhysAddr.of(FL3), FL2 | 7);
        b.ram.writeLong(PhysAddr.of(FL2), FL1 | 7);
        b.ram.writeLong(PhysAddr.of(FL1 + 8), 0x200000 | 7);
        b.ram.writeLong(PhysAddr.of(FL1 + 16), 0x300000 | 5);
        b.ram.writeLong(PhysAddr.of(FL1 + 24), 0x310000 | 3);
        b.ram.writeLong(PhysAddr.of(FL1 + 32), 0x320000 | 7 | FlPte.XD);
    }

    IntelIommu iommu() {
        return b.iommu;
    }

    void pasidEntry(int pasid, long q0, long q1, long q2) {
        long a = PTBL + 64L * pasid;
        b.ram.writeLong(PhysAddr.of(a), q0);
        b.ram.writeLong(PhysAddr.of(a + 8), q1);
        b.ram.writeLong(PhysAddr.of(a + 16), q2);
    }

    /** A first-level PASID entry (PGTT 1, FLPTPTR FL4) with extra Q2 bits {@code q2bits}. */
    ScalableBench firstLevel(long q2bits) {
        pasidEntry(0, (1 << 6) | 1, 1, FL4 | q2bits);
        return this;
    }

    /** A nested PASID entry: first level at FL4 (as a guest-physical address), second level at SL3. */
    ScalableBench nested(long slptptr, long q2bits) {
        pasidEntry(0, slptptr | (1 << 2) | (3 << 6) | 1, 1, FL4 | q2bits);
        return this;
    }

    ScalableBench context(long q0, long q1) {
        b.ram.writeLong(PhysAddr.of(CTX_EDU), q0);
        b.ram.writeLong(PhysAddr.of(CTX_EDU + 8), q1);
        return this;
    }

    /** RTADDR with TTM = 01, SRTP, TE. */
    ScalableBench enable() {
        b.writeq(VtdRegisters.RTADDR, ROOT | VtdRegisters.RTADDR_SMT);
        b.writel(VtdRegisters.GCMD, VtdRegisters.GCMD_SRTP);
        b.writel(VtdRegisters.GCMD, VtdRegisters.GCMD_TE);
        return this;
    }

    /** Queued invalidation with 256-bit descriptors. */
    ScalableBench enableQueue() {
        b.writeq(VtdRegisters.IQA, IQ | VtdRegisters.IQA_DW);
        int gsts = (int) b.readl(VtdRegisters.GSTS);
        b.writel(VtdRegisters.GCMD, (gsts & ~VtdRegisters.GSTS_RTPS) | VtdRegisters.GCMD_QIE);
        return this;
    }

    private int tail;

    /** Submits one 256-bit descriptor and waits for it (the queue head follows the tail). */
    void submit(long lo, long hi) {
        b.ram.writeLong(PhysAddr.of(IQ + tail * 32L), lo);
        b.ram.writeLong(PhysAddr.of(IQ + tail * 32L + 8), hi);
        b.ram.writeLong(PhysAddr.of(IQ + tail * 32L + 16), 0);
        b.ram.writeLong(PhysAddr.of(IQ + tail * 32L + 24), 0);
        tail++;
        b.writeq(VtdRegisters.IQT, (long) tail << 5);
    }

    TranslationResult read(long iova) {
        return b.read(iova);
    }

    TranslationResult write(long iova) {
        return b.write(iova);
    }

    TranslationResult dma(long iova, DmaAccess access, PasidPrefix prefix) {
        return b.iommu.translate(new DmaRequest(EDU, Iova.of(iova), 8, access), prefix);
    }

    long frcdHi() {
        return b.frcdHi(0);
    }

    long frcdLo() {
        return b.frcdLo(0);
    }

    int frcdReason() {
        return (int) (b.frcdHi(0) >>> 32) & 0xff;
    }

    void clearFault() {
        b.clearFault(0);
    }
}
