package io.viommu.vmm;

import io.viommu.linux.driver.IrqCore;
import io.viommu.linux.driver.PciDevice;
import io.viommu.machine.device.EduDevice;
import io.viommu.machine.device.LocalApicSink;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.MsiCapability;
import io.viommu.pci.PciRegs;
import io.viommu.pci.RequesterId;
import io.viommu.vtd.InterruptRemapping;
import java.util.List;
import java.util.Locale;

/**
 * An assigned device's MSI followed through every level, as {@code viommu run} shows it.
 *
 * <ol>
 * <li>The guest's driver sets MSI up (an edu driver's probe: {@code pci_alloc_irq_vectors(PCI_IRQ_MSI)}
 *     and {@code request_irq} through the guest kernel's IRQ core): with the vIOMMU's interrupt
 *     remapping enabled by the guest's intel-iommu driver, an IRTE in guest RAM and the
 *     remappable format in the VM's (emulated) MSI capability; otherwise the compatibility
 *     format. The capability write makes the VMM enable MSI through the host's VFIO
 *     (VFIO_DEVICE_SET_IRQS with one eventfd per vector), so the HOST kernel's vfio-pci
 *     allocates a vector on the host CPU and programs the physical device's capability: through
 *     a host IRTE when the host has interrupt remapping.</li>
 * <li>The device interrupts (the guest's store to the edu's raise register, through the VM BAR
 *     and the VFIO region): its MSI goes through the host unit's interrupt remapping to the host
 *     CPU, whose vfio-pci handler signals the eventfd; the VMM's main loop reads it and writes the
 *     message the guest programmed on the device's bus-master address space: through the vIOMMU's
 *     interrupt remapping to the guest's local APIC; the guest's handler reads and acknowledges
 *     the device's status through the BAR.</li>
 * <li>MSI is freed again ({@code free_irq}, {@code pci_free_irq_vectors}): the VMM disables it
 *     through VFIO, which frees the host vector and IRTE.</li>
 * </ol>
 * Only the edu has an interrupt source the guest can trigger in the model; other assigned
 * devices are not sampled.
 *
 * @param hostDevice       the host's name of the device
 * @param guestBdf         its BDF in the VM
 * @param deviceMsi        the physical device's MSI capability as the host kernel programmed it (address/data)
 * @param hostIrte         the host IRTE the device's MSI used (null: not remapped on the host)
 * @param hostDelivery     what the host CPU's local APIC received (vector, destination)
 * @param eventfd          the VFIO trigger that reached the VMM
 * @param guestMsi         the VM's MSI capability as the guest programmed it (address/data)
 * @param viommuIrte       the vIOMMU IRTE the VMM's write used (null: not remapped in the VM)
 * @param guestDelivery    what the guest CPU's local APIC received (vector, destination)
 * @param guestVector      the vector the guest allocated for the device
 * @param guestApicId      the guest CPU the guest programmed as destination
 * @param raised           interrupts the device raised
 * @param hostDelivered    of those, delivered to the host CPU
 * @param eventfdSignals   eventfd signals the VMM read
 * @param guestDelivered   interrupts the guest's local APIC received from the device
 * @param handled          guest handler runs (each read and acknowledged the device)
 * @param problem          why the path did not complete, or null
 */
public record InterruptSample(String hostDevice, String guestBdf, String deviceMsi, Integer hostIrte,
                              String hostDelivery, String eventfd, String guestMsi, Integer viommuIrte,
                              String guestDelivery, int guestVector, int guestApicId, int raised, int hostDelivered,
                              int eventfdSignals, int guestDelivered, int handled, String problem) {

    /** Interrupts each sample raises. */
    public static final int RAISES = 3;

    /** Every raised interrupt reached the guest's handler, at the vector and CPU the guest programmed. */
    public boolean ok() {
        return problem == null && raised == RAISES && hostDelivered == raised && eventfdSignals == raised
                && guestDelivered == raised && handled == raised;
    }

    /** Takes the sample for one assigned device (an edu), or returns null for a device without an interrupt source. */
    static InterruptSample take(Guest guest, Guest.AssignedView view) {
        Vmm vmm = guest.vmm();
        VfioPciDevice dev = view.device();
        EduDevice hostEdu = VmRun.hostEdu(vmm, dev);
        if (hostEdu == null || dev.msi() == null) {
            return null;
        }
        var kernel = guest.kernel();
        PciDevice pd = kernel.drivers().device(view.guestBdf()).orElse(null);
        long bar = dev.barAddress(0);
        if (pd == null || bar < 0 || bar == io.viommu.pci.Bar.UNMAPPED) {
            return failed(dev, view, "the guest did not enumerate the device or its BAR0 is not placed");
        }
        IrqCore irqs = kernel.drivers().irqCore();
        RequesterId hostRid = dev.vfioDevice().pciDevice().rid();
        LocalApicSink hostApic = vmm.host().machine().interrupts().apic();
        LocalApicSink guestApic = vmm.machine().interrupts().apic();
        var mem = vmm.machine().memory();
        // the driver's probe: memory decode and bus mastering (MSI is a memory write of the device)
        dev.configWrite(PciRegs.COMMAND, dev.configRead(PciRegs.COMMAND, 2) | PciRegs.COMMAND_MEMORY
                | PciRegs.COMMAND_MASTER, 2);
        int got = irqs.allocMsiVectors(pd, 1);
        if (got != 1) {
            return failed(dev, view, "pci_alloc_irq_vectors(PCI_IRQ_MSI) returned " + got);
        }
        int[] handled = {0};
        try {
            int rc = irqs.requestMsi(pd, 0, () -> {
                // the handler: read the status, acknowledge it (both through the BAR: VFIO region accesses)
                long status = mem.read(PhysAddr.of(bar + EduDevice.REG_IRQ_STATUS), 4);
                mem.write(PhysAddr.of(bar + EduDevice.REG_IRQ_ACK), status, 4);
                handled[0]++;
            });
            if (rc < 0) {
                return failed(dev, view, "request_irq returned " + rc);
            }
            int vector = irqs.msiCpuVector(pd, 0);
            MsiCapability vmCap = dev.msi();
            String guestMsi = msi(vmCap.address(), vmCap.data());
            int guestApicId = vmm.machine().smp().apicId(0);
            if (!dev.msiActive()) {
                return failed(dev, view, "the VMM did not enable MSI through VFIO (see warnings)");
            }
            MsiCapability hostCap = hostEdu.msi();
            String deviceMsi = msi(hostCap.address(), hostCap.data());
            int hostFrom = hostApic.log().size();
            int guestFrom = guestApic.log().size();
            int signals = 0;
            for (int i = 0; i < RAISES; i++) {
                mem.write(PhysAddr.of(bar + EduDevice.REG_IRQ_RAISE), 1L << i, 4);
                for (int round = 0; round < 16; round++) { // the host CPU, then the VMM's main loop (Vmm.runHost)
                    int n = vmm.host().takeInterrupts();
                    int e = vmm.dispatchEvents();
                    signals += e;
                    if (n + e == 0) {
                        break;
                    }
                }
                kernel.takeInterrupts(); // the guest CPU takes what its local APIC received
            }
            List<LocalApicSink.ApicInterrupt> atHost = fromSource(hostApic.log(), hostFrom, hostRid);
            List<LocalApicSink.ApicInterrupt> atGuest = fromSource(guestApic.log(), guestFrom, view.guestRid());
            Integer hostIrte = atHost.isEmpty() || !atHost.get(0).remapped() ? null : atHost.get(0).irteIndex();
            Integer viommuIrte = atGuest.isEmpty() || !atGuest.get(0).remapped() ? null : atGuest.get(0).irteIndex();
            int guestDelivered = 0;
            for (LocalApicSink.ApicInterrupt a : atGuest) {
                if (!a.logical() && a.destination() == guestApicId && a.vector() == vector) {
                    guestDelivered++;
                }
            }
            String problem = null;
            if (handled[0] != RAISES) {
                problem = handled[0] + " of " + RAISES + " interrupts reached the guest's handler";
            }
            return new InterruptSample(dev.hostName(), view.guestBdf(), deviceMsi, hostIrte,
                    atHost.isEmpty() ? null : delivery(atHost.get(0)),
                    "VFIO_DEVICE_SET_IRQS MSI vector 0 eventfd, read by the VMM's main loop (vfio_msi_interrupt)",
                    guestMsi, viommuIrte, atGuest.isEmpty() ? null : delivery(atGuest.get(0)), vector, guestApicId,
                    RAISES, atHost.size(), signals, guestDelivered, handled[0], problem);
        } finally {
            irqs.freeMsi(pd, 0);
            irqs.freeMsiVectors(pd);
        }
    }

    private static InterruptSample failed(VfioPciDevice dev, Guest.AssignedView view, String why) {
        return new InterruptSample(dev.hostName(), view.guestBdf(), null, null, null, null, null, null, null, -1, -1,
                0, 0, 0, 0, 0, why);
    }

    private static List<LocalApicSink.ApicInterrupt> fromSource(List<LocalApicSink.ApicInterrupt> log, int from,
                                                                RequesterId source) {
        return log.subList(from, log.size()).stream().filter(a -> source.equals(a.source())).toList();
    }

    /** Address and data, and which format the address is in. */
    static String msi(long address, int data) {
        return String.format(Locale.ROOT, "address 0x%x data 0x%x (%s)", address, data,
                InterruptRemapping.isRemappable(address)
                        ? "remappable format, handle " + InterruptRemapping.handle(address)
                        : String.format(Locale.ROOT, "compatibility format: APIC %d, vector 0x%02x",
                        (address >>> 12) & 0xff, data & 0xff));
    }

    static String delivery(LocalApicSink.ApicInterrupt a) {
        return String.format(Locale.ROOT, "vector 0x%02x to %s APIC %d, %s", a.vector(),
                a.logical() ? "logical" : "physical", a.destination(), a.levelTriggered() ? "level" : "edge");
    }
}
