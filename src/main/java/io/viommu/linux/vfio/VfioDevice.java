package io.viommu.linux.vfio;

import io.viommu.linux.driver.Drivers;
import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.PciDevice;
import io.viommu.pci.Bar;
import io.viommu.pci.ConfigAccess;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import java.util.UUID;

/**
 * A vfio-pci device file (from {@link VfioGroup#deviceFd}; drivers/vfio/pci/vfio_pci_core.c,
 * vfio_pci_rdwr.c, vfio_pci_config.c): device and region info, {@code pread}/{@code pwrite} of
 * the regions (configuration space and BARs), reset, and the PF's VF token.
 *
 * <p>Region layout as vfio-pci: region i at file offset {@code i << 40}; indexes 0-5 the BARs,
 * 6 the ROM, 7 configuration space, 8 VGA. BAR access reaches the function's registers directly
 * (as the kernel's ioremap of the BAR does), so it works wherever firmware or nobody placed the
 * BAR.
 *
 * <p>Configuration space: reads see the device, except that the BARs read back the value the
 * user wrote masked to the BAR's size (vfio virtualises them: sizing works, the real BAR is
 * never moved). Writes reach the device only in the command register (I/O, memory, bus master,
 * SERR, INTx disable), the status register's write-1-to-clear bits, cache line size, latency
 * timer, interrupt line, and everything from 0x40 up (capabilities); identification, class,
 * header type and the other read-only header fields ignore writes. This is a simplification of
 * vfio_pci_config.c's per-capability permission tables (MSI/MSI-X and PCIe capability fields
 * are virtualised there, passed through here).
 *
 * <p>Opening enables the device ({@code pci_enable_device}: memory and I/O decoding for its
 * BARs); closing restores the command register as it was before, which stops bus mastering.
 */
public final class VfioDevice {
    public static final int FLAGS_RESET = 1 << 0;
    public static final int FLAGS_PCI = 1 << 1;
    /** {@code VFIO_PCI_*_REGION_INDEX}. */
    public static final int BAR0_REGION = 0;
    public static final int ROM_REGION = 6;
    public static final int CONFIG_REGION = 7;
    public static final int VGA_REGION = 8;
    public static final int NUM_REGIONS = 9;
    public static final int NUM_IRQS = 5;
    /** {@code VFIO_PCI_OFFSET_SHIFT}. */
    public static final int OFFSET_SHIFT = 40;

    /** {@code VFIO_PCI_*_IRQ_INDEX}. */
    public static final int INTX_IRQ_INDEX = 0;
    public static final int MSI_IRQ_INDEX = 1;
    public static final int MSIX_IRQ_INDEX = 2;
    public static final int ERR_IRQ_INDEX = 3;
    public static final int REQ_IRQ_INDEX = 4;
    /** {@code VFIO_IRQ_INFO_*}. */
    public static final int IRQ_INFO_EVENTFD = 1 << 0;
    public static final int IRQ_INFO_MASKABLE = 1 << 1;
    public static final int IRQ_INFO_AUTOMASKED = 1 << 2;
    public static final int IRQ_INFO_NORESIZE = 1 << 3;
    /** {@code VFIO_IRQ_SET_*}. */
    public static final int IRQ_SET_DATA_NONE = 1 << 0;
    public static final int IRQ_SET_DATA_BOOL = 1 << 1;
    public static final int IRQ_SET_DATA_EVENTFD = 1 << 2;
    public static final int IRQ_SET_ACTION_MASK = 1 << 3;
    public static final int IRQ_SET_ACTION_UNMASK = 1 << 4;
    public static final int IRQ_SET_ACTION_TRIGGER = 1 << 5;
    public static final int IRQ_SET_DATA_TYPE_MASK = 0x7;
    public static final int IRQ_SET_ACTION_TYPE_MASK = 0x38;

    /** {@code VFIO_DEVICE_GET_INFO}. */
    public record DeviceInfo(int flags, int numRegions, int numIrqs) {
    }

    /** {@code VFIO_DEVICE_GET_IRQ_INFO}. */
    public record IrqInfo(int index, int flags, int count) {
    }

    private final VfioGroup group;
    private final PciDevice dev;
    private final long[] virtualBars = new long[6];
    private final long savedCommand;
    private final VfioPciIntrs intrs;
    private boolean closed;

    VfioDevice(VfioGroup group, PciDevice dev) {
        this.group = group;
        this.dev = dev;
        ConfigAccess cfg = group.vfio().kernel().config();
        savedCommand = cfg.read(dev.rid(), PciRegs.COMMAND, 2);
        PciFunction f = function();
        long enable = 0;
        for (int i = 0; i < 6 && f != null; i++) {
            Bar b = f.bar(i);
            if (b != null) {
                enable |= b.kind() == Bar.Kind.IO ? PciRegs.COMMAND_IO : PciRegs.COMMAND_MEMORY;
                virtualBars[i] = cfg.read(dev.rid(), PciRegs.BAR0 + 4 * i, 4);
            }
        }
        cfg.write(dev.rid(), PciRegs.COMMAND, savedCommand | enable, 2); // pci_enable_device
        group.vfio().kernel().acpiIrqEnable(dev); // pcibios_enable_device -> acpi_pci_irq_enable
        intrs = new VfioPciIntrs(dev, group.vfio().kernel());
        int pin = (int) cfg.read(dev.rid(), PciRegs.INTERRUPT_PIN, 1);
        if (dev.physfn() != null && pin != 0) {
            // vfio_config_init (6.1): a VF must read pin 0 (SR-IOV 1.1 3.4.1.18); QEMU's nvme VFs report 1
            group.vfio().devWarn(dev, "Hardware bug: VF reports bogus INTx pin " + pin);
        }
        group.vfio().deviceOpened(this);
    }

    public PciDevice pciDevice() {
        return dev;
    }

    public String name() {
        return dev.name();
    }

    private PciFunction function() {
        return group.vfio().function(dev);
    }

    private void live() {
        if (closed) {
            throw Errnos.fail(Errno.EBADF, "device file closed");
        }
        if (dev.driver() == null || !dev.driver().name().equals(Drivers.VFIO_PCI)) {
            throw Errnos.fail(Errno.ENODEV, dev.name() + " is no longer bound to vfio-pci");
        }
    }

    /** {@code VFIO_DEVICE_GET_INFO}: PCI, RESET when a reset method exists; 9 regions, 5 IRQ indexes. */
    public DeviceInfo info() {
        live();
        int flags = FLAGS_PCI | (dev.resetMethods().isEmpty() ? 0 : FLAGS_RESET);
        return new DeviceInfo(flags, NUM_REGIONS, NUM_IRQS);
    }

    /**
     * {@code VFIO_DEVICE_GET_IRQ_INFO}: EVENTFD, plus MASKABLE | AUTOMASKED for INTx and NORESIZE
     * for the others; the count is 1 for INTx when the device has a pin (0 for a VF), the MSI
     * capability's vectors, the MSI-X table size (enabling MSI-X is not modelled: -EOPNOTSUPP), 1 for REQ; ERR only for PCIe devices
     * (else -EINVAL, as is an index past the last).
     */
    public IrqInfo irqInfo(int index) {
        live();
        return intrs.info(index);
    }

    /**
     * {@code VFIO_DEVICE_SET_IRQS} ({@link VfioPciIntrs}): {@code data} null for DATA_NONE, a
     * {@code boolean[]} for DATA_BOOL, an {@code EventFd[]} for DATA_EVENTFD (null = fd -1).
     * Returns 0, or for an MSI trigger the vectors the device can give when fewer than asked
     * (QEMU retries with that many).
     */
    public int setIrqs(int flags, int index, int start, int count, Object data) {
        live();
        return intrs.set(flags, index, start, count, data);
    }

    /**
     * {@code VFIO_DEVICE_GET_REGION_INFO}: BARs (size 0 and no flags when absent, MMAP for memory
     * BARs), ROM (no ROM is modelled: size 0), config space (the device's cfg_size), VGA only for
     * VGA devices (else -EINVAL), -EINVAL past the last region.
     */
    public RegionInfo regionInfo(int index) {
        live();
        long offset = (long) index << OFFSET_SHIFT;
        if (index >= 0 && index <= 5) {
            Bar b = bar(index);
            if (b == null) {
                return new RegionInfo(index, 0, 0, offset);
            }
            int flags = RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE | (b.kind() == Bar.Kind.IO ? 0 : RegionInfo.FLAG_MMAP);
            return new RegionInfo(index, flags, b.size(), offset);
        }
        return switch (index) {
            case ROM_REGION -> new RegionInfo(index, 0, 0, offset);
            case CONFIG_REGION -> new RegionInfo(index, RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE, dev.cfgSize(), offset);
            case VGA_REGION -> {
                if ((dev.function().classCode() >> 8) != 0x0300) {
                    throw Errnos.fail(Errno.EINVAL, dev.name() + " is not a VGA device");
                }
                yield new RegionInfo(index, RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE, 0x20000, offset);
            }
            default -> throw Errnos.fail(Errno.EINVAL, "no region " + index);
        };
    }

    private Bar bar(int index) {
        PciFunction f = function();
        return f == null ? null : f.bar(index);
    }

    /** {@code pread(device_fd, len, offset)} of 1, 2, 4 or 8 bytes (config space: up to 4). */
    public long read(long offset, int len) {
        live();
        int index = (int) (offset >>> OFFSET_SHIFT);
        long off = offset & ((1L << OFFSET_SHIFT) - 1);
        checkSize(index, len);
        if (index == CONFIG_REGION) {
            checkRange(off, len, dev.cfgSize());
            return configRead((int) off, len);
        }
        Bar b = barForAccess(index, off, len);
        return b.region().load(off, len);
    }

    /** {@code pwrite(device_fd, value, len, offset)}. */
    public void write(long offset, long value, int len) {
        live();
        int index = (int) (offset >>> OFFSET_SHIFT);
        long off = offset & ((1L << OFFSET_SHIFT) - 1);
        checkSize(index, len);
        if (index == CONFIG_REGION) {
            checkRange(off, len, dev.cfgSize());
            for (int i = 0; i < len; i++) {
                configWriteByte((int) off + i, (value >>> (8 * i)) & 0xff);
            }
            return;
        }
        Bar b = barForAccess(index, off, len);
        b.region().store(off, value, len);
    }

    /**
     * {@code mmap(device_fd, size, offset of region index)} of a BAR whose region info has
     * {@code FLAG_MMAP}: the user's loads and stores reach the BAR's registers directly, with no
     * system call per access (what QEMU's vfio_region_mmap gives the VM). -EINVAL for a region
     * that cannot be mapped. An access after the device file is closed, or the device left
     * vfio-pci, reads as all ones and is dropped (the mapping was zapped: SIGBUS in Linux, an
     * error the VMM cannot report to the guest).
     */
    public io.viommu.memory.Mmio mmap(int index) {
        live();
        RegionInfo info = regionInfo(index);
        if ((info.flags() & RegionInfo.FLAG_MMAP) == 0) {
            throw Errnos.fail(Errno.EINVAL, "region " + index + " cannot be mmap'ed");
        }
        Bar b = barForAccess(index, 0, 1);
        return new io.viommu.memory.Mmio() {
            @Override
            public long load(long offset, int size) {
                if (closed || offset < 0 || offset + size > b.size()) {
                    return size == 8 ? -1L : (1L << (8 * size)) - 1;
                }
                return b.region().load(offset, size);
            }

            @Override
            public void store(long offset, long value, int size) {
                if (!closed && offset >= 0 && offset + size <= b.size()) {
                    b.region().store(offset, value, size);
                }
            }
        };
    }

    private static void checkSize(int index, int len) {
        int max = index == CONFIG_REGION ? 4 : 8;
        if (len != 1 && len != 2 && len != 4 && len != 8 || len > max) {
            throw Errnos.fail(Errno.EINVAL, "access size " + len);
        }
    }

    private static void checkRange(long off, int len, long size) {
        if (off < 0 || off + len > size) {
            throw Errnos.fail(Errno.EINVAL, String.format("offset %#x+%d beyond region of %#x", off, len, size));
        }
    }

    private Bar barForAccess(int index, long off, int len) {
        if (index < 0 || index > 5) {
            throw Errnos.fail(Errno.EINVAL, "region " + index + " is not readable here");
        }
        Bar b = bar(index);
        if (b == null || b.region() == null) {
            throw Errnos.fail(Errno.EINVAL, "BAR " + index + " is not implemented");
        }
        checkRange(off, len, b.size());
        return b;
    }

    private long configRead(int off, int len) {
        long v = 0;
        ConfigAccess cfg = group.vfio().kernel().config();
        for (int i = 0; i < len; i++) {
            int o = off + i;
            long b;
            if (o >= PciRegs.BAR0 && o < PciRegs.BAR0 + 24) {
                b = (virtualBarValue((o - PciRegs.BAR0) / 4) >>> (8 * ((o - PciRegs.BAR0) % 4))) & 0xff;
            } else if (o < 4 && dev.physfn() != null) {
                // vfio_config_init (6.1 vfio_pci_config.c): a VF's vendor and device ids, which read
                // 0xffff on the hardware, are virtualised from pdev->vendor / pdev->device
                long ids = dev.function().vendorId() | (long) dev.function().deviceId() << 16;
                b = (ids >>> (8 * o)) & 0xff;
            } else if (o == PciRegs.INTERRUPT_PIN && dev.physfn() != null) {
                b = 0; // vfio_config_init: vconfig[PCI_INTERRUPT_PIN] = 0 for a VF ("Gratuitous for good VFs")
            } else if (o == PciRegs.COMMAND + 1) {
                // INTx disable (bit 10) is the user's virtual bit; the physical one is vfio's mask
                b = cfg.read(dev.rid(), o, 1) & ~(PciRegs.COMMAND_INTX_DISABLE >>> 8)
                        | (intrs.virqDisabled() ? PciRegs.COMMAND_INTX_DISABLE >>> 8 : 0);
            } else if (intrs.msiVirtual(o)) {
                b = intrs.readMsiByte(o);
            } else {
                b = cfg.read(dev.rid(), o, 1);
            }
            v |= b << (8 * i);
        }
        return v;
    }

    /** vfio_bar_fixup: the user's value masked to the BAR's size, with the type bits. */
    private long virtualBarValue(int i) {
        Bar b = bar(i);
        if (b == null) {
            // the upper half of a 64-bit BAR: size mask of the high dword
            Bar low = i > 0 ? bar(i - 1) : null;
            if (low != null && low.kind() == Bar.Kind.MEMORY64) {
                long mask = ~(low.size() - 1) >>> 32;
                return virtualBars[i] & mask & 0xffff_ffffL;
            }
            return 0;
        }
        long mask = ~(b.size() - 1) & 0xffff_ffffL;
        return (virtualBars[i] & mask & ~0xfL) | b.typeBits();
    }

    private void configWriteByte(int o, long v) {
        ConfigAccess cfg = group.vfio().kernel().config();
        if (o >= PciRegs.BAR0 && o < PciRegs.BAR0 + 24) {
            int i = (o - PciRegs.BAR0) / 4;
            int shift = 8 * ((o - PciRegs.BAR0) % 4);
            virtualBars[i] = (virtualBars[i] & ~(0xffL << shift)) | (v << shift);
            return;
        }
        if (o == PciRegs.COMMAND || o == PciRegs.COMMAND + 1) {
            long mask = (PciRegs.COMMAND_WRITABLE >>> (8 * (o - PciRegs.COMMAND))) & 0xff;
            if (o == PciRegs.COMMAND + 1) {
                mask &= ~(PciRegs.COMMAND_INTX_DISABLE >>> 8); // virtual: vfio_basic_config_write
            }
            long cur = cfg.read(dev.rid(), o, 1);
            cfg.write(dev.rid(), o, (cur & ~mask) | (v & mask), 1);
            if (o == PciRegs.COMMAND + 1) {
                intrs.setVirtualIntxDisable((v & (PciRegs.COMMAND_INTX_DISABLE >>> 8)) != 0);
            }
            return;
        }
        if (intrs.msiVirtual(o)) {
            intrs.writeMsiByte(o, (int) v);
            return;
        }
        if (o == PciRegs.STATUS || o == PciRegs.STATUS + 1) {
            long w1c = (PciRegs.STATUS_W1C >>> (8 * (o - PciRegs.STATUS))) & 0xff;
            cfg.write(dev.rid(), o, v & w1c, 1);
            return;
        }
        if (o == PciRegs.CACHE_LINE_SIZE || o == PciRegs.LATENCY_TIMER || o == PciRegs.INTERRUPT_LINE || o >= 0x40) {
            cfg.write(dev.rid(), o, v, 1);
        }
        // identification, class, header type, BIST, subsystem ids, ROM BAR, pin: read-only here
    }

    /** {@code VFIO_DEVICE_RESET}: -EINVAL without a reset method, else pci_try_reset_function's result. */
    public void reset() {
        live();
        if (dev.resetMethods().isEmpty()) {
            throw Errnos.fail(Errno.EINVAL, dev.name() + " has no reset method");
        }
        Errnos.check(group.vfio().kernel().resetFunction(dev), "reset of " + dev.name());
    }

    /**
     * {@code VFIO_DEVICE_FEATURE(SET | PCI_VF_TOKEN)}: sets the PF's VF token; -ENOTTY for a
     * device that is not an SR-IOV PF (no token), -EINVAL for a VF.
     */
    public void setVfToken(UUID token) {
        live();
        if (dev.isVirtfn()) {
            throw Errnos.fail(Errno.EINVAL, "a VF has no VF token");
        }
        if (dev.sriov() == null) {
            throw Errnos.fail(Errno.ENOTTY, dev.name() + " is not an SR-IOV PF");
        }
        group.vfio().setVfToken(dev, token);
    }

    /** {@code close(device_fd)}: disables the device again and drops the group reference. */
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        intrs.disableAll(); // vfio_pci_core_disable: SET_IRQS(DATA_NONE | TRIGGER, irq_type, 0, 0)
        group.vfio().kernel().config().write(dev.rid(), PciRegs.COMMAND, savedCommand, 2);
        group.vfio().deviceClosed(this);
        group.deviceClosed(this);
    }

    public boolean isOpen() {
        return !closed;
    }

    @Override
    public String toString() {
        return "vfio device " + dev.name();
    }
}
