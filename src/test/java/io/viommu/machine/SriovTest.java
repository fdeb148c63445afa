package io.viommu.machine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.machine.device.MachineLog;
import io.viommu.pci.Bar;
import io.viommu.pci.ConfigAccess;
import io.viommu.pci.PciRegs;
import io.viommu.pci.RequesterId;
import io.viommu.pci.SriovCapability;
import io.viommu.pci.Topology;
import java.util.List;
import org.junit.jupiter.api.Test;

/** SR-IOV: VF creation through the PF's capability, routing ids, VF config space, nvme's checks. */
class SriovTest {
    static final String NVME = "nvme,serial=deadbeef,subsys=s0,bus=rp1,sriov_max_vfs=4,sriov_vq_flexible=8,"
            + "sriov_vi_flexible=4,max_ioqpairs=10";

    static Machine machine(String... devices) throws MachineConfigException {
        List<String> args = new java.util.ArrayList<>(List.of("-nodefaults", "-device", "pcie-root-port,id=rp1,chassis=1,slot=1"));
        for (String d : devices) {
            args.add("-device");
            args.add(d);
        }
        return MachineBuilder.fromCommandLine(args, MachineLog.SILENT);
    }

    static void enableVfs(ConfigAccess cfg, RequesterId pf, int sriovOffset, int n, int control) {
        cfg.write(pf, sriovOffset + SriovCapability.NUM_VFS, n, 2);
        cfg.write(pf, sriovOffset + SriovCapability.CTRL, control, 2);
    }

    @Test
    void nvmeVfsAppearAtOffsetOneStrideOneWithThePfsIdsAsLinuxReadsThem() throws Exception {
        Machine m = machine("nvme-subsys,id=s0", NVME);
        Topology before = m.enumerate();
        RequesterId pf = RequesterId.parse("01:00.0");
        Topology.Sriov s = before.function(pf).orElseThrow().sriov();
        assertThat(s).isEqualTo(new Topology.Sriov(0x120, 4, 4, 0, 1, 1, 0x0010, false, false, false, List.of()));
        assertThat(before.function(pf).orElseThrow().ariNextFunction()).isEqualTo(1); // QEMU's pcie_ari_init(.., 1)
        ConfigAccess cfg = m.configAccess();
        enableVfs(cfg, pf, 0x120, 2, SriovCapability.CTRL_VFE | SriovCapability.CTRL_MSE);
        Topology after = m.topology();
        assertThat(after.function(pf).orElseThrow().sriov().virtualFunctions())
                .containsExactly(RequesterId.parse("01:00.1"), RequesterId.parse("01:00.2"));
        Topology.Function vf = after.function(RequesterId.parse("01:00.2")).orElseThrow();
        assertThat(vf.virtualFunction()).isTrue();
        assertThat(vf.physicalFunction()).isEqualTo(pf);
        assertThat(vf.vendorId()).isEqualTo(0x1b36);
        assertThat(vf.deviceId()).isEqualTo(0x0010);
        assertThat(vf.multiFunction()).isFalse();
        assertThat(vf.parentBridge()).isEqualTo(RequesterId.parse("00:01.0"));
        // In its own config space a VF reads 0xffff for vendor and device, as QEMU 7.2 (checked).
        assertThat(cfg.read(RequesterId.parse("01:00.1"), PciRegs.VENDOR_ID, 4)).isEqualTo(0xffff_ffffL);
        assertThat(cfg.read(RequesterId.parse("01:00.3"), PciRegs.VENDOR_ID, 4)).isEqualTo(0xffff_ffffL);
        // Disabling removes them.
        cfg.write(pf, 0x120 + SriovCapability.CTRL, 0, 2);
        assertThat(m.topology().functions()).noneMatch(Topology.Function::virtualFunction);
    }

    @Test
    void numVfsAboveTotalCreatesNothingAsQemu() throws Exception {
        Machine m = machine("nvme-subsys,id=s0", NVME);
        m.enumerate();
        enableVfs(m.configAccess(), RequesterId.parse("01:00.0"), 0x120, 5, SriovCapability.CTRL_VFE);
        assertThat(m.topology().functions()).noneMatch(Topology.Function::virtualFunction);
    }

    @Test
    void vfBarsAreCarvedFromThePfsVfBarByIndex() throws Exception {
        Machine m = machine("nvme-subsys,id=s0", NVME);
        m.enumerate();
        RequesterId pf = RequesterId.parse("01:00.0");
        ConfigAccess cfg = m.configAccess();
        cfg.write(pf, 0x120 + SriovCapability.VF_BAR0, 0xffff_ffffL, 4);
        assertThat(cfg.read(pf, 0x120 + SriovCapability.VF_BAR0, 4)).isEqualTo(0xffff_c004L); // 16 KiB, 64-bit (QEMU)
        cfg.write(pf, 0x120 + SriovCapability.VF_BAR0, 0xc000_0000L, 4);
        cfg.write(pf, 0x120 + SriovCapability.VF_BAR0 + 4, 0, 4);
        enableVfs(cfg, pf, 0x120, 3, SriovCapability.CTRL_VFE | SriovCapability.CTRL_MSE);
        var vfs = m.rootBus().allBuses().stream().flatMap(b -> b.functions().stream())
                .filter(f -> f.isVirtualFunction()).toList();
        assertThat(vfs).hasSize(3);
        assertThat(vfs.get(2).barAddress(0)).isEqualTo(0xc000_0000L + 2 * 0x4000);
        assertThat(vfs.get(2).bar(0).kind()).isEqualTo(Bar.Kind.MEMORY64);
        assertThat(cfg.read(RequesterId.parse("01:00.3"), PciRegs.BAR0, 4)).isZero(); // VF BAR registers read 0
    }

    @Test
    void igb82576VfsUseOffset0x80AndStride2LikeTheRealPart() throws Exception {
        Machine m = machine("igb-82576,bus=rp1");
        Topology t = m.enumerate();
        RequesterId pf = RequesterId.parse("01:00.0");
        Topology.Function f = t.function(pf).orElseThrow();
        assertThat(f.vendorId()).isEqualTo(0x8086);
        assertThat(f.deviceId()).isEqualTo(0x10c9);
        assertThat(f.classCode()).isEqualTo(0x020000);
        assertThat(f.hasAri()).isTrue();
        assertThat(f.sriov().totalVfs()).isEqualTo(8);
        enableVfs(m.configAccess(), pf, f.sriov().offset(), 8, SriovCapability.CTRL_VFE);
        Topology after = m.topology();
        assertThat(after.function(pf).orElseThrow().sriov().virtualFunctions()).extracting(RequesterId::toString)
                .containsExactly("01:10.0", "01:10.2", "01:10.4", "01:10.6", "01:11.0", "01:11.2", "01:11.4", "01:11.6");
        assertThat(after.function(RequesterId.parse("01:11.6")).orElseThrow().deviceId()).isEqualTo(0x10ca);
        assertThat(MachineBuilder.fromCommandLine(List.of("-nodefaults", "-device", "igb"), MachineLog.SILENT)
                .enumerate().byBdf()).anyMatch(x -> x.deviceId() == 0x10c9);
    }

    @Test
    void nvmeRefusesWhatQemuRefusesWithItsText() {
        String p = "qemu-system-x86_64: -device ";
        String base = "nvme,serial=x,subsys=s0,bus=rp1,";
        String[][] cases = {
            {"nvme,serial=x,bus=rp1,sriov_max_vfs=4", "subsystem is required for the use of SR-IOV"},
            {base + "sriov_max_vfs=200", "sriov_max_vfs must be between 0 and 127"},
            {base + "sriov_max_vfs=4,cmb_size_mb=1", "CMB is not supported with SR-IOV"},
            {base + "sriov_max_vfs=4,sriov_vq_flexible=8", "both sriov_vq_flexible and sriov_vi_flexible must be set for the use of SR-IOV"},
            {base + "sriov_max_vfs=4,sriov_vq_flexible=7,sriov_vi_flexible=4", "sriov_vq_flexible must be greater than or equal to 8 (sriov_max_vfs * 2)"},
            {base + "sriov_max_vfs=4,sriov_vq_flexible=8,sriov_vi_flexible=4,max_ioqpairs=9", "(max_ioqpairs - sriov_vq_flexible) must be greater than or equal to 2"},
            {base + "sriov_max_vfs=4,sriov_vq_flexible=8,sriov_vi_flexible=4,num_queues=5", "(max_ioqpairs - sriov_vq_flexible) must be greater than or equal to 2"},
            {base + "sriov_max_vfs=4,sriov_vq_flexible=8,sriov_vi_flexible=3,max_ioqpairs=10", "sriov_vi_flexible must be greater than or equal to 4 (sriov_max_vfs)"},
            {base + "sriov_max_vfs=4,sriov_vq_flexible=8,sriov_vi_flexible=65,max_ioqpairs=10", "(msix_qsize - sriov_vi_flexible) must be greater than or equal to 1"},
            {base + "sriov_max_vfs=4,sriov_vq_flexible=8,sriov_vi_flexible=4,max_ioqpairs=10,sriov_max_vi_per_vf=0,sriov_max_vq_per_vf=1",
                "sriov_max_vq_per_vf must meet: (sriov_max_vq_per_vf - 1) % 1 == 0 and sriov_max_vq_per_vf >= 2"},
            {"nvme,subsys=s0,bus=rp1", "serial property not set"},
            {"nvme,max_ioqpairs=0", "max_ioqpairs must be between 1 and 65535"},
            {"nvme,serial=x,msix_qsize=2049", "msix_qsize must be between 1 and 2048"},
            {"nvme,serial=x,vsl=0,zoned.zasl=9", "zoned.zasl (Zone Append Size Limit) must be less than or equal to mdts (Maximum Data Transfer Size)"},
            {"nvme,serial=x,sriov_max_vfs=2,vsl=0", "vsl must be non-zero"},
            {"nvme,serial=x,sriov_max_vfs=-1", "Parameter 'sriov_max_vfs' expects uint8_t"},
            {"nvme,serial=x,sriov_max_vfs=256", "Parameter 'sriov_max_vfs' expects uint8_t"},
            {"nvme,serial=x,sriov_max_vfs=abc", "Parameter 'sriov_max_vfs' expects integer"},
            {"nvme,serial=x,subsys=zz", "Device 'zz' not found"},
            {"nvme,serial=x,foo=1", "Property 'nvme.foo' not found"},
        };
        for (String[] c : cases) {
            assertThatThrownBy(() -> machine("nvme-subsys,id=s0", c[0])).as(c[0]).hasMessage(p + c[0] + ": " + c[1]);
        }
    }

    @Test
    void nvmeWithSriovIsAcceptedOnTheRootBusAsInQemu() throws Exception {
        Topology t = MachineBuilder.fromCommandLine(List.of("-nodefaults", "-device", "nvme-subsys,id=s0", "-device",
                "nvme,serial=x,subsys=s0,sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2,max_ioqpairs=6"),
                MachineLog.SILENT).enumerate();
        assertThat(t.function(RequesterId.parse("00:01.0")).orElseThrow().sriov().totalVfs()).isEqualTo(2);
    }
}
