package io.viommu.machine.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.viommu.machine.Machine;
import io.viommu.machine.SmpTopology;
import io.viommu.machine.acpi.AcpiTable;
import io.viommu.machine.acpi.DmarTable;
import io.viommu.machine.acpi.TableLoader;
import io.viommu.machine.device.FwCfg;
import io.viommu.machine.device.MachineLog;
import io.viommu.vtd.VtdConfig;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** -smp topology, accelerator/irqchip checks, DMAR bytes and fw_cfg, without QEMU. */
class PlatformOptionsTest {

    static Machine machine(String... args) throws MachineConfigException {
        return MachineBuilder.fromCommandLine(List.of(args), MachineLog.SILENT);
    }

    @Test
    void apicIdsLeaveGapsForNonPowerOfTwoCounts() throws Exception {
        SmpTopology t = SmpConfig.parse("1,maxcpus=255,cores=3", "pc-q35-7.2", false);
        assertThat(t.sockets()).isEqualTo(85);
        assertThat(t.apicId(3)).isEqualTo(4); // socket 1, core 0
        assertThat(t.apicIdLimit()).isEqualTo((84 << 2 | 2) + 1);
        assertThat(SmpConfig.parse("1,maxcpus=256", "pc-q35-7.2", false).apicIdLimit()).isEqualTo(256);
    }

    @Test
    void missingCountIsCoresFrom62AndSocketsBefore() throws Exception {
        assertThat(SmpConfig.parse("8", "pc-q35-7.2", false).cores()).isEqualTo(8);
        assertThat(SmpConfig.parse("8", "pc-q35-6.1", true).sockets()).isEqualTo(8);
        assertThat(QemuCommandLine.preferSockets("pc-q35-6.1")).isTrue();
        assertThat(QemuCommandLine.preferSockets("pc-q35-7.2")).isFalse();
    }

    @Test
    void moreThan255ApicIdsUnderTcgAreRefusedWhateverTheIommuOptions() {
        assertThatThrownBy(() -> machine("-smp", "1,maxcpus=256", "-device", "intel-iommu,x-buggy-eim=on"))
                .hasMessage("qemu-system-x86_64: current -smp configuration requires kernel irqchip and X2APIC API support.");
    }

    @Test
    void kvmSplitIrqchipAllows256VcpusWithoutEim() throws Exception {
        Machine m = machine("-accel", "kvm", "-machine", "q35,kernel-irqchip=split", "-smp", "1,maxcpus=256",
                "-device", "intel-iommu,eim=off");
        assertThat(m.iommu().config().eim()).isFalse();
        assertThat(m.smp().maxCpus()).isEqualTo(256);
    }

    @Test
    void intremapWithKernelIrqchipOnIsRefusedOnlyUnderKvm() throws Exception {
        assertThatThrownBy(() -> machine("-accel", "kvm", "-machine", "q35,kernel-irqchip=on",
                "-device", "intel-iommu,intremap=on"))
                .hasMessage("qemu-system-x86_64: -device intel-iommu,intremap=on: Interrupt Remapping cannot work "
                        + "with kernel-irqchip=on, please use 'split|off'.");
        assertThat(machine("-machine", "q35,kernel-irqchip=on", "-device", "intel-iommu,intremap=on")
                .iommu().config().intremap()).isTrue();
    }

    @Test
    void kvmDefaultsTurnInterruptRemappingOffAndSplitTurnsEimOn() {
        Accelerator on = new Accelerator(Accelerator.Kind.KVM, Accelerator.Irqchip.ON);
        assertThat(VtdConfig.fromQemuProperties(on.iommuProperties(Map.of())).intremap()).isFalse();
        Accelerator split = new Accelerator(Accelerator.Kind.KVM, Accelerator.Irqchip.SPLIT);
        assertThat(VtdConfig.fromQemuProperties(split.iommuProperties(Map.of())).eim()).isTrue();
    }

    @Test
    void eimWithoutIntremapIsRefusedWithQemusText() {
        assertThatThrownBy(() -> machine("-device", "intel-iommu,intremap=off,eim=on"))
                .hasMessage("qemu-system-x86_64: -device intel-iommu,intremap=off,eim=on: "
                        + "eim=on cannot be selected without intremap=on");
    }

    @Test
    void dmarTableHasHeaderDrhdIoapicScopeAndAtsrWithDeviceIotlb() {
        byte[] t = DmarTable.build(VtdConfig.fromQemuProperties(Map.of("device-iotlb", "on", "aw-bits", "48")),
                List.of(new DmarTable.PciScope(0, 0x08, false)));
        assertThat(AcpiTable.signature(t, 0)).isEqualTo("DMAR");
        assertThat(AcpiTable.length(t, 0)).isEqualTo(t.length).isEqualTo(48 + 16 + 8 + 8 + 8);
        assertThat(AcpiTable.checksumValid(t)).isTrue();
        assertThat(t[36]).isEqualTo((byte) 47);
        assertThat(t[37]).isEqualTo((byte) DmarTable.FLAG_INTR_REMAP);
        assertThat(t[48 + 8] & 0xff).as("DRHD base low byte").isZero();
        assertThat(t[48 + 10] & 0xff).isEqualTo(0xd9);
        assertThat(java.util.Arrays.copyOfRange(t, 64, 72)).containsExactly(3, 8, 0, 0, 0, 0xff, 0, 0);
        assertThat(java.util.Arrays.copyOfRange(t, 72, 80)).containsExactly(1, 8, 0, 0, 0, 0, 1, 0);
        assertThat(java.util.Arrays.copyOfRange(t, 80, 88)).containsExactly(2, 0, 8, 0, 1, 0, 0, 0);
    }

    @Test
    void fwCfgPublishesTheDmarWithAZeroChecksumAndALoaderThatFixesIt() throws Exception {
        Machine m = machine("-device", "intel-iommu", "-device", "edu");
        FwCfg f = m.fwCfg();
        m.io().write(FwCfg.PORT_SELECTOR, FwCfg.KEY_SIGNATURE, 2);
        StringBuilder sig = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            sig.append((char) m.io().read(FwCfg.PORT_DATA, 1));
        }
        assertThat(sig).hasToString("QEMU");
        byte[] dir = f.item(FwCfg.KEY_FILE_DIR);
        assertThat(dir[3]).isEqualTo((byte) 2);
        assertThat(new String(dir, 12, 15)).isEqualTo("etc/acpi/tables");
        byte[] blob = f.item(FwCfg.KEY_FILE_FIRST);
        assertThat(blob[AcpiTable.CHECKSUM_OFFSET]).isZero();
        TableLoader.applyChecksums(f.item(FwCfg.KEY_FILE_FIRST + 1), Machine.ACPI_TABLES_FILE, blob);
        assertThat(blob).isEqualTo(m.dmarTable());
        assertThat(AcpiTable.checksumValid(blob)).isTrue();
    }

    @Test
    void fwCfgDmaReadCopiesAnItemAndWritesBackZeroControl() throws Exception {
        Machine m = machine("-device", "intel-iommu");
        m.ram().writeLong(0x1000, Long.reverseBytes(((long) (FwCfg.KEY_SIGNATURE << 16 | 0x0a) << 32) | 4));
        m.ram().writeLong(0x1008, Long.reverseBytes(0x2000));
        m.io().write(FwCfg.PORT_DMA, 0, 4);
        m.io().write(FwCfg.PORT_DMA + 4, Integer.reverseBytes(0x1000) & 0xffffffffL, 4);
        assertThat(m.ram().readInt(0x2000)).isEqualTo(0x554d4551); // "QEMU"
        assertThat(m.ram().readInt(0x1000)).isZero();
    }

    @Test
    void withoutAnIommuTheTablesFileIsEmpty() throws Exception {
        Machine m = machine();
        assertThat(m.dmarTable()).isNull();
        assertThat(m.fwCfg().item(FwCfg.KEY_FILE_FIRST)).isEmpty();
    }
}
