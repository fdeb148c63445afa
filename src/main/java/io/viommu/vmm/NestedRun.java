package io.viommu.vmm;

import io.viommu.linux.Kernel;
import io.viommu.linux.driver.DmaOps;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.vfio.DmaMapping;
import io.viommu.linux.vfio.UserProcess;
import io.viommu.linux.vfio.Vfio;
import io.viommu.linux.vfio.VfioContainer;
import io.viommu.linux.vfio.VfioDevice;
import io.viommu.linux.vfio.VfioGroup;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.machine.device.EduDevice;
import io.viommu.memory.Iova;
import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.DmaAccess;
import io.viommu.pci.DmaFault;
import io.viommu.pci.DmaPort;
import io.viommu.pci.DmaRequest;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import io.viommu.pci.Translation;
import io.viommu.pci.TranslationResult;
import io.viommu.vtd.IntelIommu;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;

/**
 * {@code viommu run --nest}: nested assignment. The host (L0) runs L1's VMM; L1's kernel (the
 * same model) binds the device it was given to its own vfio-pci and runs L2's VMM (the same
 * {@link Vmm}); and so on ({@link Nest}). Then the innermost guest maps a page with its DMA API
 * and the DMA is followed down every level to the host frame, checked byte for byte; and the
 * physical device is made to DMA to an IOVA no level mapped, which the host's unit stops.
 *
 * <p>A tour or a test calls {@link #run(Kernel, Options)} with a booted host.
 */
public final class NestedRun {
    /**
     * A run: the host's description, every level's QEMU arguments (L1 first), --managed (every
     * level), the workload of the innermost guest ({@link VmRun.Workload#NIC_RING}: its DMA API,
     * {@link VmRun.Workload#STATIC}: a DPDK-style process of it through its own VFIO) and its size,
     * and {@code setups}: element i the commands level i+1's root runs in its shell after its
     * kernel booted and before the next level's VMM starts ({@code --nest-setup}, as {@code
     * --via-setup}: e.g. binding the device to its own vfio-pci by hand instead of --managed).
     */
    public record Options(String hostArgs, List<List<String>> levels, boolean managed, VmRun.Workload workload,
                          int packets, int ring, List<List<String>> setups) {
        public Options {
            levels = levels.stream().map(List::copyOf).toList();
            setups = setups.stream().map(List::copyOf).toList();
            if (workload == null || packets <= 0) {
                workload = VmRun.Workload.NONE;
            }
        }

        /** No setup commands in the levels. */
        public Options(String hostArgs, List<List<String>> levels, boolean managed, VmRun.Workload workload,
                       int packets, int ring) {
            this(hostArgs, levels, managed, workload, packets, ring, List.of());
        }

        /** The nic-ring workload of {@code packets} packets (none when 0). */
        public Options(String hostArgs, List<List<String>> levels, boolean managed, int packets, int ring) {
            this(hostArgs, levels, managed, VmRun.Workload.NIC_RING, packets, ring);
        }

        /** No workload: the DMA sample and the stray DMA only. */
        public Options(String hostArgs, List<List<String>> levels, boolean managed) {
            this(hostArgs, levels, managed, VmRun.Workload.NONE, 0, 0);
        }
    }

    private NestedRun() {
    }

    /** Runs it on {@code host} (booted, its setup done). Never throws: a failure is in the report. */
    public static NestedReport run(Kernel host, Options o) {
        Nest nest = Nest.on(host);
        int hostLogStart = host.dmesg().size();
        List<String> warnings = new ArrayList<>();
        List<String> noEffect = new ArrayList<>();
        List<List<RunReport.Managed>> managed = new ArrayList<>();
        List<List<String>> stderr = new ArrayList<>();
        List<List<NestedReport.SetupLine>> setupLogs = new ArrayList<>();
        java.util.Map<VfioPciDevice, List<DmaMapping>> whileMapped = new java.util.IdentityHashMap<>();
        NestedReport.Dma dma = null;
        NestedReport.Stray stray = null;
        NestedReport.Unsafe unsafe = null;
        NestedReport.Workload workload = null;
        List<NestedReport.Level> levels = List.of();
        String failure = null;
        try {
            for (List<String> args : o.levels()) {
                runSetup(nest, o, setupLogs);
                String name = "L" + (nest.levels().size() + 1);
                setupLogs.add(List.of());
                List<String> lines = new ArrayList<>();
                stderr.add(lines);
                managed.add(List.of());
                Nest.Level l = nest.push(args, o.managed(), lines::add);
                if (l.managed() != null) {
                    managed.set(managed.size() - 1, l.managed().steps().stream()
                            .map(s -> new RunReport.Managed(s.device(), s.previousDriver(), "vfio-pci")).toList());
                }
                for (String n : l.vmm().commandLine().noEffect()) {
                    noEffect.add(name + ": " + n);
                }
                if (l.vmm().assignedDevices().isEmpty()) {
                    throw new IllegalArgumentException(name + "'s arguments assign no device (-device vfio-pci,host=...):"
                            + " nothing to hand on" + (nest.levels().size() < o.levels().size() ? " to the next level" : ""));
                }
            }
            runSetup(nest, o, setupLogs); // the innermost level's, before its DMA sample and workload
            VfioPciDevice top = nest.levels().get(nest.levels().size() - 1).vmm().assignedDevices().get(0);
            dma = follow(nest, top, () -> {
                for (Nest.Level l : nest.levels()) {
                    for (VfioPciDevice d : l.vmm().assignedDevices()) {
                        whileMapped.put(d, d.container().mappings());
                    }
                }
            });
            stray = stray(nest, top);
            unsafe = unsafeDma(nest, top);
            if (unsafe != null) {
                warnings.add(unsafe.level() + ": " + noIommuWarning(unsafe.level(), unsafe.node(),
                        nest.top().vfio().orElseThrow().tainted()));
            }
            if (o.workload() != VmRun.Workload.NONE) {
                workload = workload(nest, top, o.workload(), o.packets(), o.ring());
            }
        } catch (ManagedBinding.ManagedException e) {
            failure = "error: " + e.getMessage();
        } catch (MachineConfigException e) {
            failure = e.getMessage();
        } catch (IllegalArgumentException e) {
            failure = "viommu run: " + e.getMessage();
        } catch (RuntimeException e) {
            failure = "viommu run: the model failed: " + e;
        } finally {
            levels = levels(nest, hostLogStart, o, managed, stderr, setupLogs, whileMapped);
            warnings.addAll(nest.shutdown());
        }
        if (failure == null && !dma.ok()) {
            failure = "viommu run: the innermost guest's DMA did not land in its page (see the DMA path)";
        }
        if (failure == null && unsafe != null && !unsafe.landed()) {
            failure = "viommu run: the device's DMA to the innermost guest's kernel page did not land, though nothing"
                    + " translates it (see the unsafe DMA)";
        }
        if (failure == null && stray.landed()) {
            failure = "viommu run: a DMA to an IOVA nobody mapped reached memory (see the stray DMA)";
        }
        if (failure == null && workload != null && (workload.delivered() != workload.packets() || workload.dmaFaults() != 0)) {
            failure = "viommu run: the workload lost packets (see workload)";
        }
        return new NestedReport(o.hostArgs(), failure == null, failure, failedAt(failure, levels, o), levels, dma, stray,
                unsafe, workload, noEffect, warnings);
    }

    /**
     * The setup of the innermost level started so far, if {@code --nest-setup} gave it one: before
     * the next level's VMM, or for the last level before its DMA sample and workload. A failing
     * line stops the run.
     */
    private static void runSetup(Nest nest, Options o, List<List<NestedReport.SetupLine>> setupLogs) {
        int below = nest.levels().size();
        if (below > 0 && below <= o.setups().size() && !o.setups().get(below - 1).isEmpty()) {
            List<NestedReport.SetupLine> log = setup(nest, o.setups().get(below - 1));
            setupLogs.set(below - 1, log);
            NestedReport.SetupLine last = log.get(log.size() - 1);
            if (!last.ok()) {
                throw new IllegalArgumentException("L" + below + "'s setup (--nest-setup) failed at: " + last.command());
            }
        }
    }

    /** {@code lines} run by the innermost kernel's root shell, each with what it printed; up to the first that fails. */
    private static List<NestedReport.SetupLine> setup(Nest nest, List<String> lines) {
        io.viommu.linux.shell.RootShell.Run run = nest.setup(lines);
        List<NestedReport.SetupLine> out = new ArrayList<>();
        for (int i = 0; i < run.results().size(); i++) {
            String line = run.lines().get(i);
            var r = run.results().get(i);
            String t = line.strip();
            if (!t.isEmpty() && !t.startsWith("#")) {
                out.add(new NestedReport.SetupLine(line, r.output(), r.ok()));
            }
        }
        if (out.isEmpty()) {
            out.add(new NestedReport.SetupLine("(only comments)", "", true));
        }
        return out;
    }

    /** The level whose start failed (the first listed level without a device view), or null. */
    private static String failedAt(String failure, List<NestedReport.Level> levels, Options o) {
        if (failure == null) {
            return null;
        }
        for (NestedReport.Level l : levels) {
            if (l.device() == null) {
                return l.level();
            }
        }
        return null;
    }

    /** The assigned device's chain: index 0 the host's, index i the device in Li. */
    private static List<Object> chain(Nest nest) {
        List<Object> out = new ArrayList<>();
        List<Nest.Level> ls = nest.levels();
        VfioPciDevice d = null;
        for (int i = ls.size() - 1; i >= 0 && d == null; i--) {
            if (!ls.get(i).vmm().assignedDevices().isEmpty()) {
                d = ls.get(i).vmm().assignedDevices().get(0);
            }
        }
        while (d != null) {
            out.add(0, d);
            VfioPciDevice under = nest.under(d);
            if (under == null) {
                out.add(0, d.vfioDevice().pciDevice());
            }
            d = under;
        }
        return out;
    }

    private static List<NestedReport.Level> levels(Nest nest, int hostLogStart, Options o,
                                                   List<List<RunReport.Managed>> managed, List<List<String>> stderr,
                                                   List<List<NestedReport.SetupLine>> setups,
                                                   java.util.Map<VfioPciDevice, List<DmaMapping>> whileMapped) {
        List<Object> chain = chain(nest);
        List<NestedReport.Level> out = new ArrayList<>();
        Kernel host = nest.host();
        List<Nest.Level> ls = nest.levels();
        for (Nest.Level l : ls) {
            l.below().takeInterrupts();
            l.guest().kernel().takeInterrupts();
        }
        host.takeInterrupts();
        PciDevice hostDev = chain.isEmpty() ? null : (PciDevice) chain.get(0);
        List<String> hostLog = host.dmesg();
        out.add(new NestedReport.Level("L0", o.hostArgs(), hostDev == null ? null : device(host, hostDev), null,
                host.iommuActive() ? "the host's VT-d unit, intel_iommu on (it translates every DMA of the physical device)"
                        : "no active IOMMU", null,
                hostLog.subList(Math.min(hostLogStart, hostLog.size()), hostLog.size()).stream()
                        .filter(VmRun::isFaultLine).toList(), hostDev == null ? List.of()
                        : naming(hostLog.subList(Math.min(hostLogStart, hostLog.size()), hostLog.size()), hostDev.name()),
                List.of(), List.of(), List.of(), null));
        for (int i = 0; i < o.levels().size(); i++) {
            String name = "L" + (i + 1);
            String args = String.join(" ", o.levels().get(i));
            List<RunReport.Managed> m = i < managed.size() ? managed.get(i) : List.of();
            List<String> err = i < stderr.size() ? stderr.get(i) : List.of();
            List<NestedReport.SetupLine> setup = i < setups.size() ? setups.get(i) : List.of();
            if (i >= ls.size()) {
                out.add(new NestedReport.Level(name, args, null, null, "never started", null, List.of(), List.of(), m,
                        err, setup, null));
                continue;
            }
            Nest.Level l = ls.get(i);
            Kernel k = l.guest().kernel();
            VfioPciDevice d = i + 1 < chain.size() ? (VfioPciDevice) chain.get(i + 1) : null;
            NestedReport.Device dev = null;
            NestedReport.VmmSide side = null;
            if (d != null) {
                PciDevice pd = k.drivers().device("0000:" + d.address()).orElse(null);
                dev = pd == null ? new NestedReport.Device("0000:" + d.address(), null, null, List.of(), null, null)
                        : device(k, pd);
                side = vmmSide("L" + i, d, whileMapped.getOrDefault(d, d.container().mappings()));
            }
            out.add(new NestedReport.Level(name, args, dev, VmRun.viommuOf(l.vmm().machine()), VmRun.guestIommu(k), side,
                    k.dmesg().stream().filter(VmRun::isFaultLine).toList(),
                    dev == null ? List.of() : naming(k.dmesg(), dev.bdf()), m, err, setup,
                    dev == null || dev.vfioNode() == null || !dev.vfioNode().contains("noiommu-") ? null
                            : noIommuWarning(name, dev.vfioNode(), k.vfio().orElseThrow().tainted())));
        }
        return out;
    }

    /** The lines of {@code log} that name {@code bdf} (or its short form, as DMAR lines do), DMA faults aside. */
    private static List<String> naming(List<String> log, String bdf) {
        String shortForm = "[" + bdf.substring(5) + "]";
        return log.stream().filter(l -> !VmRun.isFaultLine(l) && (l.contains(bdf) || l.contains(shortForm)))
                .toList();
    }

    private static NestedReport.Device device(Kernel k, PciDevice pd) {
        var id = pd.identity();
        OptionalInt g = k.drivers().groupOf(pd);
        List<String> members = g.isEmpty() ? List.of()
                : k.groups().group(g.getAsInt()).map(x -> x.memberBdfs()).orElse(List.of());
        String node = null;
        if (g.isPresent() && k.vfio().isPresent() && pd.driver() != null && pd.driver().name().equals("vfio-pci")) {
            node = "/dev/vfio/" + g.getAsInt();
        } else if (g.isEmpty() && k.vfio().isPresent()) {
            g = k.vfio().get().noiommuGroup(pd.name()); // vfio_noiommu_group_alloc's group: the device alone
            if (g.isPresent()) {
                members = List.of(pd.name());
                node = "/dev/vfio/noiommu-" + g.getAsInt();
            }
        }
        return new NestedReport.Device(pd.name(), String.format("%04x:%04x", id.vendor(), id.device()),
                g.isPresent() ? g.getAsInt() : null, members, pd.driver() == null ? null : pd.driver().name(), node);
    }

    /** What VFIO's no-IOMMU mode means for {@code level}: the kernel is tainted and the device's DMA unchecked. */
    static String noIommuWarning(String level, String node, int tainted) {
        return "UNSAFE: VFIO no-IOMMU mode (" + node + "): " + level + "'s kernel is tainted (/proc/sys/kernel/tainted "
                + tainted + ") and nothing translates the device's DMA in " + level + ": whoever opens " + node
                + " can make the device read and write any guest-physical address of " + level
                + ", its kernel's memory included; no VM above it can be given the device (QEMU opens /dev/vfio/N)";
    }

    /**
     * When the innermost kernel holds the device in a group VFIO's no-IOMMU mode made: a process of
     * it (CAP_SYS_RAWIO) opens {@code /dev/vfio/noiommu-N}, a container of type VFIO_NOIOMMU_IOMMU
     * (no MAP_DMA there) and the device, and drives the edu's DMA to the guest-physical address of
     * a page its kernel allocated for itself; the bytes are looked for in that page. Null for any
     * other device, or when the physical device is not an edu (no DMA engine to drive).
     */
    static NestedReport.Unsafe unsafeDma(Nest nest, VfioPciDevice top) {
        Kernel k = nest.top();
        String bdf = "0000:" + top.address();
        EduDevice edu = physicalEdu(nest, top);
        OptionalInt g = k.vfio().isPresent() ? k.vfio().get().noiommuGroup(bdf) : OptionalInt.empty();
        if (g.isEmpty() || edu == null) {
            return null;
        }
        String level = "L" + nest.levels().size();
        String node = "/dev/vfio/noiommu-" + g.getAsInt();
        Vfio vfio = k.vfio().get();
        UserProcess process = UserProcess.root("dpdk", k.userMemory());
        DmaOps ops = k.drivers().dmaOps();
        long page = ops.allocPages(1);
        if (page < 0) {
            throw new IllegalStateException(level + "'s kernel has no free page");
        }
        VfioContainer container = vfio.openContainer(process);
        VfioGroup group = vfio.openGroup(process, node);
        try {
            group.setContainer(container);
            container.setIommu(Vfio.NOIOMMU_IOMMU);
            VfioDevice device = group.deviceFd(bdf);
            try {
                long config = (long) VfioDevice.CONFIG_REGION << VfioDevice.OFFSET_SHIFT;
                long bar0 = (long) VfioDevice.BAR0_REGION << VfioDevice.OFFSET_SHIFT;
                device.write(config + PciRegs.COMMAND, device.read(config + PciRegs.COMMAND, 2)
                        | PciRegs.COMMAND_MEMORY | PciRegs.COMMAND_MASTER, 2);
                byte[] pattern = DmaSample.pattern(0x5a, top.address());
                DmaPort.Outcome r = eduDma(nest, edu, (off, v) -> device.write(bar0 + off, v, 8), page, pattern);
                byte[] got = new byte[pattern.length];
                k.machine().memory().readBytes(PhysAddr.of(page), got, 0, got.length);
                String hpa = null;
                IntelIommu unit = nest.host().machine().iommu();
                VfioPciDevice bottom = top;
                while (nest.under(bottom) != null) {
                    bottom = nest.under(bottom);
                }
                if (unit != null && unit.translate(new DmaRequest(bottom.vfioDevice().pciDevice().rid(), Iova.of(page),
                        pattern.length, DmaAccess.WRITE)) instanceof Translation t) {
                    hpa = hex(t.output(Iova.of(page)).value());
                }
                return new NestedReport.Unsafe(level, bdf, node, hex(page), hpa, pattern.length,
                        r != null && r.ok() && Arrays.equals(pattern, got));
            } finally {
                device.close();
            }
        } finally {
            if (group.container() != null) {
                group.unsetContainer();
            }
            group.close();
            ops.freePages(page, 1);
        }
    }

    /** The VMM of a level: its mappings {@code maps} (held while the DMA's page was mapped), its counts over the run. */
    private static NestedReport.VmmSide vmmSide(String runsOn, VfioPciDevice d, List<DmaMapping> maps) {
        var c = d.listener().counters();
        String listens = switch (d.listener().mode()) {
            case SYSTEM_MEMORY -> "system memory (all guest RAM at its GPA)";
            case IOMMU -> "the vIOMMU's notifier (guest mappings mirrored)";
            case DETACHED -> "nothing (detached)";
        };
        return new NestedReport.VmmSide(runsOn, listens, maps.size(), maps.stream().mapToLong(DmaMapping::size).sum(),
                maps.stream().limit(4).map(NestedRun::mapping).toList(), c.invalidationsTrapped(), c.mapCalls(),
                c.unmapCalls(), c.pagesMapped());
    }

    static String mapping(DmaMapping m) {
        return String.format(Locale.ROOT, "iova 0x%x size 0x%x -> vaddr 0x%x %s%s", m.iova().value(), m.size(),
                m.vaddr().value(), m.readable() ? "r" : "-", m.writable() ? "w" : "-");
    }

    private static DmaMapping covering(VfioPciDevice d, Iova iova) {
        for (DmaMapping m : d.container().mappings()) {
            if (Long.compareUnsigned(iova.value() - m.iova().value(), m.size()) < 0) {
                return m;
            }
        }
        return null;
    }

    /**
     * The innermost guest maps a page for its device and the DMA address is followed down: at each
     * level Li the IOVA (the same number at every level: each VMM shadows it unchanged into the
     * VFIO below) is translated by Li's vIOMMU (or is Li's guest-physical address without one)
     * and must be the page Li's VMM holds the level above's page at; at the bottom the host unit
     * translates it. Bytes written at the host frame are read back in the innermost guest's page;
     * for an edu the physical device's own DMA, driven through the innermost VM's BAR, too.
     */
    static NestedReport.Dma follow(Nest nest, VfioPciDevice top, Runnable whileMapped) {
        Guest guest = nest.levels().get(nest.levels().size() - 1).guest();
        DmaOps ops = guest.kernel().drivers().dmaOps();
        EduDevice edu = physicalEdu(nest, top);
        if (edu != null) {
            ops.setMask(top.address(), EduDevice.DEFAULT_DMA_MASK); // the edu's DMA engine has 28 bits
        }
        long page = ops.allocPages(1);
        if (page < 0) {
            throw new IllegalStateException("the innermost guest kernel has no free page for the DMA");
        }
        long dma = ops.map(top.address(), page, Page.SIZE, DmaOps.Direction.FROM_DEVICE);
        try {
            if (dma == DmaOps.MAPPING_ERROR) {
                return new NestedReport.Dma(top.hostName(), null, hex(page), List.of(), null, 0, false,
                        "dma_map_single failed", false);
            }
            Iova iova = Iova.of(dma);
            whileMapped.run();
            List<NestedReport.Hop> hops = new ArrayList<>();
            boolean ok = true;
            PhysAddr expected = PhysAddr.of(page);
            VfioPciDevice d = top;
            int depth = nest.levels().size();
            while (d != null) {
                Vmm vmm = d.vmm();
                IntelIommu v = vmm.machine().iommu();
                PhysAddr out;
                String by;
                if (v != null && !d.inSystemMemory()) {
                    TranslationResult r = v.translate(new DmaRequest(d.address(), iova, DmaSample.LENGTH, DmaAccess.WRITE));
                    out = r instanceof Translation t ? t.output(iova) : null;
                    by = "L" + depth + "'s vIOMMU (context of " + d.address() + ")";
                } else {
                    out = PhysAddr.of(iova.value());
                    by = "none: the address is L" + depth + "'s guest-physical address";
                }
                boolean hopOk = out != null && out.equals(expected);
                ok &= hopOk;
                DmaMapping m = covering(d, iova);
                var va = out == null || vmm.ram() == null ? null : vmm.ram().vaddrOf(out);
                hops.add(new NestedReport.Hop("L" + depth, "0000:" + d.address(), by, out == null ? null : hex(out.value()),
                        hex(expected.value()), va == null ? null : hex(va.value()),
                        m == null ? null : "L" + depth + "'s VMM in L" + (depth - 1) + "'s VFIO: " + mapping(m), hopOk));
                expected = out == null ? null : vmm.hostFrameOf(out.value());
                if (expected == null) {
                    ok = false;
                    break;
                }
                VfioPciDevice under = nest.under(d);
                if (under == null) {
                    break;
                }
                d = under;
                depth--;
            }
            PhysAddr hpa = null;
            IntelIommu unit = nest.host().machine().iommu();
            var hostRid = d.vfioDevice().pciDevice().rid();
            if (ok) {
                if (unit == null) {
                    hpa = PhysAddr.of(iova.value());
                } else {
                    TranslationResult r = unit.translate(new DmaRequest(hostRid, iova, DmaSample.LENGTH, DmaAccess.WRITE));
                    hpa = r instanceof Translation t ? t.output(iova) : null;
                }
                boolean hostOk = hpa != null && hpa.equals(expected);
                hops.add(new NestedReport.Hop("L0", "0000:" + hostRid, unit == null ? "none (no IOMMU on the host)"
                        : "the host's VT-d unit", hpa == null ? null : hex(hpa.value()), hex(expected.value()), null,
                        null, hostOk));
                ok &= hostOk;
                nest.runAll(null);
            }
            boolean matched = false;
            int checked = 0;
            String deviceDma = null;
            if (ok) {
                byte[] pattern = DmaSample.pattern(0x3c, top.address());
                nest.host().machine().memory().writeBytes(hpa, pattern, 0, DmaSample.LENGTH);
                byte[] got = new byte[DmaSample.LENGTH];
                top.vmm().machine().memory().readBytes(PhysAddr.of(page), got, 0, DmaSample.LENGTH);
                checked = DmaSample.LENGTH;
                matched = Arrays.equals(pattern, got);
                if (edu != null) {
                    byte[] p2 = DmaSample.pattern(0xc3, top.address());
                    DmaPort.Outcome r = eduDma(nest, top, edu, iova, p2);
                    top.vmm().machine().memory().readBytes(PhysAddr.of(page), got, 0, DmaSample.LENGTH);
                    deviceDma = r == null ? "not issued: BAR0 of the innermost guest's edu is not placed"
                            : !r.ok() ? "faulted: " + r
                            : Arrays.equals(p2, got) ? "ok: the physical edu's DMA of " + DmaSample.LENGTH
                                    + " B from its buffer to IOVA 0x" + Long.toHexString(iova.value()) + " landed at L"
                                    + nest.levels().size() + " GPA 0x" + Long.toHexString(page) + ", bytes identical"
                            : "bytes differ in the innermost guest's page";
                }
            }
            ok &= matched && (deviceDma == null || deviceDma.startsWith("ok"));
            return new NestedReport.Dma(top.hostName(), hex(iova.value()), hex(page), hops,
                    hpa == null ? null : hex(hpa.value()), checked, matched, deviceDma, ok);
        } finally {
            if (dma != DmaOps.MAPPING_ERROR) {
                ops.unmap(top.address(), dma, Page.SIZE, DmaOps.Direction.FROM_DEVICE);
            }
            ops.freePages(page, 1);
            nest.runAll(null);
        }
    }

    /**
     * The physical device DMAs (to RAM) to an IOVA the innermost guest never mapped: each level's
     * VMM container is asked whether it maps it, the DMA is driven through the innermost VM's BAR
     * (an edu) or issued by the host's unit for the device's requester id, and the host kernel's
     * log says what the unit did.
     */
    static NestedReport.Stray stray(Nest nest, VfioPciDevice top) {
        Iova iova = unmappedIova(top);
        if (iova == null) {
            return new NestedReport.Stray(null, List.of(), null, "not issued: L" + nest.levels().size()
                    + " has no vIOMMU and its VMM maps all its RAM, which covers every address the device reaches",
                    "none", List.of(), false);
        }
        List<String> mappedAt = new ArrayList<>();
        String firstUnmapped = null;
        VfioPciDevice d = top;
        int depth = nest.levels().size();
        VfioPciDevice bottom = top;
        while (d != null) {
            DmaMapping m = covering(d, iova);
            String where = "L" + depth + "'s VMM (a process of L" + (depth - 1) + ")";
            if (m == null) {
                mappedAt.add("L" + depth + ": not mapped (" + where + " holds no VFIO mapping for it"
                        + (d.vmm().machine().iommu() != null && !d.inSystemMemory()
                        ? ": L" + depth + "'s vIOMMU has no entry" : ": beyond L" + depth + "'s RAM") + ")");
                if (firstUnmapped == null) {
                    firstUnmapped = "L" + depth;
                }
            } else {
                mappedAt.add("L" + depth + ": mapped (" + where + ": " + mapping(m) + ")");
            }
            bottom = d;
            d = nest.under(d);
            depth--;
        }
        Kernel host = nest.host();
        int logStart = host.dmesg().size();
        EduDevice edu = physicalEdu(nest, top);
        boolean landed;
        String fault;
        if (edu != null) {
            byte[] p = DmaSample.pattern(0x99, top.address());
            DmaPort.Outcome r = eduDma(nest, top, edu, iova, p);
            landed = r != null && r.ok();
            fault = r == null ? "not issued (BAR0 not placed)" : r.fault() != null ? r.fault().toString()
                    : r.masterDisabled() ? "bus mastering off" : "none";
        } else {
            IntelIommu unit = host.machine().iommu();
            TranslationResult r = unit == null ? null : unit.translate(new DmaRequest(bottom.vfioDevice().pciDevice().rid(),
                    iova, DmaSample.LENGTH, DmaAccess.WRITE));
            landed = unit == null || r instanceof Translation;
            fault = r instanceof DmaFault f ? f.toString() : "none";
            nest.runAll(null);
        }
        List<String> log = host.dmesg();
        List<String> hostLog = List.copyOf(log.subList(Math.min(logStart, log.size()), log.size()));
        String stoppedAt = landed ? "nowhere: it reached memory"
                : host.machine().iommu() != null ? "L0: the host's VT-d unit (the device is physical: no vIOMMU above"
                        + " sees its DMA; every level's mapping is a shadow in the unit's tables)" : "nowhere";
        return new NestedReport.Stray(hex(iova.value()), mappedAt, firstUnmapped, stoppedAt, fault, hostLog, landed);
    }

    /**
     * The NIC ring of {@code scenario nic-ring} in the innermost guest on its edu (the physical
     * edu's frames arrive through every level's shadow), and what it cost each level per packet.
     * {@code nic-ring}: the guest kernel's DMA API maps each refill and unmaps each completion;
     * {@code static}: the guest binds the device to its own vfio-pci and a DPDK-style process maps
     * the whole buffer area once through that VFIO (a MAP_DMA that programs the innermost vIOMMU,
     * trapped and shadowed level by level like any other mapping), then polls the ring with no
     * further mapping. The host's IOTLB invalidations are counted as the host's unit receives
     * them: Linux 6.1 invalidates on unmap, and on map only when the unit reports caching mode
     * ({@code __mapping_notify_one}), so on a host unit without it they equal the host UNMAP_DMA calls.
     */
    static NestedReport.Workload workload(Nest nest, VfioPciDevice top, VmRun.Workload kind, int packets, int ring) {
        EduDevice edu = physicalEdu(nest, top);
        if (edu == null) {
            throw new IllegalArgumentException("--workload " + kind.label() + " needs an edu at the bottom of the chain"
                    + " (the only device with a DMA engine in the model)");
        }
        List<VfioPciDevice> chain = new ArrayList<>();
        for (VfioPciDevice d = top; d != null; d = nest.under(d)) {
            chain.add(0, d);
        }
        List<VfioListener.Counters> before = chain.stream().map(d -> d.listener().counters()).toList();
        VmRun.HostInvalidations inv = new VmRun.HostInvalidations();
        IntelIommu unit = nest.host().machine().iommu();
        if (unit != null) {
            unit.addInvalidationListener(inv);
        }
        Guest guest = nest.levels().get(nest.levels().size() - 1).guest();
        boolean cm = top.vmm().machine().iommu() != null && top.vmm().machine().iommu().config().cachingMode();
        io.viommu.linux.scenario.NicRingScenario.Nic nic = new io.viommu.linux.scenario.NicRingScenario.Nic(edu,
                top.address(), top.barAddress(0));
        io.viommu.linux.scenario.NicRingRun r;
        try {
            r = kind == VmRun.Workload.STATIC
                    ? io.viommu.linux.scenario.NicRingScenario.staticVfioOn(guest.kernel(), nic, cm, packets, ring)
                    : io.viommu.linux.scenario.NicRingScenario.dynamicOn(guest.kernel(), nic, cm, packets, ring);
        } catch (IllegalStateException e) {
            throw new IllegalArgumentException("--workload " + kind.label() + " in L" + nest.levels().size() + ": "
                    + e.getMessage(), e);
        } finally {
            if (unit != null) {
                unit.removeInvalidationListener(inv);
            }
        }
        List<NestedReport.LevelCost> costs = new ArrayList<>();
        for (int i = 0; i < chain.size(); i++) {
            VfioListener.Counters a = chain.get(i).listener().counters();
            VfioListener.Counters b = before.get(i);
            costs.add(new NestedReport.LevelCost("L" + (i + 1),
                    (a.invalidationsTrapped() - b.invalidationsTrapped()) / (double) packets,
                    (a.mapCalls() - b.mapCalls() + a.unmapCalls() - b.unmapCalls()) / (double) packets,
                    (a.mapCalls() - b.mapCalls()) / (double) packets, (a.unmapCalls() - b.unmapCalls()) / (double) packets));
        }
        return new NestedReport.Workload(kind.label(), "L" + nest.levels().size(), r.packets(), r.ringSize(), r.delivered(),
                r.dmaFaults(), costs, inv.count / (double) packets, unit != null && unit.config().cachingMode());
    }

    /**
     * An IOVA the innermost VMM's container does not map, inside an edu's 28-bit reach; null when
     * it maps them all (a VM without a vIOMMU whose RAM covers the reach: its VMM maps all of it).
     */
    private static Iova unmappedIova(VfioPciDevice top) {
        for (long a : new long[] {0x0ff0_0000L, 0x0800_0000L, 0x5000L, 0x0fff_0000L}) {
            if (covering(top, Iova.of(a)) == null) {
                return Iova.of(a);
            }
        }
        return null;
    }

    /** The edu at the bottom of the chain, or null when the physical device is not an edu. */
    static EduDevice physicalEdu(Nest nest, VfioPciDevice top) {
        VfioPciDevice d = top;
        while (nest.under(d) != null) {
            d = nest.under(d);
        }
        var rid = d.vfioDevice().pciDevice().rid();
        for (PciFunction f : nest.host().machine().devices()) {
            if (f instanceof EduDevice e && e.address().equals(rid)) {
                return e;
            }
        }
        return null;
    }

    /**
     * The innermost guest driver's register stores to its edu's BAR0 (src = the edu's buffer, dst =
     * {@code iova}, count, START|TO_RAM) with {@code pattern} in the physical edu's buffer: the
     * stores go down every level's VFIO region to the physical device, which DMAs with its host
     * requester id; then every level's main loop runs. Null when the BAR is not placed.
     */
    private static DmaPort.Outcome eduDma(Nest nest, VfioPciDevice top, EduDevice edu, Iova iova, byte[] pattern) {
        long bar = top.barAddress(0);
        if (bar < 0 || bar == io.viommu.pci.Bar.UNMAPPED) {
            return null;
        }
        var mem = top.vmm().machine().memory();
        top.configWrite(PciRegs.COMMAND, top.configRead(PciRegs.COMMAND, 2) | PciRegs.COMMAND_MEMORY
                | PciRegs.COMMAND_MASTER, 2);
        return eduDma(nest, edu, (off, v) -> mem.write(PhysAddr.of(bar + off), v, 8), iova.value(), pattern);
    }

    /** An 8-byte store to the edu's BAR0, by whoever drives it (the guest's MMIO, a process's VFIO device file). */
    @FunctionalInterface
    private interface EduBar0 {
        void store8(int offset, long value);
    }

    /**
     * {@code pattern} put in the physical edu's buffer, then the driver's stores through {@code
     * bar0} (src = the buffer, dst, count, START|TO_RAM) and every level's main loop.
     */
    private static DmaPort.Outcome eduDma(Nest nest, EduDevice edu, EduBar0 bar0, long dst, byte[] pattern) {
        System.arraycopy(pattern, 0, edu.state().buffer, 0, pattern.length);
        bar0.store8(EduDevice.REG_DMA_SRC, EduDevice.DMA_BUFFER_BASE);
        bar0.store8(EduDevice.REG_DMA_DST, dst);
        bar0.store8(EduDevice.REG_DMA_COUNT, pattern.length);
        bar0.store8(EduDevice.REG_DMA_CMD, EduDevice.DMA_CMD_START | EduDevice.DMA_CMD_TO_RAM);
        nest.runAll(null);
        return edu.lastDma();
    }

    private static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }
}
