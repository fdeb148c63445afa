package io.viommu.vmm;

import io.viommu.memory.PhysAddr;
import io.viommu.memory.VirtAddr;
import java.util.List;

/**
 * A VM's RAM as its VMM process holds it: guest-physical ranges, each backed by one mapping of
 * the process's memory (QEMU's RAM blocks, e.g. {@code pc.ram} below and above 4 GiB). The
 * physical addresses are those of the VM's machine (guest-physical); the virtual addresses are
 * the VMM process's, which is what VFIO MAP_DMA takes.
 */
public interface GuestRam {
    /** One RAM section: its name as QEMU reports it, guest-physical start, size, process address. */
    record Section(String name, PhysAddr gpa, long size, VirtAddr vaddr) {
        public Section {
            if (size <= 0 || (size & 0xfff) != 0 || (gpa.value() & 0xfff) != 0 || (vaddr.value() & 0xfff) != 0) {
                throw new IllegalArgumentException("RAM section must be page aligned and non-empty: "
                        + name + " " + gpa + " size 0x" + Long.toHexString(size) + " at " + vaddr);
            }
        }

        public boolean contains(PhysAddr a) {
            return Long.compareUnsigned(a.value() - gpa.value(), size) < 0;
        }

        /** The process address of {@code a}, which must lie in this section. */
        public VirtAddr vaddrOf(PhysAddr a) {
            return new VirtAddr(vaddr.value() + (a.value() - gpa.value()));
        }
    }

    /** The sections in ascending guest-physical order, non-overlapping. */
    List<Section> sections();

    /** The process address backing guest-physical {@code a}, or null when no RAM is there. */
    default VirtAddr vaddrOf(PhysAddr a) {
        for (Section s : sections()) {
            if (s.contains(a)) {
                return s.vaddrOf(a);
            }
        }
        return null;
    }
}
