package io.viommu.pci;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Single Root I/O Virtualization extended capability of a physical function (PCIe base 4.0
 * section 9.3.3), 0x40 bytes, with the VF life cycle of QEMU 7.2's hw/pci/pcie_sriov.c:
 * <pre>
 *  +0x00 header (id 0x0010, version 1)
 *  +0x04 SR-IOV capabilities (32, read-only 0)
 *  +0x08 SR-IOV control (16): bit 0 VF Enable, 3 VF MSE, 4 ARI Capable Hierarchy (writable)
 *  +0x0a SR-IOV status
 *  +0x0c InitialVFs   +0x0e TotalVFs                      (16 each, read-only)
 *  +0x10 NumVFs (16, writable)   +0x12 function dependency link (8)
 *  +0x14 First VF Offset   +0x16 VF Stride                 (16 each, read-only here)
 *  +0x1a VF Device ID (16)
 *  +0x1c supported page sizes (32, read-only)   +0x20 system page size (32, writable bits = supported)
 *  +0x24..+0x38 VF BAR0..5: like BARs, sized by write mask ~(size-1), type bits read-only
 * </pre>
 * Setting VF Enable creates NumVFs functions (none when NumVFs exceeds TotalVFs, as QEMU's
 * {@code register_vfs}) with routing id {@code PF RID + First VF Offset + i * VF Stride}; clearing
 * it removes them. QEMU keeps offset and stride constant whatever the ARI Capable Hierarchy bit
 * says (checked with 7.2's nvme: still 1/1 with the bit set), and so does this model.
 * Where the RID moves past the PF's bus, the VF sits on a bus of its own with no bridge (what
 * Linux calls a virtual bus); it is reachable by configuration cycles only while the upstream
 * bridge's subordinate range covers that bus number.
 */
public final class SriovCapability {
    public static final int CAP = 0x04;
    public static final int CTRL = 0x08;
    public static final int STATUS = 0x0a;
    public static final int INITIAL_VFS = 0x0c;
    public static final int TOTAL_VFS = 0x0e;
    public static final int NUM_VFS = 0x10;
    public static final int FUNC_DEP_LINK = 0x12;
    public static final int VF_OFFSET = 0x14;
    public static final int VF_STRIDE = 0x16;
    public static final int VF_DEVICE_ID = 0x1a;
    public static final int SUPPORTED_PAGE_SIZES = 0x1c;
    public static final int SYSTEM_PAGE_SIZE = 0x20;
    public static final int VF_BAR0 = 0x24;
    public static final int SIZE = 0x40;

    public static final int CTRL_VFE = 1 << 0;
    public static final int CTRL_MSE = 1 << 3;
    public static final int CTRL_ARI = 1 << 4;
    /** Page sizes QEMU advertises (4K, 8K, 64K, 256K, 1M, 4M: 0x553). */
    public static final int QEMU_SUPPORTED_PAGE_SIZES = 0x553;

    /** Builds the function model of VF number {@code index} (0-based) of a PF. */
    @FunctionalInterface
    public interface VfFactory {
        VirtualFunction create(PciFunction pf, int index);
    }

    /** What a PF declares (SR-IOV fields that are constant for the device). */
    public record Params(int initialVfs, int totalVfs, int vfOffset, int vfStride, int vfDeviceId,
                         int functionDependencyLink) {
    }

    /** A VF BAR declaration: which VF BAR, its kind and per-VF size. */
    public record VfBar(int index, Bar.Kind kind, long size, boolean prefetchable) {
    }

    private final PciFunction pf;
    private final ConfigSpace config;
    private final int offset;
    private final VfBar[] vfBars = new VfBar[6];
    private final VfFactory factory;
    private final List<VirtualFunction> vfs = new ArrayList<>();

    SriovCapability(PciFunction pf, int offset, Params p, List<VfBar> bars, VfFactory factory) {
        this.pf = pf;
        this.config = pf.configSpace();
        this.offset = offset;
        this.factory = factory;
        ConfigSpace c = config;
        c.define(offset + CAP, 4, 0, 0, 0);
        c.define(offset + CTRL, 2, 0, CTRL_VFE | CTRL_MSE | CTRL_ARI, 0);
        c.define(offset + STATUS, 2, 0, 0, 0);
        c.define(offset + INITIAL_VFS, 2, p.initialVfs(), 0, 0);
        c.define(offset + TOTAL_VFS, 2, p.totalVfs(), 0, 0);
        c.define(offset + NUM_VFS, 2, 0, 0xffff, 0);
        c.define(offset + FUNC_DEP_LINK, 1, p.functionDependencyLink(), 0, 0);
        c.define(offset + VF_OFFSET, 2, p.vfOffset(), 0, 0);
        c.define(offset + VF_STRIDE, 2, p.vfStride(), 0, 0);
        c.define(offset + VF_DEVICE_ID, 2, p.vfDeviceId(), 0, 0);
        c.define(offset + SUPPORTED_PAGE_SIZES, 4, QEMU_SUPPORTED_PAGE_SIZES, 0, 0);
        c.define(offset + SYSTEM_PAGE_SIZE, 4, 1, QEMU_SUPPORTED_PAGE_SIZES, 0);
        for (VfBar b : bars) {
            vfBars[b.index()] = b;
            Bar shape = new Bar(b.index(), b.kind(), b.size(), b.prefetchable(), null, AccessRules.ANY);
            int reg = offset + VF_BAR0 + 4 * b.index();
            long wmask = -b.size();
            c.define(reg, 4, shape.typeBits(), wmask & 0xffff_ffffL, 0);
            if (b.kind() == Bar.Kind.MEMORY64) {
                c.define(reg + 4, 4, 0, wmask >>> 32, 0);
            }
        }
    }

    /**
     * Declares the capability on {@code pf} at {@code offset} (links the header) and attaches it.
     */
    public static SriovCapability attach(PciFunction pf, int offset, Params p, List<VfBar> bars,
                                         VfFactory factory) {
        pf.addExtendedCapability(PciRegs.EXT_CAP_ID_SRIOV, 1, offset, SIZE);
        SriovCapability cap = new SriovCapability(pf, offset, p, bars, factory);
        pf.attachSriov(cap);
        return cap;
    }

    public int offset() {
        return offset;
    }

    public PciFunction physicalFunction() {
        return pf;
    }

    int control() {
        return (int) config.get(offset + CTRL, 2);
    }

    public boolean vfEnabled() {
        return (control() & CTRL_VFE) != 0;
    }

    public boolean vfMemoryEnabled() {
        return (control() & CTRL_MSE) != 0;
    }

    public boolean ariCapableHierarchy() {
        return (control() & CTRL_ARI) != 0;
    }

    public int initialVfs() {
        return (int) config.get(offset + INITIAL_VFS, 2);
    }

    public int totalVfs() {
        return (int) config.get(offset + TOTAL_VFS, 2);
    }

    public int numVfs() {
        return (int) config.get(offset + NUM_VFS, 2);
    }

    public int vfOffset() {
        return (int) config.get(offset + VF_OFFSET, 2);
    }

    public int vfStride() {
        return (int) config.get(offset + VF_STRIDE, 2);
    }

    public int vfDeviceId() {
        return (int) config.get(offset + VF_DEVICE_ID, 2);
    }

    /** The VFs that exist now (VF Enable set), in index order. */
    public List<VirtualFunction> virtualFunctions() {
        return Collections.unmodifiableList(vfs);
    }

    /** Routing id of VF {@code index} from the PF's current RID, offset and stride; null past 0xffff. */
    public RequesterId vfRequesterId(int index) {
        RequesterId pfRid = pf.address();
        if (pfRid == null) {
            return null;
        }
        long v = pfRid.value() + vfOffset() + (long) index * vfStride();
        return v > 0xffff ? null : new RequesterId((int) v);
    }

    /** The shape of VF BAR {@code index} (per-VF size), or null. */
    public VfBar vfBar(int index) {
        return index >= 0 && index < 6 ? vfBars[index] : null;
    }

    /**
     * Where VF {@code vf}'s BAR {@code index} decodes: the PF's VF BAR base plus
     * {@code vf * size} (SR-IOV 9.3.3.14), while VF MSE is set; else {@link Bar#UNMAPPED}.
     */
    public long vfBarAddress(int index, int vf) {
        VfBar b = vfBar(index);
        if (b == null || !vfMemoryEnabled()) {
            return Bar.UNMAPPED;
        }
        int reg = offset + VF_BAR0 + 4 * index;
        long base = config.get(reg, 4) & ~0xfL;
        if (b.kind() == Bar.Kind.MEMORY64) {
            base |= config.get(reg + 4, 4) << 32;
        }
        return base == 0 ? Bar.UNMAPPED : base + vf * b.size();
    }

    /** VF Enable transitions after a configuration write to the PF (QEMU pcie_sriov_config_write). */
    void controlWritten(int oldControl) {
        boolean was = (oldControl & CTRL_VFE) != 0;
        boolean now = vfEnabled();
        if (!was && now) {
            createVfs();
        } else if (was && !now) {
            removeVfs();
        }
    }

    private void createVfs() {
        int n = numVfs();
        if (n > totalVfs() || pf.bus() == null) {
            return;
        }
        for (int i = 0; i < n; i++) {
            RequesterId rid = vfRequesterId(i);
            if (rid == null) {
                break;
            }
            VirtualFunction vf = factory.create(pf, i);
            if (!pf.bus().plugVirtualFunction(vf, rid)) {
                break;
            }
            vfs.add(vf);
        }
    }

    private void removeVfs() {
        for (VirtualFunction vf : vfs) {
            if (vf.bus() != null) {
                vf.bus().unplug(vf);
            }
        }
        vfs.clear();
    }
}
