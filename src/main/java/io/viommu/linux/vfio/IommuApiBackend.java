package io.viommu.linux.vfio;

import io.viommu.linux.driver.Errno;
import io.viommu.linux.iommu.DomainType;
import io.viommu.linux.iommu.IntelIommuDriver;
import io.viommu.linux.iommu.IommuDomain;
import io.viommu.linux.iommu.IommuGroup;
import io.viommu.linux.iommu.IommuGroups;
import io.viommu.memory.Iova;
import io.viommu.memory.Page;
import io.viommu.memory.PhysAddr;
import io.viommu.vtd.notify.Permission;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * type1's IOMMU layer over the kernel's intel-iommu driver ({@link IntelIommuDriver}): what
 * vfio_iommu_type1.c calls in include/linux/iommu.h, mapped one to one.
 * <ul>
 * <li>{@code iommu_domain_alloc} → {@link IntelIommuDriver#allocateDomain} of an
 *     {@link DomainType#UNMANAGED} domain; {@code iommu_domain_free} →
 *     {@link IntelIommuDriver#freeDomain};</li>
 * <li>{@code iommu_attach_group} / {@code iommu_detach_group} → the driver's, on the kernel's
 *     {@link IommuGroup} of that number (detach puts the group back in its default domain);</li>
 * <li>{@code iommu_map} / {@code iommu_unmap} / {@code iommu_iova_to_phys} and the aperture →
 *     {@link IommuDomain}: PTEs in guest RAM, with the driver's invalidations (PSI after a new
 *     mapping under caching mode, a flush before unmap returns) counted in its
 *     {@link IntelIommuDriver#counters()};</li>
 * <li>{@code IOMMU_CAP_INTR_REMAP} → {@link IntelIommuDriver#hasInterruptRemapping()}.</li>
 * </ul>
 * The page tables come from the driver's page allocator (the kernel's page region), never from
 * user memory.
 */
public final class IommuApiBackend implements Type1Backend {
    /**
     * INTEL_IOMMU_PGSIZES of Linux 6.1 ({@code ~0xFFFUL}): every power of two from 4 KiB, which
     * is what VFIO_IOMMU_GET_INFO reports as iova_pgsizes on intel-iommu.
     */
    static final long PGSIZE_BITMAP = Page.MASK; // every power of two from 4 KiB

    private final IntelIommuDriver driver;
    private final IommuGroups groups;

    public IommuApiBackend(IntelIommuDriver driver, IommuGroups groups) {
        this.driver = driver;
        this.groups = groups;
    }

    public IntelIommuDriver driver() {
        return driver;
    }

    @Override
    public Domain allocateUnmanaged() {
        return driver.allocateDomain(DomainType.UNMANAGED).map(ApiDomain::new).orElse(null);
    }

    @Override
    public boolean interruptRemapping() {
        return driver.hasInterruptRemapping();
    }

    private final class ApiDomain implements Domain {
        private final IommuDomain domain;
        private final List<IommuGroup> attached = new ArrayList<>();
        private boolean freed;

        ApiDomain(IommuDomain domain) {
            this.domain = domain;
        }

        @Override
        public int attachGroup(int group) {
            Optional<IommuGroup> g = groups.group(group);
            if (freed || g.isEmpty()) {
                return Errno.EINVAL.negative();
            }
            int rc = driver.attachGroup(g.get(), domain);
            if (rc == 0 && !attached.contains(g.get())) {
                attached.add(g.get());
            }
            return rc;
        }

        @Override
        public void detachGroup(int group) {
            Optional<IommuGroup> g = groups.group(group);
            if (g.isPresent() && attached.remove(g.get())) {
                driver.detachGroup(g.get());
            }
        }

        @Override
        public int map(Iova iova, PhysAddr phys, long size, boolean read, boolean write) {
            Permission perm = Permission.of(read, write);
            if (freed || perm == null) {
                return Errno.EINVAL.negative();
            }
            return domain.map(iova, phys, size, perm);
        }

        @Override
        public long unmap(Iova iova, long size) {
            return freed ? 0 : domain.unmap(iova, size);
        }

        @Override
        public PhysAddr iovaToPhys(Iova iova) {
            return freed ? null : domain.iovaToPhys(iova).orElse(null);
        }

        @Override
        public long pageSizeBitmap() {
            return PGSIZE_BITMAP;
        }

        @Override
        public long apertureEnd() {
            return domain.apertureEnd().value();
        }

        @Override
        public void free() {
            if (freed) {
                return;
            }
            for (IommuGroup g : List.copyOf(attached)) {
                detachGroup(g.id());
            }
            freed = driver.freeDomain(domain) == 0;
        }

        @Override
        public String toString() {
            return "unmanaged " + domain;
        }
    }
}
