package io.viommu.vmm.scale;

import io.viommu.linux.Kernel;
import io.viommu.linux.driver.DmaOps;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.shell.RootShell;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.machine.device.MachineLog;
import io.viommu.memory.Iova;
import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaPort;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import io.viommu.pci.RequesterId;
import io.viommu.pci.Translation;
import io.viommu.pci.TranslationResult;
import io.viommu.vmm.Guest;
import io.viommu.vmm.VfioListener;
import io.viommu.vmm.VfioPciDevice;
import io.viommu.vmm.Vmm;
import io.viommu.vtd.IntelIommu;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Many VMs on one host ({@code viommu scenario scale}): a host with four nvme controllers, each
 * with {@code sriov_max_vfs=64} (256 VFs once the host's root enables them), N VMs each with one
 * VF through vfio-pci and a vIOMMU in caching mode, the guests' DMA API making M live mappings
 * in total (each trapped by its VMM and shadowed into the host's VFIO container), then every VF
 * DMAing into its VM's buffers at once.
 *
 * <p>Everything goes through the model's usual paths: the host's root shell enables the VFs and
 * binds them to vfio-pci; each VMM is {@link Vmm#start}ed with a QEMU command line and its
 * guest kernel {@link Guest#boot}s; the guest's {@code dma_map_single} writes its vIOMMU's tables
 * and invalidates, the VMM's {@link VfioListener} makes the host MAP_DMA, type1 pins and the
 * host intel-iommu driver writes the host tables; the VF's DMA is translated by the host unit.
 * Limits are Linux's: {@code vfio_iommu_type1.dma_entry_limit} per container (-ENOSPC),
 * RLIMIT_MEMLOCK per VMM process (-ENOMEM), reported with QEMU's and Linux's texts.
 *
 * <p>Deterministic: one driver thread visits the VMs round-robin (VM 0's mapping k, VM 1's
 * mapping k, ...), in the same order every run; only the times vary.
 */
public final class ScaleScenario {
    /** nvme controllers on the host. */
    public static final int PFS = 4;
    /** {@code sriov_max_vfs} of each (the property's QEMU 7.2 maximum is 127). */
    public static final int VFS_PER_PF = 64;
    /** At most this many distinct guest pages carry the mappings, over all VMs. */
    public static final int MAX_DISTINCT_PAGES = 262_144;
    /** A DMA buffer is written as TLPs of this many bytes (PCIe Max_Payload_Size 256 B): one translation each. */
    public static final int TLP_BYTES = 256;
    /** The VM's RAM below the buffers: the guest kernel's own 80 MiB, then its user memory. */
    private static final long GUEST_BASE_MIB = 96;

    /**
     * What to run.
     *
     * @param vms           VMs, 1..256 (one VF each)
     * @param maps          guest DMA mappings in total, spread evenly (VM i gets one more while a rest remains)
     * @param memlockBytes  RLIMIT_MEMLOCK of each VMM run as an unprivileged user; negative: root (CAP_IPC_LOCK)
     * @param dmaEntryLimit {@code vfio_iommu_type1.dma_entry_limit} written by the host's root first; negative: the default
     * @param sweeps        times the DMA workload visits every mapping
     */
    public record Options(int vms, long maps, long memlockBytes, int dmaEntryLimit, int sweeps) {
        public Options {
            if (vms < 1 || vms > PFS * VFS_PER_PF) {
                throw new IllegalArgumentException("--vms must be 1.." + PFS * VFS_PER_PF + " (the host has "
                        + PFS * VFS_PER_PF + " VFs), got " + vms);
            }
            if (maps < vms || maps > 4_000_000) {
                throw new IllegalArgumentException("--maps must be at least --vms (" + vms + ") and at most 4000000, got " + maps);
            }
            if (sweeps < 0 || sweeps > 100) {
                throw new IllegalArgumentException("sweeps must be 0..100, got " + sweeps);
            }
        }

        public static Options of(int vms, long maps) {
            return new Options(vms, maps, -1, -1, 1);
        }
    }

    /** Where the scenario tells how far it is (a progress bar on a terminal; nothing by default). */
    public interface Progress {
        Progress NONE = new Progress() {
        };

        default void phase(String name, long total) {
        }

        default void advance(long n) {
        }

        default void done() {
        }
    }

    private ScaleScenario() {
    }

    /** The host's QEMU command line: q35, VT-d with interrupt remapping, four SR-IOV nvme controllers on root ports. */
    static List<String> hostArgs(long ramGiB) {
        List<String> a = new ArrayList<>(List.of("-machine", "q35", "-m", ramGiB + "G", "-smp", "2", "-nodefaults",
                "-device", "intel-iommu,intremap=on", "-append", "intel_iommu=on"));
        for (int p = 0; p < PFS; p++) {
            a.addAll(List.of("-device", String.format(Locale.ROOT, "pcie-root-port,id=rp%d,chassis=%d,slot=%d", p, p + 1, p + 1),
                    "-device", "nvme-subsys,id=subsys" + p,
                    "-device", String.format(Locale.ROOT, "nvme,bus=rp%d,serial=scale%d,subsys=subsys%d,sriov_max_vfs=%d,"
                            + "sriov_vq_flexible=%d,sriov_vi_flexible=%d,max_ioqpairs=%d,msix_qsize=%d",
                            p, p, p, VFS_PER_PF, 2 * VFS_PER_PF, VFS_PER_PF, 2 * VFS_PER_PF + 2, VFS_PER_PF + 1)));
        }
        return a;
    }

    /** One VM of the run. */
    private static final class Vm {
        final int index;
        final String vf;
        Vmm vmm;
        Guest guest;
        VfioPciDevice device;
        RequesterId guestRid;
        RequesterId hostRid;
        DmaPort port;
        long[] gpas = new long[0];
        long[] iovas = new long[0];
        int mapped;
        final List<String> stderr = new ArrayList<>();
        String startFailure;

        Vm(int index, String vf) {
            this.index = index;
            this.vf = vf;
        }

        /** A line of the VMM's stderr; the first few are kept (a limit met repeats them per mapping). */
        void stderr(String line) {
            if (stderr.size() < 16) {
                stderr.add(line);
            }
        }
    }

    /**
     * Runs the scenario; never throws for what Linux or QEMU would refuse (it is in the report).
     * The host's RAM (and with it every VM's) is given back before it returns.
     */
    public static ScaleReport run(Options o, Progress progress) {
        List<Kernel> booted = new ArrayList<>(1);
        try {
            return run(o, progress, booted::add);
        } finally {
            for (Kernel k : booted) {
                k.machine().close();
            }
        }
    }

    private static ScaleReport run(Options o, Progress progress, java.util.function.Consumer<Kernel> booted) {
        ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
        long perVmMax = (o.maps() + o.vms() - 1) / o.vms();
        int pagesPerVm = (int) Math.min(perVmMax, MAX_DISTINCT_PAGES / o.vms());
        long guestMiB = Math.max(128, (GUEST_BASE_MIB + (pagesPerVm + 255L) / 256 + 31) / 32 * 32);
        long hostGiB = 1 + (o.vms() * guestMiB + 1023) / 1024;
        List<String> notes = new ArrayList<>();
        long wall0 = System.nanoTime();

        // ---- the host: boot, VFs enabled, the VMs' VFs bound to vfio-pci (what its root types)
        Kernel host;
        try {
            host = Kernel.boot(MachineBuilder.build(hostArgs(hostGiB), MachineLog.SILENT).machine());
            booted.accept(host);
        } catch (MachineConfigException e) {
            throw new IllegalStateException("the scale host's command line was refused: " + e.getMessage(), e);
        }
        List<String> setup = new ArrayList<>(List.of("modprobe nvme", "modprobe vfio-pci"));
        if (o.dmaEntryLimit() >= 0) {
            setup.add("echo " + o.dmaEntryLimit() + " > /sys/module/vfio_iommu_type1/parameters/dma_entry_limit");
        }
        List<String> pfs = new ArrayList<>();
        for (PciDevice d : host.drivers().devices()) {
            if (!d.isVirtfn() && d.sriov() != null) {
                pfs.add(d.name());
            }
        }
        for (String pf : pfs) {
            setup.add("echo 0 > /sys/bus/pci/devices/" + pf + "/sriov_drivers_autoprobe");
            setup.add("echo " + VFS_PER_PF + " > /sys/bus/pci/devices/" + pf + "/sriov_numvfs");
        }
        RootShell shell = new RootShell(host);
        shell(shell, setup);
        List<String> vfs = new ArrayList<>();
        List<Integer> vfGroups = new ArrayList<>();
        for (PciDevice d : host.drivers().devices()) {
            if (d.isVirtfn()) {
                vfs.add(d.name());
                vfGroups.add(host.drivers().groupOf(d).orElse(-1));
            }
        }
        List<String> bind = new ArrayList<>();
        for (int i = 0; i < o.vms(); i++) {
            bind.add("echo vfio-pci > /sys/bus/pci/devices/" + vfs.get(i) + "/driver_override");
            bind.add("echo " + vfs.get(i) + " > /sys/bus/pci/drivers_probe");
        }
        shell(shell, bind);
        setup.addAll(bind);
        int hostLogStart = host.dmesg().size();

        // ---- the VMs: a VMM each (QEMU's command line), the guest kernel booted on it
        List<Vm> vms = new ArrayList<>();
        progress.phase("start VMs", o.vms());
        long cpu0 = cpu.getCurrentThreadCpuTime();
        long wallVms = System.nanoTime();
        for (int i = 0; i < o.vms(); i++) {
            Vm vm = new Vm(i, vfs.get(i));
            vms.add(vm);
            Vmm.Privileges who = o.memlockBytes() < 0 ? Vmm.Privileges.ROOT : Vmm.Privileges.user(o.memlockBytes());
            try {
                vm.vmm = Vmm.start(host, vmArgs(guestMiB, vm.vf), MachineLog.SILENT, vm::stderr, who);
                vm.guest = Guest.boot(vm.vmm);
                Guest.AssignedView view = vm.guest.assigned().get(0);
                vm.device = view.device();
                vm.guestRid = view.guestRid();
                vm.hostRid = vm.device.vfioDevice().pciDevice().rid();
                PciFunction f = host.machine().rootBus().route(vm.hostRid.bus(), vm.hostRid.devfn());
                vm.port = f.dma();
            } catch (MachineConfigException e) {
                vm.startFailure = e.getMessage();
                vm.vmm = null;
            }
            progress.advance(1);
        }
        long vmCpu = cpu.getCurrentThreadCpuTime() - cpu0;
        long vmWall = System.nanoTime() - wallVms;
        progress.done();

        // ---- the guests' DMA API: M mappings, round-robin over the VMs, each shadowed by its VMM
        long totalMaps = 0;
        long[] quota = new long[o.vms()];
        for (int i = 0; i < o.vms(); i++) {
            quota[i] = o.maps() / o.vms() + (i < o.maps() % o.vms() ? 1 : 0);
        }
        for (Vm vm : vms) {
            if (vm.vmm == null) {
                continue;
            }
            int pages = (int) Math.min(quota[vm.index], pagesPerVm);
            vm.gpas = new long[pages];
            var frames = vm.guest.kernel().userMemory();
            for (int p = 0; p < pages; p++) {
                PhysAddr a = frames.allocate();
                if (a == null) {
                    throw new IllegalStateException("guest " + vm.index + " has no free page for buffer " + p);
                }
                vm.gpas[p] = a.value();
            }
            vm.iovas = new long[(int) quota[vm.index]];
            DmaOps ops = vm.guest.kernel().drivers().dmaOps();
            ops.setMask(vm.guestRid, -1L); // the guest nvme driver's 64-bit mask
            // the guest driver's probe: memory decode and bus mastering on
            vm.device.configWrite(PciRegs.COMMAND, vm.device.configRead(PciRegs.COMMAND, 2)
                    | PciRegs.COMMAND_MEMORY | PciRegs.COMMAND_MASTER, 2);
        }
        progress.phase("map", o.maps());
        cpu0 = cpu.getCurrentThreadCpuTime();
        long wallMaps = System.nanoTime();
        long mapFailures = 0;
        long most = 0;
        for (long q : quota) {
            most = Math.max(most, q);
        }
        for (long k = 0; k < most; k++) {
            for (Vm vm : vms) {
                if (vm.vmm == null || k >= vm.iovas.length) {
                    continue;
                }
                long gpa = vm.gpas[(int) (k % vm.gpas.length)];
                long dma = vm.guest.kernel().drivers().dmaOps().map(vm.guestRid, gpa, Page.SIZE, DmaOps.Direction.BIDIRECTIONAL);
                if (dma == DmaOps.MAPPING_ERROR) {
                    mapFailures++;
                    vm.iovas[(int) k] = -1;
                } else {
                    vm.iovas[(int) k] = dma;
                    vm.mapped++;
                    totalMaps++;
                }
                progress.advance(1);
            }
        }
        long mapCpu = cpu.getCurrentThreadCpuTime() - cpu0;
        long mapWall = System.nanoTime() - wallMaps;
        progress.done();

        // ---- check: every mapping's DMA lands in the right frame of its own VM, nothing else
        progress.phase("check", totalMaps);
        IntelIommu unit = host.machine().iommu();
        Map<Long, Integer> owner = new HashMap<>();
        long checked = 0;
        long landed = 0;
        long wrongFrame = 0;
        long crossVm = 0;
        long unshadowed = 0;
        byte[] eight = new byte[8];
        for (Vm vm : vms) {
            if (vm.vmm == null) {
                continue;
            }
            for (int k = 0; k < vm.iovas.length; k++) {
                long iova = vm.iovas[k];
                if (iova == -1) {
                    continue;
                }
                long gpa = vm.gpas[k % vm.gpas.length];
                long value = (long) vm.index << 40 | k;
                for (int b = 0; b < 8; b++) {
                    eight[b] = (byte) (value >>> (8 * b));
                }
                checked++;
                DmaPort.Outcome out = vm.port.write(Iova.of(iova), eight, 0, 8);
                if (!out.ok()) {
                    unshadowed++;
                    progress.advance(1);
                    continue;
                }
                TranslationResult r = unit.translate(new DmaRequest(vm.hostRid, Iova.of(iova), 8, DmaAccess.WRITE));
                long hpa = r instanceof Translation t ? t.outputValue(iova) : -1;
                PhysAddr frame = vm.vmm.hostFrameOf(gpa);
                if (frame == null || hpa != frame.value()) {
                    wrongFrame++;
                }
                Integer was = owner.putIfAbsent(hpa & -Page.SIZE, vm.index);
                if (was != null && was != vm.index) {
                    crossVm++;
                }
                if (vm.vmm.machine().memory().read(PhysAddr.of(gpa), 8) == value) {
                    landed++;
                }
                progress.advance(1);
            }
        }
        // a DMA to an IOVA no guest mapped: stopped in the host unit, logged by the host kernel
        long probesFaulted = 0;
        for (Vm vm : vms) {
            if (vm.vmm != null && !vm.port.write(Iova.of(0x1000), eight, 0, 8).ok()) {
                probesFaulted++;
            }
        }
        host.takeInterrupts();
        progress.done();

        // ---- the DMA workload: every VF writes its buffers, TLP by TLP, round-robin over the VMs
        long translations = 0;
        long dmaFaults = 0;
        long dmaCpu = 0;
        long dmaWall = 0;
        byte[] tlp = new byte[TLP_BYTES];
        List<Vm> live = vms.stream().filter(v -> v.vmm != null).toList();
        if (o.sweeps() > 0 && !live.isEmpty()) {
            progress.phase("DMA", o.sweeps() * most);
            cpu0 = cpu.getCurrentThreadCpuTime();
            long w0 = System.nanoTime();
            int tlps = (int) (Page.SIZE / TLP_BYTES);
            for (int s = 0; s < o.sweeps(); s++) {
                for (int k = 0; k < most; k++) {
                    for (Vm vm : live) {
                        if (k >= vm.iovas.length || vm.iovas[k] == -1) {
                            continue;
                        }
                        long iova = vm.iovas[k];
                        for (int t = 0; t < tlps; t++) {
                            tlp[0] = (byte) t;
                            if (!vm.port.write(Iova.of(iova + (long) t * TLP_BYTES), tlp, 0, TLP_BYTES).ok()) {
                                dmaFaults++;
                            }
                        }
                        translations += tlps;
                    }
                    progress.advance(1);
                }
            }
            dmaCpu = cpu.getCurrentThreadCpuTime() - cpu0;
            dmaWall = System.nanoTime() - w0;
            progress.done();
        }

        // ---- what it holds: Java heap after a full GC, guest RAM held off-heap
        System.gc();
        long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        long offHeap = host.machine().ram().allocatedChunks() * io.viommu.memory.PhysicalMemory.CHUNK_SIZE;
        long residentGuestPages = 0;
        long hostEntries = 0;
        long lockedPages = 0;
        List<ScaleReport.VmLine> failures = new ArrayList<>();
        long mapErrors = 0;
        for (Vm vm : vms) {
            if (vm.vmm == null) {
                failures.add(new ScaleReport.VmLine(vm.index, vm.vf, "VMM did not start", firstLines(vm.stderr, vm.startFailure)));
                continue;
            }
            hostEntries += vm.device.container().mappings().size();
            lockedPages += vm.vmm.process().lockedPages();
            residentGuestPages += vm.vmm.process().residentPages();
            long errs = vm.device.listener().counters().errors();
            mapErrors += errs;
            if (errs > 0 || vm.vmm.hardwareError().isPresent()) {
                failures.add(new ScaleReport.VmLine(vm.index, vm.vf, errs + " VFIO error(s) reported by the VMM",
                        firstLines(vm.stderr, null)));
            }
        }
        List<String> hostLog = host.dmesg();
        List<String> hostLines = new ArrayList<>();
        for (String l : hostLog.subList(Math.min(hostLogStart, hostLog.size()), hostLog.size())) {
            boolean repeat = l.contains("Hardware bug: VF reports bogus INTx pin")
                    && hostLines.stream().anyMatch(h -> h.contains("Hardware bug"));
            if (hostLines.size() < 8 && !repeat && !l.startsWith("DMAR: DRHD") && !l.contains("fault addr 0x1000")) {
                hostLines.add(l);
            }
        }
        String breaks = breaksFirst(o, vms, failures);
        ScaleReport.Counts counts = new ScaleReport.Counts(PFS * VFS_PER_PF, vfGroups.stream().distinct().count(),
                o.vms(), live.size(), o.maps(), totalMaps, mapFailures, hostEntries, mapErrors, pagesPerVm,
                (long) pagesPerVm * live.size(), lockedPages);
        ScaleReport.Check check = new ScaleReport.Check(checked, landed, wrongFrame, crossVm, unshadowed, probesFaulted);
        ScaleReport.Costs costs = new ScaleReport.Costs(vmCpu, vmWall, mapCpu, mapWall, translations, dmaFaults,
                dmaCpu, dmaWall, System.nanoTime() - wall0);
        ScaleReport.Memory memory = new ScaleReport.Memory(heap, offHeap, residentGuestPages * Page.SIZE,
                guestMiB << 20, hostGiB << 30);
        return new ScaleReport(o, hostArgs(hostGiB), vmArgs(guestMiB, "VF"), setup, counts, check, costs, memory,
                breaks, failures, hostLines, notes);
    }

    /** The VM's QEMU command line. */
    static List<String> vmArgs(long guestMiB, String vf) {
        return List.of("-M", "q35", "-m", guestMiB + "M", "-nodefaults", "-device", "intel-iommu,caching-mode=on",
                "-device", "vfio-pci,host=" + vf);
    }

    private static void shell(RootShell shell, List<String> lines) {
        RootShell.Run run = shell.runScript(lines);
        if (!run.ok()) {
            throw new IllegalStateException("the scale host's setup failed at: " + run.failedLine() + ": "
                    + run.results().get(run.results().size() - 1).output().trim());
        }
    }

    private static List<String> firstLines(List<String> stderr, String extra) {
        List<String> out = new ArrayList<>();
        if (extra != null) {
            out.add(extra);
        }
        for (String l : stderr) {
            if (out.size() >= 3) {
                break;
            }
            if (!l.contains("Failed to mmap") && !out.contains(l)) {
                out.add(l);
            }
        }
        return out;
    }

    /** The first limit met, in words, with its errno; null when nothing broke. */
    private static String breaksFirst(Options o, List<Vm> vms, List<ScaleReport.VmLine> failures) {
        if (failures.isEmpty()) {
            return null;
        }
        ScaleReport.VmLine f = failures.get(0);
        String text = String.join(" / ", f.lines());
        if (text.contains("No space left on device")) {
            return "VFIO_IOMMU_MAP_DMA -ENOSPC: the container of VM " + f.vm() + " reached vfio_iommu_type1.dma_entry_limit ("
                    + (o.dmaEntryLimit() >= 0 ? o.dmaEntryLimit() : 65535) + " mappings); its later guest mappings"
                    + " are not shadowed and the VF's DMA to them faults in the host unit";
        }
        if (text.contains("Cannot allocate memory")) {
            return "VFIO_IOMMU_MAP_DMA -ENOMEM: VM " + f.vm() + "'s VMM passed RLIMIT_MEMLOCK ("
                    + (o.memlockBytes() >> 10) + " KiB; vfio_pin_pages_remote)";
        }
        return "VM " + f.vm() + ": " + text;
    }
}
