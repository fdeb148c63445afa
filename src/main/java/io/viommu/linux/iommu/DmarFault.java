package io.viommu.linux.iommu;

import io.viommu.vtd.CapReg;
import io.viommu.vtd.VtdRegisters;
import java.util.List;
import java.util.Map;
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
    /** dma_remap_sm_fault_reasons, codes 0x30..0x90; the gaps read "Unknown". */
    private static final Map<Integer, String> SCALABLE = Map.ofEntries(
            Map.entry(0x30, "SM: Invalid Root Table Address"), Map.entry(0x31, "SM: TTM 0 for request with PASID"),
            Map.entry(0x32, "SM: TTM 0 for page group request"),
            Map.entry(0x38, "SM: Error attempting to access Root Entry"),
            Map.entry(0x39, "SM: Present bit in Root Entry is clear"),
            Map.entry(0x3a, "SM: Non-zero reserved field set in Root Entry"),
            Map.entry(0x40, "SM: Error attempting to access Context Entry"),
            Map.entry(0x41, "SM: Present bit in Context Entry is clear"),
            Map.entry(0x42, "SM: Non-zero reserved field set in the Context Entry"),
            Map.entry(0x43, "SM: Invalid Context Entry"), Map.entry(0x44, "SM: DTE field in Context Entry is clear"),
            Map.entry(0x45, "SM: PASID Enable field in Context Entry is clear"),
            Map.entry(0x46, "SM: PASID is larger than the max in Context Entry"),
            Map.entry(0x47, "SM: PRE field in Context-Entry is clear"),
            Map.entry(0x48, "SM: RID_PASID field error in Context-Entry"),
            Map.entry(0x50, "SM: Error attempting to access the PASID Directory Entry"),
            Map.entry(0x51, "SM: Present bit in Directory Entry is clear"),
            Map.entry(0x52, "SM: Non-zero reserved field set in PASID Directory Entry"),
            Map.entry(0x58, "SM: Error attempting to access PASID Table Entry"),
            Map.entry(0x59, "SM: Present bit in PASID Table Entry is clear"),
            Map.entry(0x5a, "SM: Non-zero reserved field set in PASID Table Entry"),
            Map.entry(0x5b, "SM: Invalid Scalable-Mode PASID Table Entry"),
            Map.entry(0x5c, "SM: ERE field is clear in PASID Table Entry"),
            Map.entry(0x5d, "SM: SRE field is clear in PASID Table Entry"),
            Map.entry(0x70, "SM: Error attempting to access first-level paging entry"),
            Map.entry(0x71, "SM: Present bit in first-level paging entry is clear"),
            Map.entry(0x72, "SM: Non-zero reserved field set in first-level paging entry"),
            Map.entry(0x73, "SM: Error attempting to access FL-PML4 entry"),
            Map.entry(0x74, "SM: First-level entry address beyond MGAW in Nested translation"),
            Map.entry(0x75, "SM: Read permission error in FL-PML4 entry in Nested translation"),
            Map.entry(0x76, "SM: Read permission error in first-level paging entry in Nested translation"),
            Map.entry(0x77, "SM: Write permission error in first-level paging entry in Nested translation"),
            Map.entry(0x78, "SM: Error attempting to access second-level paging entry"),
            Map.entry(0x79, "SM: Read/Write permission error in second-level paging entry"),
            Map.entry(0x7a, "SM: Non-zero reserved field set in second-level paging entry"),
            Map.entry(0x7b, "SM: Invalid second-level page table pointer"),
            Map.entry(0x7c, "SM: A/D bit update needed in second-level entry when set up in no snoop"),
            Map.entry(0x80, "SM: Address in first-level translation is not canonical"),
            Map.entry(0x81, "SM: U/S set 0 for first-level translation with user privilege"),
            Map.entry(0x82, "SM: No execute permission for request with PASID and ER=1"),
            Map.entry(0x83, "SM: Address beyond the DMA hardware max"),
            Map.entry(0x84, "SM: Second-level entry address beyond the max"),
            Map.entry(0x85, "SM: No write permission for Write/AtomicOp request"),
            Map.entry(0x86, "SM: No read permission for Read/AtomicOp request"),
            Map.entry(0x87, "SM: Invalid address-interrupt address"),
            Map.entry(0x90, "SM: A/D bit update needed in first-level entry when set up in no snoop"));
    static final int FSTS_PRO = 1 << 7;
    /** F, bit 127 of a record: bit 31 of its top dword. */
    static final int FRCD_F_DWORD = 1 << 31;

    private DmarFault() {
    }

    /**
     * dmar_fault: handles the pending faults; returns the FSTS value it read. {@code rs} is
     * dmar_fault's one static ratelimit state: the "handling fault status reg" line takes a
     * pass, and so does every turn of the record loop, the last one (the record without F that
     * ends it) included; a record refused is cleared without being read or printed.
     */
    static int handle(UnitRegisters regs, long cap, Consumer<String> log, Ratelimit rs) {
        int fsts = regs.readl(VtdRegisters.FSTS);
        if (fsts != 0 && rs.pass(log)) {
            log.accept("DMAR: DRHD: handling fault status reg " + Integer.toHexString(fsts));
        }
        if ((fsts & VtdRegisters.FSTS_PPF) == 0) {
            return fsts;
        }
        int fro = CapReg.faultRecordOffset(cap);
        int nfr = CapReg.faultRecordCount(cap);
        int index = (fsts & VtdRegisters.FSTS_FRI_MASK) >>> VtdRegisters.FSTS_FRI_SHIFT;
        // Linux loops until a record without F; NFR + 1 turns bound it (all records set, then
        // the first one again, cleared by then)
        for (int n = 0; n <= nfr; n++) {
            boolean ratelimited = !rs.pass(log);
            int at = fro + 16 * (index % nfr);
            int top = regs.readl(at + 12);
            if ((top & FRCD_F_DWORD) == 0) {
                break;
            }
            String line = null;
            if (!ratelimited) {
                int reason = top & 0xff;
                boolean read = (top >>> 30 & 1) != 0; // T: 1 read, 0 write
                int pasid = (top >>> 8) & 0xfffff;
                int sidWord = regs.readl(at + 8);
                boolean pasidPresent = (sidWord >>> 31 & 1) != 0;
                long addr = regs.readq(at) & ~0xfffL;
                line = line(reason, read, pasidPresent ? pasid : -1, sidWord & 0xffff, addr);
            }
            regs.writel(at + 12, FRCD_F_DWORD);
            if (line != null) {
                log.accept(line);
            }
            index = (index + 1) % nfr;
        }
        regs.writel(VtdRegisters.FSTS, VtdRegisters.FSTS_PFO | VtdRegisters.FSTS_PPF | FSTS_PRO);
        return fsts;
    }

    /**
     * dmar_fault_do_one's line (Linux 6.1 format, no "0x" before the bus and device); the text
     * as dmar_get_fault_reason picks it: interrupt-remapping reasons from 0x20, scalable-mode
     * ones from 0x30, legacy ones below 0x0e.
     */
    static String line(int reason, boolean read, int pasid, int sid, long addr) {
        String device = String.format("[%02x:%02x.%d]", sid >> 8, (sid >> 3) & 0x1f, sid & 7);
        if (reason >= 0x20 && reason - 0x20 < INTR_REMAP.size()) {
            return String.format("DMAR: [INTR-REMAP] Request device %s fault index 0x%x [fault reason 0x%02x] %s",
                    device, addr >>> 48, reason, INTR_REMAP.get(reason - 0x20));
        }
        String text = reason >= 0x30 && reason <= 0x90 ? SCALABLE.getOrDefault(reason, "Unknown")
                : reason < DMA_REMAP.size() ? DMA_REMAP.get(reason) : "Unknown";
        String kind = read ? "DMA Read" : "DMA Write";
        String tag = pasid < 0 ? kind + " NO_PASID" : String.format("%s PASID 0x%x", kind, pasid);
        return String.format("DMAR: [%s] Request device %s fault addr 0x%x [fault reason 0x%02x] %s",
                tag, device, addr, reason, text);
    }
}
