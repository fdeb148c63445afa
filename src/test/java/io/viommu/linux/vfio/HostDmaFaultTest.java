package io.viommu.linux.vfio;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import io.viommu.vtd.VtdRegisters;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A device assigned through VFIO DMAs to an IOVA its user never mapped: the host unit records
 * the fault and raises its fault-event MSI on the vector the driver programmed (FEDATA/FEADDR);
 * when the CPU takes it, dmar_fault (Linux 6.1 drivers/iommu/intel/dmar.c) prints the record
 * and clears it through the registers, rate limited as Linux does (5 s, burst 10, shared by the
 * "handling fault status reg" line and every turn of the record loop). Ground truth:
 * {@code vmm/faults/host-dma-fault}, the same six faults (write, read, four writes, about
 * 1.04 s apart) made by QEMU 7.2's vfio-pci on a real Linux 6.1 host.
 */
class HostDmaFaultTest {
    private static final String EDU = "0000:00:04.0";
    private static final Path CAPTURE = Path.of("src/test/resources/vmm/faults/host-dma-fault/host.dmesg");

    /** The capture's host: q35, 1G, intel-iommu (intremap=off, caching-mode=on), edu at 04.0. */
    private static VfioBed host() throws Exception {
        VfioBed bed = VfioBed.create(MachineBuilder.fromCommandLine(List.of("-machine", "q35", "-m", "1G",
                "-device", "intel-iommu,intremap=off,caching-mode=on", "-device", "edu,addr=04.0",
                "-append", "intel_iommu=on", "-nodefaults"), MachineLog.SILENT));
        bed.core.setModuleParameter("vfio_iommu_type1", "allow_unsafe_interrupts", "1");
        return bed;
    }

    /** The capture's lines after the VMM started, without their timestamps. */
    private static List<String> captured() throws Exception {
        List<String> out = new ArrayList<>();
        for (String l : Files.readAllLines(CAPTURE)) {
            String text = l.replaceFirst("^\\[ *[0-9.]+\\] ", "");
            if (!text.startsWith("ACPI: ")) { // the GSI link the VMM's open allocates (not this work)
                out.add(text);
            }
        }
        return out;
    }

    private static List<String> since(VfioBed bed, int from) {
        List<String> d = bed.kernel.dmesg();
        return List.copyOf(d.subList(from, d.size()));
    }

    private static int fsts(VfioBed bed) {
        return (int) bed.machine.iommu().load(VtdRegisters.FSTS, 4);
    }

    @Test
    void theHostKernelLogsTheFaultWhenItTakesTheFaultEventAndClearsTheRecord() throws Exception {
        VfioBed bed = host();
        VfioBed.Open o = bed.open(EDU);
        VfioDmaTest.busMaster(o.device());
        long buf = bed.root.mmap(4096); // the user maps some memory; 0xc000000 is not in it
        o.container().mapDma(buf, 0x100000, 4096, VfioContainer.MAP_READ | VfioContainer.MAP_WRITE);
        int mark = bed.kernel.dmesg().size();

        Edu.through(o.device()).toMemory(0xc000000L, 16);
        // recorded by the unit, the MSI delivered: nothing printed until the CPU takes it
        assertThat(fsts(bed) & VtdRegisters.FSTS_PPF).isNotZero();
        assertThat(bed.machine.interrupts().apic().log()).last()
                .satisfies(i -> assertThat(i.vector()).isEqualTo(0x30));
        assertThat(bed.kernel.interruptsPending()).isTrue();
        assertThat(since(bed, mark)).isEmpty();

        assertThat(bed.kernel.takeInterrupts()).isEqualTo(1);
        assertThat(since(bed, mark)).containsExactlyElementsOf(captured().subList(0, 2));
        assertThat(fsts(bed) & (VtdRegisters.FSTS_PPF | VtdRegisters.FSTS_PFO)).isZero();
        assertThat(bed.faultRecord(0)[1] & VtdRegisters.FRCD_F).isZero();
        assertThat(bed.kernel.takeInterrupts()).isZero();
    }

    @Test
    void theCapturesSixFaultsGiveItsLinesRateLimitedAsLinux() throws Exception {
        VfioBed bed = host();
        VfioBed.Open o = bed.open(EDU);
        VfioDmaTest.busMaster(o.device());
        Edu edu = Edu.through(o.device());
        int mark = bed.kernel.dmesg().size();
        for (int n = 0; n < 6; n++) {
            if (n > 0) {
                bed.driver.clock().advanceMillis(1040); // the capture's #sleep 1 between DMAs
            }
            if (n == 1) {
                edu.fromMemory(0xc001000L, 16);
            } else {
                edu.toMemory(0xc000000L + (n == 0 ? 0 : (n * 0x1000L)), 16);
            }
            bed.kernel.takeInterrupts();
            // printed or not, every record is cleared and the next fault raises its event again
            assertThat(fsts(bed) & VtdRegisters.FSTS_PPF).isZero();
            assertThat(bed.faultRecord(0)[1] & VtdRegisters.FRCD_F).isZero();
        }
        assertThat(since(bed, mark)).containsExactlyElementsOf(captured());
    }

    @Test
    void withinOneIntervalOnlyTheFirstThreeFaultsArePrintedInFull() throws Exception {
        VfioBed bed = host();
        VfioBed.Open o = bed.open(EDU);
        VfioDmaTest.busMaster(o.device());
        Edu edu = Edu.through(o.device());
        int mark = bed.kernel.dmesg().size();
        for (int n = 0; n < 11; n++) {
            edu.toMemory(0xc000000L + n * 0x1000L, 16);
            assertThat(bed.kernel.takeInterrupts()).isEqualTo(1);
        }
        List<String> lines = since(bed, mark);
        // 3 tokens a fault: the status line, the record, the turn that finds no F; burst 10
        assertThat(lines).filteredOn(l -> l.contains("Request device")).hasSize(3);
        assertThat(lines).filteredOn(l -> l.contains("handling fault status reg")).hasSize(4);
        assertThat(lines).noneMatch(l -> l.contains("0xc003000"));

        bed.driver.clock().advanceMillis(5001);
        edu.toMemory(0xc00b000L, 16);
        bed.kernel.takeInterrupts();
        assertThat(since(bed, mark + lines.size())).containsExactly("dmar_fault: 23 callbacks suppressed",
                "DMAR: DRHD: handling fault status reg 2",
                "DMAR: [DMA Write NO_PASID] Request device [00:04.0] fault addr 0xc00b000 [fault reason 0x05]"
                        + " PTE Write access is not set");
    }
}
