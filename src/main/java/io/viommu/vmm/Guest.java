package io.viommu.vmm;

import io.viommu.linux.Kernel;
import io.viommu.linux.driver.PciDevice;
import io.viommu.machine.Machine;
import io.viommu.pci.Bar;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import io.viommu.pci.RequesterId;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/**
 * The guest: the kernel model ({@link Kernel}, the same code the host runs) booted on the VM's
 * machine, whose RAM is the VMM process's memory and whose IOMMU, when the command line has
 * {@code -device intel-iommu}, is the same VT-d model as the host's. Nothing here is special to
 * being a guest: the kernel enumerates the VM's PCI topology (an assigned device answers its
 * config cycles through the host's VFIO), computes its own IOMMU groups, programs its own
 * intel-iommu, and udev's coldplug loads the modules whose aliases match (a NIC the host
 * assigned gets the same driver it would have on the host).
 *
 * <p>Firmware: the model runs no BIOS, so before the kernel boots the guest's memory BARs are
 * placed as SeaBIOS's {@code pci_setup} would place them in q35's 32-bit PCI hole (largest
 * first, each aligned to its size, from {@link #BAR_WINDOW_BASE} up); the addresses differ from
 * SeaBIOS's, which sorts by alignment over all buses at once.
 */
public final class Guest {
    /** Where viommu's firmware stand-in starts placing 32-bit memory BARs (q35's PCI hole starts at 0xb0000000 / 0x80000000 with 2 GiB+). */
    public static final long BAR_WINDOW_BASE = 0xc000_0000L;
    private static final long BAR_WINDOW_END = 0xfec0_0000L;

    private final Vmm vmm;
    private final Kernel kernel;
    private final List<String> coldplugged;

    private Guest(Vmm vmm, Kernel kernel, List<String> coldplugged) {
        this.vmm = vmm;
        this.kernel = kernel;
        this.coldplugged = coldplugged;
    }

    /** Places the BARs, boots the kernel model on the VM's machine (its {@code -append}), runs udev's coldplug. */
    public static Guest boot(Vmm vmm) {
        placeBars(vmm.machine());
        Kernel k = Kernel.boot(vmm.machine());
        VirtioSample.attachAts(vmm.machine());
        List<String> loaded = k.drivers().coldplug();
        return new Guest(vmm, k, loaded);
    }

    /**
     * Firmware's BAR placement for every function on the root bus and below: memory BARs in the
     * 32-bit hole, largest first, then memory decode and bus mastering left to the drivers (as
     * SeaBIOS leaves them: it sets only the decode bits for what it placed).
     */
    static void placeBars(Machine m) {
        List<long[]> bars = new ArrayList<>(); // {size, function index, bar index}
        List<PciFunction> fns = m.devices();
        for (int i = 0; i < fns.size(); i++) {
            PciFunction f = fns.get(i);
            for (int b = 0; b < 6; b++) {
                Bar bar = f.bar(b);
                if (bar != null && bar.kind() != Bar.Kind.IO && bar.size() > 0) {
                    bars.add(new long[] {bar.size(), i, b});
                }
            }
        }
        bars.sort((x, y) -> Long.compare(y[0], x[0]));
        long next = BAR_WINDOW_BASE;
        for (long[] x : bars) {
            long size = x[0];
            long at = (next + size - 1) & -size;
            if (at + size > BAR_WINDOW_END) {
                continue; // the hole is full: the BAR stays unassigned, as firmware leaves it
            }
            PciFunction f = fns.get((int) x[1]);
            Bar bar = f.bar((int) x[2]);
            f.configWrite(bar.configOffset(), at & 0xffff_ffffL, 4);
            if (bar.kind() == Bar.Kind.MEMORY64) {
                f.configWrite(bar.configOffset() + 4, 0, 4);
            }
            f.configWrite(PciRegs.COMMAND, f.configRead(PciRegs.COMMAND, 2) | PciRegs.COMMAND_MEMORY, 2);
            next = at + size;
        }
    }

    public Kernel kernel() {
        return kernel;
    }

    public Vmm vmm() {
        return vmm;
    }

    /** The modules coldplug loaded (modalias matches of devices without a driver). */
    public List<String> coldplugged() {
        return coldplugged;
    }

    /** How the guest sees one assigned device: its BDF, IOMMU group and driver in the VM. */
    public record AssignedView(VfioPciDevice device, RequesterId guestRid, OptionalInt guestGroup, String guestDriver) {
        public String guestBdf() {
            return "0000:" + guestRid;
        }
    }

    /** Each assigned device as the guest kernel sees it now. */
    public List<AssignedView> assigned() {
        List<AssignedView> out = new ArrayList<>();
        for (VfioPciDevice d : vmm.assignedDevices()) {
            RequesterId rid = d.address();
            PciDevice pd = kernel.drivers().device("0000:" + rid).orElse(null);
            OptionalInt g = pd == null ? OptionalInt.empty() : kernel.drivers().groupOf(pd);
            String drv = pd == null || pd.driver() == null ? null : pd.driver().name();
            out.add(new AssignedView(d, rid, g, drv));
        }
        return out;
    }
}
