package io.viommu.host;

import java.nio.file.Path;

/** The saved host trees under src/test/host-trees (see make-trees.py there). */
final class Trees {
    /** This project's CI machine: a Firecracker VM, virtio devices, no IOMMU, saved with `viommu host snapshot`. */
    static final Path FIRECRACKER_VM = Path.of("src/test/host-trees/firecracker-vm");
    /** Hand-made Intel host with VT-d on (make-trees.py). */
    static final Path INTEL_VTD = Path.of("src/test/host-trees/intel-vtd");
    /** The same host booted with intel_iommu=off, saved without root (DMAR unreadable). */
    static final Path INTEL_VTD_OFF = Path.of("src/test/host-trees/intel-vtd-off");

    private Trees() {
    }

    static HostSnapshot snapshot(Path tree) {
        return HostReader.read(new SavedTree(tree));
    }

    static HostReport report(Path tree) {
        return HostPlanner.plan(snapshot(tree));
    }

    static HostReport.Device device(HostReport r, String bdf) {
        return r.devices().stream().filter(d -> d.address().equals(bdf)).findFirst().orElseThrow();
    }
}
