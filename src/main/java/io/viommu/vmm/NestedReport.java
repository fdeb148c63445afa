package io.viommu.vmm;

import java.util.List;

/**
 * What {@code viommu run --nest} did ({@link NestedRun}): every level from the host (L0) up to
 * the innermost VM, one DMA of the assigned device followed from the innermost guest's IOVA down
 * to the host frame, and a DMA to an IOVA nobody mapped.
 *
 * @param ok       the run went through and the DMA landed byte for byte
 * @param failure  why not (QEMU's, libvirt's or viommu's text), null when ok
 * @param failedAt the level that could not be started (its VMM refused or its binding failed), or null
 * @param levels   L0 (the host) first
 * @param dma      the innermost guest's DMA followed down (null when the run failed before)
 * @param stray    the innermost device's DMA to an IOVA no level mapped (null when the run failed before)
 * @param unsafe   when the innermost guest has the device through VFIO's no-IOMMU mode: its user space
 *                 pointing the device at a page of that guest's kernel, and what landed (null otherwise)
 * @param workload the nic-ring or static workload in the innermost guest and what each level paid per packet (null: none asked)
 */
public record NestedReport(String hostArgs, boolean ok, String failure, String failedAt, List<Level> levels, Dma dma, Stray stray,
                           Unsafe unsafe, Workload workload, List<String> noEffect, List<String> warnings) {

    /**
     * One level.
     *
     * @param level     {@code L0} (the host), {@code L1}, ...
     * @param args      the level's QEMU arguments (the host's for L0)
     * @param device    the assigned device as this level's kernel sees it (null when the level never came up)
     * @param viommu    the VM's vIOMMU options (null: L0, or a VM without one)
     * @param iommu     the level's kernel and its IOMMU in words
     * @param vmm       the VMM that runs this level, a process of the level below (null for L0)
     * @param faults    the DMA fault lines this level's kernel logged during the run
     * @param log       this level's kernel lines naming the device (its binding, a probe failure, ...)
     * @param managed   devices the level below bound to vfio-pci for this level's VM (--managed)
     * @param stderr    what this level's VMM said on stderr (QEMU's text)
     * @param setup     the commands this level's root ran before the next level's VMM started ({@code --nest-setup})
     * @param noIommu   the warning when this level's kernel has the device in VFIO's no-IOMMU mode (null otherwise)
     */
    public record Level(String level, String args, Device device, RunReport.Viommu viommu, String iommu, VmmSide vmm,
                        List<String> faults, List<String> log, List<RunReport.Managed> managed, List<String> stderr,
                        List<SetupLine> setup, String noIommu) {
    }

    /** One command of a level's root shell: the line, what it printed (stdout and stderr), whether it succeeded. */
    public record SetupLine(String command, String output, boolean ok) {
    }

    /**
     * The assigned device in one level's kernel: BDF, ids, IOMMU group (and its members), driver;
     * {@code vfioNode} the /dev/vfio node of its group when it is on vfio-pci ({@code noiommu-N}
     * for a group VFIO's no-IOMMU mode made, null otherwise).
     */
    public record Device(String bdf, String ids, Integer group, List<String> groupMembers, String driver, String vfioNode) {
    }

    /**
     * The VMM that runs a level, as a process of the kernel below.
     *
     * @param runsOn               the level whose kernel the process runs on
     * @param listensOn            what its VFIO listener mirrors (the vIOMMU's notifier, or all guest RAM)
     * @param mappings             VFIO mappings held in its container while the innermost guest's DMA page was mapped
     * @param bytesMapped          their total size
     * @param firstMappings        the first few (iova, size, process vaddr, permissions)
     * @param invalidationsTrapped the VM's vIOMMU invalidations the VMM trapped
     * @param mapCalls             VFIO_IOMMU_MAP_DMA calls it made
     * @param unmapCalls           VFIO_IOMMU_UNMAP_DMA calls it made
     * @param pagesMapped          4 KiB pages those mapped
     */
    public record VmmSide(String runsOn, String listensOn, int mappings, long bytesMapped, List<String> firstMappings,
                          long invalidationsTrapped, long mapCalls, long unmapCalls, long pagesMapped) {
    }

    /**
     * One level of the DMA's way down: the address the device uses (the same IOVA at every level),
     * what that level's IOMMU makes of it, and where the VMM below holds that page.
     *
     * @param level        the level whose IOMMU translates
     * @param bdf          the device's address there
     * @param translatedBy the level's IOMMU (or "none": the address is the level's physical address)
     * @param output       the level's physical address the IOVA translates to (null: no mapping)
     * @param expected     what it must be: the frame the level above's VMM holds the page at (null at the top)
     * @param vmmVaddr     the VMM process address of that page (null for L0)
     * @param vmmMapping   the VFIO mapping of the VMM (of the level above) that covers the IOVA
     * @param ok           output is present and equals expected
     */
    public record Hop(String level, String bdf, String translatedBy, String output, String expected, String vmmVaddr,
                      String vmmMapping, boolean ok) {
    }

    /**
     * The innermost guest's DMA.
     *
     * @param iova          the DMA address its kernel's DMA API gave (IOVA behind its vIOMMU, else the GPA)
     * @param gpa           the page its kernel mapped
     * @param hops          innermost level first, L0 (the host unit) last
     * @param hostPhysical  the host unit's translation
     * @param bytesChecked  bytes written at the host frame and read back in the innermost guest's page
     * @param bytesMatched  all identical
     * @param deviceDma     the physical edu's own DMA, driven through the innermost VM's BAR (null: not an edu)
     */
    public record Dma(String device, String iova, String gpa, List<Hop> hops, String hostPhysical, int bytesChecked,
                      boolean bytesMatched, String deviceDma, boolean ok) {
    }

    /**
     * A DMA of the innermost device to an IOVA its guest never mapped.
     *
     * @param iova           the address (null when there is none: the innermost VM has no vIOMMU and its
     *                       VMM maps all its RAM, which covers the device's reach; {@code stoppedAt} says so)
     * @param mappedAt       per level (innermost first): whether its VMM's VFIO container maps it
     * @param firstUnmapped  the innermost level whose mapping is missing: where the chain is broken
     * @param stoppedAt      the level whose unit stopped the DMA (the host's, L0: the device is physical)
     * @param fault          the fault as the unit recorded it
     * @param hostLog        the lines the host kernel logged for it
     * @param landed         whether any byte reached memory (must be false)
     */
    public record Stray(String iova, List<String> mappedAt, String firstUnmapped, String stoppedAt, String fault,
                        List<String> hostLog, boolean landed) {
    }

    /**
     * The innermost guest's user space, holding the device through VFIO's no-IOMMU mode, points it
     * at a page its kernel allocated for itself (never given to the process): nothing in that
     * guest translates the address, the VMMs below map all of its RAM, so the bytes land.
     *
     * @param level     the innermost level
     * @param node      the group's node the process opened ({@code /dev/vfio/noiommu-N})
     * @param gpa       the kernel page's guest-physical address, given to the device as its DMA address
     * @param hostPhysical where the host's unit put the DMA
     * @param landed    the page now holds the device's bytes (it must: no IOMMU stops it)
     */
    public record Unsafe(String level, String bdf, String node, String gpa, String hostPhysical, int bytes,
                         boolean landed) {
    }

    /**
     * The NIC ring in the innermost guest ({@code nic-ring}: map per refill, unmap per completion,
     * through its DMA API; {@code static}: one VFIO mapping by a DPDK-style process) and its cost
     * per packet at every level.
     *
     * @param runsIn                    the level whose guest runs it
     * @param levels                    per VM level (L1 first): what its VMM did per packet
     * @param hostIotlbInvalidationsPerPacket IOTLB invalidations the host's unit processed per packet
     * @param hostCachingMode           whether the host's unit reports caching mode: Linux then invalidates
     *                                  on every map too, without it only on unmap (so the host's IOTLB
     *                                  invalidations per packet are L1's VMM's UNMAP_DMA calls per packet)
     */
    public record Workload(String name, String runsIn, int packets, int ring, long delivered, long dmaFaults,
                           List<LevelCost> levels, double hostIotlbInvalidationsPerPacket, boolean hostCachingMode) {
    }

    /**
     * One level's VMM per packet: trapped invalidations of its VM's vIOMMU, VFIO MAP/UNMAP calls into
     * the level below (together, then MAP_DMA and UNMAP_DMA apart).
     */
    public record LevelCost(String level, double trapsPerPacket, double vfioCallsPerPacket, double mapCallsPerPacket,
                            double unmapCallsPerPacket) {
    }
}
