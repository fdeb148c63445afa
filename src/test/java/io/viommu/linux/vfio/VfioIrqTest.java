package io.viommu.linux.vfio;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.driver.Errno;
import io.viommu.machine.device.EduDevice;
import io.viommu.machine.device.LocalApicSink;
import io.viommu.pci.MsiAddress;
import io.viommu.pci.MsiCapability;
import io.viommu.pci.PciRegs;
import org.junit.jupiter.api.Test;

/**
 * VFIO_DEVICE_GET_IRQ_INFO and VFIO_DEVICE_SET_IRQS of the host's vfio-pci (Linux 6.1
 * vfio_pci_intrs.c): the edu's INTx through the host's line to vfio_intx_handler (automasked,
 * unmasked by the user, signalled again when still asserted), its MSI through the vectors the
 * host kernel programmed (through the host unit's IRTE when the host has interrupt remapping),
 * the virtual INTx disable bit and MSI capability, and the errnos.
 */
class VfioIrqTest {
    static final String EDU = "0000:00:01.0";
    static final long CONFIG = (long) VfioDevice.CONFIG_REGION << VfioDevice.OFFSET_SHIFT;
    static final int TRIGGER_FD = VfioDevice.IRQ_SET_DATA_EVENTFD | VfioDevice.IRQ_SET_ACTION_TRIGGER;
    static final int NONE = VfioDevice.IRQ_SET_DATA_NONE;

    private static long physicalCommand(VfioBed bed) {
        return bed.core.config().read(bed.device(EDU).rid(), PciRegs.COMMAND, 2);
    }

    /** The message is a DMA write: bus mastering on, as the VMM's guest sets it. */
    private static void busMaster(VfioDevice d) {
        d.write(CONFIG + PciRegs.COMMAND, d.read(CONFIG + PciRegs.COMMAND, 2) | PciRegs.COMMAND_MASTER, 2);
    }

    @Test
    void irqInfoDescribesEachIndexAsVfioPciDoes() throws Exception {
        VfioDevice d = VfioBed.standard().open(EDU).device();
        assertThat(d.irqInfo(VfioDevice.INTX_IRQ_INDEX)).isEqualTo(new VfioDevice.IrqInfo(0,
                VfioDevice.IRQ_INFO_EVENTFD | VfioDevice.IRQ_INFO_MASKABLE | VfioDevice.IRQ_INFO_AUTOMASKED, 1));
        assertThat(d.irqInfo(VfioDevice.MSI_IRQ_INDEX)).isEqualTo(new VfioDevice.IrqInfo(1,
                VfioDevice.IRQ_INFO_EVENTFD | VfioDevice.IRQ_INFO_NORESIZE, 1)); // edu: one vector
        assertThat(d.irqInfo(VfioDevice.MSIX_IRQ_INDEX).count()).isZero();
        assertThat(d.irqInfo(VfioDevice.REQ_IRQ_INDEX).count()).isEqualTo(1);
        Fails.with(Errno.EINVAL, () -> d.irqInfo(VfioDevice.ERR_IRQ_INDEX)); // edu is conventional PCI
        Fails.with(Errno.EINVAL, () -> d.irqInfo(5));
    }

    @Test
    void intxIsAutomaskedAndSignalledAgainOnUnmaskWhileStillAsserted() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioDevice d = bed.open(EDU).device();
        EventFd fd = new EventFd();
        assertThat(d.setIrqs(TRIGGER_FD, VfioDevice.INTX_IRQ_INDEX, 0, 1, new EventFd[] {fd})).isZero();
        int gsi = bed.core.legacyGsi(bed.device(EDU));
        assertThat(gsi).as("00:01.0 pin A: PIRQF").isEqualTo(21);
        d.write(EduDevice.REG_IRQ_RAISE, 1, 4); // BAR0 through the device file
        assertThat(bed.machine.interrupts().lineLevel(gsi)).isTrue();
        bed.kernel.takeInterrupts();
        assertThat(fd.testAndClear()).isTrue();
        // vfio_intx_handler masked the device: the physical INTx disable bit, the line low
        assertThat(physicalCommand(bed) & PciRegs.COMMAND_INTX_DISABLE).isNotZero();
        assertThat(d.read(CONFIG + PciRegs.COMMAND, 2) & PciRegs.COMMAND_INTX_DISABLE).as("virtual bit").isZero();
        assertThat(bed.machine.interrupts().lineLevel(gsi)).isFalse();
        bed.kernel.takeInterrupts();
        assertThat(fd.readable()).isFalse();
        // unmask while the edu still asserts: stays masked, signalled at once
        d.setIrqs(NONE | VfioDevice.IRQ_SET_ACTION_UNMASK, VfioDevice.INTX_IRQ_INDEX, 0, 1, null);
        assertThat(fd.testAndClear()).isTrue();
        assertThat(physicalCommand(bed) & PciRegs.COMMAND_INTX_DISABLE).isNotZero();
        // acknowledged, then unmasked: INTx enabled again, no signal
        d.write(EduDevice.REG_IRQ_ACK, 1, 4);
        d.setIrqs(VfioDevice.IRQ_SET_DATA_BOOL | VfioDevice.IRQ_SET_ACTION_UNMASK, VfioDevice.INTX_IRQ_INDEX, 0, 1,
                new boolean[] {true});
        assertThat(fd.readable()).isFalse();
        assertThat(physicalCommand(bed) & PciRegs.COMMAND_INTX_DISABLE).isZero();
        // the user's INTx disable bit is virtual and masks
        d.write(CONFIG + PciRegs.COMMAND, d.read(CONFIG + PciRegs.COMMAND, 2) | PciRegs.COMMAND_INTX_DISABLE, 2);
        d.write(EduDevice.REG_IRQ_RAISE, 2, 4);
        bed.kernel.takeInterrupts();
        assertThat(fd.readable()).isFalse();
        d.write(CONFIG + PciRegs.COMMAND, d.read(CONFIG + PciRegs.COMMAND, 2) & ~PciRegs.COMMAND_INTX_DISABLE, 2);
        assertThat(fd.testAndClear()).as("cleared while asserted: signalled").isTrue();
        // a trigger by the user (DATA_NONE), then INTx torn down (count 0): the line is free
        d.setIrqs(NONE | VfioDevice.IRQ_SET_ACTION_TRIGGER, VfioDevice.INTX_IRQ_INDEX, 0, 1, null);
        assertThat(fd.testAndClear()).isTrue();
        d.setIrqs(NONE | VfioDevice.IRQ_SET_ACTION_TRIGGER, VfioDevice.INTX_IRQ_INDEX, 0, 0, null);
        d.write(EduDevice.REG_IRQ_ACK, 2, 4);
        d.write(EduDevice.REG_IRQ_RAISE, 4, 4);
        bed.kernel.takeInterrupts();
        assertThat(fd.readable()).isFalse();
    }

    @Test
    void badSetIrqsArgumentsGetVfioPcisErrnos() throws Exception {
        VfioDevice d = VfioBed.standard().open(EDU).device();
        EventFd fd = new EventFd();
        int unmask = NONE | VfioDevice.IRQ_SET_ACTION_UNMASK;
        Fails.with(Errno.EINVAL, () -> d.setIrqs(unmask, VfioDevice.INTX_IRQ_INDEX, 0, 1, null)); // INTx not enabled
        Fails.with(Errno.EINVAL, () -> d.setIrqs(TRIGGER_FD, 5, 0, 1, new EventFd[] {fd}));
        Fails.with(Errno.EINVAL, () -> d.setIrqs(TRIGGER_FD, VfioDevice.INTX_IRQ_INDEX, 1, 1, new EventFd[] {fd}));
        Fails.with(Errno.EINVAL, () -> d.setIrqs(TRIGGER_FD, VfioDevice.INTX_IRQ_INDEX, 0, 2, new EventFd[] {fd, fd}));
        Fails.with(Errno.EINVAL, () -> d.setIrqs(TRIGGER_FD, VfioDevice.INTX_IRQ_INDEX, 0, 1, new EventFd[0]));
        Fails.with(Errno.EINVAL, () -> d.setIrqs(TRIGGER_FD | NONE, VfioDevice.INTX_IRQ_INDEX, 0, 1, null));
        Fails.with(Errno.EINVAL, () -> d.setIrqs(TRIGGER_FD | 0x40, VfioDevice.INTX_IRQ_INDEX, 0, 1, new EventFd[] {fd}));
        Fails.with(Errno.ENOTTY, () -> d.setIrqs(NONE | VfioDevice.IRQ_SET_ACTION_MASK | VfioDevice.IRQ_SET_ACTION_UNMASK,
                VfioDevice.INTX_IRQ_INDEX, 0, 1, null));
        Fails.with(Errno.ENOTTY, () -> d.setIrqs(NONE | VfioDevice.IRQ_SET_ACTION_MASK, VfioDevice.MSI_IRQ_INDEX, 0, 1, null));
        Fails.with(Errno.EINVAL, () -> d.setIrqs(TRIGGER_FD, VfioDevice.MSIX_IRQ_INDEX, 0, 1, new EventFd[] {fd})); // edu: none
        d.setIrqs(TRIGGER_FD, VfioDevice.INTX_IRQ_INDEX, 0, 1, new EventFd[] {fd});
        // one type at a time
        Fails.with(Errno.EINVAL, () -> d.setIrqs(TRIGGER_FD, VfioDevice.MSI_IRQ_INDEX, 0, 1, new EventFd[] {new EventFd()}));
        Fails.with(Errno.ENOTTY, () -> d.setIrqs(VfioDevice.IRQ_SET_DATA_EVENTFD | VfioDevice.IRQ_SET_ACTION_MASK,
                VfioDevice.INTX_IRQ_INDEX, 0, 1, new EventFd[] {fd}));
    }

    @Test
    void msiThroughTheHostUnitsIrteSignalsTheVectorsEventfd() throws Exception {
        VfioBed bed = VfioBed.standard(); // intel-iommu,intremap=on: the host kernel remaps
        VfioDevice d = bed.open(EDU).device();
        var rid = bed.device(EDU).rid();
        int cap = EduDevice.MSI_OFFSET;
        EventFd fd = new EventFd();
        assertThat(d.setIrqs(TRIGGER_FD, VfioDevice.MSI_IRQ_INDEX, 0, 1, new EventFd[] {fd})).isZero();
        // pci_alloc_irq_vectors programmed the remappable format (format and SHV bits, handle 0)
        long address = bed.core.config().read(rid, cap + MsiCapability.ADDRESS_LO, 4);
        assertThat(address & ~0xffffL).isEqualTo(MsiAddress.FIRST);
        assertThat(address & 0x18).isEqualTo(0x18);
        assertThat(bed.core.config().read(rid, cap + MsiCapability.CONTROL, 2) & MsiCapability.CONTROL_ENABLE).isNotZero();
        // the user's view of the capability is virtual: its values, not the host's
        d.write(CONFIG + cap + MsiCapability.ADDRESS_LO, 0x100000, 4);
        assertThat(d.read(CONFIG + cap + MsiCapability.ADDRESS_LO, 4)).isEqualTo(0x100000);
        assertThat(bed.core.config().read(rid, cap + MsiCapability.ADDRESS_LO, 4)).isEqualTo(address);
        busMaster(d);
        int before = bed.machine.interrupts().apic().log().size();
        d.write(EduDevice.REG_IRQ_RAISE, 1, 4);
        LocalApicSink.ApicInterrupt taken = bed.machine.interrupts().apic().log().get(before);
        assertThat(taken.remapped()).as("through the host IRTE").isTrue();
        assertThat(taken.source()).isEqualTo(rid);
        bed.kernel.takeInterrupts();
        assertThat(fd.testAndClear()).isTrue();
        assertThat(bed.machine.interrupts().lineLevel(21)).isFalse(); // MSI: no INTx
        // torn down: MSI off on the device, the IRTE cleared, INTx enabled again
        d.setIrqs(NONE | VfioDevice.IRQ_SET_ACTION_TRIGGER, VfioDevice.MSI_IRQ_INDEX, 0, 0, null);
        assertThat(bed.core.config().read(rid, cap + MsiCapability.CONTROL, 2) & MsiCapability.CONTROL_ENABLE).isZero();
        assertThat(physicalCommand(bed) & PciRegs.COMMAND_INTX_DISABLE).isZero();
        int blocked = (int) bed.machine.interrupts().blockedMsis();
        var msi = bed.machine.interrupts().msiLog().get(bed.machine.interrupts().msiLog().size() - 1);
        bed.machine.interrupts().deliverRemappable(msi.address(), msi.data(), msi.source());
        assertThat(bed.machine.interrupts().blockedMsis()).as("the freed IRTE no longer delivers").isEqualTo(blocked + 1);
    }

    @Test
    void msiWithoutInterruptRemappingIsCompatibilityFormat() throws Exception {
        VfioBed bed = VfioBed.boot("intremap=off", "edu");
        bed.core.setModuleParameter("vfio_iommu_type1", "allow_unsafe_interrupts", "1");
        VfioDevice d = bed.open(EDU).device();
        var rid = bed.device(EDU).rid();
        // two vectors asked, the edu offers one: past the index's count
        Fails.with(Errno.EINVAL, () -> d.setIrqs(TRIGGER_FD, VfioDevice.MSI_IRQ_INDEX, 0, 2,
                new EventFd[] {new EventFd(), new EventFd()}));
        assertThat(d.setIrqs(TRIGGER_FD, VfioDevice.MSI_IRQ_INDEX, 0, 1, new EventFd[] {new EventFd()})).isZero();
        d.setIrqs(NONE | VfioDevice.IRQ_SET_ACTION_TRIGGER, VfioDevice.MSI_IRQ_INDEX, 0, 0, null);
        EventFd fd = new EventFd();
        d.setIrqs(TRIGGER_FD, VfioDevice.MSI_IRQ_INDEX, 0, 1, new EventFd[] {fd});
        long address = bed.core.config().read(rid, EduDevice.MSI_OFFSET + MsiCapability.ADDRESS_LO, 4);
        assertThat(address).isEqualTo(MsiAddress.FIRST | (long) bed.machine.smp().apicId(0) << 12);
        busMaster(d);
        d.write(EduDevice.REG_IRQ_RAISE, 1, 4);
        LocalApicSink.ApicInterrupt taken = bed.machine.interrupts().apic().log().getLast();
        assertThat(taken.remapped()).isFalse();
        bed.kernel.takeInterrupts();
        assertThat(fd.testAndClear()).isTrue();
        // DATA_BOOL trigger by the user
        d.setIrqs(VfioDevice.IRQ_SET_DATA_BOOL | VfioDevice.IRQ_SET_ACTION_TRIGGER, VfioDevice.MSI_IRQ_INDEX, 0, 1,
                new boolean[] {true});
        assertThat(fd.testAndClear()).isTrue();
    }

    /**
     * The e1000e's MSI-X (five vectors, table in BAR3): counted as Linux does, enabled through
     * VFIO, and a cause the device raises (ICS with IMS set, IVAR naming vector 0) signals the
     * vector's eventfd.
     */
    @Test
    void msixIsCountedAsLinuxDoesAndAnE1000eCauseSignalsTheVectorsEventfd() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioDevice d = bed.open("0000:00:02.0").device(); // the e1000e: MSI-X with 5 vectors
        assertThat(d.irqInfo(VfioDevice.MSIX_IRQ_INDEX).count()).isEqualTo(5);
        assertThat(d.irqInfo(VfioDevice.ERR_IRQ_INDEX).count()).isEqualTo(1); // PCIe
        Fails.with(Errno.EINVAL, () -> d.setIrqs(NONE | VfioDevice.IRQ_SET_ACTION_TRIGGER, VfioDevice.MSIX_IRQ_INDEX,
                0, 1, null));
        EventFd fd = new EventFd();
        assertThat(d.setIrqs(TRIGGER_FD, VfioDevice.MSIX_IRQ_INDEX, 0, 1, new EventFd[] {fd})).isZero();
        busMaster(d);
        d.write(0xe4, 0x8, 4); // IVAR: RXQ0 -> vector 0
        d.write(0xd0, 0x0010_0000, 4); // IMS: RXQ0
        d.write(0xc8, 0x0010_0000, 4); // ICS: RXQ0
        bed.kernel.takeInterrupts();
        assertThat(fd.testAndClear()).isTrue();
        assertThat(d.read(0xc0, 4)).isEqualTo(0x8010_0000L); // ICR: ASSERTED | RXQ0
    }

    @Test
    void closingTheDeviceFileFreesItsInterrupt() throws Exception {
        VfioBed bed = VfioBed.standard();
        VfioBed.Open o = bed.open(EDU);
        EventFd fd = new EventFd();
        o.device().setIrqs(TRIGGER_FD, VfioDevice.MSI_IRQ_INDEX, 0, 1, new EventFd[] {fd});
        o.device().close();
        var rid = bed.device(EDU).rid();
        assertThat(bed.core.config().read(rid, EduDevice.MSI_OFFSET + MsiCapability.CONTROL, 2)
                & MsiCapability.CONTROL_ENABLE).isZero();
        // and the same file can no longer set anything
        Fails.with(Errno.EBADF, () -> o.device().setIrqs(TRIGGER_FD, VfioDevice.INTX_IRQ_INDEX, 0, 1, new EventFd[] {fd}));
    }

    /**
     * The nvme (whose model decodes its MSI-X table): vfio-pci's MSI-X trigger allocates the
     * vectors (pci_alloc_irq_vectors(PCI_IRQ_MSIX)); under interrupt remapping each entry gets
     * its own IRTE and the remappable format; an entry is unmasked while it has a trigger; the
     * device's message reaches the host CPU through the IRTE and signals that vector's eventfd
     * only; an enabled block does not grow; teardown masks the entries and disables MSI-X.
     */
    @Test
    void msixVectorsGetAnIrteEachAndSignalTheirOwnEventfd() throws Exception {
        VfioBed bed = VfioBed.boot("intremap=on", "nvme,serial=deadbeef");
        String nvme = "0000:00:01.0";
        VfioDevice d = bed.open(nvme).device();
        assertThat(d.irqInfo(VfioDevice.MSIX_IRQ_INDEX).count()).isEqualTo(65);
        EventFd a = new EventFd();
        EventFd b = new EventFd();
        assertThat(d.setIrqs(TRIGGER_FD, VfioDevice.MSIX_IRQ_INDEX, 0, 2, new EventFd[] {a, b})).isZero();
        var rid = bed.device(nvme).rid();
        io.viommu.pci.MsixTable t = bed.machine.rootBus().route(rid.bus(), rid.devfn()).msix();
        assertThat(t.enabled()).isTrue();
        assertThat(t.isMasked(0)).isFalse();
        assertThat(t.isMasked(1)).isFalse();
        assertThat(t.isMasked(2)).as("no trigger: masked (msix_mask_all)").isTrue();
        assertThat(t.address(0) & 0x10).as("remappable format").isNotZero();
        assertThat(t.address(0)).as("one IRTE per vector").isNotEqualTo(t.address(1));
        assertThat(t.data(0)).isZero();
        assertThat(bed.core.config().read(rid, PciRegs.COMMAND, 2) & PciRegs.COMMAND_INTX_DISABLE).isNotZero();
        Fails.with(Errno.EINVAL, () -> d.setIrqs(TRIGGER_FD, VfioDevice.MSIX_IRQ_INDEX, 2, 1,
                new EventFd[] {new EventFd()}));
        busMaster(d);
        t.use(1);
        t.notify(1);
        bed.kernel.takeInterrupts();
        assertThat(b.testAndClear()).isTrue();
        assertThat(a.testAndClear()).isFalse();
        assertThat(bed.machine.interrupts().apic().log().getLast().remapped()).isTrue();
        d.setIrqs(TRIGGER_FD, VfioDevice.MSIX_IRQ_INDEX, 0, 1, new EventFd[] {null});
        assertThat(t.isMasked(0)).as("trigger removed: free_irq masks").isTrue();
        d.setIrqs(NONE | VfioDevice.IRQ_SET_ACTION_TRIGGER, VfioDevice.MSIX_IRQ_INDEX, 0, 0, null);
        assertThat(t.enabled()).isFalse();
        assertThat(bed.core.config().read(rid, PciRegs.COMMAND, 2) & PciRegs.COMMAND_INTX_DISABLE).isZero();
    }
}
