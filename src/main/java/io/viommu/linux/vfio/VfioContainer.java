package io.viommu.linux.vfio;

import io.viommu.linux.driver.Errno;
import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;
import io.viommu.memory.VirtAddr;
import java.util.ArrayList;
import java.util.List;

/**
 * An open /dev/vfio/vfio ({@code struct vfio_container}, drivers/vfio/container.c) and the ioctls
 * on it. Anyone may open one; it gains the privilege to program an IOMMU only once a group is
 * added ({@link VfioGroup#setContainer}) and an IOMMU model is chosen ({@link #setIommu}). The
 * container belongs to the process that opened it: MAP_DMA's {@code vaddr} is in that
 * process's address space and pinned pages are charged to it.
 *
 * <p>IOMMU drivers registered: type1 (TYPE1, TYPE1v2, TYPE1_NESTING; with the UNMAP_ALL and
 * UPDATE_VADDR extensions) and, built in, the no-IOMMU driver, whose only extension
 * (NOIOMMU_IOMMU) answers 1 only while {@code enable_unsafe_noiommu_mode} is on and whose only
 * ioctl is CHECK_EXTENSION (everything else -ENOTTY). A container holds either real groups or
 * no-IOMMU groups, never both.
 */
public final class VfioContainer {
    /** {@code VFIO_DMA_MAP_FLAG_READ}: the device may read the memory. */
    public static final int MAP_READ = Type1Iommu.MAP_READ;
    /** {@code VFIO_DMA_MAP_FLAG_WRITE}: the device may write the memory. */
    public static final int MAP_WRITE = Type1Iommu.MAP_WRITE;
    public static final int MAP_VADDR = Type1Iommu.MAP_VADDR;
    public static final int UNMAP_ALL = Type1Iommu.UNMAP_ALL;

    private enum Driver { NONE, TYPE1, NOIOMMU }

    private final Vfio vfio;
    private final UserProcess process;
    private final List<VfioGroup> groups = new ArrayList<>();
    private Driver driver = Driver.NONE;
    private boolean noiommu;
    private Type1Iommu type1;

    VfioContainer(Vfio vfio, UserProcess process) {
        this.vfio = vfio;
        this.process = process;
    }

    public UserProcess process() {
        return process;
    }

    /** {@code VFIO_GET_API_VERSION}. */
    public int apiVersion() {
        return Vfio.API_VERSION;
    }

    /**
     * {@code VFIO_CHECK_EXTENSION}: before SET_IOMMU the registered drivers are polled (only
     * those a container with groups may use), after it the chosen driver answers.
     */
    public int checkExtension(long extension) {
        switch (driver) {
            case TYPE1 -> {
                return type1.checkExtensionOpen(extension);
            }
            case NOIOMMU -> {
                return noiommuExtension(extension);
            }
            default -> {
                if (groups.isEmpty() || !noiommu) {
                    int r = Type1Iommu.checkExtension(extension);
                    if (r > 0) {
                        return r;
                    }
                }
                if (groups.isEmpty() || noiommu) {
                    return noiommuExtension(extension);
                }
                return 0;
            }
        }
    }

    private int noiommuExtension(long extension) {
        return vfio.noiommuMode() && extension == Vfio.NOIOMMU_IOMMU ? 1 : 0;
    }

    /**
     * {@code VFIO_SET_IOMMU} ({@code vfio_ioctl_set_iommu}): -EINVAL without a group or when a
     * driver is already set; then the first driver that supports {@code type} and whose open
     * and attach of every group succeed wins; otherwise the last error (-ENODEV when no driver
     * supports {@code type}; -EPERM from type1 without interrupt remapping; -EPERM from the
     * no-IOMMU driver without CAP_SYS_RAWIO).
     */
    public void setIommu(long type) {
        if (groups.isEmpty() || driver != Driver.NONE) {
            throw Errnos.fail(Errno.EINVAL, groups.isEmpty() ? "no group in the container" : "IOMMU already set");
        }
        VfioException last = Errnos.fail(Errno.ENODEV, "no IOMMU driver supports type " + type);
        if (!noiommu && Type1Iommu.checkExtension(type) > 0 && vfio.backend() != null) {
            if (type == Vfio.TYPE1_IOMMU || type == Vfio.TYPE1v2_IOMMU || type == Vfio.TYPE1_NESTING_IOMMU) {
                Type1Iommu t = new Type1Iommu(vfio, type != Vfio.TYPE1_IOMMU);
                List<VfioGroup> done = new ArrayList<>();
                try {
                    for (VfioGroup g : groups) {
                        t.attachGroup(g.iommuGroup());
                        done.add(g);
                    }
                    type1 = t;
                    driver = Driver.TYPE1;
                    return;
                } catch (VfioException e) {
                    t.release();
                    last = e;
                }
            } else {
                last = Errnos.fail(Errno.EINVAL, "type1 cannot open type " + type); // vfio_iommu_type1_open
            }
        }
        if (noiommu && noiommuExtension(type) > 0) {
            if (!process.capable(UserProcess.Cap.SYS_RAWIO)) {
                throw Errnos.fail(Errno.EPERM, "the no-IOMMU driver needs CAP_SYS_RAWIO"); // vfio_noiommu_open
            }
            driver = Driver.NOIOMMU;
            return;
        }
        throw last;
    }

    /** Whether an IOMMU driver is set (what GET_DEVICE_FD requires). */
    boolean iommuSet() {
        return driver != Driver.NONE;
    }

    /** {@code vfio_container_attach_group} (from GROUP_SET_CONTAINER). */
    void attachGroup(VfioGroup g) {
        boolean fake = g.noiommu();
        if (!groups.isEmpty() && noiommu != fake) {
            throw Errnos.fail(Errno.EPERM, "real and no-IOMMU groups cannot share a container");
        }
        if (fake && !g.process().capable(UserProcess.Cap.SYS_RAWIO)) {
            throw Errnos.fail(Errno.EPERM, "no-IOMMU group needs CAP_SYS_RAWIO");
        }
        if (!fake) {
            int rc = vfio.kernel().claimDmaOwner(g.iommuGroup(), g);
            if (rc < 0) {
                Errnos.check(rc, "iommu_group_claim_dma_owner: group " + g.iommuGroup() + " is not viable");
            }
        }
        if (driver == Driver.TYPE1) {
            try {
                type1.attachGroup(g.iommuGroup());
            } catch (VfioException e) {
                vfio.kernel().releaseDmaOwner(g.iommuGroup(), g);
                throw e;
            }
        }
        noiommu = fake;
        groups.add(g);
    }

    /** {@code vfio_group_detach_container}: the last group's departure unsets the IOMMU. */
    void detachGroup(VfioGroup g) {
        if (!groups.remove(g)) {
            return;
        }
        if (driver == Driver.TYPE1) {
            type1.detachGroup(g.iommuGroup());
        }
        if (!g.noiommu()) {
            vfio.kernel().releaseDmaOwner(g.iommuGroup(), g);
        }
        if (groups.isEmpty()) {
            if (type1 != null) {
                type1.release();
            }
            type1 = null;
            driver = Driver.NONE;
        }
    }

    // ---------------------------------------------------------------- IOMMU ioctls (to the driver)

    private Type1Iommu type1() {
        switch (driver) {
            case TYPE1 -> {
                return type1;
            }
            case NOIOMMU -> throw Errnos.fail(Errno.ENOTTY, "the no-IOMMU driver has no such ioctl");
            default -> throw Errnos.fail(Errno.EINVAL, "no IOMMU set on the container"); // vfio_fops_unl_ioctl
        }
    }

    /** {@code VFIO_IOMMU_GET_INFO}. */
    public IommuInfo iommuInfo() {
        return type1().info();
    }

    /**
     * {@code VFIO_IOMMU_MAP_DMA}: maps {@code size} bytes of this process's memory at
     * {@code vaddr} to {@code iova} for the container's devices; {@code flags} is
     * {@link #MAP_READ} and/or {@link #MAP_WRITE}.
     */
    public void mapDma(long vaddr, long iova, long size, int flags) {
        type1().map(process, vaddr, iova, size, flags);
    }

    /** {@code VFIO_IOMMU_UNMAP_DMA}: returns the size unmapped (0 when nothing was mapped there). */
    public long unmapDma(long iova, long size, int flags) {
        return type1().unmap(iova, size, flags);
    }

    public long unmapDma(long iova, long size) {
        return unmapDma(iova, size, 0);
    }

    /** {@code VFIO_IOMMU_MAP_DMA} with typed addresses: process virtual {@code vaddr} to {@code iova}. */
    public void mapDma(VirtAddr vaddr, Iova iova, long size, int flags) {
        mapDma(vaddr.value(), iova.value(), size, flags);
    }

    /** {@code VFIO_IOMMU_UNMAP_DMA} with a typed IOVA. */
    public long unmapDma(Iova iova, long size, int flags) {
        return unmapDma(iova.value(), size, flags);
    }

    public long unmapDma(Iova iova, long size) {
        return unmapDma(iova.value(), size, 0);
    }

    /** The type1 mappings, by IOVA (what the kernel's vfio_dma tree holds). */
    public List<DmaMapping> mappings() {
        return type1 == null ? List.of() : type1.mappings();
    }

    /** {@code iommu_iova_to_phys} in the container's domain: where a device's DMA to {@code iova} goes. */
    public PhysAddr iovaToPhys(long iova) {
        return type1 == null ? null : type1.iovaToPhys(iova);
    }

    public PhysAddr iovaToPhys(Iova iova) {
        return iovaToPhys(iova.value());
    }

    /** Whether a type1 instance is v2 (TYPE1v2 or nesting). */
    public boolean isV2() {
        return type1 != null && type1.v2;
    }
}
