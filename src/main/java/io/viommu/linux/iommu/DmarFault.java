package io.viommu.linux.iommu;

import io.viommu.vtd.CapReg;
import io.viommu.vtd.VtdRegisters;
import java.util.List;
import java.util.function.Consumer;

/**
 * dmar_fault (drivers/iommu/intel/dmar.c, Linux 6.1): the primary fault log read through the
 * registers. FSTS says whether a fault is pending (PPF) and where the first one is (FRI); CAP
 * says where the fault recording registers are (FRO) and how many there are (NFR). Each
 * record with F set is printed (dmar_fault_do_one) and cleared by writing F back; then FSTS's
 * PFO, PPF and PRO are written. intel_iommu_init_qi calls it at boot to clear the faults a
 * previous user of the unit left ("Clear any previous faults").
 */
final class DmarFault {
    /** dma_remap_fault_reasons. */
    private static final List<String> DMA_REMAP = List.of("Software", "Present bit in root entry is clear",
            "Present bit in context entry is clear", "Invalid context entry", "Access beyond MGAW",
            "PTE Write access is not set", "PTE Read access is not set", "Next page table ptr is invalid",
            "Root table address invalid", "Context table ptr is invalid", "non-zero reserved fields in RTP",
            "non-zero reserved fields in CTP", "non-zero reserved fields in PTE",
            "PCE for translation request specifies blocking");
    /** irq_remap_fault_reasons, codes 0x20 up. */
    private static final List<String> INTR_REMAP = List.of(
            "Detected reserved fields in the decoded interrupt-remapped request",
            "Interrupt index exceeded the interrupt-remapping table size", "Present field in the IRTE entry is clear",
            "Error accessing interrupt-remapping table pointed by IRTA_REG", "Detected reserved fields in the IRTE entry",
            "Blocked a compatibility format interrupt request",
            "Blocked an interrupt request due to source-id verification failure");
    static final int FSTS_PRO = 1 << 7;
    /** F, bit 127 of a record: bit 31 of its top dword. */
    static final int FRCD_F_DWORD = 1 << 31;

    private DmarFault() {
    }

    /** Handles the pending faults; returns the FSTS value it read. */
    static int handle(UnitRegisters regs, long cap, Consumer<String> log) {
        int fsts = regs.readl(VtdRegisters.FSTS);
        if (fsts != 0) {
            log.accept("DMAR: DRHD: handling fault status reg " + Integer.toHexString(fsts));
        }
        if ((fsts & VtdRegisters.FSTS_PPF) == 0) {
            return fsts;
        }
        int fro = CapReg.faultRecordOffset(cap);
        int nfr = CapReg.faultRecordCount(cap);
        int index = (fsts & VtdRegisters.FSTS_FRI_MASK) >>> VtdRegisters.FSTS_FRI_SHIFT;
        for (int n = 0; n < nfr; n++) { // Linux loops until a record without F; NFR bounds it
            int at = fro + 16 * (index % nfr);
            int top = regs.readl(at + 12);
            if ((top & FRCD_F_DWORD) == 0) {
                break;
            }
            int reason = top & 0xff;
            boolean read = (top >>> 30 & 1) != 0; // T: 1 read, 0 write
            int pasid = (top >>> 8) & 0xfffff;
            int sidWord = regs.readl(at + 8);
            boolean pasidPresent = (sidWord >>> 31 & 1) != 0;
            long addr = regs.readq(at) & ~0xfffL;
            regs.writel(at + 12, FRCD_F_DWORD);
            log.accept(line(reason, read, pasidPresent ? pasid : -1, sidWord & 0xffff, addr));
            index = (index + 1) % nfr;
        }
        regs.writel(VtdRegisters.FSTS, VtdRegisters.FSTS_PFO | VtdRegisters.FSTS_PPF | FSTS_PRO);
        return fsts;
    }

    /** dmar_fault_do_one's line (dmar_get_fault_reason picks the text). */
    static String line(int reason, boolean read, int pasid, int sid, long addr) {
        String device = String.format("[%02x:%02x.%d]", sid >> 8, (sid >> 3) & 0x1f, sid & 7);
        if (reason >= 0x20 && reason - 0x20 < INTR_REMAP.size()) {
            return String.format("DMAR: [INTR-REMAP] Request device %s fault index 0x%x [fault reason 0x%02x] %s",
                    device, addr >>> 48, reason, INTR_REMAP.get(reason - 0x20));
        }
        // scalable-mode reasons (0x30 up) are not driven by this legacy-mode driver: "Unknown"
        String text = reason < DMA_REMAP.size() ? DMA_REMAP.get(reason) : "Unknown";
        String kind = read ? "DMA Read" : "DMA Write";
        String tag = pasid < 0 ? kind + " NO_PASID" : String.format("%s PASID 0x%x", kind, pasid);
        return String.format("DMAR: [%s] Request device %s fault addr 0x%x [fault reason 0x%02x] %s",
                tag, device, addr, reason, text);
    }
}
