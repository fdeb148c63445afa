package io.viommu.pci;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * QEMU 7.2's pci_do_device_reset (PciFunction.resetConfig) with msi_reset and msix_reset, and an
 * FLR through the PCIe capability (pcie_cap_flr_write_config).
 */
class DeviceResetTest {
    /** A PCIe endpoint with FLR, MSI-X (4 vectors, table at BAR0+0x1000, PBA at +0x1800) and a 64-bit BAR. */
    static final class Dev extends PciFunction {
        final List<String> sent = new ArrayList<>();
        int ownResets;
        final MsixTable table;

        Dev() {
            super("dev", 0x1234, 0x5678, 0x00ff00, 1, true, ConfigSpace.PCIE_SIZE);
            setInterruptPin(1);
            registerBar(0, Bar.Kind.MEMORY64, 1 << 14, false, PciFunctionTest.NOTHING, AccessRules.ANY);
            table = addMsix(0x40, 4, 0, 0x1000, 0, 0x1800, (a, d) -> sent.add(Long.toHexString(a) + ":" + d));
            addCapability(0x80, 0x3c);
            PcieCapability.declare(config, 0x80, PcieCapability.Layout.endpoint(2, PcieCapability.PortType.ENDPOINT, true));
        }

        @Override
        protected void resetDevice() {
            ownResets++;
        }
    }

    private static void program(Dev d) {
        d.configWrite(0x10, 0xc000_0000L, 4);
        d.configWrite(PciRegs.COMMAND, PciRegs.COMMAND_MEMORY | PciRegs.COMMAND_MASTER, 2);
        d.configWrite(PciRegs.INTERRUPT_LINE, 11, 1);
        d.table.tableStore(0, 0xfee0_0000L);
        d.table.tableStore(8, 0x41);
        d.table.tableStore(12, 0); // vector 0 unmasked
        d.table.tableStore(16 + 12, 0); // vector 1 unmasked
        d.configWrite(0x42, MsixCapability.CONTROL_ENABLE, 2);
        d.table.use(0);
        d.table.use(1);
        d.table.tableStore(12, 1); // vector 0 masked: its next message pends
        d.table.notify(0);
    }

    @Test
    void resetConfigClearsTheHeaderAndMsixAsQemusPciDoDeviceReset() {
        Dev d = new Dev();
        program(d);
        assertThat(d.table.isPending(0)).isTrue();
        assertThat(d.table.enabled()).isTrue();
        d.resetConfig();
        assertThat(d.command()).isZero();
        assertThat(d.configRead(PciRegs.INTERRUPT_LINE, 1)).isZero();
        assertThat(d.configRead(0x10, 4)).isEqualTo(0x4L); // 64-bit memory type bits
        assertThat(d.barAddress(0)).isEqualTo(Bar.UNMAPPED);
        assertThat(d.table.enabled()).isFalse();
        for (int v = 0; v < 4; v++) {
            assertThat(d.table.isPending(v)).isFalse();
            assertThat(d.table.address(v)).isZero();
            assertThat(d.table.data(v)).isZero();
            assertThat(d.table.tableLoad(v * 16L + 12)).isEqualTo(1L);
        }
        assertThat(d.table.pbaLoad(0, 8)).isZero();
        // the device's vectors stay in use (msix_clear_all_vectors clears only pending bits):
        // masked, a notify only pends; programmed, enabled and unmasked again, it is sent
        d.sent.clear();
        d.table.notify(0);
        assertThat(d.sent).isEmpty();
        d.configWrite(PciRegs.COMMAND, PciRegs.COMMAND_MEMORY | PciRegs.COMMAND_MASTER, 2);
        d.table.tableStore(0, 0xfee0_1000L);
        d.table.tableStore(8, 0x42);
        d.configWrite(0x42, MsixCapability.CONTROL_ENABLE, 2);
        d.table.tableStore(12, 0);
        assertThat(d.sent).containsExactly("fee01000:66");
        assertThat(d.ownResets).isZero();
    }

    @Test
    void initiateFlrResetsTheFunctionAndReadsZero() {
        Dev d = new Dev();
        program(d);
        int devctl = 0x80 + PcieCapability.DEVCTL;
        d.configWrite(devctl, PcieCapability.DEVCTL_ERROR_REPORTING, 2); // no FLR: nothing happens
        assertThat(d.ownResets).isZero();
        assertThat(d.table.enabled()).isTrue();
        d.configWrite(devctl, PcieCapability.DEVCTL_BCR_FLR | PcieCapability.DEVCTL_ERROR_REPORTING, 2);
        assertThat(d.ownResets).isEqualTo(1);
        assertThat(d.command()).isZero();
        assertThat(d.table.enabled()).isFalse();
        assertThat(d.configRead(devctl, 2) & PcieCapability.DEVCTL_BCR_FLR).isZero();
        assertThat(d.configRead(devctl, 2) & PcieCapability.DEVCTL_ERROR_REPORTING)
                .isEqualTo((long) PcieCapability.DEVCTL_ERROR_REPORTING);
    }
}
