package io.viommu.vmm;

import io.viommu.linux.Kernel;
import io.viommu.linux.vfio.UserProcess;
import io.viommu.machine.Machine;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.machine.device.MachineLog;
import io.viommu.memory.AddressSpace;
import io.viommu.memory.PhysAddr;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A VMM: a user-space process of a booted host kernel model that runs one VM, as QEMU 7.2 does
 * under root on a Linux host. The VM's machine is built from QEMU arguments by the usual
 * builder, with two things only a VMM has: its RAM is this process's memory (one anonymous
 * mapping, {@link ProcessGuestRam}; a host device's DMA into those frames is what the VM
 * reads), and {@code -device vfio-pci} ({@link VfioPciDevice}) assigns a host device through
 * the host's VFIO.
 *
 * <p>QEMU runs as root in the captures: CAP_IPC_LOCK, so type1's RLIMIT_MEMLOCK accounting does
 * not bind ({@code __account_locked_vm} skips the check for it).
 */
public final class Vmm {
    /** {@code task->comm} of the VMM process (TASK_COMM_LEN 16: "qemu-system-x86_64" cut to 15). */
    public static final String COMM = "qemu-system-x86";

    private final Kernel host;
    private final UserProcess process;
    private final Consumer<String> stderr;
    private final List<VfioPciDevice> assigned = new ArrayList<>();
    private final java.util.Map<Integer, Group> groups = new java.util.LinkedHashMap<>();

    /**
     * A VFIO group the VM holds (QEMU's VFIOGroup), shared by its devices in that IOMMU group,
     * and the container it sits in (shared by every group of the VM's address space) with the
     * listener that keeps the container's mappings.
     */
    static final class Group {
        final int id;
        /** The device address space the container listens on: "system" or the device's requester id behind the vIOMMU. */
        final String space;
        private final io.viommu.linux.vfio.VfioGroup group;
        private final io.viommu.linux.vfio.VfioContainer container;
        private final VfioListener listener;
        int users;

        Group(int id, String space, io.viommu.linux.vfio.VfioGroup group, io.viommu.linux.vfio.VfioContainer container,
              VfioListener listener) {
            this.id = id;
            this.space = space;
            this.group = group;
            this.container = container;
            this.listener = listener;
        }

        io.viommu.linux.vfio.VfioGroup group() {
            return group;
        }

        io.viommu.linux.vfio.VfioContainer container() {
            return container;
        }

        VfioListener listener() {
            return listener;
        }
    }
    private ProcessGuestRam ram;
    private Machine machine;
    private io.viommu.machine.config.QemuTrace trace = io.viommu.machine.config.QemuTrace.OFF;
    private io.viommu.machine.config.QemuCommandLine commandLine;

    /** Whether the reset's PAM registers have put ROM over 0xC0000-0xFFFFF (the first system reset did). */
    private boolean pamRom;
    /** The machine while the builder realizes its devices (before {@link #machine} is set). */
    private Machine building;

    /**
     * The listener trace of a vfio-pci container ({@link VfioListener.SectionTrace}), null
     * without -trace: system memory's flat view as QEMU 7.2's q35 has it for the listener. RAM
     * below 4 GiB is one section until the first system reset's PAM programming splits off
     * 0xC0000-0xDFFFF (pc.rom) and 0xE0000-0xFFFFF (the BIOS's last 128 KiB, isa-bios); the
     * I/O APIC, HPET, the VT-d unit's registers (with -device intel-iommu) and the MSI window are
     * MMIO (skipped); the 256 KiB BIOS sits below 4 GiB; RAM above 4 GiB follows. The host
     * addresses are the model process's for RAM; pc.rom and pc.bios, which the model does not
     * hold, are shown where QEMU's allocator puts them relative to pc.ram (4 and 2 MiB below).
     */
    VfioListener.SectionTrace sectionTrace() {
        if (!trace.any()) {
            return null;
        }
        return new VfioListener.SectionTrace() {
            @Override
            public void event(String name, String args) {
                trace.event(name, args);
            }

            @Override
            public List<VfioListener.ViewSection> systemView() {
                return Vmm.this.systemView();
            }
        };
    }

    /** System memory's flat view now when -trace is on (null otherwise): see {@link #sectionTrace}. */
    List<VfioListener.ViewSection> traceSystemView() {
        return trace.any() && ram != null ? systemView() : null;
    }

    private static final long PAM_ROM = 0xc0000L;
    private static final long PAM_BIOS = 0xe0000L;
    private static final long PAM_END = 0x100000L;
    private static final long BIOS_SIZE = 0x40000L;

    private List<VfioListener.ViewSection> systemView() {
        List<VfioListener.ViewSection> v = new ArrayList<>();
        VfioListener.ViewSection.Kind ramKind = VfioListener.ViewSection.Kind.RAM;
        VfioListener.ViewSection.Kind skip = VfioListener.ViewSection.Kind.SKIP;
        long base = ram.sections().get(0).vaddr().value();
        long romHva = base - 0x400000L;
        long biosHva = base - 0x200000L;
        for (GuestRam.Section s : ram.sections()) {
            long first = s.gpa().value();
            long last = first + s.size() - 1;
            long hva = s.vaddr().value();
            if (first == 0 && pamRom && last >= PAM_END) {
                v.add(new VfioListener.ViewSection(0, PAM_ROM - 1, ramKind, hva));
                v.add(new VfioListener.ViewSection(PAM_ROM, PAM_BIOS - 1, ramKind, romHva));
                v.add(new VfioListener.ViewSection(PAM_BIOS, PAM_END - 1, ramKind, biosHva + BIOS_SIZE - (PAM_END - PAM_BIOS)));
                v.add(new VfioListener.ViewSection(PAM_END, last, ramKind, hva + PAM_END));
            } else {
                v.add(new VfioListener.ViewSection(first, last, ramKind, hva));
            }
        }
        v.add(new VfioListener.ViewSection(0xfec00000L, 0xfec00fffL, skip, 0)); // ioapic
        v.add(new VfioListener.ViewSection(0xfed00000L, 0xfed003ffL, skip, 0)); // hpet
        Machine m = machine != null ? machine : building;
        if (m != null && m.iommu() != null) {
            long regs = io.viommu.vtd.IntelIommu.DEFAULT_BASE; // q35 (a VM is never a recorded host)
            v.add(new VfioListener.ViewSection(regs, regs + 0x22f, skip, 0)); // intel_iommu's DMAR_REG_SIZE
        }
        v.add(new VfioListener.ViewSection(io.viommu.pci.MsiAddress.FIRST, io.viommu.pci.MsiAddress.LAST, skip, 0));
        v.add(new VfioListener.ViewSection((1L << 32) - BIOS_SIZE, (1L << 32) - 1, ramKind, biosHva));
        for (VfioPciDevice d : assigned) {
            v.addAll(d.barSections());
        }
        v.sort(java.util.Comparator.comparing(VfioListener.ViewSection::first, Long::compareUnsigned));
        return v;
    }

    /** -trace: a QEMU trace event of the VMM (vfio_*), printed when enabled. */
    void traceEvent(String name, String args) {
        trace.event(name, args);
    }

    private Vmm(Kernel host, Consumer<String> stderr, Privileges privileges) {
        this.host = host;
        this.stderr = stderr;
        this.process = privileges.root() ? UserProcess.root(COMM, host.userMemory())
                : UserProcess.user(COMM, host.userMemory(), privileges.memlockLimit());
    }

    /**
     * Who runs the VMM: root (CAP_IPC_LOCK: type1's RLIMIT_MEMLOCK accounting does not bind, as
     * in the captures), or an unprivileged user with an RLIMIT_MEMLOCK of {@code memlockLimit}
     * bytes (what {@code ulimit -l KIB} before {@code su USER -c qemu-system-x86_64 ...} gives, or
     * libvirt's qemu user), against which vfio_pin_pages_remote charges every pinned page.
     */
    public record Privileges(boolean root, long memlockLimit) {
        public static final Privileges ROOT = new Privileges(true, UserProcess.DEFAULT_MEMLOCK);

        public static Privileges user(long memlockLimit) {
            return new Privileges(false, memlockLimit);
        }
    }

    /**
     * Starts the VMM with {@code vmArgs}: builds the VM (realizing each {@code -device vfio-pci}
     * through the host's VFIO in command-line order) and performs the system reset QEMU does
     * when machine creation is done. A refusal is QEMU's text in the exception (the caller prints
     * it and exits 1); whatever was opened on the host for the refused VM is closed again.
     *
     * @param stderr QEMU's error_report lines after start-up (prefixed {@code qemu-system-x86_64: })
     */
    public static Vmm start(Kernel host, List<String> vmArgs, MachineLog log, Consumer<String> stderr)
            throws MachineConfigException {
        return start(host, vmArgs, log, stderr, Privileges.ROOT);
    }

    /** As {@link #start(Kernel, List, MachineLog, Consumer)}, run with {@code privileges}. */
    public static Vmm start(Kernel host, List<String> vmArgs, MachineLog log, Consumer<String> stderr,
                            Privileges privileges) throws MachineConfigException {
        Vmm vmm = new Vmm(host, stderr, privileges);
        try {
            io.viommu.machine.config.QemuCommandLine cl = io.viommu.machine.config.QemuCommandLine.parse(vmArgs);
            cl.warnings().forEach(stderr); // what the model ignores or does differently, said before it starts
            if (!cl.tracePatterns().isEmpty()) {
                vmm.trace = new io.viommu.machine.config.QemuTrace(cl.tracePatterns(), stderr);
            }
        } catch (MachineConfigException e) {
            // the builder below refuses the same arguments with QEMU's text
        }
        MachineBuilder.Extensions ext = new MachineBuilder.Extensions(vmm::allocateRam,
                Map.of(VfioPciDevice.DRIVER, (m, bus, devfn, prefix, id, props) -> {
                    VfioPciDevice d;
                    vmm.location = prefix; // error_report during realize carries the option's location
                    vmm.building = m;
                    try {
                        d = VfioPciDevice.realize(vmm, m, bus, devfn, prefix, props);
                    } finally {
                        vmm.location = null;
                    }
                    vmm.assigned.add(d);
                    return d;
                }));
        try {
            MachineBuilder.Built built = MachineBuilder.build(vmArgs, log, ext);
            vmm.machine = built.machine();
            vmm.commandLine = built.commandLine();
        } catch (MachineConfigException | RuntimeException e) {
            vmm.shutdown();
            throw e;
        }
        io.viommu.vtd.IntelIommu viommu = vmm.machine.iommu();
        if (viommu != null && vmm.trace.any()) {
            io.viommu.machine.config.QemuTrace t = vmm.trace;
            viommu.setTrace(new io.viommu.vtd.VtdTrace() {
                @Override
                public boolean qemuEvents() {
                    return true;
                }

                @Override
                public void qemuEvent(String name, String args) {
                    t.event(name, args);
                }
            });
        }
        if (viommu != null && !viommu.config().cachingMode() && !vmm.assigned.isEmpty()) {
            // vtd_machine_done_notify_one (hw/i386/intel_iommu.c 7.2), a machine-init-done
            // notifier: any vfio-pci, whatever its place on the command line, and exit(1)
            vmm.shutdown();
            throw new MachineConfigException(io.viommu.machine.config.QemuCommandLine.PROGRAM
                    + ": We need to set caching-mode=on for intel-iommu to enable device assignment with IOMMU protection.");
        }
        if (viommu != null) {
            for (VfioPciDevice d : vmm.assigned) {
                if (d.inSystemMemory()) {
                    stderr.accept(bypassWarning(d));
                }
            }
        }
        vmm.systemReset(); // qemu_machine_creation_done -> qemu_system_reset
        vmm.pamReset();
        return vmm;
    }

    /** QEMU's pc.ram: one mapping of the process, seen by the machine by RAM offset. */
    private AddressSpace allocateRam(long size) {
        ram = ProcessGuestRam.allocate(process, host.userMemory(), size);
        return ram.block();
    }

    /**
     * {@code qemu_system_reset}: every assigned device's reset (vfio_pci_reset), in realize
     * order. QEMU runs one when machine creation is done and one more when the qtest character
     * device opens (qtest_event, CHR_EVENT_OPENED): the captures' warning printed twice.
     */
    public void systemReset() {
        // vfio_reset_handler (qemu_register_reset, so before the devices' resets): a bus reset
        // of each device that needs one; then qemu_devices_reset: each device's vfio_pci_reset
        List<VfioPciDevice> needing = assigned.stream().filter(VfioPciDevice::needsReset).toList();
        for (VfioPciDevice d : needing) {
            d.hotResetMulti();
        }
        for (VfioPciDevice d : assigned) {
            d.reset();
        }
    }

    /**
     * The end of the first system reset: the MCH's PAM registers at their reset value put
     * pc.rom and the BIOS over 0xC0000-0xFFFFF, which QEMU's listeners see as a change of system
     * memory's flat view (for the trace; the model's RAM mapping stays as it was).
     */
    private void pamReset() {
        if (pamRom) {
            return;
        }
        List<VfioListener.ViewSection> before = trace.any() && ram != null ? systemView() : List.of();
        pamRom = true;
        if (trace.any() && ram != null) {
            for (VfioListener l : assigned.stream().map(VfioPciDevice::listener).distinct().toList()) {
                if (l != null) {
                    l.systemViewChanged(before);
                }
            }
        }
    }

    /**
     * A system reset the guest requested (ICH9's RST_CNT, {@link Machine#takeResetRequest}), as
     * QEMU 7.2's main loop carries it out after the access ({@code main_loop_should_exit} ->
     * {@code qemu_system_reset}): vfio_reset_handler's bus resets, the vIOMMU's reset, each
     * assigned device's vfio_pci_reset (its MSI-X vectors released, the host device reset), then
     * every function's pci_do_device_reset, for vfio-pci QEMU's emulated copy: BARs, command,
     * msi_reset and msix_reset (table zeroed, every vector masked, nothing pending, MSI-X off).
     * False when no reset was requested.
     */
    public boolean handleResetRequest() {
        if (!machine.takeResetRequest()) {
            return false;
        }
        for (VfioPciDevice d : assigned.stream().filter(VfioPciDevice::needsReset).toList()) {
            d.hotResetMulti();
        }
        machine.resetPlatform(() -> assigned.forEach(VfioPciDevice::reset));
        return true;
    }

    /**
     * One turn of QEMU's main loop for the host's interrupts: each assigned device's signalled
     * eventfds (VFIO's INTx and MSI triggers) read and handled. Returns how many fired.
     */
    public int dispatchEvents() {
        int n = 0;
        for (VfioPciDevice d : assigned) {
            n += d.pollInterrupts();
        }
        return n;
    }

    /**
     * What happens on the host between two commands of the VMM: the host's CPU takes the
     * interrupts delivered to it (the assigned device's, whose vfio-pci handler signals the
     * VMM's eventfds; the host unit's fault events), then the VMM's main loop handles its
     * signalled eventfds; again while either did something (bounded, as a guard).
     */
    public void runHost() {
        for (int round = 0; round < 16; round++) {
            int n = host.takeInterrupts();
            n += dispatchEvents();
            if (n == 0) {
                return;
            }
        }
    }

    /** Ends the VMM: device files, groups and containers closed, the RAM unmapped. */
    public void shutdown() {
        for (VfioPciDevice d : assigned) {
            d.close();
        }
        assigned.clear();
        if (notifier != null) {
            notifier.detach();
            notifier = null;
        }
        if (ram != null) {
            process.munmap(ram.sections().get(0).vaddr());
            ram = null;
        }
    }

    public Machine machine() {
        return machine;
    }

    /** The VM's command line as parsed: its warnings and the options without effect on the model. */
    public io.viommu.machine.config.QemuCommandLine commandLine() {
        return commandLine;
    }

    public Kernel host() {
        return host;
    }

    public UserProcess process() {
        return process;
    }

    public GuestRam ram() {
        return ram;
    }

    /** The host frame behind guest-physical {@code gpa} now, or null (not RAM, not touched). */
    public PhysAddr hostFrameOf(long gpa) {
        return ram == null ? null : ram.hostPhysical(gpa);
    }

    public List<VfioPciDevice> assignedDevices() {
        return List.copyOf(assigned);
    }

    /**
     * viommu's own warning, not QEMU's (QEMU 7.2 prints nothing): an assigned device whose DMA
     * bypasses the VM's intel-iommu. vfio_realize takes the device's address space
     * (pci_device_iommu_address_space) when the device is realized, so a vfio-pci listed before
     * -device intel-iommu keeps system memory for good: every guest RAM page stays mapped at its
     * guest-physical address and the guest's VT-d tables are never consulted. (Emulated devices
     * take theirs at machine done and are translated wherever they are listed.)
     */
    static String bypassWarning(VfioPciDevice d) {
        var a = d.address();
        String where = "is listed before -device intel-iommu";
        return String.format("viommu: warning: vfio-pci %s (%02x:%02x.%x in the VM) %s: its DMA bypasses "
                + "the vIOMMU (all guest RAM mapped at its guest-physical address); QEMU 7.2 does not warn",
                d.hostName(), a.bus(), a.device(), a.function(), where);
    }

    private String hardwareError;

    /**
     * hw_error (softmmu/cpus.c, 7.2): {@code fprintf(stderr, "qemu: hardware error: ")}, the
     * message, a newline, then each vCPU's register dump and abort(). The VMM prints the first
     * line, says in a viommu note that it skips the dump, and records that it must die: whoever
     * runs it stops serving and exits with 134 (128 + SIGABRT, what a shell shows).
     */
    void hardwareError(String text) {
        if (hardwareError != null) {
            return; // the process would already be gone
        }
        hardwareError = text;
        stderr.accept("qemu: hardware error: " + text);
        stderr.accept("viommu: note: QEMU 7.2 dumps every vCPU's registers here and aborts (SIGABRT);"
                + " viommu skips the dump and exits with status 134");
    }

    /** The hardware error that ended this VMM (QEMU would have aborted), if any. */
    public java.util.Optional<String> hardwareError() {
        return java.util.Optional.ofNullable(hardwareError);
    }

    /** QEMU's error_report: a line of the VMM's stderr. */
    void report(String text) {
        stderr.accept((location != null ? location : io.viommu.machine.config.QemuCommandLine.PROGRAM + ": ") + text);
    }

    /**
     * The location error_report prints while a -device option is realized
     * ({@code qemu-system-x86_64: -device ARG: }, QEMU's loc_push of the option), else null.
     */
    private String location;

    private io.viommu.vtd.notify.MapNotifier notifier;

    /** The vIOMMU's map notifier (QEMU's IOMMU notifiers of the vtd address spaces), created on first use. */
    io.viommu.vtd.notify.MapNotifier notifier(io.viommu.vtd.IntelIommu viommu) {
        if (notifier == null) {
            notifier = io.viommu.vtd.notify.MapNotifier.attach(viommu);
        }
        return notifier;
    }

    Group group(int id) {
        return groups.get(id);
    }

    List<Group> groups() {
        return List.copyOf(groups.values());
    }

    void register(Group g) {
        groups.put(g.id, g);
    }

    /**
     * vfio_put_group / vfio_disconnect_container: the group leaves its container; the last
     * group's leaving ends the listener (its mappings unmapped) before the container goes.
     */
    void release(Group g) {
        groups.remove(g.id);
        boolean last = groups.values().stream().noneMatch(o -> o.container == g.container);
        if (last && g.listener != null) {
            g.listener.detach();
        }
        if (g.group.container() != null && g.group.openDevices().isEmpty()) {
            g.group.unsetContainer();
        }
        g.group.close();
    }

    ProcessGuestRam processRam() {
        return ram;
    }
}
