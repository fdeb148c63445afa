package io.viommu.machine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.EduDevice;
import io.viommu.machine.device.MachineLog;
import io.viommu.memory.Iova;
import io.viommu.pci.AtsCapability;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The edu extension {@code x-ats=on}: an ATS capability and DMA through the device-TLB. */
class EduAtsTest {
    @Test
    void xAtsGivesEduAPcieConfigSpaceWithAtsAt0x100() throws Exception {
        Machine m = MachineBuilder.fromCommandLine(List.of("-nodefaults", "-device", "intel-iommu,device-iotlb=on",
                "-device", "edu,x-ats=on"), MachineLog.SILENT);
        EduDevice edu = (EduDevice) m.devices().get(0);
        assertThat(edu.configRead(0x100, 4)).isEqualTo(0x0001000fL);
        assertThat(edu.dma().ats()).isNotNull();
        Machine plain = MachineBuilder.fromCommandLine(List.of("-nodefaults", "-device", "edu"), MachineLog.SILENT);
        assertThat(plain.devices().get(0).configRead(0x100, 4)).isEqualTo(0xffffffffL);
    }

    @Test
    void enabledAtsMakesEduDmaUseItsDeviceTlb() throws Exception {
        Machine m = MachineBuilder.fromCommandLine(List.of("-nodefaults", "-device", "intel-iommu,device-iotlb=on",
                "-device", "edu,x-ats=on"), MachineLog.SILENT);
        EduDevice edu = (EduDevice) m.devices().get(0);
        var ram = m.ram();
        ram.writeLong(0x100000, 0x101001);
        ram.writeLong(0x101080, 0x102000 | (1 << 2) | 1);
        ram.writeLong(0x101088, 0x101);
        ram.writeLong(0x102000, 0x103003);
        ram.writeLong(0x103000, 0x104003);
        ram.writeLong(0x104008, 0x200003);
        ram.writeLong(0x200000, 0x0123456789abcdefL);
        m.memory().write(0xfed90020L, 0x100000, 8);
        m.memory().write(0xfed90018L, 0x40000000, 4);
        m.memory().write(0xfed90018L, 0x80000000L, 4);
        edu.configWrite(0x04, 0x6, 2);
        edu.configWrite(EduDevice.ATS_OFFSET + AtsCapability.CONTROL, AtsCapability.CONTROL_ENABLE, 2);
        var out = edu.dma().read(Iova.of(0x1000), new byte[8], 0, 8);
        assertThat(out.ok()).isTrue();
        assertThat(edu.dma().ats().deviceTlb().contains(-1, Iova.of(0x1000))).isTrue();
        assertThat(edu.dma().ats().translationRequests()).isEqualTo(1);
    }

    @Test
    void xAtsRejectsNonBooleanValues() {
        assertThatThrownBy(() -> MachineBuilder.fromCommandLine(List.of("-nodefaults", "-device", "edu,x-ats=maybe"), MachineLog.SILENT))
                .hasMessageContaining("Parameter 'x-ats' expects 'on' or 'off'");
    }
}
