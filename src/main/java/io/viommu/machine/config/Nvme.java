package io.viommu.machine.config;

import io.viommu.machine.device.Endpoints;
import io.viommu.pci.PciFunction;
import java.util.Set;

/**
 * The nvme device's properties and QEMU 7.2's checks of them (hw/nvme/ctrl.c
 * {@code nvme_check_constraints}), in QEMU's order and with its texts; each text and the order
 * of the first ones were checked with the binary. SR-IOV needs a subsystem
 * ({@code -device nvme-subsys,id=...} and {@code subsys=}); QEMU 7.2 accepts it on any bus.
 * On a conventional bus (behind pci-bridge) the 256-byte configuration space cannot show the
 * ARI and SR-IOV structures at 0x100 and up, so the model leaves them out there.
 */
final class Nvme {
    private Nvme() {
    }

    static final int MAX_VFS = 127;
    static final int MAX_IOQPAIRS = 0xffff;
    static final int MAX_MSIX_QSIZE = 2048;

    static PciFunction realize(MachineBuilder m, DeviceProps p, Endpoints.Placement at) throws MachineConfigException {
        p.checkKnown(Set.of("bus", "addr", "multifunction", "rombar", "romfile", "romsize", "bootindex",
                "failover_pair_id", "acpi-index", "serial", "subsys", "drive", "max_ioqpairs", "num_queues",
                "msix_qsize", "sriov_max_vfs", "sriov_vq_flexible", "sriov_vi_flexible", "sriov_max_vq_per_vf",
                "sriov_max_vi_per_vf", "mdts", "vsl", "zoned.zasl", "zoned.auto_transition", "cmb_size_mb",
                "aerl", "aer_max_queued", "logical_block_size", "physical_block_size", "min_io_size",
                "opt_io_size", "discard_granularity", "write-cache", "share-rw", "ioeventfd", "use-intel-id",
                "legacy-cmb", "pmrdev", "smart_critical_warning", "msix-exclusive-bar", "backend_defaults",
                "account-invalid", "account-failed"));
        String subsys = p.string("subsys", null);
        if (subsys != null && !m.hasNvmeSubsystem(subsys)) {
            throw p.error("Device '" + subsys + "' not found");
        }
        String drive = p.string("drive", null);
        if (drive != null && !m.hasBlockNode(drive)) {
            throw p.error("Property 'nvme.drive' can't find value '" + drive + "'");
        }
        long numQueues = p.unsigned("num_queues", 32, 0);
        long maxIoQueuePairs = p.unsigned("max_ioqpairs", 32, 64);
        long msixQsize = p.unsigned("msix_qsize", 16, 65);
        int maxVfs = (int) p.unsigned("sriov_max_vfs", 8, 0);
        int vqFlexible = (int) p.unsigned("sriov_vq_flexible", 16, 0);
        int viFlexible = (int) p.unsigned("sriov_vi_flexible", 16, 0);
        int maxVqPerVf = (int) p.unsigned("sriov_max_vq_per_vf", 8, 0);
        int maxViPerVf = (int) p.unsigned("sriov_max_vi_per_vf", 8, 0);
        long mdts = p.unsigned("mdts", 8, 7);
        long vsl = p.unsigned("vsl", 8, 7);
        long zasl = p.unsigned("zoned.zasl", 8, 0);
        long cmb = p.unsigned("cmb_size_mb", 32, 0);
        if (numQueues > 0) {
            // QEMU warns "num_queues is deprecated; please use max_ioqpairs instead" and goes on.
            maxIoQueuePairs = numQueues - 1;
        }
        if (drive != null && subsys != null) {
            throw p.error("subsystem support is unavailable with legacy namespace ('drive' property)");
        }
        if (maxIoQueuePairs < 1 || maxIoQueuePairs > MAX_IOQPAIRS) {
            throw p.error("max_ioqpairs must be between 1 and " + MAX_IOQPAIRS);
        }
        if (msixQsize < 1 || msixQsize > MAX_MSIX_QSIZE) {
            throw p.error("msix_qsize must be between 1 and " + MAX_MSIX_QSIZE);
        }
        if (p.string("serial", null) == null) {
            throw p.error("serial property not set");
        }
        if (zasl > mdts) {
            throw p.error("zoned.zasl (Zone Append Size Limit) must be less than or equal to mdts (Maximum Data Transfer Size)");
        }
        if (vsl == 0) {
            throw p.error("vsl must be non-zero");
        }
        if (maxVfs > 0) {
            if (subsys == null) {
                throw p.error("subsystem is required for the use of SR-IOV");
            }
            if (maxVfs > MAX_VFS) {
                throw p.error("sriov_max_vfs must be between 0 and " + MAX_VFS);
            }
            if (cmb != 0) {
                throw p.error("CMB is not supported with SR-IOV");
            }
            if (vqFlexible == 0 || viFlexible == 0) {
                throw p.error("both sriov_vq_flexible and sriov_vi_flexible must be set for the use of SR-IOV");
            }
            if (vqFlexible < maxVfs * 2) {
                throw p.error("sriov_vq_flexible must be greater than or equal to " + maxVfs * 2 + " (sriov_max_vfs * 2)");
            }
            if (maxIoQueuePairs < vqFlexible + 2) {
                throw p.error("(max_ioqpairs - sriov_vq_flexible) must be greater than or equal to 2");
            }
            if (viFlexible < maxVfs) {
                throw p.error("sriov_vi_flexible must be greater than or equal to " + maxVfs + " (sriov_max_vfs)");
            }
            if (msixQsize < viFlexible + 1) {
                throw p.error("(msix_qsize - sriov_vi_flexible) must be greater than or equal to 1");
            }
            if (maxViPerVf != 0 && maxViPerVf < 1) {
                throw p.error("sriov_max_vi_per_vf must meet: (sriov_max_vi_per_vf - 1) % 1 == 0 and sriov_max_vi_per_vf >= 1");
            }
            if (maxVqPerVf != 0 && maxVqPerVf < 2) {
                throw p.error("sriov_max_vq_per_vf must meet: (sriov_max_vq_per_vf - 1) % 1 == 0 and sriov_max_vq_per_vf >= 2");
            }
        }
        Endpoints.NvmeParams params = new Endpoints.NvmeParams((int) maxIoQueuePairs, (int) msixQsize,
                at.expressBus() ? maxVfs : 0, vqFlexible, viFlexible, maxVqPerVf, maxViPerVf,
                p.string("serial", null), (int) mdts);
        return new Endpoints.Nvme(at, params);
    }
}
