package io.viommu.machine;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.Endpoints;
import io.viommu.machine.device.LocalApicSink.ApicInterrupt;
import io.viommu.machine.device.MachineLog;
import io.viommu.memory.Mmio;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.ConfigAccess;
import io.viommu.pci.MsixCapability;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import io.viommu.pci.RequesterId;
import io.viommu.pci.SriovCapability;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The NIC function models on a bare q35 machine (no IOMMU: DMA addresses are guest-physical):
 * the e1000e's legacy rings with MAC and PHY loopback, its MSI-X through IVAR, MSI and its
 * receive filter; an 82576 VF's advanced rings, its MSI-X through IVAR0 and the PF's internal
 * switch between two VFs.
 */
class NicRingTest {
    static final long BAR0 = 0xfea0_0000L;
    static final long BAR3 = 0xfea2_0000L;
    static final long TX_RING = 0x10000;
    static final long RX_RING = 0x11000;
    static final long TX_BUF = 0x12000;
    static final long RX_BUF = 0x13000;
    static final byte[] OWN_MAC = HexFormat.of().parseHex("525400123456");

    static byte[] frame(byte[] dst, int len) {
        byte[] f = new byte[len];
        System.arraycopy(dst, 0, f, 0, 6);
        System.arraycopy(HexFormat.of().parseHex("020000000001"), 0, f, 6, 6);
        f[12] = (byte) 0x88;
        f[13] = (byte) 0xb5;
        for (int i = 14; i < len; i++) {
            f[i] = (byte) i;
        }
        return f;
    }

    static Machine e1000e() throws Exception {
        Machine m = MachineBuilder.fromCommandLine(List.of("-nodefaults", "-device", "e1000e"), MachineLog.SILENT);
        MachineTest.cf8Write(m, 1, 0, 0x10, BAR0, 4);
        MachineTest.cf8Write(m, 1, 0, 0x1c, BAR3, 4);
        MachineTest.cf8Write(m, 1, 0, PciRegs.COMMAND, PciRegs.COMMAND_MEMORY | PciRegs.COMMAND_MASTER, 2);
        return m;
    }

    static long reg(Machine m, int off) {
        return m.memory().read(PhysAddr.of(BAR0 + off), 4);
    }

    static void reg(Machine m, int off, long v) {
        m.memory().write(PhysAddr.of(BAR0 + off), v, 4);
    }

    static byte[] ram(Machine m, long at, int len) {
        byte[] b = new byte[len];
        m.ram().readBytes(PhysAddr.of(at), b, 0, len);
        return b;
    }

    /** Both rings (8 descriptors), one RX buffer per RX descriptor, one frame in TX descriptor 0. */
    static void rings(Machine m, byte[] f, int rctl) {
        m.ram().writeBytes(PhysAddr.of(TX_BUF), f, 0, f.length);
        m.memory().write(PhysAddr.of(TX_RING), TX_BUF, 8);
        m.memory().write(PhysAddr.of(TX_RING + 8), 0x0b00_0000L | f.length, 4); // EOP IFCS RS
        for (int i = 0; i < 3; i++) {
            m.memory().write(PhysAddr.of(RX_RING + 16L * i), RX_BUF + 0x800L * i, 8);
        }
        reg(m, 0x3800, TX_RING);
        reg(m, 0x3808, 0x80);
        reg(m, 0x2800, RX_RING);
        reg(m, 0x2808, 0x80);
        reg(m, 0x2818, 2);
        reg(m, 0x100, rctl);
        reg(m, 0x400, 0x2);
    }

    static void msixVector(Machine m, int v, int data) {
        m.memory().write(PhysAddr.of(BAR3 + 16L * v), 0xfee0_0000L, 4);
        m.memory().write(PhysAddr.of(BAR3 + 16L * v + 8), data, 4);
        m.memory().write(PhysAddr.of(BAR3 + 16L * v + 12), 0, 4);
    }

    @Test
    void aLoopedBackFrameIsDmadIntoTheRxBufferAndEachQueueRaisesItsIvarVector() throws Exception {
        Machine m = e1000e();
        assertThat(reg(m, 0x0)).isEqualTo(0x0014_0241L); // CTRL after reset, as QEMU's e1000e_mac_reg_init
        assertThat(reg(m, 0x8)).isEqualTo(0x0008_0283L); // STATUS: LU, FD, 1000 Mb/s, GIO master enabled
        assertThat(reg(m, 0x5400)).isEqualTo(0x1200_5452L); // RAL0/RAH0: 52:54:00:12:34:56, address valid
        assertThat(reg(m, 0x5404)).isEqualTo(0x8000_5634L);
        assertThat(reg(m, 0xc4)).isZero(); // ITR reads what the guest wrote (QEMU keeps 500 inside)
        reg(m, 0xc4, 0x1_0010L);
        assertThat(reg(m, 0xc4)).isEqualTo(0x10);
        reg(m, 0xec, 0x20); // EITR(1)
        assertThat(reg(m, 0xec)).isEqualTo(0x20);
        msixVector(m, 0, 0x41);
        msixVector(m, 1, 0x42);
        MachineTest.cf8Write(m, 1, 0, 0xa0 + MsixCapability.CONTROL, MsixCapability.CONTROL_ENABLE, 2);
        reg(m, 0xe4, 0x908); // RXQ0 -> vector 0, TXQ0 -> vector 1
        byte[] f = frame(OWN_MAC, 60);
        rings(m, f, 0x0000_0042); // EN, MAC loopback: only RAL0 matches
        reg(m, 0xd0, 0x0050_0000); // IMS: RXQ0, TXQ0
        m.memory().write(PhysAddr.of(BAR0 + 0x3818), 1, 4); // TDT

        assertThat(ram(m, RX_BUF, 60)).isEqualTo(f);
        assertThat(m.memory().read(PhysAddr.of(RX_RING + 8), 8)).isEqualTo(0x0000_0001_0000_003cL); // len 60, DD
        // QEMU 7.2 puts its four zero FCS bytes in a descriptor of their own (checked: VmmNicCaptureTest)
        assertThat(m.memory().read(PhysAddr.of(RX_RING + 24), 8)).isEqualTo(0x0000_0003_0000_0004L); // len 4, DD|EOP
        assertThat(m.memory().read(PhysAddr.of(TX_RING + 12), 4) & 1).isEqualTo(1); // DD
        assertThat(reg(m, 0x2810)).isEqualTo(2);
        assertThat(reg(m, 0x3810)).isEqualTo(1);
        assertThat(m.interrupts().apic().log()).extracting(ApicInterrupt::vector).containsExactly(0x41, 0x42);
        assertThat(reg(m, 0xc0)).isEqualTo(0x8050_0002L); // ASSERTED | TXQ0 | RXQ0 | TXQE; kept with MSI-X on
        assertThat(reg(m, 0xc0)).isEqualTo(0x8050_0002L);
        reg(m, 0xc0, 0xffff_ffffL);
        assertThat(reg(m, 0xc0)).isZero();
    }

    @Test
    void withMsiEachNewCauseSendsTheMessageAndIcrClearsOnRead() throws Exception {
        Machine m = e1000e();
        MachineTest.cf8Write(m, 1, 0, 0xd0 + 4, 0xfee0_0000L, 4);
        MachineTest.cf8Write(m, 1, 0, 0xd0 + 12, 0x43, 2);
        MachineTest.cf8Write(m, 1, 0, 0xd0 + 2, 1, 2);
        rings(m, frame(OWN_MAC, 60), 0x0000_0042);
        reg(m, 0xd0, 0x81); // IMS: TXDW, RXT0
        reg(m, 0x3818, 1);
        assertThat(m.interrupts().apic().log()).extracting(ApicInterrupt::vector).containsExactly(0x43, 0x43);
        assertThat(reg(m, 0xc0)).isEqualTo(0x8000_0083L); // ASSERTED | RXT0 | TXQE | TXDW
        assertThat(reg(m, 0xc0)).isZero(); // without MSI-X a read clears
    }

    @Test
    void theFilterDropsAFrameForAnotherMacUnlessPromiscuousAndAFullRingCountsAnOverrun() throws Exception {
        Machine m = e1000e();
        byte[] other = HexFormat.of().parseHex("525400aabbcc");
        rings(m, frame(other, 60), 0x0000_0042);
        reg(m, 0x2818, 3);
        reg(m, 0x3818, 1);
        assertThat(reg(m, 0x2810)).isZero(); // filtered: nothing written
        assertThat(ram(m, RX_BUF, 6)).isEqualTo(new byte[6]);
        // unicast promiscuous: the next one is taken
        m.memory().write(PhysAddr.of(TX_RING + 16), TX_BUF, 8);
        m.memory().write(PhysAddr.of(TX_RING + 24), 0x0b00_0000L | 60, 4);
        reg(m, 0x100, 0x4a);
        reg(m, 0x3818, 2);
        assertThat(reg(m, 0x2810)).isEqualTo(2); // the frame, then the FCS bytes
        assertThat(ram(m, RX_BUF, 6)).isEqualTo(other);
        // a 3000-byte frame needs two 2 KiB descriptors; one is left: receive overrun, nothing written
        byte[] big = frame(other, 3000);
        m.ram().writeBytes(PhysAddr.of(TX_BUF), big, 0, big.length);
        reg(m, 0x100, 0x6a); // LPE too
        m.memory().write(PhysAddr.of(TX_RING + 32), TX_BUF, 8);
        m.memory().write(PhysAddr.of(TX_RING + 40), 0x0b00_0000L | big.length, 4);
        reg(m, 0xc0, 0xffff_ffffL);
        reg(m, 0x3818, 3);
        assertThat(reg(m, 0x2810)).isEqualTo(2);
        assertThat(reg(m, 0xc0) & 0x40).isEqualTo(0x40); // RXO
    }

    @Test
    void phyLoopbackThroughMdicLoopsBackWithoutMacLoopbackAndAFrameSplitsOverDescriptors() throws Exception {
        Machine m = e1000e();
        reg(m, 0x20, 0x0820_0000L | 1 << 16); // MDIC read PHY 1 reg 1 (PHY_STATUS)
        assertThat(reg(m, 0x20) & 0xffff).isEqualTo(0x794dL);
        assertThat(reg(m, 0x20) & 1L << 28).isNotZero(); // ready
        reg(m, 0x20, 0x0420_0000L | 0x4000 | 0x1140); // MDIC write PHY_CTRL: loopback
        List<byte[]> wire = new ArrayList<>();
        ((Endpoints.E1000e) device(m)).core().connectWire(wire::add);
        byte[] f = frame(OWN_MAC, 3000);
        rings(m, f, 0x0000_0022 | 0x0400_0000); // EN, LPE, SECRC (no FCS bytes)
        reg(m, 0x3818, 1);
        assertThat(wire).isEmpty();
        assertThat(reg(m, 0x2810)).isEqualTo(2);
        assertThat(ram(m, RX_BUF, 2048)).isEqualTo(Arrays.copyOf(f, 2048));
        assertThat(ram(m, RX_BUF + 0x800, 952)).isEqualTo(Arrays.copyOfRange(f, 2048, 3000));
        assertThat(m.memory().read(PhysAddr.of(RX_RING + 8), 8)).isEqualTo(0x0000_0001_0000_0800L); // DD only
        assertThat(m.memory().read(PhysAddr.of(RX_RING + 24), 8)).isEqualTo(0x0000_0003_0000_03b8L); // DD|EOP, 952
        // loopback off: the next frame goes to the wire
        reg(m, 0x20, 0x0420_0000L | 0x1140);
        m.memory().write(PhysAddr.of(TX_RING + 16), TX_BUF, 8);
        m.memory().write(PhysAddr.of(TX_RING + 24), 0x0b00_0000L | 60, 4);
        reg(m, 0x3818, 2);
        assertThat(wire).hasSize(1);
        assertThat(wire.get(0)).isEqualTo(Arrays.copyOf(f, 60));
    }

    static PciFunction device(Machine m) {
        return m.devices().stream().filter(d -> d instanceof Endpoints.E1000e).findFirst().orElseThrow();
    }

    // ---------------------------------------------------------------- 82576 VF

    @Test
    void anIgbVfTransmitsThroughThePfsSwitchIntoAnotherVfsAdvancedRxRingAndRaisesIvarVectors() throws Exception {
        Machine m = SriovTest.machine("igb,bus=rp1");
        m.enumerate();
        ConfigAccess cfg = m.configAccess();
        RequesterId pf = RequesterId.parse("01:00.0");
        SriovTest.enableVfs(cfg, pf, 0x160, 2, SriovCapability.CTRL_VFE | SriovCapability.CTRL_MSE);
        List<Endpoints.Igb82576Vf> vfs = m.rootBus().allBuses().stream().flatMap(b -> b.functions().stream())
                .filter(f -> f instanceof Endpoints.Igb82576Vf).map(f -> (Endpoints.Igb82576Vf) f).toList();
        assertThat(vfs).hasSize(2);
        assertThat(vfs.get(0).bar(0).region()).isNotNull();
        Endpoints.Igb82576Vf a = vfs.get(0);
        Endpoints.Igb82576Vf b = vfs.get(1);
        for (Endpoints.Igb82576Vf vf : vfs) {
            cfg.write(vf.address(), PciRegs.COMMAND, PciRegs.COMMAND_MASTER, 2);
        }
        cfg.write(b.address(), 0x70 + MsixCapability.CONTROL, MsixCapability.CONTROL_ENABLE, 2);
        Mmio ra = a.bar(0).region();
        Mmio rb = b.bar(0).region();
        Mmio tb = b.bar(3).region();
        tb.store(16, 0xfee0_0000L, 4); // B's vector 1 (RX): APIC vector 0x51
        tb.store(24, 0x51, 4);
        tb.store(28, 0, 4);
        byte[] f = frame(b.core().mac(), 60);
        m.ram().writeBytes(PhysAddr.of(TX_BUF), f, 0, f.length);
        m.memory().write(PhysAddr.of(TX_RING), TX_BUF, 8);
        m.memory().write(PhysAddr.of(TX_RING + 8), 0x2b30_0000L | 60, 4); // advanced data: EOP IFCS RS DEXT
        m.memory().write(PhysAddr.of(TX_RING + 12), 60L << 14, 4); // PAYLEN
        m.memory().write(PhysAddr.of(RX_RING), RX_BUF, 8);
        ra.store(0x3800, TX_RING, 4);
        ra.store(0x3808, 0x80, 4);
        ra.store(0x3828, 1 << 25, 4);
        rb.store(0x2800, RX_RING, 4);
        rb.store(0x2808, 0x80, 4);
        rb.store(0x2828, 1 << 25, 4);
        rb.store(0x2818, 1, 4);
        rb.store(0x1700, 0x81, 4); // IVAR0: RX queue 0 -> vector 1
        rb.store(0x1524, 0x7, 4); // EIMS
        ra.store(0x3818, 1, 4); // A's TDT
        assertThat(ram(m, RX_BUF, 60)).isEqualTo(f);
        assertThat(m.memory().read(PhysAddr.of(RX_RING + 8), 8)).isEqualTo(0x0000_003c_0000_0003L); // len 60, DD|EOP
        assertThat(m.memory().read(PhysAddr.of(TX_RING + 12), 4)).isEqualTo(1); // A's write-back: DD
        assertThat(ra.load(0x3810, 4)).isEqualTo(1);
        assertThat(rb.load(0x2810, 4)).isEqualTo(1);
        assertThat(m.interrupts().apic().log()).extracting(ApicInterrupt::vector, ApicInterrupt::source)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(0x51, b.address()));
        assertThat(rb.load(0x1580, 4)).isEqualTo(2); // EICR: vector 1, cleared by the read
        assertThat(rb.load(0x1580, 4)).isZero();
        // a function-level reset of B: its queue and interrupt registers back to reset values
        cfg.write(b.address(), 0xa0 + io.viommu.pci.PcieCapability.DEVCTL, io.viommu.pci.PcieCapability.DEVCTL_BCR_FLR, 2);
        assertThat(rb.load(0x2810, 4)).isZero();
        assertThat(rb.load(0x2828, 4)).isZero();
        assertThat(rb.load(0x1524, 4)).isZero();
        assertThat(rb.load(0x0008, 4)).isEqualTo(0x83); // STATUS: LU, FD, 1000
        assertThat(ra.load(0x3810, 4)).isEqualTo(1); // A untouched
        // VF Enable cleared: the VFs are gone and B takes nothing more
        SriovTest.enableVfs(cfg, pf, 0x160, 2, 0);
        assertThat(b.core().canReceive()).isFalse();
    }
}
