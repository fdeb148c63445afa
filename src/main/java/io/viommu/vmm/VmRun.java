package io.viommu.vmm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.viommu.linux.Kernel;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.scenario.NicRingRun;
import io.viommu.linux.scenario.NicRingScenario;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.machine.device.EduDevice;
import io.viommu.machine.device.MachineLog;
import io.viommu.pci.PciFunction;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Topology;
import io.viommu.vtd.ContextResult;
import io.viommu.vtd.IntelIommu;
import io.viommu.vtd.InvalidationListener;
import io.viommu.vtd.VtdConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;

/**
 * {@code viommu run}: a VM on a booted host, the guest kernel on it, a workload, and the report
 * ({@link RunReport}). The order is a user's: (with --managed) the group's devices moved to
 * vfio-pci as libvirt's managed='yes' does; the VMM started (QEMU's checks and messages); the
 * guest booted; one DMA per assigned device followed down every level; the workload; then the
 * VMM ended and the managed devices given back — also when anything on the way failed.
 */
public final class VmRun {
    /** What the guest does once booted. */
    public enum Workload {
        /** Boot, bind, one DMA sample per assigned device. */
        NONE("none"),
        /** The NIC ring through the guest's DMA API (map per refill, unmap per completion) on an assigned edu. */
        NIC_RING("nic-ring"),
        /** The NIC ring with static mappings: a DPDK-style process of the guest, through the guest's VFIO. */
        STATIC("static");

        private final String label;

        Workload(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /** What a run is asked to do. */
    public record Options(String hostArgs, List<String> vmArgs, boolean managed, Workload workload, int packets,
                          int ring) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private VmRun() {
    }

    /** Counts the host unit's IOTLB invalidations while the VM runs. */
    static final class HostInvalidations implements InvalidationListener {
        long count;

        @Override
        public void iotlbGlobal() {
            count++;
        }

        @Override
        public void iotlbDomain(int domainId) {
            count++;
        }

        @Override
        public void iotlbPages(int domainId, io.viommu.memory.Iova addr, int am) {
            count++;
        }
    }

    /** Runs it on {@code host} (booted, its setup done). Never throws: a failure is in the report. */
    public static RunReport run(Kernel host, Options o) {
        List<String> warnings = new ArrayList<>();
        List<String> noEffect = new ArrayList<>();
        List<RunReport.Managed> managedSteps = new ArrayList<>();
        List<RunReport.Sample> samples = new ArrayList<>();
        List<RunReport.Interrupt> interrupts = new ArrayList<>();
        List<RunReport.Virtio> virtio = new ArrayList<>();
        int hostLogStart = host.dmesg().size();
        HostInvalidations hostInv = new HostInvalidations();
        IntelIommu hostUnit = host.machine().iommu();
        ManagedBinding managed = null;
        Vmm vmm = null;
        Guest guest = null;
        RunReport.Host hostSide = new RunReport.Host(o.hostArgs(), host.iommuActive(), List.of());
        RunReport.Vm vmSide = null;
        RunReport.Workload workload = null;
        RunReport.Counts counts = null;
        String failure = null;
        try {
            if (o.managed()) {
                managed = ManagedBinding.prepare(host, assignedHostDevices(o.vmArgs()));
                for (ManagedBinding.Step s : managed.steps()) {
                    managedSteps.add(new RunReport.Managed(s.device(), s.previousDriver(), "vfio-pci"));
                }
            }
            if (hostUnit != null) {
                hostUnit.addInvalidationListener(hostInv);
            }
            if (o.vmArgs().stream().noneMatch(a -> a.equals("-M") || a.equals("-machine") || a.equals("--machine"))) {
                warnings.add("viommu: warning: no -machine given: QEMU 7.2 then builds its default 'pc' (i440fx)"
                        + " machine, viommu models only q35 and builds q35, so BDFs differ from QEMU's; add -M q35");
            }
            vmm = Vmm.start(host, o.vmArgs(), MachineLog.SILENT, warnings::add); // the command line's warnings too
            noEffect.addAll(vmm.commandLine().noEffect());
            guest = Guest.boot(vmm);
            for (Guest.AssignedView v : guest.assigned()) {
                samples.add(sample(vmm, DmaSample.take(guest, v)));
            }
            for (VirtioSample v : VirtioSample.takeAll(guest)) {
                virtio.add(RunReport.Virtio.of(v));
            }
            for (Guest.AssignedView v : guest.assigned()) {
                InterruptSample irq = InterruptSample.take(guest, v);
                if (irq != null) {
                    interrupts.add(RunReport.Interrupt.of(irq));
                }
            }
            if (o.workload() != Workload.NONE) {
                workload = runWorkload(guest, o);
            }
            hostSide = hostSide(host, vmm, o.hostArgs());
            vmSide = vmSide(vmm, guest);
            warnings.addAll(virtioBypass(vmm));
        } catch (ManagedBinding.ManagedException e) {
            failure = "error: " + e.getMessage(); // libvirt's virsh prefix
        } catch (MachineConfigException e) {
            failure = e.getMessage(); // QEMU's own text
        } catch (WorkloadException e) {
            failure = "viommu run: " + e.getMessage();
        } catch (RuntimeException e) {
            failure = "viommu run: the model failed: " + e;
        } finally {
            if (vmm != null) {
                counts = counts(host, vmm, guest, hostInv, hostLogStart);
                vmm.hardwareError().ifPresent(h -> warnings.add("qemu: hardware error: " + h));
                vmm.shutdown();
            }
            if (hostUnit != null) {
                hostUnit.removeInvalidationListener(hostInv);
            }
            if (managed != null) {
                warnings.addAll(managed.giveBack());
            }
        }
        if (failure == null) {
            for (RunReport.Sample s : samples) {
                if (!s.ok()) {
                    failure = "viommu run: the DMA of " + s.host() + " (" + s.guestBdf() + " in the VM) to guest IOVA "
                            + s.iova() + " did not land in the guest page " + s.gpa()
                            + (s.hostFault() != null ? ": the host unit refused it" : "") + " (see the DMA path and warnings)";
                    break;
                }
            }
        }
        if (failure == null) {
            for (RunReport.Virtio v : virtio) {
                if (!v.ok()) {
                    failure = "viommu run: the virtqueue request of " + v.device() + " (" + v.bdf() + ") did not"
                            + " complete: " + (v.problem() != null ? v.problem() : v.faulted() + " DMA fault(s), bytes "
                            + (v.bytesMatched() ? "identical" : "different") + ", after unmap: " + v.afterUnmap())
                            + " (see the virtio path)";
                    break;
                }
            }
        }
        if (failure == null) {
            for (RunReport.Interrupt i : interrupts) {
                if (!i.ok()) {
                    failure = "viommu run: the MSI of " + i.host() + " (" + i.guestBdf() + " in the VM) did not reach"
                            + " the guest's handler: " + (i.problem() != null ? i.problem() : i.handled() + " of "
                            + i.raised() + " handled") + " (see the interrupt path and warnings)";
                    break;
                }
            }
        }
        if (failure == null && workload != null && (workload.delivered() != workload.packets() || workload.dmaFaults() != 0)) {
            failure = "viommu run: the workload lost packets (see workload)";
        }
        return new RunReport(o.vmArgs(), failure == null, failure, hostSide, vmSide, managedSteps, samples, virtio, interrupts, workload,
                counts, noEffect, warnings);
    }

    /** A workload refused (e.g. no device it can run on). */
    static final class WorkloadException extends Exception {
        WorkloadException(String message) {
            super(message);
        }
    }

    /** The host names of every {@code -device vfio-pci,host=...} (key=value and JSON forms). */
    static List<String> assignedHostDevices(List<String> vmArgs) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i + 1 < vmArgs.size(); i++) {
            String opt = vmArgs.get(i);
            if (!opt.equals("-device") && !opt.equals("--device")) {
                continue;
            }
            String arg = vmArgs.get(i + 1);
            String host = null;
            if (arg.startsWith("{")) {
                try {
                    JsonNode n = JSON.readTree(arg);
                    if ("vfio-pci".equals(n.path("driver").asText()) && n.has("host")) {
                        host = n.get("host").asText();
                    }
                } catch (java.io.IOException e) {
                    continue; // the VMM reports it with QEMU's text
                }
            } else if (arg.startsWith("vfio-pci,") || arg.startsWith("driver=vfio-pci,")) {
                for (String p : arg.split(",")) {
                    if (p.startsWith("host=")) {
                        host = p.substring(5);
                    }
                }
            }
            String name = host == null ? null : VfioPciDevice.parseHost(host);
            if (name != null && !out.contains(name)) {
                out.add(name);
            }
        }
        return out;
    }

    private static RunReport.Workload runWorkload(Guest guest, Options o) throws WorkloadException {
        Vmm vmm = guest.vmm();
        Guest.AssignedView nicView = null;
        PciFunction physical = null;
        for (Guest.AssignedView v : guest.assigned()) {
            physical = hostEdu(vmm, v.device());
            if (physical == null) {
                physical = NicSample.hostNic(vmm, v.device()); // an e1000e or 82576 VF: its own rings
            }
            if (physical != null) {
                nicView = v;
                break;
            }
        }
        String name = o.workload().label();
        if (guest.assigned().isEmpty()) {
            throw new WorkloadException("--workload " + name + " needs an assigned device (-device vfio-pci,host=...)"
                    + " and this VM has none; run it without --workload, or assign a host edu");
        }
        if (nicView == null) {
            throw new WorkloadException("--workload " + name + " needs an assigned edu, e1000e or 82576 VF (the devices"
                    + " with a DMA engine in the model); the VM's assigned devices are " + guest.assigned().stream()
                    .map(v -> v.device().hostName()).toList());
        }
        long bar0 = nicView.device().barAddress(0);
        boolean cm = vmm.machine().iommu() != null && vmm.machine().iommu().config().cachingMode();
        VfioListener listener = nicView.device().listener();
        VfioListener.Counters before = listener.counters();
        NicRingScenario.Nic nic = new NicRingScenario.Nic(physical, nicView.guestRid(), bar0);
        NicRingRun r;
        try {
            r = o.workload() == Workload.NIC_RING
                    ? NicRingScenario.dynamicOn(guest.kernel(), nic, cm, o.packets(), o.ring())
                    : NicRingScenario.staticVfioOn(guest.kernel(), nic, cm, o.packets(), o.ring());
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw new WorkloadException("--workload " + name + ": " + e.getMessage());
        }
        VfioListener.Counters after = listener.counters();
        return new RunReport.Workload(name, nicView.device().hostName() + " (" + nicView.guestBdf() + " in the VM)",
                r.label(), r.packets(), r.ringSize(), r.delivered(), r.dmaFaults(),
                r.perPacket(c -> c.maps()), r.perPacket(c -> c.iotlbPage() + c.iotlbDomain() + c.iotlbGlobal()),
                r.perPacket(c -> c.mmioAccesses()), after.mapCalls() - before.mapCalls(),
                after.unmapCalls() - before.unmapCalls());
    }

    /** The host's edu behind an assigned device, or null when it is not an edu. */
    static EduDevice hostEdu(Vmm vmm, VfioPciDevice d) {
        RequesterId rid = d.vfioDevice().pciDevice().rid();
        for (PciFunction f : vmm.host().machine().devices()) {
            if (f instanceof EduDevice e && e.address().equals(rid)) {
                return e;
            }
        }
        return null;
    }

    private static RunReport.Sample sample(Vmm vmm, DmaSample s) {
        var va = s.gpa() == null || vmm.ram() == null ? null : vmm.ram().vaddrOf(s.gpa());
        return new RunReport.Sample(s.hostDevice(), s.hostRid().toString(), "0000:" + s.guestRid(),
                s.iova() == null ? null : hex(s.iova().value()), s.viommuGpa() == null ? null : hex(s.viommuGpa().value()),
                s.gpa() == null ? null : hex(s.gpa().value()), va == null ? null : hex(va.value()), s.hostMapping(),
                s.hostPhysical() == null ? null : hex(s.hostPhysical().value()),
                s.processFrame() == null ? null : hex(s.processFrame().value()),
                s.hostFault() == null ? null : s.hostFault().toString(), s.bytesChecked(), s.bytesMatched(),
                s.deviceDma(), s.afterUnmap(), s.ok());
    }

    private static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    private static RunReport.Host hostSide(Kernel host, Vmm vmm, String args) {
        List<RunReport.HostDevice> out = new ArrayList<>();
        for (VfioPciDevice d : vmm.assignedDevices()) {
            PciDevice pd = d.vfioDevice().pciDevice();
            var id = pd.identity();
            OptionalInt g = host.drivers().groupOf(pd);
            List<String> members = g.isEmpty() ? List.of()
                    : host.groups().group(g.getAsInt()).map(x -> x.memberBdfs()).orElse(List.of());
            String domain = "none (no IOMMU on the host)";
            IntelIommu unit = host.machine().iommu();
            if (unit != null) {
                ContextResult c = unit.readContext(pd.rid());
                domain = switch (c) {
                    case ContextResult.Legacy l when l.passThrough() -> "domain-id " + l.domainId() + ", pass-through";
                    case ContextResult.Legacy l -> String.format(Locale.ROOT,
                            "domain-id %d (VFIO's unmanaged domain), %d-level second-level table at 0x%x",
                            l.domainId(), l.levels(), l.secondLevelTable());
                    default -> c.toString();
                };
            }
            var maps = d.container().mappings();
            long bytes = maps.stream().mapToLong(m -> m.size()).sum();
            List<String> first = maps.stream().limit(4).map(m -> String.format(Locale.ROOT,
                    "iova 0x%x size 0x%x -> vaddr 0x%x %s%s", m.iova().value(), m.size(), m.vaddr().value(),
                    m.readable() ? "r" : "-", m.writable() ? "w" : "-")).toList();
            String listens = switch (d.listener().mode()) {
                case SYSTEM_MEMORY -> "system memory (all guest RAM at its GPA)";
                case IOMMU -> "the vIOMMU's notifier (guest mappings mirrored)";
                case DETACHED -> "nothing (detached)";
            };
            out.add(new RunReport.HostDevice(d.hostName(), String.format("%04x:%04x", id.vendor(), id.device()),
                    g.isPresent() ? g.getAsInt() : null, members, pd.driver() == null ? null : pd.driver().name(),
                    domain, new RunReport.Container(listens, maps.size(), bytes, first)));
        }
        return new RunReport.Host(args, host.iommuActive(), out);
    }

    private static RunReport.Vm vmSide(Vmm vmm, Guest guest) {
        var m = vmm.machine();
        RunReport.Viommu v = viommuOf(m);
        Kernel k = guest.kernel();
        List<RunReport.Function> fns = new ArrayList<>();
        for (Topology.Function f : k.topology().byBdf()) {
            PciDevice pd = k.drivers().device("0000:" + f.rid()).orElse(null);
            OptionalInt g = pd == null ? OptionalInt.empty() : k.drivers().groupOf(pd);
            PciFunction model = m.rootBus().route(f.rid().bus(), f.rid().devfn());
            fns.add(new RunReport.Function("0000:" + f.rid(), String.format("%04x:%04x", f.vendorId(), f.deviceId()),
                    model == null ? null : model.typeName(), g.isPresent() ? g.getAsInt() : null,
                    pd == null || pd.driver() == null ? null : pd.driver().name()));
        }
        List<RunReport.Assigned> assigned = new ArrayList<>();
        for (Guest.AssignedView a : guest.assigned()) {
            String space = a.device().inSystemMemory() ? "system memory (DMA bypasses the vIOMMU)"
                    : "the vIOMMU (" + a.guestRid() + ")";
            if (m.iommu() == null) {
                space = "system memory (no vIOMMU)";
            }
            assigned.add(new RunReport.Assigned(a.device().hostName(), a.guestBdf(),
                    a.guestGroup().isPresent() ? a.guestGroup().getAsInt() : null, a.guestDriver(), space));
        }
        String guestIommu = guestIommu(k);
        var cl = vmm.commandLine();
        return new RunReport.Vm(m.ramSize(), m.smp().cpus(), cl.accelerator().kind().name().toLowerCase(Locale.ROOT)
                + (cl.accelerator().kind() == io.viommu.machine.config.Accelerator.Kind.KVM
                ? ", kernel-irqchip=" + cl.accelerator().irqchip().name().toLowerCase(Locale.ROOT) : ""),
                v, fns, assigned, guest.coldplugged(), guestIommu);
    }

    /** A VM's vIOMMU options as the report shows them (null without one). */
    static RunReport.Viommu viommuOf(io.viommu.machine.Machine m) {
        if (m.iommu() == null) {
            return null;
        }
        VtdConfig c = m.iommu().config();
        return new RunReport.Viommu(c.cachingMode(), c.intremap(), c.eim(), c.deviceIotlb(), c.awBits(),
                c.scalableMode(), String.format("0x%x", c.cap()), String.format("0x%x", c.ecap()));
    }

    /** A guest kernel's IOMMU state in words. */
    static String guestIommu(Kernel k) {
        return !k.iommuActive() ? "not active (" + (k.machine().iommu() == null ? "no DMAR table" : "intel_iommu off")
                + "): DMA API is dma-direct" : "intel-iommu, default domain " + k.defaultDomainType().bootName()
                + ", " + (k.strictInvalidation() ? "strict" : "lazy") + " invalidation";
    }

    private static RunReport.Counts counts(Kernel host, Vmm vmm, Guest guest, HostInvalidations hostInv,
                                           int hostLogStart) {
        long trapped = 0;
        long maps = 0;
        long unmaps = 0;
        long pages = 0;
        java.util.Set<VfioListener> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (VfioPciDevice d : vmm.assignedDevices()) {
            VfioListener l = d.listener();
            if (l != null && seen.add(l)) {
                var c = l.counters();
                trapped += c.invalidationsTrapped();
                maps += c.mapCalls();
                unmaps += c.unmapCalls();
                pages += c.pagesMapped();
            }
        }
        if (guest != null) {
            guest.kernel().takeInterrupts();
        }
        host.takeInterrupts();
        long guestFaults = guest == null ? 0 : guest.kernel().dmesg().stream().filter(VmRun::isFaultLine).count();
        List<String> hostLog = host.dmesg();
        long hostFaults = hostLog.subList(Math.min(hostLogStart, hostLog.size()), hostLog.size()).stream()
                .filter(VmRun::isFaultLine).count();
        return new RunReport.Counts(trapped, maps, unmaps, pages, hostInv.count, guestFaults, hostFaults);
    }

    /**
     * No silent bypass: a virtio device without {@code iommu_platform=on} under a vIOMMU does not
     * offer VIRTIO_F_ACCESS_PLATFORM, so QEMU gives it system memory and the guest's virtio driver
     * hands it guest-physical addresses: its DMA bypasses the vIOMMU.
     */
    static List<String> virtioBypass(Vmm vmm) {
        List<String> out = new ArrayList<>();
        if (vmm.machine().iommu() == null) {
            return out;
        }
        for (PciFunction f : vmm.machine().devices()) {
            String type = f.typeName();
            if (type.startsWith("virtio-") && !onValue(f.properties().get("iommu_platform"))) {
                out.add(String.format(Locale.ROOT, "viommu: warning: %s at %s has no iommu_platform=on: its DMA bypasses"
                        + " the vIOMMU (QEMU gives it system memory and the guest's driver uses guest-physical"
                        + " addresses); add iommu_platform=on,disable-legacy=on behind a PCIe port to translate it",
                        type, f.address()));
            }
        }
        return out;
    }

    private static boolean onValue(String v) {
        return v != null && (v.equals("on") || v.equals("true") || v.equals("yes"));
    }

    /** dmar_fault's per-fault line: {@code DMAR: [DMA Write NO_PASID] Request device [...] fault addr ...}. */
    static boolean isFaultLine(String l) {
        return l.startsWith("DMAR: [DMA ") || l.startsWith("DMAR: [INTR-REMAP");
    }
}
