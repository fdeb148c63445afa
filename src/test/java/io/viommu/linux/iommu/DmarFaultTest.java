package io.viommu.linux.iommu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * dmar_fault_do_one's lines (Linux 6.1 drivers/iommu/intel/dmar.c): "[INTR-REMAP] Request device
 * [%02x:%02x.%d] fault index 0x%llx [fault reason 0x%02x] %s" and "[%s PASID 0x%x] Request device
 * [%02x:%02x.%d] fault addr 0x%llx [fault reason 0x%02x] %s", the text from
 * dmar_get_fault_reason's three tables.
 */
class DmarFaultTest {
    @Test
    void interruptRemappingFaultsPrintTheIndex() {
        assertThat(DmarFault.line(0x22, false, -1, 0x0008, 0x5L << 48))
                .isEqualTo("DMAR: [INTR-REMAP] Request device [00:01.0] fault index 0x5 [fault reason 0x22]"
                        + " Present field in the IRTE entry is clear");
    }

    @Test
    void scalableModeReasonsAndPasidsAreNamed() {
        assertThat(DmarFault.line(0x59, true, 3, 0x0100, 0x2000))
                .isEqualTo("DMAR: [DMA Read PASID 0x3] Request device [01:00.0] fault addr 0x2000 [fault reason 0x59]"
                        + " SM: Present bit in PASID Table Entry is clear");
        assertThat(DmarFault.line(0x35, true, -1, 0, 0)).endsWith("[fault reason 0x35] Unknown");
        assertThat(DmarFault.line(0x0e, true, -1, 0, 0)).endsWith("[fault reason 0x0e] Unknown");
        assertThat(DmarFault.line(0x06, true, -1, 0x00fa, 0x1000))
                .isEqualTo("DMAR: [DMA Read NO_PASID] Request device [00:1f.2] fault addr 0x1000 [fault reason 0x06]"
                        + " PTE Read access is not set");
    }
}
