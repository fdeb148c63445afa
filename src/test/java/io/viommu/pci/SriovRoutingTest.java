package io.viommu.pci;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** VFs whose routing ids leave the PF's bus, and configuration routing by bridge bus ranges. */
class SriovRoutingTest {
    static final class Port extends PciBridge {
        Port() {
            super("port", 0x1b36, 0x000c, 0, ConfigSpace.PCIE_SIZE, "port", true, WindowReset.CLOSED, 0);
        }
    }

    static final class Pf extends PciFunction {
        Pf(int offset, int stride) {
            super("pf", 0x8086, 0x1234, 0x020000, 0, false, ConfigSpace.PCIE_SIZE);
            SriovCapability.attach(this, 0x100, new SriovCapability.Params(4, 4, offset, stride, 0x1235, 0),
                    List.of(), (pf, i) -> new VirtualFunction(pf, i, 0x020000, 0, ConfigSpace.PCIE_SIZE));
        }
    }

    @Test
    void vfPastThePfsBusSitsOnABridgelessBusReachableOnlyInsideTheBridgeRange() throws Exception {
        PciBus root = new PciBus("pcie.0", 0, (f, l) -> { });
        Port port = new Port();
        root.plug(port, 1 << 3);
        Pf pf = new Pf(0xfe, 1);
        port.secondaryBus().plug(pf, 0);
        ConfigAccess cfg = ConfigAccess.of(root);
        RequesterId portRid = RequesterId.of(0, 1, 0);
        // Before numbering nothing behind the port answers (QEMU without firmware).
        assertThat(cfg.read(RequesterId.of(1, 0, 0), 0, 4)).isEqualTo(0xffff_ffffL);
        assertThat(BusNumbering.assign(cfg)).containsExactly(portRid);
        assertThat(cfg.read(RequesterId.of(1, 0, 0), 0, 4)).isEqualTo(0x1234_8086L);
        cfg.write(RequesterId.of(1, 0, 0), 0x100 + SriovCapability.NUM_VFS, 3, 2);
        cfg.write(RequesterId.of(1, 0, 0), 0x100 + SriovCapability.CTRL, SriovCapability.CTRL_VFE, 2);
        assertThat(pf.sriov().virtualFunctions()).extracting(f -> f.address().toString())
                .containsExactly("01:1f.6", "01:1f.7", "02:00.0");
        RequesterId crossing = RequesterId.of(2, 0, 0);
        assertThat(cfg.read(crossing, PciRegs.CLASS_PROG, 4) & 0xffffff).as("subordinate 1 hides bus 2")
                .isEqualTo(0xffffffL);
        cfg.write(portRid, PciRegs.SUBORDINATE_BUS, 2, 1);
        assertThat(cfg.read(crossing, PciRegs.CLASS_PROG, 4) & 0xffffff).isEqualTo(0x020000L);
        Topology t = Topology.scan(root);
        Topology.Function vf = t.function(crossing).orElseThrow();
        assertThat(vf.onVirtualBus()).isTrue();
        assertThat(vf.parentBridge()).isNull();
        assertThat(vf.deviceId()).isEqualTo(0x1235);
        assertThat(t.function(RequesterId.of(1, 0x1f, 6)).orElseThrow().parentBridge()).isEqualTo(portRid);
    }
}
