package io.viommu.pci;

/**
 * An SR-IOV virtual function (PCIe base 4.0 section 9.3.4 / QEMU 7.2 {@code pcie_sriov}):
 * Vendor and Device ID read 0xFFFF in its own configuration space (checked with QEMU 7.2's nvme
 * VFs: the first dword reads 0xffffffff), so a guest takes the vendor from the PF and the device
 * id from the PF's SR-IOV capability; never multi-function; its BAR registers read 0 and are not
 * writable, the BARs being carved out of the PF's VF BARs ({@link SriovCapability#vfBarAddress}).
 * No INTx.
 */
public class VirtualFunction extends PciFunction {
    private final PciFunction pf;
    private final int index;

    public VirtualFunction(PciFunction pf, int index, int classCode, int revision, int configSize) {
        super(pf.typeName() + "-vf", 0xffff, 0xffff, classCode, revision, false, configSize);
        this.pf = pf;
        this.index = index;
    }

    @Override
    public boolean isVirtualFunction() {
        return true;
    }

    public PciFunction physicalFunction() {
        return pf;
    }

    /** 0-based VF number. */
    public int index() {
        return index;
    }

    /** The vendor a guest sees (the PF's). */
    public int effectiveVendorId() {
        return (int) pf.configSpace().get(PciRegs.VENDOR_ID, 2);
    }

    /** The device id a guest sees (the PF's VF Device ID). */
    public int effectiveDeviceId() {
        return pf.sriov() == null ? 0xffff : pf.sriov().vfDeviceId();
    }

    /**
     * The VF's DMA path: its requests go up its PF's link, so through the PF's IOMMU (or
     * bypass) and to the same memory, with the VF's own requester id and bus-master bit.
     */
    @Override
    public DmaPort dma() {
        DmaPort own = super.dma();
        if (own == null && pf.dma() != null) {
            own = pf.dma().sibling(this::address, this::busMasterEnabled);
            connect(own, pf.msiSink());
        }
        return own;
    }

    @Override
    public Bar bar(int i) {
        SriovCapability s = pf.sriov();
        SriovCapability.VfBar b = s == null ? null : s.vfBar(i);
        return b == null ? null : new Bar(i, b.kind(), b.size(), b.prefetchable(), barRegion(i), AccessRules.ANY);
    }

    /** What VF BAR {@code i} decodes (a VF model's registers or MSI-X table); null: nothing. */
    protected io.viommu.memory.Mmio barRegion(int i) {
        return null;
    }

    @Override
    public long barAddress(int i) {
        SriovCapability s = pf.sriov();
        return s == null ? Bar.UNMAPPED : s.vfBarAddress(i, index);
    }
}
