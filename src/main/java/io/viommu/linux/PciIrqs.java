package io.viommu.linux;

import io.viommu.linux.driver.DriverCore;
import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.IrqCore;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.iommu.IntelIommuDriver;
import io.viommu.pci.ConfigAccess;
import io.viommu.pci.MsiAddress;
import io.viommu.memory.Mmio;
import io.viommu.pci.MsiCapability;
import io.viommu.pci.MsixCapability;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The kernel's interrupt core for PCI drivers ({@link IrqCore}): legacy lines through the
 * boot CPU's {@link Interrupts}, and MSI vectors (drivers/pci/msi/msi.c msi_capability_init,
 * arch/x86 vector allocation, drivers/iommu/intel/irq_remapping.c).
 *
 * <p>An MSI vector is a CPU vector on the boot CPU (physical destination, fixed delivery,
 * edge). Without interrupt remapping the device's MSI capability gets the compatibility format
 * (address 0xFEE00000 | APIC id << 12, data = the vector); with it (the intel-iommu driver
 * enabled IRE) the vectors get IRTEs and the capability the remappable format (address
 * 0xFEE00000 | handle[14:0] << 5 | format | SHV | handle[15] << 2, data = subhandle 0), so the
 * device's message goes through the host unit's IRTE to the CPU. Multiple vectors are a
 * naturally aligned block (the device puts the vector number in the data's low bits). Vectors
 * are the lowest free ones from 0x21; Linux's matrix allocator spreads them differently (the
 * numbers are seen nowhere outside the kernel).
 */
final class PciIrqs implements IrqCore {
    private static final int FIRST_VECTOR = 0x21;
    private static final int LAST_VECTOR = 0xeb; // FIRST_SYSTEM_VECTOR - 1

    /** One device's MSI block (its msi_desc). */
    private record MsiBlock(int vector, int count, int irte, int capability) {
    }

    private final DriverCore drivers;
    private final ConfigAccess cfg;
    private final Interrupts cpu;
    private final int apicId;
    private final Supplier<IntelIommuDriver> iommu;
    /** One device's MSI-X vectors: a CPU vector and (under remapping) an IRTE per table entry. */
    private record MsixBlock(int[] vectors, int[] irtes, int capability, Mmio table) {
    }

    private final Map<String, MsiBlock> msi = new HashMap<>();
    private final Map<String, MsixBlock> msix = new HashMap<>();
    private final Function<PciDevice, PciFunction> hardware;

    PciIrqs(DriverCore drivers, ConfigAccess cfg, Interrupts cpu, int apicId, Supplier<IntelIommuDriver> iommu,
            Function<PciDevice, PciFunction> hardware) {
        this.drivers = drivers;
        this.cfg = cfg;
        this.cpu = cpu;
        this.apicId = apicId;
        this.iommu = iommu;
        this.hardware = hardware;
    }

    @Override
    public int legacyIrq(PciDevice dev) {
        return drivers.legacyGsi(dev);
    }

    /** An I/O APIC pin set up under interrupt remapping: its vector, IRTE and actions. */
    private record IoapicPin(int vector, int irte, Map<Object, java.util.function.BooleanSupplier> actions) {
    }

    private final Map<Integer, IoapicPin> pins = new HashMap<>();

    /**
     * request_irq on a legacy line. With interrupt remapping the first action sets the pin up as
     * Linux's IR I/O APIC domain does (mp_irqdomain_alloc + intel_irq_remapping_alloc, then
     * ioapic_configure_entry at startup): a CPU vector, an IRTE for it with the I/O APIC's source
     * id ({@link IntelIommuDriver#allocateIoapicIrte}), and the pin's redirection entry in
     * remappable format (index in bits 63:49 and 11, format bit 48, the pin as its vector field,
     * level-triggered, unmasked); the vector's handler runs the line's actions
     * (handle_fasteoi_irq) and the EOI goes to the I/O APIC with the pin (ioapic_ack_level's
     * directed EOI). Without it the line is served by level ({@link Interrupts#requestLine}).
     */
    @Override
    public void requestLine(int irq, Object owner, java.util.function.BooleanSupplier handler) {
        IoapicPin pin = pins.get(irq);
        IntelIommuDriver ir = iommu.get();
        if (pin == null && ir != null && ir.hasInterruptRemapping()
                && irq >= 0 && irq < io.viommu.machine.PlatformInterrupts.IOAPIC_PINS) {
            int vector = freeVectors(1);
            int irte = vector < 0 ? -1 : ir.allocateIoapicIrte(vector, apicId, IOAPIC_SID);
            if (irte >= 0) {
                pin = new IoapicPin(vector, irte, new java.util.LinkedHashMap<>());
                pins.put(irq, pin);
                Map<Object, java.util.function.BooleanSupplier> actions = pin.actions();
                io.viommu.machine.PlatformInterrupts platform = cpu.platform();
                cpu.request(vector, () -> {
                    for (java.util.function.BooleanSupplier a : java.util.List.copyOf(actions.values())) {
                        a.getAsBoolean();
                    }
                    cpu.deferEoi(() -> platform.eoi(irq));
                });
                pin.actions().put(owner, handler);
                platform.writeRedirection(irq, ioapicEntry(irq, irte));
                return;
            }
        }
        if (pin != null) {
            pin.actions().put(owner, handler);
            return;
        }
        cpu.requestLine(irq, owner, handler);
    }

    /** The I/O APIC's requester id in the DMAR table's I/O APIC scope (QEMU's q35: bus 0xFF, 00.0). */
    static final int IOAPIC_SID = io.viommu.machine.acpi.DmarTable.IOAPIC_BUS << 8
            | io.viommu.machine.acpi.DmarTable.IOAPIC_DEVFN;

    /** A remappable-format redirection entry for {@code pin} pointing at IRTE {@code irte}. */
    static long ioapicEntry(int pin, int irte) {
        return (long) (irte & 0x7fff) << 49 | io.viommu.machine.PlatformInterrupts.RTE_REMAPPABLE
                | (long) ((irte >>> 15) & 1) << 11 | io.viommu.machine.PlatformInterrupts.RTE_LEVEL | (pin & 0xff);
    }

    @Override
    public void freeLine(int irq, Object owner) {
        IoapicPin pin = pins.get(irq);
        if (pin == null) {
            cpu.freeLine(irq, owner);
            return;
        }
        pin.actions().remove(owner);
        if (pin.actions().isEmpty()) {
            // the last action gone: the pin masked, its IRTE and vector freed
            cpu.platform().writeRedirection(irq, io.viommu.machine.PlatformInterrupts.RTE_MASKED);
            IntelIommuDriver ir = iommu.get();
            if (ir != null) {
                ir.freeIrtes(pin.irte(), 1);
            }
            cpu.free(pin.vector());
            pins.remove(irq);
        }
    }

    /** The redirection entry and IRTE index of a legacy line set up under interrupt remapping, or -1. */
    int ioapicIrte(int irq) {
        IoapicPin pin = pins.get(irq);
        return pin == null ? -1 : pin.irte();
    }

    @Override
    public int allocMsiVectors(PciDevice dev, int nvec) {
        if (msi.containsKey(dev.name()) || msix.containsKey(dev.name())) {
            return Errno.EINVAL.negative(); // already enabled (pci_msi_enabled)
        }
        int cap = drivers.findCapability(dev, PciRegs.CAP_ID_MSI);
        if (cap == 0 || nvec < 1) {
            return Errno.EINVAL.negative();
        }
        int control = (int) cfg.read(dev.rid(), cap + MsiCapability.CONTROL, 2);
        int offered = 1 << ((control >>> 1) & 7); // Multiple Message Capable
        int count = Integer.highestOneBit(Math.min(nvec, offered));
        int vector = freeVectors(count);
        if (vector < 0) {
            return Errno.ENOSPC.negative();
        }
        long address;
        int data;
        int irte = -1;
        IntelIommuDriver ir = iommu.get();
        if (ir != null && ir.hasInterruptRemapping()) {
            irte = ir.allocateMsiIrtes(dev.rid(), vector, apicId, count);
            if (irte < 0) {
                return Errno.ENOSPC.negative();
            }
            address = MsiAddress.FIRST | (long) (irte & 0x7fff) << 5 | 1L << 4 | 1L << 3 | (long) ((irte >>> 15) & 1) << 2;
            data = 0;
        } else {
            address = MsiAddress.FIRST | (long) (apicId & 0xff) << 12;
            data = vector;
        }
        boolean is64 = (control & MsiCapability.CONTROL_64BIT) != 0;
        // msi_capability_init: disabled while it is set up, message written, MME, enabled,
        // then pci_intx_for_msi(dev, 0): INTx disabled
        cfg.write(dev.rid(), cap + MsiCapability.CONTROL, control & ~MsiCapability.CONTROL_ENABLE, 2);
        cfg.write(dev.rid(), cap + MsiCapability.ADDRESS_LO, address & 0xffff_ffffL, 4);
        if (is64) {
            cfg.write(dev.rid(), cap + MsiCapability.ADDRESS_HI, address >>> 32, 4);
        }
        cfg.write(dev.rid(), cap + (is64 ? 0x0c : 0x08), data, 2);
        int mme = Integer.numberOfTrailingZeros(count) << 4;
        cfg.write(dev.rid(), cap + MsiCapability.CONTROL, (control & ~0x70) | mme | MsiCapability.CONTROL_ENABLE, 2);
        intx(dev, false);
        msi.put(dev.name(), new MsiBlock(vector, count, irte, cap));
        return count;
    }

    /**
     * msix_capability_init (drivers/pci/msi/msi.c): enabled with the function mask while it is
     * set up, all entries masked (msix_mask_all), each vector's message written
     * (__pci_write_msi_msg), INTx disabled, the function mask cleared. The table is written
     * through the function's BAR (the kernel's ioremap of it).
     */
    @Override
    public int allocMsixVectors(PciDevice dev, int nvec) {
        if (msi.containsKey(dev.name()) || msix.containsKey(dev.name())) {
            return Errno.EINVAL.negative();
        }
        int cap = drivers.findCapability(dev, PciRegs.CAP_ID_MSIX);
        PciFunction f = hardware.apply(dev);
        if (cap == 0 || nvec < 1 || f == null) {
            return Errno.EINVAL.negative();
        }
        int control = (int) cfg.read(dev.rid(), cap + MsixCapability.CONTROL, 2);
        int tableSize = MsixCapability.vectors(control);
        long tableReg = cfg.read(dev.rid(), cap + MsixCapability.TABLE, 4);
        io.viommu.pci.Bar bar = f.bar((int) (tableReg & 7));
        if (f.msix() == null || bar == null || bar.region() == null) {
            // the device model declares the capability but decodes no table (the igb PF,
            // virtio): it could deliver no vector, so the model refuses what Linux would do
            return Errno.EOPNOTSUPP.negative();
        }
        long tableOffset = tableReg & ~7L;
        Mmio table = new Mmio() {
            @Override
            public long load(long offset, int size) {
                return bar.region().load(tableOffset + offset, size);
            }

            @Override
            public void store(long offset, long value, int size) {
                bar.region().store(tableOffset + offset, value, size);
            }
        };
        int count = Math.min(nvec, tableSize);
        int[] vectors = new int[count];
        int[] irtes = new int[count];
        java.util.Arrays.fill(irtes, -1);
        IntelIommuDriver ir = iommu.get();
        boolean remap = ir != null && ir.hasInterruptRemapping();
        for (int i = 0; i < count; i++) {
            int v = freeVectorExcept(vectors, i);
            int irte = v < 0 ? -1 : remap ? ir.allocateMsiIrtes(dev.rid(), v, apicId, 1) : 0;
            if (v < 0 || irte < 0) {
                for (int j = 0; j < i; j++) {
                    if (irtes[j] >= 0) {
                        ir.freeIrtes(irtes[j], 1);
                    }
                }
                return Errno.ENOSPC.negative();
            }
            vectors[i] = v;
            irtes[i] = remap ? irte : -1;
        }
        int base = control & ~(MsixCapability.CONTROL_ENABLE | MsixCapability.CONTROL_MASKALL);
        cfg.write(dev.rid(), cap + MsixCapability.CONTROL, base | MsixCapability.CONTROL_ENABLE | MsixCapability.CONTROL_MASKALL, 2);
        for (int e = 0; e < tableSize; e++) {
            table.store(16L * e + 12, 1, 4); // msix_mask_all
        }
        for (int i = 0; i < count; i++) {
            long address;
            int data;
            if (irtes[i] >= 0) {
                address = MsiAddress.FIRST | (long) (irtes[i] & 0x7fff) << 5 | 1L << 4 | (long) ((irtes[i] >>> 15) & 1) << 2;
                data = 0;
            } else {
                address = MsiAddress.FIRST | (long) (apicId & 0xff) << 12;
                data = vectors[i];
            }
            table.store(16L * i, address & 0xffff_ffffL, 4);
            table.store(16L * i + 4, address >>> 32, 4);
            table.store(16L * i + 8, data & 0xffff_ffffL, 4);
        }
        intx(dev, false);
        cfg.write(dev.rid(), cap + MsixCapability.CONTROL, base | MsixCapability.CONTROL_ENABLE, 2);
        msix.put(dev.name(), new MsixBlock(vectors, irtes, cap, table));
        return count;
    }

    private int freeVectorExcept(int[] taken, int n) {
        for (int v = FIRST_VECTOR; v <= LAST_VECTOR; v++) {
            boolean free = !cpu.vectorInUse(v) && !reserved(v);
            for (int j = 0; j < n && free; j++) {
                free = taken[j] != v;
            }
            if (free) {
                return v;
            }
        }
        return -1;
    }

    /** pci_intx: the command register's INTx disable bit (enable = clear it). */
    private void intx(PciDevice dev, boolean enable) {
        long cmd = cfg.read(dev.rid(), PciRegs.COMMAND, 2);
        long next = enable ? cmd & ~PciRegs.COMMAND_INTX_DISABLE : cmd | PciRegs.COMMAND_INTX_DISABLE;
        if (next != cmd) {
            cfg.write(dev.rid(), PciRegs.COMMAND, next, 2);
        }
    }

    /** The lowest free, naturally aligned block of {@code count} vectors, or -1. */
    private int freeVectors(int count) {
        int start = (FIRST_VECTOR + count - 1) & -count;
        for (int v = start; v + count - 1 <= LAST_VECTOR; v += count) {
            boolean free = true;
            for (int i = v; i < v + count && free; i++) {
                free = !cpu.vectorInUse(i) && !reserved(i);
            }
            if (free) {
                return v;
            }
        }
        return -1;
    }

    private boolean reserved(int vector) {
        for (MsiBlock b : msi.values()) {
            if (vector >= b.vector() && vector < b.vector() + b.count()) {
                return true;
            }
        }
        for (MsixBlock b : msix.values()) {
            for (int v : b.vectors()) {
                if (v == vector) {
                    return true;
                }
            }
        }
        return false;
    }

    @Override
    public int requestMsi(PciDevice dev, int index, Runnable handler) {
        MsixBlock x = msix.get(dev.name());
        if (x != null) {
            if (index < 0 || index >= x.vectors().length) {
                return Errno.EINVAL.negative();
            }
            cpu.request(x.vectors()[index], handler);
            x.table().store(16L * index + 12, 0, 4); // irq_startup: pci_msix_unmask
            return 0;
        }
        MsiBlock b = msi.get(dev.name());
        if (b == null || index < 0 || index >= b.count()) {
            return Errno.EINVAL.negative();
        }
        cpu.request(b.vector() + index, handler);
        return 0;
    }

    @Override
    public void freeMsi(PciDevice dev, int index) {
        MsixBlock x = msix.get(dev.name());
        if (x != null && index >= 0 && index < x.vectors().length) {
            x.table().store(16L * index + 12, 1, 4); // irq_shutdown: pci_msix_mask
            cpu.free(x.vectors()[index]);
            return;
        }
        MsiBlock b = msi.get(dev.name());
        if (b != null && index >= 0 && index < b.count()) {
            cpu.free(b.vector() + index);
        }
    }

    @Override
    public void freeMsiVectors(PciDevice dev) {
        MsixBlock x = msix.remove(dev.name());
        if (x != null) {
            // pci_msix_shutdown: every vector masked, MSI-X disabled, INTx back; the IRTEs freed
            for (int i = 0; i < x.vectors().length; i++) {
                x.table().store(16L * i + 12, 1, 4);
                cpu.free(x.vectors()[i]);
            }
            long control = cfg.read(dev.rid(), x.capability() + MsixCapability.CONTROL, 2);
            cfg.write(dev.rid(), x.capability() + MsixCapability.CONTROL, control & ~MsixCapability.CONTROL_ENABLE, 2);
            intx(dev, true);
            for (int irte : x.irtes()) {
                if (irte >= 0 && iommu.get() != null) {
                    iommu.get().freeIrtes(irte, 1);
                }
            }
            return;
        }
        MsiBlock b = msi.remove(dev.name());
        if (b == null) {
            return;
        }
        for (int i = 0; i < b.count(); i++) {
            cpu.free(b.vector() + i);
        }
        // pci_msi_shutdown: MSI disabled, then pci_intx_for_msi(dev, 1)
        long control = cfg.read(dev.rid(), b.capability() + MsiCapability.CONTROL, 2);
        cfg.write(dev.rid(), b.capability() + MsiCapability.CONTROL, control & ~(MsiCapability.CONTROL_ENABLE | 0x70), 2);
        intx(dev, true);
        if (b.irte() >= 0 && iommu.get() != null) {
            iommu.get().freeIrtes(b.irte(), b.count());
        }
    }

    @Override
    public int msiCpuVector(PciDevice dev, int index) {
        MsiBlock b = msi.get(dev.name());
        return b == null || index < 0 || index >= b.count() ? -1 : b.vector() + index;
    }

    /** The first vector of the device's MSI block, or -1 (tests). */
    int msiVector(PciDevice dev) {
        MsiBlock b = msi.get(dev.name());
        return b == null ? -1 : b.vector();
    }
}
