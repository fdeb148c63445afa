package io.viommu.machine;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.EduDevice;
import io.viommu.machine.device.LocalApicSink.ApicInterrupt;
import io.viommu.machine.device.MachineLog;
import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.PciRegs;
import io.viommu.pci.RequesterId;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.InterruptRemapping;
import io.viommu.vtd.VtdRegisters;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Interrupts end to end on the machine: device MSIs, DMA into the interrupt range, VT-d events. */
class InterruptDeliveryTest {
    static final long BAR = 0xfea0_0000L;
    static final long IRT = 0x130000;
    static final long VTD = IntelIommu.DEFAULT_BASE;
    static final RequesterId EDU = RequesterId.of(0, 1, 0);

    static java.util.List<String> withNoDefaults(String... args) {
        java.util.List<String> all = new java.util.ArrayList<>(java.util.List.of("-nodefaults"));
        all.addAll(java.util.List.of(args));
        return all;
    }

    static Machine boot(String... args) throws Exception {
        Machine m = MachineBuilder.fromCommandLine(withNoDefaults(args), MachineLog.SILENT);
        MachineTest.cf8Write(m, 1, 0, 0x10, BAR, 4);
        MachineTest.cf8Write(m, 1, 0, PciRegs.COMMAND, PciRegs.COMMAND_MEMORY | PciRegs.COMMAND_MASTER, 2);
        return m;
    }

    static void programMsi(Machine m, long address, int data) {
        MachineTest.cf8Write(m, 1, 0, 0x44, address, 4);
        MachineTest.cf8Write(m, 1, 0, 0x48, 0, 4);
        MachineTest.cf8Write(m, 1, 0, 0x4c, data, 4);
        MachineTest.cf8Write(m, 1, 0, 0x40, 0x0081_0005L, 4);
    }

    static void enableIr(Machine m) {
        m.memory().write(PhysAddr.of(VTD + VtdRegisters.IRTA), IRT | 7, 8);
        m.memory().write(PhysAddr.of(VTD + VtdRegisters.GCMD), VtdRegisters.GCMD_SIRTP & 0xffffffffL, 4);
        m.memory().write(PhysAddr.of(VTD + VtdRegisters.GCMD), VtdRegisters.GCMD_IRE & 0xffffffffL, 4);
    }

    static void irte(Machine m, int index, long lo, long hi) {
        m.ram().writeLong(PhysAddr.of(IRT + 16L * index), lo);
        m.ram().writeLong(PhysAddr.of(IRT + 16L * index + 8), hi);
    }

    static List<ApicInterrupt> apic(Machine m) {
        return m.interrupts().apic().log();
    }

    @Test
    void eduMsiThroughAnIrteReachesTheApicWithTheIrteVectorAndDestination() throws Exception {
        Machine m = boot("-device", "intel-iommu", "-device", "edu");
        enableIr(m);
        irte(m, 2, 0x0000_0700_0063_0001L, (1L << 18) | EDU.value());
        programMsi(m, InterruptRemapping.remappableAddress(2, false), 0);
        m.memory().write(PhysAddr.of(BAR + EduDevice.REG_IRQ_RAISE), 1, 4);
        assertThat(apic(m)).containsExactly(new ApicInterrupt(0x63, 7, false, 0, false, false, EDU, 2));
    }

    @Test
    void eduMsiWithoutInterruptRemappingIsDecodedInCompatibilityFormat() throws Exception {
        Machine m = boot("-device", "intel-iommu", "-device", "edu");
        programMsi(m, 0xfee0_300cL, 0x8141); // dest 3, logical, RH; level, lowest priority, vector 0x41
        m.memory().write(PhysAddr.of(BAR + EduDevice.REG_IRQ_RAISE), 1, 4);
        assertThat(apic(m)).containsExactly(new ApicInterrupt(0x41, 3, true, 1, true, true, EDU, -1));
    }

    @Test
    void blockedMsiNeverReachesTheApicAndIsRecordedInFrcd() throws Exception {
        Machine m = boot("-device", "intel-iommu", "-device", "edu");
        enableIr(m);
        programMsi(m, InterruptRemapping.remappableAddress(9, false), 0);
        m.memory().write(PhysAddr.of(BAR + EduDevice.REG_IRQ_RAISE), 1, 4);
        assertThat(apic(m)).isEmpty();
        assertThat(m.interrupts().blockedMsis()).isEqualTo(1);
        assertThat(m.memory().read(PhysAddr.of(VTD + 0x220), 8)).isEqualTo(9L << 48);
        assertThat(m.memory().read(PhysAddr.of(VTD + 0x228), 8)).isEqualTo(0x8000002200000008L);
    }

    @Test
    void vtdFaultEventReachesTheApicUnremapped() throws Exception {
        Machine m = boot("-device", "intel-iommu", "-device", "edu");
        m.memory().write(PhysAddr.of(VTD + VtdRegisters.FEDATA), 0x7e, 4);
        m.memory().write(PhysAddr.of(VTD + VtdRegisters.FEADDR), 0xfee0_1000L, 4);
        m.memory().write(PhysAddr.of(VTD + VtdRegisters.FECTL), 0, 4);
        enableIr(m); // remapping on: the unit's own event must still not be remapped
        programMsi(m, InterruptRemapping.remappableAddress(9, false), 0);
        m.memory().write(PhysAddr.of(BAR + EduDevice.REG_IRQ_RAISE), 1, 4);
        assertThat(apic(m)).containsExactly(new ApicInterrupt(0x7e, 1, false, 0, false, false,
                IntelIommu.EVENT_SOURCE, -1));
    }

    @Test
    void invalidationCompletionEventReachesTheApic() throws Exception {
        Machine m = boot("-device", "intel-iommu");
        m.memory().write(PhysAddr.of(VTD + VtdRegisters.IEDATA), 0x7d, 4);
        m.memory().write(PhysAddr.of(VTD + VtdRegisters.IEADDR), 0xfee0_0000L, 4);
        m.memory().write(PhysAddr.of(VTD + VtdRegisters.IECTL), 0, 4);
        m.memory().write(PhysAddr.of(VTD + VtdRegisters.IQA), 0x110000L, 8);
        m.memory().write(PhysAddr.of(VTD + VtdRegisters.GCMD), VtdRegisters.GCMD_QIE & 0xffffffffL, 4);
        m.ram().writeLong(PhysAddr.of(0x110000), 5 | (1 << 4)); // wait descriptor with IF
        m.memory().write(PhysAddr.of(VTD + VtdRegisters.IQT), 1 << 4, 8);
        assertThat(apic(m)).extracting(ApicInterrupt::vector).containsExactly(0x7d);
    }

    @Test
    void dmaWriteIntoTheInterruptRangeIsAnMsiPerDwordWithTheDeviceSource() throws Exception {
        Machine m = boot("-device", "intel-iommu", "-device", "edu");
        EduDevice edu = (EduDevice) m.devices().get(0);
        byte[] data = {0x41, 0, 0, 0, 0x42, 0, 0, 0, 0x43, 0};
        edu.dma().write(new Iova(0xfee0_0000L), data, 0, data.length);
        assertThat(m.interrupts().msiLog()).extracting(PlatformInterrupts.MsiMessage::data)
                .containsExactly(0x41, 0x42);
        assertThat(apic(m)).extracting(ApicInterrupt::source).containsOnly(EDU);
        assertThat(m.ram().readInt(PhysAddr.of(0))).isZero();
    }

    @Test
    void dmaIntoTheInterruptRangeGoesThroughRemappingWithTheDeviceRequesterId() throws Exception {
        Machine m = boot("-device", "intel-iommu", "-device", "edu");
        enableIr(m);
        irte(m, 1, 0x0000_0200_0055_0001L, (1L << 18) | EDU.value());
        EduDevice edu = (EduDevice) m.devices().get(0);
        byte[] data = {0, 0, 0, 0};
        edu.dma().write(new Iova(InterruptRemapping.remappableAddress(1, false)), data, 0, 4);
        assertThat(apic(m)).containsExactly(new ApicInterrupt(0x55, 2, false, 0, false, false, EDU, 1));
    }

    @Test
    void unalignedDmaIntoTheInterruptRangeIsDropped() throws Exception {
        Machine m = boot("-device", "edu");
        EduDevice edu = (EduDevice) m.devices().get(0);
        edu.dma().write(new Iova(0xfee0_0002L), new byte[] {1, 2, 3, 4}, 0, 4);
        assertThat(apic(m)).isEmpty();
        byte[] back = {9, 9, 9, 9};
        edu.dma().read(new Iova(0xfee0_0000L), back, 0, 4);
        assertThat(back).containsOnly(0);
    }

    @Test
    void deviceListedBeforeTheIommuIsRemappedAllTheSame() throws Exception {
        // its MSI goes through the bus-master address space QEMU 7.2 sets up at machine done
        // (msi_send_message -> pci_get_address_space): the vtd-ir region of the intel-iommu
        Machine m = boot("-device", "edu", "-device", "intel-iommu");
        enableIr(m);
        programMsi(m, InterruptRemapping.remappableAddress(9, false), 0);
        m.memory().write(PhysAddr.of(BAR + EduDevice.REG_IRQ_RAISE), 1, 4);
        assertThat(apic(m)).isEmpty(); // IRTE 9 not present: blocked by the remapping unit
        assertThat(m.interrupts().blockedMsis()).isOne();
    }

    @Test
    void iecEntriesExtensionCachesIrtesUntilInvalidated() throws Exception {
        Machine m = boot("-device", "intel-iommu,iec-entries=16", "-device", "edu");
        assertThat(m.iommu().interruptRemapping().entryCacheCapacity()).isEqualTo(16);
        enableIr(m);
        irte(m, 0, 0x0000_0000_0040_0001L, 0);
        programMsi(m, InterruptRemapping.remappableAddress(0, false), 0);
        m.memory().write(PhysAddr.of(BAR + EduDevice.REG_IRQ_RAISE), 1, 4);
        irte(m, 0, 0x0000_0000_0041_0001L, 0);
        m.memory().write(PhysAddr.of(BAR + EduDevice.REG_IRQ_RAISE), 1, 4);
        assertThat(apic(m)).extracting(ApicInterrupt::vector).containsExactly(0x40, 0x40);
    }

    @Test
    void iecEntriesOutOfRangeIsRefused() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> boot("-device", "intel-iommu,iec-entries=70000"))
                .hasMessage("qemu-system-x86_64: -device intel-iommu,iec-entries=70000: "
                        + "iec-entries must be between 0 and 65536");
    }
}
