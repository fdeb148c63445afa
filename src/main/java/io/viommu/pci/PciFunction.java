package io.viommu.pci;

import io.viommu.memory.Mmio;
import java.util.ArrayList;
import java.util.List;

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
    private MsixTable msix;
    private int nextCapability = PciRegs.HEADER_SIZE;
    private String id;
    private PciBus bus;
    private int devfn = -1;
    private SriovCapability sriov;
    private java.util.Map<String, String> properties = java.util.Map.of();
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

    /** The {@code -device} properties as given on the command line (read-only), without id. */
    public java.util.Map<String, String> properties() {
        return properties;
    }

    public void setProperties(java.util.Map<String, String> props) {
        this.properties = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(props));
    }

    /**
     * Bus/device/function once plugged, else null. The bus part is the bus's current number: a
     * function behind a bridge changes its requester id when firmware renumbers the bridge.
     */
    public RequesterId address() {
        return bus == null ? null : RequesterId.of(bus.busNumber(), devfn);
    }

    /** The bus the function sits on, or null before it is plugged. */
    public PciBus bus() {
        return bus;
    }

    /** The requester id the IOMMU sees on this function's DMA and MSIs: its {@link DmaAlias}. */
    public RequesterId dmaRequester() {
        return bus == null ? address() : DmaAlias.of(bus, devfn).rid();
    }

    /** Device/function number on its bus, or -1 before it is plugged. */
    public int devfn() {
        return devfn;
    }

    public ConfigSpace configSpace() {
        return config;
    }

    /** Called by the bus when the function is plugged. */
    void plugged(PciBus on, int at, IntxLine line) {
        this.bus = on;
        this.devfn = at;
        this.intxLine = line;
    }

    /** Plugs the function alone on a bus of its own at {@code at} (unit tests of a single function). */
    void plugged(RequesterId at, IntxLine line) {
        plugged(new PciBus("detached", at.bus(), line), at.devfn(), line);
    }

    /** Called by the bus when the function goes away (a VF whose PF disabled it). */
    void unplugged() {
        this.bus = null;
        this.devfn = -1;
    }

    /** Wires the function's bus-master path: its DMA port and where its MSIs go. */
    public void connect(DmaPort port, MsiSink msis) {
        this.dma = port;
        this.msiSink = msis;
    }

    public DmaPort dma() {
        return dma;
    }

    /** Where this function's MSIs go (a VF's go where its PF's do). */
    MsiSink msiSink() {
        return msiSink;
    }

    public boolean isMultiFunction() {
        return (config.get(PciRegs.HEADER_TYPE, 1) & PciRegs.HEADER_TYPE_MULTI_FUNCTION) != 0;
    }

    /** QEMU's {@code multifunction=on} property: bit 7 of the header type register. */
    public void setMultiFunction(boolean on) {
        long ht = config.get(PciRegs.HEADER_TYPE, 1);
        config.set(PciRegs.HEADER_TYPE, 1, on ? ht | PciRegs.HEADER_TYPE_MULTI_FUNCTION
                : ht & ~PciRegs.HEADER_TYPE_MULTI_FUNCTION);
    }

    /** Header layout (bits 6:0 of the header type): 0 normal, 1 PCI-to-PCI bridge. */
    public int headerLayout() {
        return (int) config.get(PciRegs.HEADER_TYPE, 1) & PciRegs.HEADER_TYPE_LAYOUT_MASK;
    }

    /** True for an SR-IOV virtual function. */
    public boolean isVirtualFunction() {
        return false;
    }

    /** The SR-IOV capability of a physical function, or null. */
    public SriovCapability sriov() {
        return sriov;
    }

    protected final void attachSriov(SriovCapability cap) {
        this.sriov = cap;
    }

    /** One entry of the capability lists as found by walking them in configuration space. */
    public record CapabilityRef(int id, int offset, boolean extended, int version) {
    }

    /**
     * Both capability lists as a guest walks them: the standard list from 0x34 (while the status
     * register says there is one), then the extended list from 0x100 in a 4 KiB space.
     * A looping or malformed list stops the walk (at most 48 entries per list, as Linux).
     */
    public List<CapabilityRef> capabilityList() {
        List<CapabilityRef> out = new ArrayList<>();
        if ((config.get(PciRegs.STATUS, 2) & PciRegs.STATUS_CAP_LIST) != 0) {
            int p = (int) config.get(PciRegs.CAPABILITY_LIST, 1) & 0xfc;
            for (int n = 0; p >= PciRegs.HEADER_SIZE && n < 48; n++) {
                out.add(new CapabilityRef((int) config.get(p, 1), p, false, 0));
                p = (int) config.get(p + 1, 1) & 0xfc;
            }
        }
        if (config.size() > ConfigSpace.CONVENTIONAL_SIZE) {
            int e = PciRegs.EXT_CAP_START;
            for (int n = 0; e >= PciRegs.EXT_CAP_START && e < config.size() - 3 && n < 48; n++) {
                long h = config.get(e, 4);
                if (h == 0 || h == 0xffff_ffffL) {
                    break;
                }
                out.add(new CapabilityRef((int) (h & 0xffff), e, true, (int) (h >>> 16) & 0xf));
                e = (int) (h >>> 20) & 0xffc;
            }
        }
        return out;
    }

    /** Offset of the first standard capability with this id, or -1. */
    public int findCapability(int capId) {
        for (CapabilityRef c : capabilityList()) {
            if (!c.extended() && c.id() == capId) {
                return c.offset();
            }
        }
        return -1;
    }

    /** Offset of the first extended capability with this id, or -1. */
    public int findExtendedCapability(int capId) {
        for (CapabilityRef c : capabilityList()) {
            if (c.extended() && c.id() == capId) {
                return c.offset();
            }
        }
        return -1;
    }

    /** The PCI Express device/port type, or null for a conventional function. */
    public PcieCapability.PortType portType() {
        int off = findCapability(PciRegs.CAP_ID_EXP);
        return off < 0 ? null : PcieCapability.portType((int) config.get(off + PcieCapability.FLAGS, 2));
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
    public final int addCapability(int offset, int len) {
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

    /**
     * Declares an extended capability header at {@code offset} and links it at the end of the
     * extended list (the first one must sit at 0x100). Header: 15:0 id, 19:16 version, 31:20 next.
     */
    protected final int addExtendedCapability(int capId, int version, int offset, int len) {
        if (config.size() <= ConfigSpace.CONVENTIONAL_SIZE) {
            throw new IllegalStateException("extended capability on a conventional function");
        }
        config.define(offset, len, 0, 0, 0);
        config.define(offset, 4, capId | (long) version << 16, 0, 0);
        if (offset != PciRegs.EXT_CAP_START) {
            int e = PciRegs.EXT_CAP_START;
            for (int n = 0; n < 64; n++) {
                long h = config.get(e, 4);
                int next = (int) (h >>> 20);
                if (next == 0) {
                    config.set(e, 4, (h & 0xfffff) | (long) offset << 20);
                    break;
                }
                e = next;
            }
        }
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

    /**
     * Adds an MSI-X capability with its table and PBA (QEMU {@code msix_init}); messages go
     * the bus-master path like MSI. The device decodes them through {@link MsixTable#overlay}.
     */
    protected final MsixTable addMsix(int offset, int vectors, int tableBir, long tableOffset, int pbaBir, long pbaOffset) {
        return addMsix(offset, vectors, tableBir, tableOffset, pbaBir, pbaOffset, (a, d) -> {
            if (busMasterEnabled()) {
                msiSink.deliver(a, d, dmaRequester());
            }
        });
    }

    /** {@link #addMsix} with the function's own message path (vfio-pci: the VM's bus-master address space). */
    protected final MsixTable addMsix(int offset, int vectors, int tableBir, long tableOffset, int pbaBir,
                                      long pbaOffset, MsixTable.MessageSender sender) {
        addCapability(offset, MsixCapability.SIZE);
        msix = new MsixTable(config, offset, vectors, tableBir, tableOffset, pbaBir, pbaOffset, sender);
        return msix;
    }

    /** The MSI-X state, null without one (or when the capability is only declared, not decoded). */
    public MsixTable msix() {
        return msix;
    }

    // ---- guest view ----

    /** A configuration read of 1, 2 or 4 bytes at any offset (0xff past the space). */
    public long configRead(int offset, int len) {
        return config.read(offset, len);
    }

    /** A configuration write through the masks, then the side effects of what changed. */
    public void configWrite(int offset, long value, int len) {
        int oldCommand = command();
        int oldSriovControl = sriov == null ? 0 : sriov.control();
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
        if (msix != null) {
            boolean wasOn = msix.enabled();
            msix.configWritten(offset, len);
            if (!wasOn && msix.enabled()) {
                setIntx(false); // msix_write_config: pci_device_deassert_intx
            }
        }
        if (sriov != null) {
            sriov.controlWritten(oldSriovControl);
        }
        afterConfigWrite(offset, len);
        flrWritten(offset, len);
    }

    /**
     * {@code pcie_cap_flr_write_config}: a write that leaves Initiate FLR set in Device Control
     * (a function whose Device Capabilities offer FLR) resets the function ({@code
     * pci_device_reset}: the device's own reset, {@link #resetDevice}, then {@link #resetConfig}),
     * and the bit reads 0 again.
     */
    private void flrWritten(int offset, int len) {
        if (offset + len <= PciRegs.HEADER_SIZE) {
            return; // Device Control is in the capability list, past the header
        }
        int exp = findCapability(PciRegs.CAP_ID_EXP);
        if (exp < 0) {
            return;
        }
        int devctl = exp + PcieCapability.DEVCTL;
        if (offset > devctl + 1 || offset + len <= devctl + 1
                || (config.get(exp + PcieCapability.DEVCAP, 4) & PcieCapability.DEVCAP_FLR) == 0) {
            return;
        }
        long v = config.get(devctl, 2);
        if ((v & PcieCapability.DEVCTL_BCR_FLR) == 0) {
            return;
        }
        resetDevice();
        resetConfig();
        config.set(devctl, 2, config.get(devctl, 2) & ~PcieCapability.DEVCTL_BCR_FLR);
    }

    /** The device model's own state back to its reset values (QEMU's DeviceClass reset); none here. */
    protected void resetDevice() {
    }

    /**
     * {@code pci_do_device_reset} (QEMU 7.2 hw/pci/pci.c, run for every function of a bus on a
     * system reset, after the function's own reset): INTx deasserted; the writable and W1C bits of
     * command and status and the interrupt line cleared, the cache line size zero, each BAR back to
     * its type bits (so unmapped); then {@link MsiCapability#reset} and {@link MsixTable#reset}.
     */
    public void resetConfig() {
        setIntx(false);
        clearWritable(PciRegs.COMMAND, 2);
        clearWritable(PciRegs.STATUS, 2);
        clearWritable(PciRegs.INTERRUPT_LINE, 1);
        config.set(PciRegs.CACHE_LINE_SIZE, 1, 0);
        for (Bar bar : bars) {
            if (bar == null) {
                continue;
            }
            config.set(bar.configOffset(), 4, bar.typeBits());
            if (bar.kind() == Bar.Kind.MEMORY64) {
                config.set(bar.configOffset() + 4, 4, 0);
            }
        }
        if (msi != null) {
            msi.reset();
        }
        if (msix != null) {
            msix.reset();
        }
    }

    private void clearWritable(int offset, int len) {
        long mask = config.writeMask(offset, len) | config.w1cMask(offset, len);
        config.set(offset, len, config.get(offset, len) & ~mask);
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
        msiSink.deliver(msi.address(), msi.data(), dmaRequester());
    }

    @Override
    public String toString() {
        return typeName + (id == null ? "" : ",id=" + id) + (bus == null ? "" : " @" + address());
    }
}
