package io.viommu.linux.vfio;

import static io.viommu.linux.vfio.VfioDevice.ERR_IRQ_INDEX;
import static io.viommu.linux.vfio.VfioDevice.INTX_IRQ_INDEX;
import static io.viommu.linux.vfio.VfioDevice.MSIX_IRQ_INDEX;
import static io.viommu.linux.vfio.VfioDevice.MSI_IRQ_INDEX;
import static io.viommu.linux.vfio.VfioDevice.REQ_IRQ_INDEX;

import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.IrqCore;
import io.viommu.linux.driver.PciDevice;
import io.viommu.pci.ConfigAccess;
import io.viommu.pci.PciRegs;

/**
 * A vfio-pci device's interrupts (Linux 6.1 drivers/vfio/pci/vfio_pci_intrs.c, the INTx and MSI
 * parts of vfio_pci_core.c and vfio_pci_config.c): VFIO_DEVICE_GET_IRQ_INFO,
 * VFIO_DEVICE_SET_IRQS, and the virtualised INTx disable bit and MSI capability.
 *
 * <p>INTx: a trigger eventfd makes vfio-pci {@code request_irq} the device's line (shared);
 * the handler masks the device (INTx disable, when it supports it: {@code pci_2_3}) only if
 * the device asserts it ({@code pci_check_and_mask_intx}) and signals the eventfd: the
 * automasked, level-triggered INTx. UNMASK clears the mask unless the device still asserts, in
 * which case it signals the eventfd again instead. The user's INTx disable bit is virtual and
 * masks as well ({@code virq_disabled}). MSI: a trigger block allocates the vectors
 * ({@code pci_alloc_irq_vectors}, which programs the physical capability, through interrupt
 * remapping when the host has it), each vector's handler signalling its eventfd; the user's
 * MSI capability (address, data, flags) is virtual. MSI-X the same way on its own index
 * ({@code pci_alloc_irq_vectors(PCI_IRQ_MSIX)}: the host writes the device's table, an IRTE
 * per vector under remapping; a vector's entry is unmasked while it has a trigger). Growing an
 * enabled block is not possible (-EINVAL past the vectors enabled): users disable and enable
 * again with more, as QEMU does.
 */
final class VfioPciIntrs {
    private static final int NONE = VfioDevice.NUM_IRQS;

    private final PciDevice dev;
    private final ConfigAccess cfg;
    private final IrqCore irqs;
    private final boolean pci23;
    private final boolean pcie;
    private final int msiCap;
    private final int msixCap;
    private final byte[] msiVirtual;
    private int irqType = NONE;
    private EventFd[] triggers = new EventFd[0];
    private boolean intxMasked;
    private boolean virqDisabled;
    private int intxLine;
    private int msiQmax;
    private EventFd reqTrigger;
    private EventFd errTrigger;

    VfioPciIntrs(PciDevice dev, io.viommu.linux.driver.DriverCore core) {
        this.dev = dev;
        this.cfg = core.config();
        this.irqs = core.irqCore();
        this.pci23 = intxMaskSupported();
        this.pcie = core.findCapability(dev, PciRegs.CAP_ID_EXP) != 0;
        if (pci23 && (cfg.read(dev.rid(), PciRegs.COMMAND, 2) & PciRegs.COMMAND_INTX_DISABLE) != 0) {
            // vfio_pci_core_enable: a device that can mask starts with INTx enabled
            cfg.write(dev.rid(), PciRegs.COMMAND, cfg.read(dev.rid(), PciRegs.COMMAND, 2) & ~PciRegs.COMMAND_INTX_DISABLE, 2);
        }
        this.msiCap = core.findCapability(dev, PciRegs.CAP_ID_MSI);
        this.msixCap = core.findCapability(dev, PciRegs.CAP_ID_MSIX);
        this.msiVirtual = new byte[msiCap == 0 ? 0 : msiLength()];
        for (int i = 0; i < msiVirtual.length; i++) {
            msiVirtual[i] = (byte) cfg.read(dev.rid(), msiCap + i, 1); // vfio_config_init copies the device
        }
    }

    /** pci_intx_mask_supported: the INTx disable bit can be toggled. */
    private boolean intxMaskSupported() {
        long orig = cfg.read(dev.rid(), PciRegs.COMMAND, 2);
        cfg.write(dev.rid(), PciRegs.COMMAND, orig ^ PciRegs.COMMAND_INTX_DISABLE, 2);
        long now = cfg.read(dev.rid(), PciRegs.COMMAND, 2);
        cfg.write(dev.rid(), PciRegs.COMMAND, orig, 2);
        return ((now ^ orig) & PciRegs.COMMAND_INTX_DISABLE) != 0;
    }

    /** vfio_msi_cap_len: 10, +4 for 64-bit, +10 with per-vector masking. */
    private int msiLength() {
        long flags = cfg.read(dev.rid(), msiCap + 2, 2);
        int len = 10 + ((flags & 0x80) != 0 ? 4 : 0) + ((flags & 0x100) != 0 ? 10 : 0);
        return len;
    }

    // ---------------------------------------------------------------- GET_IRQ_INFO

    /** vfio_pci_get_irq_count. */
    private int irqCount(int index) {
        return switch (index) {
            case INTX_IRQ_INDEX -> dev.isVirtfn() ? 0 : cfg.read(dev.rid(), PciRegs.INTERRUPT_PIN, 1) != 0 ? 1 : 0;
            case MSI_IRQ_INDEX -> msiCap == 0 ? 0 : 1 << ((cfg.read(dev.rid(), msiCap + 2, 2) >>> 1) & 7);
            case ERR_IRQ_INDEX -> pcie ? 1 : 0;
            case REQ_IRQ_INDEX -> 1;
            case MSIX_IRQ_INDEX -> msixCap == 0 ? 0 : (int) (cfg.read(dev.rid(), msixCap + 2, 2) & 0x7ff) + 1;
            default -> 0;
        };
    }

    /** vfio_pci_ioctl_get_irq_info. */
    VfioDevice.IrqInfo info(int index) {
        if (index < 0 || index >= VfioDevice.NUM_IRQS || (index == ERR_IRQ_INDEX && !pcie)) {
            throw Errnos.fail(Errno.EINVAL, "no IRQ index " + index);
        }
        int flags = VfioDevice.IRQ_INFO_EVENTFD | (index == INTX_IRQ_INDEX
                ? VfioDevice.IRQ_INFO_MASKABLE | VfioDevice.IRQ_INFO_AUTOMASKED : VfioDevice.IRQ_INFO_NORESIZE);
        return new VfioDevice.IrqInfo(index, flags, irqCount(index));
    }

    // ---------------------------------------------------------------- SET_IRQS

    /**
     * vfio_pci_ioctl_set_irqs: vfio_set_irqs_validate_and_prepare (-EINVAL for unknown flags, an
     * index past the last, a range past the index's count, or data shorter than the count),
     * then the index's handler for the action (-ENOTTY where there is none: MSI mask/unmask).
     * {@code data} is null (DATA_NONE), a {@code boolean[]} (DATA_BOOL) or an
     * {@code EventFd[]} (DATA_EVENTFD, a null element being fd -1). Returns 0, or for an MSI
     * trigger the number of vectors the device can give when that is fewer than asked.
     */
    int set(int flags, int index, int start, int count, Object data) {
        int dataType = flags & VfioDevice.IRQ_SET_DATA_TYPE_MASK;
        if (index < 0 || index >= VfioDevice.NUM_IRQS || count < 0 || start < 0
                || (flags & ~(VfioDevice.IRQ_SET_DATA_TYPE_MASK | VfioDevice.IRQ_SET_ACTION_TYPE_MASK)) != 0) {
            throw Errnos.fail(Errno.EINVAL, "bad SET_IRQS header");
        }
        int max = irqCount(index);
        if (start >= max || start + count > max) {
            throw Errnos.fail(Errno.EINVAL, String.format("irqs %d+%d beyond index %d's %d", start, count, index, max));
        }
        switch (dataType) {
            case VfioDevice.IRQ_SET_DATA_NONE -> {
                if (data != null) {
                    throw Errnos.fail(Errno.EINVAL, "DATA_NONE with data");
                }
            }
            case VfioDevice.IRQ_SET_DATA_BOOL -> {
                if (!(data instanceof boolean[] b) || b.length < count) {
                    throw Errnos.fail(Errno.EINVAL, "DATA_BOOL needs " + count + " bools");
                }
            }
            case VfioDevice.IRQ_SET_DATA_EVENTFD -> {
                if (!(data instanceof EventFd[] f) || f.length < count) {
                    throw Errnos.fail(Errno.EINVAL, "DATA_EVENTFD needs " + count + " eventfds");
                }
            }
            default -> throw Errnos.fail(Errno.EINVAL, "not one data type");
        }
        int action = flags & VfioDevice.IRQ_SET_ACTION_TYPE_MASK;
        return switch (index) {
            case INTX_IRQ_INDEX -> switch (action) {
                case VfioDevice.IRQ_SET_ACTION_MASK -> intxMask(start, count, dataType, data);
                case VfioDevice.IRQ_SET_ACTION_UNMASK -> intxUnmask(start, count, dataType, data);
                case VfioDevice.IRQ_SET_ACTION_TRIGGER -> intxTrigger(start, count, dataType, data);
                default -> throw Errnos.fail(Errno.ENOTTY, "no such INTx action");
            };
            case MSI_IRQ_INDEX, MSIX_IRQ_INDEX -> {
                if (action != VfioDevice.IRQ_SET_ACTION_TRIGGER) {
                    throw Errnos.fail(Errno.ENOTTY, "MSI masking is not supported"); // "XXX Need masking support exported"
                }
                yield msiTrigger(index, start, count, dataType, data);
            }
            case ERR_IRQ_INDEX, REQ_IRQ_INDEX -> {
                if (action != VfioDevice.IRQ_SET_ACTION_TRIGGER || (index == ERR_IRQ_INDEX && !pcie)) {
                    throw Errnos.fail(Errno.ENOTTY, "no such action");
                }
                yield ctxTrigger(index, count, dataType, data);
            }
            default -> throw Errnos.fail(Errno.ENOTTY, "no such index");
        };
    }

    private static boolean first(int dataType, Object data) {
        return dataType == VfioDevice.IRQ_SET_DATA_NONE || ((boolean[]) data)[0];
    }

    private boolean isIntx() {
        return irqType == INTX_IRQ_INDEX;
    }

    /** vfio_pci_set_intx_mask. */
    private int intxMask(int start, int count, int dataType, Object data) {
        if (!isIntx() || start != 0 || count != 1) {
            throw Errnos.fail(Errno.EINVAL, "INTx is not enabled");
        }
        if (dataType == VfioDevice.IRQ_SET_DATA_EVENTFD) {
            throw Errnos.fail(Errno.ENOTTY, "mask eventfd"); // "XXX implement me"
        }
        if (first(dataType, data)) {
            mask();
        }
        return 0;
    }

    /** vfio_pci_set_intx_unmask (an unmask eventfd, KVM's resamplefd, is accepted and not modelled further). */
    private int intxUnmask(int start, int count, int dataType, Object data) {
        if (!isIntx() || start != 0 || count != 1) {
            throw Errnos.fail(Errno.EINVAL, "INTx is not enabled");
        }
        if (dataType != VfioDevice.IRQ_SET_DATA_EVENTFD && first(dataType, data)) {
            unmask();
        }
        return 0;
    }

    /** vfio_pci_set_intx_trigger. */
    private int intxTrigger(int start, int count, int dataType, Object data) {
        if (isIntx() && count == 0 && dataType == VfioDevice.IRQ_SET_DATA_NONE) {
            intxDisable();
            return 0;
        }
        if (!(isIntx() || irqType == NONE) || start != 0 || count != 1) {
            throw Errnos.fail(Errno.EINVAL, "another interrupt type is enabled");
        }
        if (dataType == VfioDevice.IRQ_SET_DATA_EVENTFD) {
            EventFd fd = ((EventFd[]) data)[0];
            if (isIntx()) {
                intxSetSignal(fd);
                return 0;
            }
            intxEnable();
            intxSetSignal(fd);
            return 0;
        }
        if (!isIntx()) {
            throw Errnos.fail(Errno.EINVAL, "INTx is not enabled");
        }
        if (first(dataType, data)) {
            sendIntx();
        }
        return 0;
    }

    /** vfio_intx_enable: the mask follows the virtual INTx disable bit. */
    private void intxEnable() {
        if (irqType != NONE) {
            throw Errnos.fail(Errno.EINVAL, "interrupts already enabled");
        }
        if (irqs == null || irqs.legacyIrq(dev) == 0) {
            throw Errnos.fail(Errno.ENODEV, dev.name() + " has no IRQ");
        }
        triggers = new EventFd[1];
        intxMasked = virqDisabled;
        if (pci23) {
            pciIntx(!intxMasked);
        }
        irqType = INTX_IRQ_INDEX;
    }

    /** vfio_intx_set_signal: request_irq of the device's line with the eventfd, or free_irq for none. */
    private void intxSetSignal(EventFd fd) {
        if (triggers[0] != null) {
            irqs.freeLine(intxLine, this);
            triggers[0] = null;
        }
        if (fd == null) {
            return;
        }
        triggers[0] = fd;
        intxLine = irqs.legacyIrq(dev);
        irqs.requestLine(intxLine, this, this::intxHandler);
    }

    /** vfio_intx_disable. */
    private void intxDisable() {
        intxSetSignal(null);
        irqType = NONE;
        triggers = new EventFd[0];
    }

    /** vfio_intx_handler: IRQ_HANDLED only if the device interrupted (shared line). */
    private boolean intxHandler() {
        boolean handled = false;
        if (!pci23) {
            if (intxMasked) {
                return false; // the line is disabled at the I/O APIC until enable_irq
            }
            intxMasked = true; // disable_irq_nosync
            handled = true;
        } else if (!intxMasked && checkAndSetIntxMask(true)) {
            intxMasked = true;
            handled = true;
        }
        if (handled) {
            sendIntx();
        }
        return handled;
    }

    /** vfio_send_intx_eventfd. */
    private void sendIntx() {
        if (isIntx() && !virqDisabled && triggers[0] != null) {
            triggers[0].signal();
        }
    }

    /** vfio_pci_intx_mask: masking always masks (also from config space, when INTx is not in use). */
    void mask() {
        if (!isIntx()) {
            if (pci23) {
                pciIntx(false);
            }
        } else if (!intxMasked) {
            if (pci23) {
                pciIntx(false);
            }
            intxMasked = true;
        }
    }

    /** vfio_pci_intx_unmask: a device still asserting stays masked and signals the eventfd instead. */
    void unmask() {
        boolean again = false;
        if (!isIntx()) {
            if (pci23) {
                pciIntx(true);
            }
        } else if (intxMasked && !virqDisabled) {
            if (pci23) {
                again = !checkAndSetIntxMask(false);
            }
            intxMasked = again;
        }
        if (again) {
            sendIntx();
        }
    }

    /** pci_intx(dev, enable). */
    private void pciIntx(boolean enable) {
        long cmd = cfg.read(dev.rid(), PciRegs.COMMAND, 2);
        long next = enable ? cmd & ~PciRegs.COMMAND_INTX_DISABLE : cmd | PciRegs.COMMAND_INTX_DISABLE;
        if (next != cmd) {
            cfg.write(dev.rid(), PciRegs.COMMAND, next, 2);
        }
    }

    /**
     * pci_check_and_set_intx_mask: masks only while the device's status shows an interrupt,
     * unmasks only while it shows none; returns whether it did.
     */
    private boolean checkAndSetIntxMask(boolean mask) {
        long status = cfg.read(dev.rid(), PciRegs.STATUS, 2);
        boolean pending = (status & PciRegs.STATUS_INTERRUPT) != 0;
        if (mask != pending) {
            return false;
        }
        pciIntx(!mask);
        return true;
    }

    /** vfio_pci_set_msi_trigger. */
    private int msiTrigger(int index, int start, int count, int dataType, Object data) {
        if (irqType == index && count == 0 && dataType == VfioDevice.IRQ_SET_DATA_NONE) {
            msiDisable();
            return 0;
        }
        if (!(irqType == index || irqType == NONE)) {
            throw Errnos.fail(Errno.EINVAL, "another interrupt type is enabled");
        }
        if (dataType == VfioDevice.IRQ_SET_DATA_EVENTFD) {
            EventFd[] fds = (EventFd[]) data;
            if (irqType == index) {
                setBlock(start, count, fds);
                return 0;
            }
            int got = msiEnable(index, start + count);
            if (got != 0) {
                return got;
            }
            try {
                setBlock(start, count, fds);
            } catch (VfioException e) {
                msiDisable();
                throw e;
            }
            return 0;
        }
        if (irqType != index || start + count > triggers.length) {
            throw Errnos.fail(Errno.EINVAL, "MSI is not enabled");
        }
        for (int i = start; i < start + count; i++) {
            if (triggers[i] != null && (dataType == VfioDevice.IRQ_SET_DATA_NONE || ((boolean[]) data)[i - start])) {
                triggers[i].signal();
            }
        }
        return 0;
    }

    /**
     * vfio_msi_enable (MSI or MSI-X): the vectors, or the number the device can give (positive)
     * when fewer.
     */
    private int msiEnable(int index, int nvec) {
        if (irqType != NONE) {
            throw Errnos.fail(Errno.EINVAL, "interrupts already enabled");
        }
        if (irqs == null) {
            throw Errnos.fail(Errno.ENODEV, "no interrupt core");
        }
        boolean msix = index == MSIX_IRQ_INDEX;
        int got = msix ? irqs.allocMsixVectors(dev, nvec) : irqs.allocMsiVectors(dev, nvec);
        if (got < nvec) {
            if (got > 0) {
                irqs.freeMsiVectors(dev);
                return got;
            }
            Errnos.check(got, "pci_alloc_irq_vectors");
            return 0; // not reached
        }
        triggers = new EventFd[nvec];
        irqType = index;
        if (msix) {
            return 0;
        }
        msiQmax = 32 - Integer.numberOfLeadingZeros(nvec * 2 - 1) - 1; // fls(nvec * 2 - 1) - 1
        return 0;
    }

    /** vfio_msi_set_block / vfio_msi_set_vector_signal. */
    private void setBlock(int start, int count, EventFd[] fds) {
        for (int j = 0; j < count; j++) {
            int vector = start + j;
            if (vector >= triggers.length) {
                throw Errnos.fail(Errno.EINVAL, "vector " + vector + " not enabled");
            }
            if (triggers[vector] != null) {
                irqs.freeMsi(dev, vector);
                triggers[vector] = null;
            }
            EventFd fd = fds[j];
            if (fd != null) {
                int rc = irqs.requestMsi(dev, vector, fd::signal); // vfio_msihandler
                if (rc < 0) {
                    Errnos.check(rc, "request_irq");
                }
                triggers[vector] = fd;
            }
        }
    }

    /** vfio_msi_disable: every vector's handler freed, the vectors released, INTx masked as the virtual bit says. */
    private void msiDisable() {
        for (int i = 0; i < triggers.length; i++) {
            if (triggers[i] != null) {
                irqs.freeMsi(dev, i);
            }
        }
        irqs.freeMsiVectors(dev);
        // "Both disable paths above use pci_intx_for_msi() to clear DisINTx and only the INTx
        // path sets it again when using pci_2_3": keep the physical bit as the virtual one
        if (pci23) {
            pciIntx(!virqDisabled);
        }
        triggers = new EventFd[0];
        irqType = NONE;
    }

    /** The ERR and REQ indexes' trigger (vfio_pci_set_ctx_trigger_single). */
    private int ctxTrigger(int index, int count, int dataType, Object data) {
        EventFd current = index == ERR_IRQ_INDEX ? errTrigger : reqTrigger;
        if (count == 0 && dataType == VfioDevice.IRQ_SET_DATA_NONE) {
            current = null;
        } else if (dataType == VfioDevice.IRQ_SET_DATA_EVENTFD) {
            current = ((EventFd[]) data)[0];
        } else if (current != null && first(dataType, data)) {
            current.signal();
        }
        if (index == ERR_IRQ_INDEX) {
            errTrigger = current;
        } else {
            reqTrigger = current;
        }
        return 0;
    }

    /** vfio_pci_core_disable: the enabled interrupt type torn down (DATA_NONE | TRIGGER, count 0). */
    void disableAll() {
        if (irqType == INTX_IRQ_INDEX) {
            intxDisable();
        } else if (irqType == MSI_IRQ_INDEX || irqType == MSIX_IRQ_INDEX) {
            msiDisable();
        }
        virqDisabled = false;
        errTrigger = null;
        reqTrigger = null;
    }

    // ---------------------------------------------------------------- config space

    /** Whether {@code offset} is a byte of the MSI capability vfio virtualises (all but the flags' upper byte). */
    boolean msiVirtual(int offset) {
        return msiCap != 0 && offset >= msiCap && offset < msiCap + msiVirtual.length && offset != msiCap + 3;
    }

    int readMsiByte(int offset) {
        return msiVirtual[offset - msiCap] & 0xff;
    }

    /**
     * vfio_msi_config_write, one byte: the virtual copy (ID and next pointer are not writable);
     * a write of the flags fixes them up (ENABLE only while MSI is enabled through SET_IRQS,
     * QSIZE at most what was enabled) and writes them to the device too.
     */
    void writeMsiByte(int offset, int value) {
        int rel = offset - msiCap;
        if (rel < 2) {
            return;
        }
        msiVirtual[rel] = (byte) value;
        if (rel == 2) {
            int flags = msiVirtual[2] & 0xff | (int) (cfg.read(dev.rid(), msiCap + 3, 1) << 8);
            if (irqType != MSI_IRQ_INDEX) {
                flags &= ~1;
            }
            if (((flags & 0x70) >>> 4) > msiQmax) {
                flags = (flags & ~0x70) | msiQmax << 4;
            }
            msiVirtual[2] = (byte) flags;
            cfg.write(dev.rid(), msiCap + 2, flags, 2);
        }
    }

    /** The user's INTx disable bit (virtual; vfio_basic_config_write "Emulate INTx disable"). */
    boolean virqDisabled() {
        return virqDisabled;
    }

    void setVirtualIntxDisable(boolean disable) {
        if (disable && !virqDisabled) {
            virqDisabled = true;
            mask();
        } else if (!disable && virqDisabled) {
            virqDisabled = false;
            unmask();
        }
    }

    int irqType() {
        return irqType;
    }
}
