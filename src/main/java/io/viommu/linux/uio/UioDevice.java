package io.viommu.linux.uio;

import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.vfio.UserProcess;
import io.viommu.linux.vfio.VfioException;
import io.viommu.pci.Bar;
import io.viommu.pci.ConfigAccess;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;

/**
 * What a user-space UIO driver holds for one uio_pci_generic device: /dev/uioN (interrupt
 * events and INTx control), the device's sysfs {@code config} file (every byte, read and write:
 * root may set bus mastering), and its BARs through sysfs {@code resourceN}. No address the
 * user gives the device is checked or translated by anything here.
 */
public final class UioDevice {
    private final Uio uio;
    private final PciDevice dev;
    private final PciFunction function;
    private final UserProcess process;
    private long events;
    private boolean revoked;

    UioDevice(Uio uio, PciDevice dev, PciFunction function, UserProcess process) {
        this.uio = uio;
        this.dev = dev;
        this.function = function;
        this.process = process;
    }

    public PciDevice pciDevice() {
        return dev;
    }

    public UserProcess process() {
        return process;
    }

    void revoke() {
        revoked = true;
    }

    private void live() {
        if (revoked) {
            throw new VfioException(Errno.ENODEV, dev.name() + " left uio_pci_generic");
        }
    }

    private ConfigAccess cfg() {
        return uio.kernel().config();
    }

    /** {@code pread} of /sys/bus/pci/devices/X/config. */
    public long configRead(int offset, int len) {
        live();
        if (offset < 0 || offset + len > dev.cfgSize()) {
            return 0; // a read past the end returns nothing
        }
        return cfg().read(dev.rid(), offset, len);
    }

    /** {@code pwrite} of the sysfs config file: any byte a root process likes. */
    public void configWrite(int offset, long value, int len) {
        live();
        if (offset >= 0 && offset + len <= dev.cfgSize()) {
            cfg().write(dev.rid(), offset, value, len);
        }
    }

    /** A load from the mmap of sysfs {@code resourceN}. */
    public long barRead(int bar, long offset, int len) {
        return barFor(bar, offset, len).region().load(offset, len);
    }

    /** A store to the mmap of sysfs {@code resourceN}: the device's registers, unfiltered. */
    public void barWrite(int bar, long offset, long value, int len) {
        barFor(bar, offset, len).region().store(offset, value, len);
    }

    private Bar barFor(int bar, long offset, int len) {
        live();
        Bar b = function == null ? null : function.bar(bar);
        if (b == null || b.region() == null || b.kind() == Bar.Kind.IO) {
            throw new VfioException(Errno.ENOENT, dev.name() + " has no memory resource" + bar);
        }
        if (offset < 0 || offset + len > b.size()) {
            throw new VfioException(Errno.EFAULT, "SIGBUS: beyond resource" + bar);
        }
        return b;
    }

    /**
     * {@code write(uio_fd, &one, 4)}: uio_pci_generic's irqcontrol, {@code pci_intx(pdev, on)}:
     * clears (on) or sets (off) INTx Disable in the command register.
     */
    public void irqControl(boolean on) {
        live();
        long cmd = cfg().read(dev.rid(), PciRegs.COMMAND, 2);
        long next = on ? cmd & ~PciRegs.COMMAND_INTX_DISABLE : cmd | PciRegs.COMMAND_INTX_DISABLE;
        if (next != cmd) {
            cfg().write(dev.rid(), PciRegs.COMMAND, next, 2);
        }
    }

    /**
     * The interrupt handler, run when asked ({@code irqhandler}: {@code pci_check_and_mask_intx}):
     * if the function asserts INTx and it is not masked, mask it and count an event. Returns
     * whether an event was counted. (The model's interrupt lines are level signals; the handler
     * runs on demand instead of from the interrupt controller.)
     */
    public boolean serviceInterrupt() {
        live();
        long cmd = cfg().read(dev.rid(), PciRegs.COMMAND, 2);
        long status = cfg().read(dev.rid(), PciRegs.STATUS, 2);
        if ((status & PciRegs.STATUS_INTERRUPT) == 0 || (cmd & PciRegs.COMMAND_INTX_DISABLE) != 0) {
            return false;
        }
        cfg().write(dev.rid(), PciRegs.COMMAND, cmd | PciRegs.COMMAND_INTX_DISABLE, 2);
        events++;
        return true;
    }

    /** {@code read(uio_fd)}: the event count (the model never blocks). */
    public long eventCount() {
        return events;
    }
}
