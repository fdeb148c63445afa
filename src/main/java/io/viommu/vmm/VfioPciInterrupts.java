package io.viommu.vmm;

import io.viommu.linux.vfio.EventFd;
import io.viommu.linux.vfio.VfioDevice;
import io.viommu.linux.vfio.VfioException;
import io.viommu.pci.MsiCapability;
import io.viommu.pci.MsixTable;
import io.viommu.pci.PciRegs;

/**
 * The interrupts of an assigned device as QEMU 7.2's hw/vfio/pci.c delivers them without KVM
 * (TCG: no irqfd, so QEMU's userspace paths): an eventfd per interrupt, given to the host's VFIO
 * with VFIO_DEVICE_SET_IRQS and read by the VMM's main loop ({@link #poll}).
 *
 * <p>INTx (vfio_intx_enable at realize and after every reset): the host's vfio-pci handler
 * masks the device and signals the eventfd; {@code vfio_intx_interrupt} marks INTx pending,
 * asserts the VM's pin (the VM's I/O APIC line: qtest's {@code IRQ raise N}) and turns the BARs'
 * mmaps off, so every BAR access goes through the device file; each such access ends with
 * {@code vfio_intx_eoi}: if pending, the pin is deasserted ({@code IRQ lower N}) and the host
 * INTx unmasked (VFIO_IRQ_SET_ACTION_UNMASK), which signals the eventfd at once when the device
 * still asserts it. QEMU re-enables the mmaps from a timer on the VM's clock
 * ({@code x-intx-mmap-timeout-ms}); no VM clock runs here (qtest with {@code -S}), so they stay
 * off, as in the captures.
 *
 * <p>MSI (vfio_msi_enable when the guest sets the enable bit of the emulated capability,
 * vfio_msi_disable when it clears it, which enables INTx again): one eventfd per vector; on a
 * signal {@code vfio_msi_interrupt} sends the message the guest programmed (msi_notify): a
 * DWORD write of the data to the address on the device's bus-master address space, so it goes
 * through the VM's vIOMMU (its interrupt remapping for 0xFEEx_xxxx, its DMA translation
 * otherwise) when the VM has one, lands in guest RAM when the address is RAM, and goes nowhere
 * while bus mastering is off. Without KVM a reprogrammed message needs nothing from VFIO
 * (vfio_update_msi only updates KVM routes).
 *
 * <p>MSI-X (vfio_msix_enable when the guest sets the enable bit of the emulated capability):
 * QEMU's table and PBA ({@link MsixTable}) sit over the BAR; a vector the guest unmasks is
 * "used" (vfio_msix_vector_use): its eventfd given to VFIO, the host block grown to it when
 * needed (disable, then enable with more vectors: VFIO cannot grow an enabled block). A signal
 * runs vfio_msi_interrupt: a masked vector's message becomes pending (the PBA decoded by QEMU
 * from then on) and is sent when the guest unmasks it. Masking needs nothing from VFIO under
 * TCG (vfio_msix_vector_release only switches KVM irqfds).
 */
final class VfioPciInterrupts {
    enum Mode { NONE, INTX, MSI, MSIX }

    private final VfioPciDevice pdev;
    private final VfioDevice device;
    private final Vmm vmm;
    private Mode mode = Mode.NONE;
    private EventFd intx;
    private boolean intxPending;
    private boolean mmapEnabled = true;
    private EventFd[] msiVectors = new EventFd[0];
    private EventFd[] msixVectors = new EventFd[0];
    /** Whether the main loop reads the vector's eventfd (qemu_set_fd_handler with a handler). */
    private boolean[] msixHandled = new boolean[0];
    /** vdev->msix->pending: vectors that fired while masked. */
    private boolean[] msixPending = new boolean[0];
    private int nrVectors;
    private boolean deferRouting;
    private boolean exiting;

    VfioPciInterrupts(VfioPciDevice pdev, VfioDevice device, Vmm vmm) {
        this.pdev = pdev;
        this.device = device;
        this.vmm = vmm;
    }

    Mode mode() {
        return mode;
    }

    boolean intxPending() {
        return intxPending;
    }

    /** Whether BAR accesses go through the mmaps (off while INTx is or was pending: vfio_mmap_set_enabled). */
    boolean mmapEnabled() {
        return mmapEnabled;
    }

    // ---------------------------------------------------------------- INTx

    /**
     * vfio_intx_enable: nothing for a device without a pin; otherwise interrupts disabled first,
     * then a new eventfd as the INTx trigger. Throws QEMU's text (vfio_set_irq_signaling) when
     * VFIO refuses; the caller prefixes {@code vfio NAME: }.
     */
    void intxEnable() throws IntxFailure {
        int pin = (int) pdev.configRead(PciRegs.INTERRUPT_PIN, 1);
        if (pin == 0) {
            return;
        }
        disableAll();
        EventFd fd = new EventFd();
        try {
            device.setIrqs(VfioDevice.IRQ_SET_DATA_EVENTFD | VfioDevice.IRQ_SET_ACTION_TRIGGER,
                    VfioDevice.INTX_IRQ_INDEX, 0, 1, new EventFd[] {fd});
        } catch (VfioException e) {
            throw new IntxFailure("Failed to set up TRIGGER eventfd signaling for interrupt INTX-0: "
                    + "VFIO_DEVICE_SET_IRQS failure: " + e.errno().strerror);
        }
        intx = fd;
        mode = Mode.INTX;
        trace("vfio_intx_enable", "");
    }

    /** A QEMU trace event of this device: {@code name  (HOST)ARGS} as hw/vfio/trace-events formats it. */
    private void trace(String name, String args) {
        if (!exiting) {
            vmm.traceEvent(name, " (" + pdev.hostName() + ")" + args);
        }
    }

    /**
     * The VMM ends: interrupts torn down on the host. QEMU, ended by SIGTERM, runs no
     * vfio_exitfn (the kernel releases everything when the process closes its files), so
     * nothing is traced.
     */
    void exit() {
        exiting = true;
        disableAll();
    }

    /** QEMU's Error from vfio_intx_enable. */
    static final class IntxFailure extends Exception {
        IntxFailure(String message) {
            super(message, null, false, false);
        }
    }

    /** vfio_intx_disable: the trigger torn down, a pending INTx deasserted, the mmaps back on. */
    private void intxDisable() {
        setIrqsQuietly(VfioDevice.IRQ_SET_DATA_NONE | VfioDevice.IRQ_SET_ACTION_TRIGGER, VfioDevice.INTX_IRQ_INDEX, 0, 0);
        intxPending = false;
        pdev.setIntx(false);
        mmapEnabled = true;
        intx = null;
        mode = Mode.NONE;
        trace("vfio_intx_disable", "");
    }

    /** vfio_intx_interrupt. */
    private void intxInterrupt() {
        intxPending = true;
        pdev.setIntx(true);
        mmapEnabled = false;
    }

    /** vfio_intx_eoi, after every BAR access through the device file. */
    void eoi() {
        if (!intxPending) {
            return;
        }
        intxPending = false;
        pdev.setIntx(false);
        setIrqsQuietly(VfioDevice.IRQ_SET_DATA_NONE | VfioDevice.IRQ_SET_ACTION_UNMASK, VfioDevice.INTX_IRQ_INDEX, 0, 1);
    }

    // ---------------------------------------------------------------- MSI

    /** vfio_pci_write_config's MSI part: called after the write reached the emulated capability. */
    void msiWritten(boolean wasEnabled) {
        boolean enabled = pdev.msiEnabled();
        if (!wasEnabled && enabled) {
            msiEnable();
        } else if (wasEnabled && !enabled) {
            msiDisable();
        }
        // enabled -> enabled: vfio_update_msi, which only touches KVM routes
    }

    /**
     * vfio_msi_enable (7.2): interrupts disabled, one eventfd per allocated vector, SET_IRQS;
     * a failure is reported and MSI left off (retried with fewer vectors when VFIO says how many).
     */
    private void msiEnable() {
        disableAll();
        MsiCapability cap = pdev.msi();
        int vectors = 1 << ((pdev.configRead(cap.offset() + MsiCapability.CONTROL, 2) >>> 4) & 7);
        while (true) {
            EventFd[] fds = new EventFd[vectors];
            for (int i = 0; i < vectors; i++) {
                fds[i] = new EventFd();
            }
            mode = Mode.MSI; // "Set interrupt type prior to possible interrupts"
            msiVectors = fds;
            int ret;
            try {
                ret = device.setIrqs(VfioDevice.IRQ_SET_DATA_EVENTFD | VfioDevice.IRQ_SET_ACTION_TRIGGER,
                        VfioDevice.MSI_IRQ_INDEX, 0, vectors, fds);
            } catch (VfioException e) {
                vmm.report("vfio: Error: Failed to setup MSI fds: " + e.errno().strerror);
                ret = -1;
            }
            if (ret == 0) {
                return;
            }
            if (ret > 0 && ret != vectors) {
                vmm.report(String.format("vfio: Error: Failed to enable %d MSI vectors, retry with %d", vectors, ret));
            }
            msiVectors = new EventFd[0];
            if (ret > 0 && ret != vectors) {
                vectors = ret;
                continue;
            }
            vmm.report("vfio: Error: Failed to enable MSI");
            mode = Mode.NONE;
            return;
        }
    }

    /** vfio_msi_disable: the MSI index torn down, then INTx enabled again. */
    private void msiDisable() {
        setIrqsQuietly(VfioDevice.IRQ_SET_DATA_NONE | VfioDevice.IRQ_SET_ACTION_TRIGGER, VfioDevice.MSI_IRQ_INDEX, 0, 0);
        msiVectors = new EventFd[0];
        mode = Mode.NONE;
        enableIntxReporting();
    }

    /** vfio_msi_interrupt: msi_get_message + msi_notify over the bus-master address space. */
    private void msiInterrupt(int vector) {
        MsiCapability cap = pdev.msi();
        long address = cap.address();
        int data = cap.data();
        if (msiVectors.length > 1) {
            data = (data & ~(msiVectors.length - 1)) | vector;
        }
        trace("vfio_msi_interrupt", String.format(" vector %d 0x%x/0x%x", vector, address, data));
        pdev.sendMessage(address, data); // pci_msi_trigger: address_space_stl_le
    }

    // ---------------------------------------------------------------- MSI-X

    /** vfio_pci_write_config's MSI-X part: after the write reached the emulated capability (msix_write_config). */
    void msixWritten(boolean wasEnabled) {
        boolean enabled = pdev.msixTable().enabled();
        if (!wasEnabled && enabled) {
            msixEnable();
        } else if (wasEnabled && !enabled) {
            msixDisable();
        }
    }

    /**
     * vfio_msix_enable (7.2): interrupts disabled, then the vector notifiers set, which "use"
     * every vector the guest unmasked (deferred: one SET_IRQS for all of them after); with none
     * unmasked, vector 0 is enabled on the host and released at once, so the physical device is
     * in MSI-X mode as the guest sees it.
     */
    private void msixEnable() {
        disableAll();
        MsixTable table = pdev.msixTable();
        msixVectors = new EventFd[table.entries()];
        msixHandled = new boolean[table.entries()];
        msixPending = new boolean[table.entries()];
        nrVectors = 0;
        mode = Mode.MSIX;
        deferRouting = true;
        table.setNotifiers(new MsixTable.VectorNotifier() {
            @Override
            public void use(int vector, long address, int data) {
                msixVectorUse(vector, true);
            }

            @Override
            public void release(int vector) {
                // vfio_msix_vector_release: only a KVM irqfd route is switched; none under TCG
                trace("vfio_msix_vector_release", " vector " + vector + " released");
            }
        });
        deferRouting = false;
        if (nrVectors > 0) {
            enableVectors();
        } else {
            msixVectorUse(0, false);
            trace("vfio_msix_vector_release", " vector 0 released");
        }
        trace("vfio_msix_enable", "");
    }

    /**
     * vfio_msix_vector_do_use: the vector's eventfd (created once; read by the main loop only
     * when a handler is given), the table's use count; the host block grown by disabling the
     * index and enabling it again with {@code nr + 1} vectors, or the one vector's trigger set;
     * the PBA decoded no longer once nothing is pending.
     */
    private void msixVectorUse(int nr, boolean handler) {
        MsixTable table = pdev.msixTable();
        trace("vfio_msix_vector_do_use", " vector " + nr + " used");
        if (msixVectors[nr] == null) {
            msixVectors[nr] = new EventFd();
            table.use(nr);
        }
        msixHandled[nr] = handler;
        if (nrVectors < nr + 1) {
            nrVectors = nr + 1;
            if (!deferRouting) {
                setIrqsQuietly(VfioDevice.IRQ_SET_DATA_NONE | VfioDevice.IRQ_SET_ACTION_TRIGGER, VfioDevice.MSIX_IRQ_INDEX, 0, 0);
                enableVectors();
            }
        } else {
            try {
                device.setIrqs(VfioDevice.IRQ_SET_DATA_EVENTFD | VfioDevice.IRQ_SET_ACTION_TRIGGER,
                        VfioDevice.MSIX_IRQ_INDEX, nr, 1, new EventFd[] {msixVectors[nr]});
            } catch (VfioException e) {
                vmm.report("vfio " + pdev.hostName() + ": Failed to set up TRIGGER eventfd signaling for interrupt MSIX-"
                        + nr + ": VFIO_DEVICE_SET_IRQS failure: " + e.errno().strerror);
            }
        }
        msixPending[nr] = false;
        boolean any = false;
        for (int i = 0; i < nrVectors; i++) {
            any |= msixPending[i];
        }
        if (!any) {
            table.setPbaEnabled(false);
            trace("vfio_msix_pba_disable", "");
        }
    }

    /** vfio_enable_vectors(msix): one SET_IRQS for vectors 0..nr_vectors-1, -1 for those not in use. */
    private void enableVectors() {
        EventFd[] fds = new EventFd[nrVectors];
        System.arraycopy(msixVectors, 0, fds, 0, nrVectors);
        try {
            device.setIrqs(VfioDevice.IRQ_SET_DATA_EVENTFD | VfioDevice.IRQ_SET_ACTION_TRIGGER,
                    VfioDevice.MSIX_IRQ_INDEX, 0, nrVectors, fds);
        } catch (VfioException e) {
            vmm.report("vfio: failed to enable vectors, -1"); // the ioctl's return value
        }
    }

    /** vfio_msix_disable: notifiers unset, vectors unused, the index torn down, then INTx again. */
    private void msixDisable() {
        MsixTable table = pdev.msixTable();
        table.unsetNotifiers();
        for (int i = 0; i < nrVectors; i++) {
            if (msixVectors[i] != null) {
                trace("vfio_msix_vector_release", " vector " + i + " released");
                table.unuse(i);
            }
        }
        if (nrVectors > 0) {
            setIrqsQuietly(VfioDevice.IRQ_SET_DATA_NONE | VfioDevice.IRQ_SET_ACTION_TRIGGER, VfioDevice.MSIX_IRQ_INDEX, 0, 0);
        }
        msixVectors = new EventFd[0];
        msixHandled = new boolean[0];
        msixPending = new boolean[0];
        nrVectors = 0;
        mode = Mode.NONE;
        enableIntxReporting();
        trace("vfio_msix_disable", "");
    }

    /**
     * vfio_msi_interrupt for MSI-X: a masked vector marks itself pending and turns the PBA on;
     * msix_notify then sends the message or sets the table's pending bit.
     */
    private void msixInterrupt(int nr) {
        MsixTable table = pdev.msixTable();
        if (table.isMasked(nr)) {
            msixPending[nr] = true;
            table.setPbaEnabled(true);
            trace("vfio_msix_pba_enable", "");
        }
        trace("vfio_msi_interrupt", String.format(" vector %d 0x%x/0x%x", nr, table.address(nr), table.data(nr)));
        table.notify(nr);
    }

    // ---------------------------------------------------------------- common

    /** vfio_disable_interrupts: MSI first (which returns to INTx), then INTx. */
    void disableAll() {
        if (mode == Mode.MSIX) {
            msixDisable();
        } else if (mode == Mode.MSI) {
            msiDisable();
        }
        if (mode == Mode.INTX) {
            intxDisable();
        }
    }

    /** vfio_pci_post_reset's and vfio_msi_disable's vfio_intx_enable, whose error is only reported. */
    void enableIntxReporting() {
        try {
            intxEnable();
        } catch (IntxFailure e) {
            vmm.report("vfio " + pdev.hostName() + ": " + e.getMessage());
        }
    }

    /**
     * The main loop's fd handlers for this device: each signalled eventfd read and handled.
     * Returns how many fired.
     */
    int poll() {
        int n = 0;
        if (intx != null && intx.testAndClear()) {
            intxInterrupt();
            n++;
        }
        EventFd[] vectors = msiVectors;
        for (int i = 0; i < vectors.length; i++) {
            if (vectors[i].testAndClear() && mode == Mode.MSI) {
                msiInterrupt(i);
                n++;
            }
        }
        EventFd[] x = msixVectors;
        for (int i = 0; i < x.length; i++) {
            if (x[i] != null && msixHandled[i] && x[i].testAndClear() && mode == Mode.MSIX) {
                msixInterrupt(i);
                n++;
            }
        }
        return n;
    }

    private void setIrqsQuietly(int flags, int index, int start, int count) {
        try {
            device.setIrqs(flags, index, start, count, null);
        } catch (VfioException e) {
            // vfio_disable_irqindex / vfio_unmask_single_irqindex ignore the ioctl's result
        }
    }
}
