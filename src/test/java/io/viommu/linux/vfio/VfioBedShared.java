package io.viommu.linux.vfio;

import io.viommu.linux.driver.StaticGroupView;
import io.viommu.machine.Machine;
import io.viommu.pci.RequesterId;
import java.util.Map;

/** A {@link VfioBed} whose groups are given. */
final class VfioBedShared {
    private VfioBedShared() {
    }

    static VfioBed of(Machine m, Map<RequesterId, Integer> groups) {
        return VfioBed.create(m, t -> StaticGroupView.assigned(t, groups, "DMA"));
    }
}
