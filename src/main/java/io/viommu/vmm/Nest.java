package io.viommu.vmm;

import io.viommu.linux.Kernel;
import io.viommu.linux.shell.RootShell;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.machine.device.MachineLog;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * VMs inside VMs: level 0 is a booted host kernel; level i (i ≥ 1) is a VM whose VMM is a
 * process of level i-1's kernel ({@link Vmm#start}, the same code whatever the level), with the
 * same kernel model booted on it ({@link Guest#boot}). Nothing here knows which level it is on:
 * a level's {@code -device vfio-pci,host=BDF} names a device of the kernel below it, which for
 * L2 and deeper is itself an assigned device ({@link VfioPciDevice}) that the kernel below bound
 * to its own vfio-pci; DMA set up at the top is shadowed one level at a time (each VMM's
 * listener into the VFIO of the kernel it runs on, whose intel-iommu driver programs that
 * kernel's IOMMU: the vIOMMU of the VM below, in caching mode, or the host's unit at the
 * bottom).
 */
public final class Nest {
    /** One level above the host: its VMM, the guest booted on it, the managed binding done for it below. */
    public record Level(int depth, List<String> args, Vmm vmm, Guest guest, ManagedBinding managed,
                        List<String> stderr) {
        /** The kernel this level's VMM runs on. */
        public Kernel below() {
            return vmm.host();
        }
    }

    private final Kernel host;
    private final List<Level> levels = new ArrayList<>();
    private final List<String> givenBack = new ArrayList<>();

    private Nest(Kernel host) {
        this.host = host;
    }

    /** An empty nest on {@code host} (level 0). */
    public static Nest on(Kernel host) {
        return new Nest(host);
    }

    /** Level 0's kernel. */
    public Kernel host() {
        return host;
    }

    /** The levels started so far, L1 first. */
    public List<Level> levels() {
        return List.copyOf(levels);
    }

    /** The kernel of the innermost level started (the host when none is). */
    public Kernel top() {
        return levels.isEmpty() ? host : levels.get(levels.size() - 1).guest().kernel();
    }

    /**
     * Runs {@code lines} in the innermost kernel's root shell ({@code --host-setup} / {@code
     * --via-setup}: the commands that level's root ran before starting the next VMM).
     */
    public RootShell.Run setup(List<String> lines) {
        return new RootShell(top()).runScript(lines);
    }

    /**
     * Starts one more level on the innermost kernel: with {@code managed}, the groups of the
     * devices {@code args} assigns are bound to vfio-pci there first (libvirt's managed='yes', done
     * by whatever manages that level); the VMM started; the guest kernel booted on the new VM.
     * A refusal (QEMU's or libvirt's text) throws; what it did on the way is undone.
     *
     * @param stderr the new VMM's stderr lines (also kept in the level)
     */
    public Level push(List<String> args, boolean managed, Consumer<String> stderr)
            throws MachineConfigException, ManagedBinding.ManagedException {
        Kernel below = top();
        ManagedBinding binding = managed ? ManagedBinding.prepare(below, VmRun.assignedHostDevices(args)) : null;
        List<String> lines = new ArrayList<>();
        Vmm vmm;
        try {
            vmm = Vmm.start(below, args, MachineLog.SILENT, l -> {
                lines.add(l);
                stderr.accept(l);
            });
        } catch (MachineConfigException | RuntimeException e) {
            if (binding != null) {
                givenBack.addAll(binding.giveBack());
            }
            throw e;
        }
        Guest guest;
        try {
            guest = Guest.boot(vmm);
        } catch (RuntimeException e) {
            vmm.shutdown();
            if (binding != null) {
                givenBack.addAll(binding.giveBack());
            }
            throw e;
        }
        Level l = new Level(levels.size() + 1, List.copyOf(args), vmm, guest, binding, lines);
        levels.add(l);
        return l;
    }

    /**
     * One turn of every level's main loop, bottom up: each kernel takes the interrupts delivered
     * to it (an assigned device's interrupt, its IOMMU's fault event), then the VMM running on it
     * handles its signalled eventfds (injecting into the VM above, whose kernel takes them next);
     * again while anything happened (bounded, as a guard). {@code extra} is a VMM started on
     * the innermost kernel outside the nest (qtest's), or null.
     */
    public void runAll(Vmm extra) {
        for (int round = 0; round < 16; round++) {
            int n = 0;
            for (Level l : levels) {
                n += l.below().takeInterrupts();
                n += l.vmm().dispatchEvents();
            }
            if (extra != null) {
                n += extra.host().takeInterrupts();
                n += extra.dispatchEvents();
            }
            if (n == 0) {
                return;
            }
        }
    }

    /** Ends every level, innermost first: its VMM shut down, its managed devices given back. Returns libvirt's re-attach warnings. */
    public List<String> shutdown() {
        List<String> warnings = new ArrayList<>(givenBack);
        givenBack.clear();
        for (int i = levels.size() - 1; i >= 0; i--) {
            Level l = levels.get(i);
            l.vmm().shutdown();
            if (l.managed() != null) {
                warnings.addAll(l.managed().giveBack());
            }
        }
        levels.clear();
        return warnings;
    }

    /**
     * The device one level below {@code d}: the function of the VM below that {@code d}'s VFIO
     * device is (an assigned device of the VMM under it), or null when {@code d}'s host is level 0.
     */
    public VfioPciDevice under(VfioPciDevice d) {
        var rid = d.vfioDevice().pciDevice().rid();
        for (Level l : levels) {
            if (l.guest().kernel() == d.vmm().host()) {
                for (VfioPciDevice x : l.vmm().assignedDevices()) {
                    if (x.address().equals(rid)) {
                        return x;
                    }
                }
            }
        }
        return null;
    }
}
