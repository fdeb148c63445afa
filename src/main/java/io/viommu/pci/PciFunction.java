package io.viommu.pci;

import io.viommu.memory.Mmio;

/**
 * One PCI function as a guest and its bus see it: configuration space with QEMU's default
 * masks, BARs, INTx pin, an optional MSI capability, and its {@link DmaPort}. Device models
 * extend it and declare their own registers in the constructor.
 *
 * <p>Defaults follow QEMU's {@code pci_qdev_realize}/{@code pci_init_wmask}: command bits
 * IO, MEMORY, MASTER, SERR and INTX_DISABLE writable; status error bits W1C; cache line size
 * and interrupt line writable; every byte from 0x40 to the end writable until a capability
 * or device register says otherwise; subsystem 1af4:1100 (Red Hat / QEMU).
 */
public class PciFunction {
    /** Receives a function's INTx level changes (the platform routes pins to interrupt lines). */
    @FunctionalInterface
    public interface IntxLine {
        void set(PciFunction function, boolean level);
    }

    public static final int SUBSYSTEM_VENDOR_QEMU = 0x1af4;
    public static final int SUBSYSTEM_QEMU = 0x1100;

    private final String typeName;
    protected final ConfigSpace config;
    private final Bar[] bars = new Bar[6];
    private MsiCapability msi;
    private int nextCapability = PciRegs.HEADER_SIZE;
    private String id;
    private RequesterId address;
    private IntxLine intxLine = (f, level) -> { };
    private MsiSink msiSink = (a, d, s) -> { };
    private DmaPort dma;
    private boolean intxLevel;

    /**
     * @param classCode  class 23:16, subclass 15:8, programming interface 7:0
     */
    protected PciFunction(String typeName, int vendorId, int deviceId, int classCode, int revision,
                          boolean multiFunction, int configSize) {
        this.typeName = typeName;
        this.config = new ConfigSpace(configSize);
        config.define(PciRegs.VENDOR_ID, 2, vendorId, 0, 0);
        config.define(PciRegs.DEVICE_ID, 2, deviceId, 0, 0);
        config.define(PciRegs.COMMAND, 2, 0, PciRegs.COMMAND_WRITABLE, 0);
        config.define(PciRegs.STATUS, 2, 0, 0, PciRegs.STATUS_W1C);
        config.define(PciRegs.REVISION_ID, 1, revision, 0, 0);
        config.define(PciRegs.CLASS_PROG, 3, classCode, 0, 0);
        config.define(PciRegs.CACHE_LINE_SIZE, 1, 0, 0xff, 0);
        config.define(PciRegs.HEADER_TYPE, 1, multiFunction ? PciRegs.HEADER_TYPE_MULTI_FUNCTION : 0, 0, 0);
        config.define(PciRegs.SUBSYSTEM_VENDOR_ID, 2, SUBSYSTEM_VENDOR_QEMU, 0, 0);
        config.define(PciRegs.SUBSYSTEM_ID, 2, SUBSYSTEM_QEMU, 0, 0);
        config.define(PciRegs.INTERRUPT_LINE, 1, 0, 0xff, 0);
        config.fillWriteMask(PciRegs.HEADER_SIZE, configSize, 0xff);
    }

    /** The QEMU device type name ({@code edu}, {@code mch}, {@code ICH9-LPC}). */
    public String typeName() {
        return typeName;
    }

    /** The {@code id=} given on the command line, or null. */
    public String id() {
        return id;
    }

    public void setId(String id) {
        this.id = id;
    }

    /** Bus/device/function once plugged, else null. */
    public RequesterId address() {
        return address;
    }

    public ConfigSpace configSpace() {
        return config;
    }

    /** Called by the bus when the function is plugged. */
    void plugged(RequesterId at, IntxLine line) {
        this.address = at;
        this.intxLine = line;
    }

    /** Wires the function's bus-master path: its DMA port and where its MSIs go. */
    public void connect(DmaPort port, MsiSink msis) {
        this.dma = port;
        this.msiSink = msis;
    }

    public DmaPort dma() {
        return dma;
    }

    public boolean isMultiFunction() {
        return (config.get(PciRegs.HEADER_TYPE, 1) & PciRegs.HEADER_TYPE_MULTI_FUNCTION) != 0;
    }

    // ---- declaration helpers for device models ----

    protected final void setInterruptPin(int pin) {
        config.define(PciRegs.INTERRUPT_PIN, 1, pin, 0, 0);
    }

    /** Registers a BAR as QEMU's {@code pci_register_bar}: write mask ~(size-1), type bits read-only. */
    protected final void registerBar(int index, Bar.Kind kind, long size, boolean prefetch,
                                     Mmio region, AccessRules rules) {
        Bar bar = new Bar(index, kind, size, prefetch, region, rules);
        long wmask = -size;
        if (kind == Bar.Kind.MEMORY64) {
            config.define(bar.configOffset(), 4, bar.typeBits(), wmask & 0xffff_ffffL, 0);
            config.define(bar.configOffset() + 4, 4, 0, wmask >>> 32, 0);
        } else {
            config.define(bar.configOffset(), 4, bar.typeBits(), wmask & 0xffff_ffffL, 0);
        }
        bars[index] = bar;
    }

    /** Allocates {@code len} bytes for a capability at the next free offset and links it in. */
    protected final int addCapability(int offset, int len) {
        int prevLink = PciRegs.CAPABILITY_LIST;
        int cur = (int) config.get(PciRegs.CAPABILITY_LIST, 1);
        while (cur != 0) {
            prevLink = cur + 1;
            cur = (int) config.get(cur + 1, 1);
        }
        config.define(prevLink, 1, offset, 0, 0);
        config.set(PciRegs.STATUS, 2, config.get(PciRegs.STATUS, 2) | PciRegs.STATUS_CAP_LIST);
        nextCapability = Math.max(nextCapability, offset + len);
        return offset;
    }

    /** Adds a one-vector MSI capability (QEMU {@code msi_init(dev, 0, 1, msi64, false)}). */
    protected final MsiCapability addMsi(int offset, boolean is64) {
        addCapability(offset, MsiCapability.length(is64));
        msi = new MsiCapability(config, offset, is64);
        return msi;
    }

    public MsiCapability msi() {
        return msi;
    }

    // ---- guest view ----

    /** A configuration read of 1, 2 or 4 bytes at any offset (0xff past the space). */
    public long configRead(int offset, int len) {
        return config.read(offset, len);
    }

    /** A configuration write through the masks, then the side effects of what changed. */
    public void configWrite(int offset, long value, int len) {
        int oldCommand = command();
        boolean oldMsi = msi != null && msi.enabled();
        config.write(offset, value, len);
        int newCommand = command();
        if (((oldCommand ^ newCommand) & PciRegs.COMMAND_INTX_DISABLE) != 0 && intxLevel) {
            // QEMU pci_update_irq_disabled: a pending INTx follows the disable bit.
            intxLine.set(this, (newCommand & PciRegs.COMMAND_INTX_DISABLE) == 0);
        }
        if (msi != null && !oldMsi && msi.enabled()) {
            // QEMU msi_write_config: enabling MSI deasserts INTx.
            setIntx(false);
        }
        afterConfigWrite(offset, len);
    }

    /** Hook for device registers with side effects (e.g. the MCH's PCIEXBAR). */
    protected void afterConfigWrite(int offset, int len) {
    }

    public int command() {
        return (int) config.get(PciRegs.COMMAND, 2);
    }

    public boolean memoryDecodeEnabled() {
        return (command() & PciRegs.COMMAND_MEMORY) != 0;
    }

    public boolean busMasterEnabled() {
        return (command() & PciRegs.COMMAND_MASTER) != 0;
    }

    public Bar bar(int index) {
        return index >= 0 && index < 6 ? bars[index] : null;
    }

    /** Where BAR {@code index} decodes now, or {@link Bar#UNMAPPED}. */
    public long barAddress(int index) {
        Bar bar = bar(index);
        if (bar == null) {
            return Bar.UNMAPPED;
        }
        long raw = config.get(bar.configOffset(), 4);
        if (bar.kind() == Bar.Kind.MEMORY64) {
            raw |= config.get(bar.configOffset() + 4, 4) << 32;
        }
        return Bar.decode(bar.kind(), bar.size(), raw, command());
    }

    // ---- interrupts ----

    /**
     * Drives the function's INTx pin (QEMU {@code pci_set_irq}): the status register's
     * interrupt bit follows the pin; the line is asserted only while INTx is not disabled.
     */
    public void setIntx(boolean level) {
        if (level == intxLevel) {
            return;
        }
        intxLevel = level;
        long status = config.get(PciRegs.STATUS, 2);
        config.set(PciRegs.STATUS, 2, level ? status | PciRegs.STATUS_INTERRUPT
                : status & ~PciRegs.STATUS_INTERRUPT);
        if ((command() & PciRegs.COMMAND_INTX_DISABLE) == 0) {
            intxLine.set(this, level);
        }
    }

    public boolean intxLevel() {
        return intxLevel;
    }

    public int interruptPin() {
        return (int) config.get(PciRegs.INTERRUPT_PIN, 1);
    }

    public boolean msiEnabled() {
        return msi != null && msi.enabled();
    }

    /**
     * Sends the MSI message (QEMU {@code msi_notify}): a DWORD write that travels the
     * bus-master path, so it is dropped while bus mastering is off.
     */
    public void msiNotify() {
        if (msi == null || !msi.enabled() || !busMasterEnabled()) {
            return;
        }
        msiSink.deliver(msi.address(), msi.data(), address);
    }

    @Override
    public String toString() {
        return typeName + (id == null ? "" : ",id=" + id) + (address == null ? "" : " @" + address);
    }
}
