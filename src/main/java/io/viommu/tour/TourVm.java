package io.viommu.tour;

import io.viommu.linux.Kernel;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.machine.device.MachineLog;
import io.viommu.vmm.Guest;
import io.viommu.vmm.Vmm;
import java.util.ArrayList;
import java.util.List;

/**
 * A VM a step starts on its host as a person would: the VMM with QEMU's arguments (QEMU's
 * refusal, or its stderr lines), then the guest kernel booted on it with a root shell. Closed,
 * the VMM ends (its devices released on the host).
 */
final class TourVm implements AutoCloseable {
    final Vmm vmm;
    final Guest guest;
    /** What QEMU printed on stderr while starting (warnings), or its refusal. */
    final List<String> stderr;
    /** QEMU's refusal, or null when the VM runs. */
    final String refusal;

    private TourVm(Vmm vmm, Guest guest, List<String> stderr, String refusal) {
        this.vmm = vmm;
        this.guest = guest;
        this.stderr = stderr;
        this.refusal = refusal;
    }

    /** Starts the VM and boots its guest; records the command and what QEMU printed in {@code log}. */
    static TourVm start(Kernel host, List<String> args, StepLog log) {
        List<String> err = new ArrayList<>();
        Vmm vmm;
        try {
            vmm = Vmm.start(host, args, MachineLog.SILENT, err::add);
        } catch (MachineConfigException e) {
            err.add(e.getMessage());
            log.shown("host#", Walkthroughs.typed(args), Walkthroughs.lines(err));
            return new TourVm(null, null, err, e.getMessage());
        }
        err.addAll(vmm.commandLine().warnings());
        Guest guest = Guest.boot(vmm);
        log.shown("host#", Walkthroughs.typed(args), Walkthroughs.lines(err)
                + "(the VM runs; its kernel booted: the guest# lines below are typed inside it)\n");
        return new TourVm(vmm, guest, err, null);
    }

    boolean running() {
        return vmm != null;
    }

    TourShell shell() {
        return new TourShell(guest.kernel(), "guest#");
    }

    @Override
    public void close() {
        if (vmm != null) {
            vmm.shutdown();
        }
    }
}
