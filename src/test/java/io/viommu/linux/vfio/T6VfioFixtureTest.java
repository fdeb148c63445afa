package io.viommu.linux.vfio;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.fixtures.LinuxCapture;
import io.viommu.linux.driver.Errno;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import io.viommu.pci.RequesterId;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The t6-vfio capture (real Linux 6.1 under QEMU 7.2 with intel-iommu,intremap=off,caching-mode=on)
 * continued into VFIO: after the script bound 00:02.0 to vfio-pci, /dev/vfio listed its group
 * and the container node exactly as here; and on that machine (no interrupt remapping) type1
 * refuses the group until allow_unsafe_interrupts.
 */
class T6VfioFixtureTest {
    record Fixture(List<String> qemuArgs, Map<RequesterId, Integer> groups, List<String> lines) {
    }

    /** The capture (parsed by {@link LinuxCapture}) with the groups of its DEV lines. */
    static Fixture load() {
        LinuxCapture cap = LinuxCapture.load("t6-vfio.txt");
        Map<RequesterId, Integer> groups = new LinkedHashMap<>();
        for (String l : cap.devices()) {
            String[] w = l.split(" ");
            groups.put(RequesterId.parse(w[1].substring(5)), Integer.parseInt(w[5].substring("group=".length())));
        }
        return new Fixture(cap.qemuArgs(), groups, cap.lines());
    }

    /** The capture's machine booted by the kernel model; its groups are the ones the capture recorded. */
    static VfioBed boot(Fixture fx) throws Exception {
        VfioBed bed = VfioBed.create(MachineBuilder.fromCommandLine(fx.qemuArgs(), MachineLog.SILENT));
        fx.groups().forEach((rid, g) -> assertThat(bed.core.groups().groupOf(rid)).as("group of %s", rid).hasValue(g));
        return bed;
    }

    @Test
    void devVfioListsTheBoundDevicesGroupAsTheCaptureDid() throws Exception {
        Fixture fx = load();
        assertThat(fx.qemuArgs()).contains("intel-iommu,intremap=off,caching-mode=on");
        VfioBed bed = boot(fx);
        for (String mod : List.of("vfio", "vfio_iommu_type1", "vfio-pci", "e1000e")) {
            assertThat(bed.core.loadModule(mod)).isZero();
        }
        String target = "0000:00:02.0";
        assertThat(bed.device(target).driver().name()).isEqualTo("e1000e");
        assertThat(bed.vfio.devNodes()).extracting(DevNode::name).containsExactly("vfio");
        bed.bindVfio(target);
        List<String> captured = fx.lines().stream().filter(l -> l.startsWith("crw"))
                .map(l -> l.replaceAll(" [A-Z][a-z]{2} [ 0-9]\\d \\d\\d:\\d\\d ", " ")).toList();
        assertThat(bed.vfio.devNodes()).extracting(DevNode::lsLine).containsExactlyElementsOf(captured);

        // beyond the capture: the group is viable, but without interrupt remapping type1 refuses it
        VfioGroup g = bed.vfio.openGroup(bed.root, "/dev/vfio/2");
        assertThat(g.status()).isEqualTo(VfioGroup.FLAGS_VIABLE);
        VfioContainer c = bed.vfio.openContainer(bed.root);
        g.setContainer(c);
        Fails.with(Errno.EPERM, () -> c.setIommu(Vfio.TYPE1v2_IOMMU));
        bed.core.setModuleParameter("vfio_iommu_type1", "allow_unsafe_interrupts", "Y");
        c.setIommu(Vfio.TYPE1v2_IOMMU);
        // reserved regions of group 2 as the capture's RESV line: only the MSI window is cut out
        assertThat(c.iommuInfo().iovaRanges()).containsExactly(new IovaRange(0, 0xfedf_ffffL),
                new IovaRange(0xfef0_0000L, (1L << 39) - 1));
        // caching mode: every new mapping is followed by a page-selective invalidation
        long pages = bed.driver.counters().iotlbPage();
        long buf = bed.root.mmap(8192);
        c.mapDma(buf, 0x100000, 8192, VfioContainer.MAP_READ | VfioContainer.MAP_WRITE);
        assertThat(bed.driver.counters().iotlbPage()).isEqualTo(pages + 1);
        assertThat(c.unmapDma(0x100000, 8192)).isEqualTo(8192);
        assertThat(bed.driver.counters().iotlbPage()).isEqualTo(pages + 2);
        assertThat(Arrays.asList(bed.vfio.devNodes().get(0).name(), bed.vfio.devNodes().get(1).name()))
                .containsExactly("2", "vfio");
    }

    @Test
    void theGroupWithTheIsaBridgeKeepsItsRelaxableWindowUsable() throws Exception {
        Fixture fx = load();
        VfioBed bed = boot(fx);
        bed.core.setModuleParameter("vfio_iommu_type1", "allow_unsafe_interrupts", "1");
        for (String bdf : List.of("0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3")) {
            bed.bindVfio(bdf);
        }
        VfioGroup g = bed.vfio.openGroup(bed.root, "5");
        VfioContainer c = bed.vfio.openContainer(bed.root);
        g.setContainer(c);
        c.setIommu(Vfio.TYPE1v2_IOMMU);
        // RESV 5: 0x0-0xffffff direct-relaxable (not excluded by vfio_iommu_resv_exclude) and the MSI window
        assertThat(c.iommuInfo().iovaRanges().get(0)).isEqualTo(new IovaRange(0, 0xfedf_ffffL));
        long buf = bed.root.mmap(4096);
        c.mapDma(buf, 0x1000, 4096, VfioContainer.MAP_READ);
        assertThat(g.deviceFd("0000:00:1f.3").name()).isEqualTo("0000:00:1f.3");
        Fails.with(Errno.ENODEV, () -> g.deviceFd("0000:00:02.0"));
    }
}
