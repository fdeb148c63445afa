package io.viommu.linux.iommu;

import io.viommu.vtd.CapReg;
import io.viommu.vtd.EcapReg;
import io.viommu.vtd.VtdRegisters;
import java.util.function.Consumer;

/**
 * Register-based invalidation (__iommu_flush_context, __iommu_flush_iotlb in 6.1
 * drivers/iommu/intel/iommu.c): one write of CCMD or of IVA + IOTLB, then a poll of the same
 * register until the hardware clears ICC / IVT. Used when the unit has no queued invalidation.
 */
final class RegisterInvalidation implements Invalidation {
    private final UnitRegisters regs;
    private final IommuCounters.Tally tally;
    private final Consumer<String> log;
    private final long cap;
    private final int iotlbOffset;

    RegisterInvalidation(UnitRegisters regs, IommuCounters.Tally tally, Consumer<String> log, long cap, long ecap) {
        this.regs = regs;
        this.tally = tally;
        this.log = log;
        this.cap = cap;
        this.iotlbOffset = EcapReg.iotlbOffset(ecap);
    }

    @Override
    public boolean queued() {
        return false;
    }

    @Override
    public void flushContext(int did, int sourceId, int functionMask, long type) {
        long val = type | VtdRegisters.CCMD_ICC;
        if (type == CCMD_GLOBAL) {
            tally.contextGlobal++;
        } else if (type == CCMD_DOMAIN) {
            val |= did & 0xffff;
            tally.contextDomain++;
        } else {
            val |= did & 0xffff | (long) (sourceId & 0xffff) << 16 | (long) (functionMask & 3) << 32;
            tally.contextDevice++;
        }
        regs.writeq(VtdRegisters.CCMD, val);
        for (int i = 0; i < DmarUnit.POLL_LIMIT; i++) {
            if ((regs.readq(VtdRegisters.CCMD) & VtdRegisters.CCMD_ICC) == 0) {
                return;
            }
        }
        log.accept("DMAR: context invalidation did not complete");
    }

    @Override
    public void flushIotlb(int did, long addr, int sizeOrder, long type) {
        long valIva = 0;
        long val = type | VtdRegisters.IOTLB_IVT;
        if (type == TLB_GLOBAL) {
            tally.iotlbGlobal++;
        } else if (type == TLB_DSI) {
            val |= (long) (did & 0xffff) << 32;
            tally.iotlbDomain++;
        } else {
            val |= (long) (did & 0xffff) << 32;
            valIva = sizeOrder | addr; // IH (bit 6) survives here, unlike the queued path
            tally.iotlbPage++;
        }
        if (CapReg.readDrain(cap)) {
            val |= 1L << 49; // DMA_TLB_READ_DRAIN
        }
        if (CapReg.writeDrain(cap)) {
            val |= 1L << 48; // DMA_TLB_WRITE_DRAIN
        }
        if (valIva != 0) {
            regs.writeq(iotlbOffset, valIva);
        }
        regs.writeq(iotlbOffset + 8, val);
        for (int i = 0; i < DmarUnit.POLL_LIMIT; i++) {
            long v = regs.readq(iotlbOffset + 8);
            if ((v & VtdRegisters.IOTLB_IVT) == 0) {
                if ((v & VtdRegisters.IOTLB_IAIG_MASK) == 0) {
                    log.accept("DMAR: Flush IOTLB failed");
                }
                return;
            }
        }
        log.accept("DMAR: IOTLB invalidation did not complete");
    }

    @Override
    public void flushDeviceIotlb(int sid, int pfsid, int qdep, long addr, int mask) {
        // No register interface exists for device-TLB invalidation; Linux only enables ATS with QI.
    }
}
