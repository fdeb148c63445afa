package io.viommu.linux.vfio;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.PciDevice;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** GET_DEVICE_FD for the VFs of a PF that vfio-pci owns: the VF token (vfio_pci_validate_vf_token). */
class VfTokenTest {
    static final String PF = "0000:01:00.0";
    static final String VF0 = "0000:01:10.0";
    static final UUID TOKEN = UUID.fromString("bd8d9d2b-5a5f-4f5a-a211-f591514ba1f3");

    @Test
    void vfsOfAVfioPfNeedThePfsTokenAndThePfNeedsItWhileVfsAreInUse() throws Exception {
        VfioBed bed = VfioBed.boot("intremap=on", "pcie-root-port,id=rp1,chassis=1,slot=1", "igb-82576,bus=rp1");
        bed.core.loadModule("vfio-pci", Map.of("enable_sriov", "1"));
        bed.bindVfio(PF);
        PciDevice pf = bed.device(PF);
        assertThat(bed.core.sriovConfigure(pf, 2)).isEqualTo(2);
        assertThat(bed.device(VF0).driver().name()).isEqualTo("vfio-pci"); // captured by the PF's notifier

        VfioContainer vc = bed.vfio.openContainer(bed.root);
        VfioGroup vg = bed.vfio.openGroup(bed.root, "/dev/vfio/" + bed.groupOf(VF0));
        vg.setContainer(vc);
        vc.setIommu(Vfio.TYPE1v2_IOMMU);
        Fails.with(Errno.EACCES, () -> vg.deviceFd(VF0));
        Fails.with(Errno.EACCES, () -> vg.deviceFd(VF0 + " vf_token=" + TOKEN)); // not the PF's (random) token
        Fails.with(Errno.EINVAL, () -> vg.deviceFd(VF0 + " vf_token=" + TOKEN + " vf_token=" + TOKEN));

        VfioContainer pc = bed.vfio.openContainer(bed.root);
        VfioGroup pg = bed.vfio.openGroup(bed.root, "/dev/vfio/" + bed.groupOf(PF));
        pg.setContainer(pc);
        pc.setIommu(Vfio.TYPE1v2_IOMMU);
        VfioDevice pfd = pg.deviceFd(PF + " vf_token=" + TOKEN); // no VF in use: this sets the token
        VfioDevice vfd = vg.deviceFd(VF0 + " vf_token=" + TOKEN);
        assertThat(vfd.name()).isEqualTo(VF0);
        Fails.with(Errno.EACCES, () -> pg.deviceFd(PF)); // a VF is in use: the PF must prove it knows the token
        Fails.with(Errno.EACCES, () -> pg.deviceFd(PF + " vf_token=" + UUID.randomUUID()));
        assertThat(pg.deviceFd(PF + " vf_token=" + TOKEN).name()).isEqualTo(PF);
        vfd.close();
        UUID next = UUID.fromString("00000000-0000-4000-8000-000000000001");
        pfd.setVfToken(next); // VFIO_DEVICE_FEATURE PCI_VF_TOKEN
        Fails.with(Errno.EACCES, () -> vg.deviceFd(VF0 + " vf_token=" + TOKEN));
        assertThat(vg.deviceFd(VF0 + " vf_token=" + next).name()).isEqualTo(VF0);
    }

    @Test
    void aTokenForAVfWhosePfIsNotVfioPciIsInvalid() throws Exception {
        VfioBed bed = VfioBed.boot("intremap=on", "pcie-root-port,id=rp1,chassis=1,slot=1", "igb-82576,bus=rp1");
        bed.core.loadModule("igb");
        assertThat(bed.core.sriovConfigure(bed.device(PF), 1)).isEqualTo(1);
        VfioBed.Open o = bed.open(VF0 + "");
        assertThat(o.device().name()).isEqualTo(VF0); // no token needed: the PF is igb's
        o.device().close();
        Fails.with(Errno.EINVAL, () -> o.group().deviceFd(VF0 + " vf_token=" + TOKEN));
    }
}
