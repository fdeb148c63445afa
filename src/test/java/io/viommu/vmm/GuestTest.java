package io.viommu.vmm;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import io.viommu.linux.shell.RootShell;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaFault;
import io.viommu.pci.DmaRequest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The guest: the kernel model booted on the VM a {@link Vmm} runs, an assigned device's DMA
 * followed through the vIOMMU, the VMM's listener, host VFIO and the host unit into guest RAM.
 */
class GuestTest {
    /** A host with edu at 00:04.0 and e1000 at 00:05.0, both bound to vfio-pci; its unit in caching mode (a QEMU host). */
    static Kernel host() throws Exception {
        return host(true);
    }

    /** The same host; without caching mode its unit is like a physical one. */
    static Kernel host(boolean cachingMode) throws Exception {
        Kernel k = Kernel.boot(MachineBuilder.fromCommandLine(List.of("-machine", "q35", "-m", "2G", "-nodefaults",
                "-append", "intel_iommu=on", "-device", "intel-iommu,intremap=off,caching-mode=" + (cachingMode ? "on" : "off"),
                "-device", "edu,addr=04.0", "-device", "e1000,addr=05.0"), MachineLog.SILENT));
        RootShell.Run r = new RootShell(k).runScript(List.of("modprobe vfio-pci",
                "echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts",
                "echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override",
                "echo 0000:00:04.0 > /sys/bus/pci/drivers_probe",
                "echo vfio-pci > /sys/bus/pci/devices/0000:00:05.0/driver_override",
                "echo 0000:00:05.0 > /sys/bus/pci/drivers_probe"));
        assertThat(r.ok()).isTrue();
        return k;
    }

    static Vmm vm(Kernel host, List<String> err, String... args) throws Exception {
        return Vmm.start(host, List.of(args), MachineLog.SILENT, err::add);
    }

    @Test
    void guestKernelUnderCachingModeViommuBindsAssignedDevicesAndTheirDmaLandsInGuestPages() throws Exception {
        Kernel host = host();
        List<String> err = new ArrayList<>();
        Vmm vmm = vm(host, err, "-M", "q35", "-m", "256M", "-nodefaults", "-append", "intel_iommu=on",
                "-device", "intel-iommu,caching-mode=on", "-device", "vfio-pci,host=0000:00:04.0",
                "-device", "vfio-pci,host=0000:00:05.0");
        try {
            Guest g = Guest.boot(vmm);
            assertThat(g.kernel().dmesg()).contains("DMAR: IOMMU batching disallowed due to virtualization",
                    "pci 0000:00:01.0: Adding to iommu group 1", "pci 0000:00:02.0: Adding to iommu group 2");
            List<Guest.AssignedView> views = g.assigned();
            assertThat(views).extracting(v -> v.guestBdf()).containsExactly("0000:00:01.0", "0000:00:02.0");
            assertThat(views.get(0).guestGroup()).hasValue(1);
            assertThat(views.get(0).guestDriver()).isNull(); // no in-tree driver for QEMU's edu
            assertThat(views.get(1).guestDriver()).isEqualTo("e1000"); // coldplug, through the host's VFIO
            assertThat(g.coldplugged()).containsExactly("e1000");

            VfioListener.Counters before = views.get(0).device().listener().counters();
            DmaSample s = DmaSample.take(g, views.get(0));
            VfioListener.Counters after = views.get(0).device().listener().counters();
            assertThat(s.ok()).as(s.toString()).isTrue();
            assertThat(s.iova().value()).isNotEqualTo(s.gpa().value()); // a guest IOVA, not the GPA
            assertThat(s.viommuGpa()).isEqualTo(s.gpa());
            assertThat(s.hostPhysical()).isEqualTo(vmm.hostFrameOf(s.gpa().value()));
            assertThat(s.deviceDma()).startsWith("ok: edu DMA");
            assertThat(after.mapCalls() - before.mapCalls()).isEqualTo(1); // the map, trapped and mirrored
            assertThat(after.unmapCalls() - before.unmapCalls()).isEqualTo(1); // and the unmap
            assertThat(after.invalidationsTrapped()).isGreaterThan(before.invalidationsTrapped());

            // the page is unmapped again: the same DMA now faults in the HOST unit, and the host logs it
            int hostLines = host.dmesg().size();
            var r = host.machine().iommu().translate(new DmaRequest(s.hostRid(), s.iova(), 64, DmaAccess.WRITE));
            assertThat(r).isInstanceOf(DmaFault.class);
            host.takeInterrupts();
            assertThat(host.dmesg().subList(hostLines, host.dmesg().size()))
                    .anyMatch(l -> l.startsWith("DMAR: [DMA Write NO_PASID] Request device [00:04.0] fault addr 0x"
                            + Long.toHexString(s.iova().value())));

            DmaSample nic = DmaSample.take(g, views.get(1));
            assertThat(nic.ok()).as(nic.toString()).isTrue();
            assertThat(nic.deviceDma()).isNull(); // the e1000 model has no DMA engine: the write is the test's
        } finally {
            vmm.shutdown();
        }
        assertThat(err).noneMatch(l -> l.contains("VFIO_MAP_DMA") || l.contains("hardware error"));
    }

    @Test
    void anAssignedDeviceBehindAPcieRootPortIsTranslatedByTheViommu() throws Exception {
        // libvirt always puts a hostdev on a pcie-root-port: QEMU keys the device's vIOMMU address
        // space by bus and devfn, the bus number being the port's secondary bus number when used
        Kernel host = host();
        List<String> err = new ArrayList<>();
        Vmm vmm = vm(host, err, "-M", "q35", "-m", "256M", "-nodefaults", "-append", "intel_iommu=on",
                "-device", "intel-iommu,caching-mode=on",
                "-device", "pcie-root-port,id=rp1,chassis=1,addr=03.0",
                "-device", "vfio-pci,host=0000:00:04.0,bus=rp1,addr=0.0");
        try {
            assertThat(err).noneMatch(l -> l.contains("bypasses"));
            Guest g = Guest.boot(vmm);
            List<Guest.AssignedView> views = g.assigned();
            assertThat(views).extracting(v -> v.guestBdf()).containsExactly("0000:01:00.0");
            DmaSample s = DmaSample.take(g, views.get(0));
            assertThat(s.ok()).as(s.toString()).isTrue();
            assertThat(s.iova().value()).isNotEqualTo(s.gpa().value()); // translated, not bypassed
            assertThat(s.hostPhysical()).isEqualTo(vmm.hostFrameOf(s.gpa().value()));
            assertThat(s.deviceDma()).startsWith("ok: edu DMA");
            var r = host.machine().iommu().translate(new DmaRequest(s.hostRid(), s.iova(), 64, DmaAccess.WRITE));
            assertThat(r).isInstanceOf(DmaFault.class); // unmapped again by the guest: stopped in the host unit
        } finally {
            vmm.shutdown();
        }
    }

    @Test
    void withoutViommuTheDmaAddressIsTheGpaAndAllGuestRamIsMapped() throws Exception {
        Kernel host = host();
        Vmm vmm = vm(host, new ArrayList<>(), "-M", "q35", "-m", "256M", "-nodefaults",
                "-device", "vfio-pci,host=0000:00:04.0");
        try {
            Guest g = Guest.boot(vmm);
            assertThat(g.kernel().iommuActive()).isFalse();
            Guest.AssignedView v = g.assigned().get(0);
            assertThat(v.guestGroup()).isEmpty();
            DmaSample s = DmaSample.take(g, v);
            assertThat(s.ok()).as(s.toString()).isTrue();
            assertThat(s.iova().value()).isEqualTo(s.gpa().value());
            assertThat(s.viommuGpa()).isNull();
            assertThat(v.device().listener().counters().pagesMapped()).isEqualTo((256L << 20) >> 12);
        } finally {
            vmm.shutdown();
        }
    }
}
