package io.viommu.linux.vfio;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import io.viommu.vtd.VtdRegisters;
import org.junit.jupiter.api.Test;

/**
 * A kernel that boots on a unit another kernel used finds that kernel's faults where the unit's
 * registers say they are (FSTS.PPF and FRI, CAP.FRO and NFR), prints them as dmar_fault does and
 * clears them (intel_iommu_init_qi: "Clear any previous faults"). Linux 6.1
 * drivers/iommu/intel/dmar.c: dmar_fault, dmar_fault_do_one
 * ("[%s NO_PASID] Request device [%02x:%02x.%d] fault addr 0x%llx [fault reason 0x%02x] %s").
 */
class PreviousFaultsTest {
    @Test
    void theNextKernelReadsAndClearsTheFaultRecordsThroughTheRegisters() throws Exception {
        VfioBed bed = VfioBed.boot("intremap=on,fault-records=4", "edu", "e1000e");
        VfioBed.Open o = bed.open("0000:00:01.0");
        VfioDmaTest.busMaster(o.device());
        Edu.through(o.device()).toMemory(0x40_0000L, 4); // nothing mapped: a write fault
        assertThat(bed.faultRecord(0)[1] & VtdRegisters.FRCD_F).isNotZero();

        Kernel next = Kernel.boot(bed.machine); // kexec, not kdump: the unit keeps its state
        assertThat(next.iommuDriver().messages()).containsSubsequence(
                "DMAR: DRHD: handling fault status reg 2",
                "DMAR: [DMA Write NO_PASID] Request device [00:01.0] fault addr 0x400000 [fault reason 0x05]"
                        + " PTE Write access is not set");
        assertThat(bed.faultRecord(0)[1] & VtdRegisters.FRCD_F).isZero();
        assertThat(bed.machine.iommu().load(VtdRegisters.FSTS, 4) & VtdRegisters.FSTS_PPF).isZero();
    }
}
