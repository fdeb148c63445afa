package io.viommu.tour;

import io.viommu.linux.Kernel;
import io.viommu.vmm.RunReport;
import io.viommu.vmm.VmRun;
import io.viommu.vmm.libvirt.Domain;
import io.viommu.vmm.libvirt.LibvirtDomain;
import io.viommu.vmm.libvirt.LibvirtException;
import java.util.List;
import java.util.Map;

/**
 * Step 10: the same VM as step 6 from libvirt's domain XML (seed 004): the host device as
 * {@code <hostdev managed='yes'>} (libvirt binds it to vfio-pci before the start and gives it back
 * after, as {@code virsh nodedev-detach} would by hand), the vIOMMU as {@code <iommu model='intel'>}
 * with interrupt remapping and caching mode, and the split I/O APIC. The QEMU line is the one
 * libvirt 9.0 builds ({@code virsh domxml-to-native}); the VM runs from it.
 */
final class LibvirtStep extends TourStep {
    static final String XML = """
            <domain type='kvm'>
              <name>tour</name>
              <uuid>0c8f4b5e-6a3d-4e21-9d7a-5b2f1c3e4d10</uuid>
              <memory unit='MiB'>512</memory>
              <vcpu placement='static'>2</vcpu>
              <os>
                <type arch='x86_64' machine='q35'>hvm</type>
              </os>
              <features>
                <acpi/>
                <apic/>
                <ioapic driver='qemu'/>
              </features>
              <devices>
                <emulator>/usr/bin/qemu-system-x86_64</emulator>
                <hostdev mode='subsystem' type='pci' managed='yes'>
                  <driver name='vfio'/>
                  <source>
                    <address domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>
                  </source>
                </hostdev>
                <iommu model='intel'>
                  <driver intremap='on' caching_mode='on'/>
                </iommu>
              </devices>
            </domain>
            """;

    LibvirtStep() {
        super(10, "the same VM from libvirt XML: <hostdev managed='yes'> and <iommu model='intel'>",
                "004 (Detaching PCI devices, the domain's hostdev), 001");
    }

    @Override
    public void run(TourInputs in, StepLog log) {
        Kernel host = Walkthroughs.bootHost(in);
        log.shown("host#", "cat tour.xml", XML);
        Domain d;
        try {
            d = LibvirtDomain.parse(XML);
        } catch (LibvirtException e) {
            log.expect(false, "libvirt accepts the domain", "error: " + e.getMessage());
            return;
        }
        log.shown("host#", "virsh domxml-to-native qemu-argv tour.xml", d.toNativeLine() + "\n");
        List<String> args = d.toQemuArgv();
        log.expect(args.stream().anyMatch(a -> a.contains("\"driver\":\"intel-iommu\"") && a.contains("\"caching-mode\":true")
                        && a.contains("\"intremap\":\"on\"")) && args.stream().anyMatch(a -> a.contains("kernel_irqchip=split"))
                        && args.stream().anyMatch(a -> a.contains("\"driver\":\"vfio-pci\"") && a.contains("\"host\":\"0000:00:07.0\"")),
                "libvirt's line has intel-iommu (intremap, caching mode), kernel_irqchip=split and vfio-pci host=0000:00:07.0",
                String.join(" ", args));
        TourShell sh = new TourShell(host, "host#");
        String before = log.run(sh, "ls /sys/bus/pci/devices/0000:00:07.0/driver");
        RunReport r = VmRun.run(host, new VmRun.Options("the tour's host", args, true, VmRun.Workload.NONE, 0, 0));
        StringBuilder out = new StringBuilder();
        r.managed().forEach(m -> out.append("managed='yes': ").append(m.device()).append(' ')
                .append(m.previousDriver() == null ? "(no driver)" : m.previousDriver()).append(" -> ").append(m.now()).append('\n'));
        r.warnings().forEach(w -> out.append(w).append('\n'));
        if (!r.ok()) {
            out.append(r.failure()).append('\n');
        }
        log.shown("host#", "virsh start tour", out.toString());
        log.expect(r.managed().stream().anyMatch(m -> m.device().equals("0000:00:07.0") && m.now().equals("vfio-pci")),
                "managed='yes': libvirt bound 0000:00:07.0 to vfio-pci for the VM", out.toString());
        if (log.expect(r.ok() && r.samples().size() == 1 && r.samples().get(0).ok(),
                "the domain runs, the device's DMA goes through the vIOMMU and the host unit into the guest page", r.failure())) {
            RunReport.Sample s = r.samples().get(0);
            log.shown("guest", "(one DMA of the assigned device, followed down)", CachingModeStep.path(s));
            log.figure("step10-host", "The host: 00:07.0 given to the domain by libvirt", Walkthroughs.report(host, "the tour's host"),
                    Map.of("0000:00:07.0", "hostdev of the domain"), CachingModeStep.dmaPath(s));
        }
        String after = log.run(sh, "ls /sys/bus/pci/devices/0000:00:07.0/driver");
        log.expect(after.equals(before), "virsh destroy: libvirt gave the device back as it was", after);
    }
}
