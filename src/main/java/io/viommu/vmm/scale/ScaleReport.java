package io.viommu.vmm.scale;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * What {@link ScaleScenario} found: counts (deterministic for the same options), the check of
 * every mapping's DMA, the costs (CPU time of the one driver thread, and wall time, which on a
 * shared machine includes everything else it runs), and the memory the model holds.
 *
 * @param breaksFirst the first limit met (Linux's errno in words), or null when nothing broke
 * @param failures    the VMs that met one, with the first lines their VMM printed
 * @param hostLog     the host kernel's lines during the run (VFIO and pinning messages), at most 8
 */
public record ScaleReport(ScaleScenario.Options options, List<String> hostArgs, List<String> vmArgs,
                          List<String> hostSetup, Counts counts, Check check, Costs costs, Memory memory,
                          String breaksFirst, List<VmLine> failures, List<String> hostLog, List<String> notes) {

    /**
     * @param hostVfs             VFs the host's nvme controllers have once enabled
     * @param vfGroups            distinct IOMMU groups of those VFs
     * @param guestMappings       the guests' live dma_map_single mappings
     * @param hostVfioEntries     MAP_DMA entries held by the VMMs' type1 containers
     * @param mapErrors           errors the VMMs reported while shadowing (QEMU's lines)
     * @param distinctGuestPages  guest pages carrying the mappings (all VMs)
     * @param lockedPages         {@code locked_vm} of all VMM processes together, in pages
     */
    public record Counts(int hostVfs, long vfGroups, int vmsAsked, int vmsRunning, long mapsAsked, long guestMappings,
                         long guestMapFailures, long hostVfioEntries, long mapErrors, int pagesPerVm,
                         long distinctGuestPages, long lockedPages) {
    }

    /**
     * @param dmas          8-byte DMA writes issued, one per live guest mapping, by the VM's VF (host requester id)
     * @param landed        of them, read back at the mapping's guest-physical address in the VM's own RAM
     * @param wrongFrame    the host unit's translation was not the host frame behind the VM's guest page
     * @param crossVm       a host frame reached by the VFs of two VMs
     * @param faulted       DMAs the host unit stopped (a guest mapping the VMM could not shadow)
     * @param probesFaulted DMAs to an IOVA no guest mapped, one per VM, that the host unit stopped
     */
    public record Check(long dmas, long landed, long wrongFrame, long crossVm, long faulted, long probesFaulted) {
        @JsonProperty
        public boolean ok() {
            return wrongFrame == 0 && crossVm == 0 && landed + faulted == dmas;
        }
    }

    /** CPU nanoseconds of the driver thread and wall nanoseconds, per phase. */
    public record Costs(long vmStartCpuNs, long vmStartWallNs, long mapCpuNs, long mapWallNs, long translations,
                        long dmaFaults, long dmaCpuNs, long dmaWallNs, long totalWallNs) {
        /** Translations per second of the driver thread's CPU time. */
        @JsonProperty
        public double translationsPerCpuSecond() {
            return dmaCpuNs == 0 ? 0 : translations * 1e9 / dmaCpuNs;
        }

        @JsonProperty
        public double translationsPerWallSecond() {
            return dmaWallNs == 0 ? 0 : translations * 1e9 / dmaWallNs;
        }
    }

    /**
     * @param javaHeapAfterGc   Java heap in use after a full GC, all VMs alive
     * @param offHeap           host RAM backed by off-heap memory (2 MiB chunks touched): guest RAM, host tables
     * @param guestRamResident  guest RAM pages faulted into the VMM processes (host frames they hold)
     */
    public record Memory(long javaHeapAfterGc, long offHeap, long guestRamResident, long guestRamEach, long hostRam) {
    }

    /** One VM that met a limit. */
    public record VmLine(int vm, String vf, String what, List<String> lines) {
    }

    /** True when every check held and nothing broke. */
    @JsonProperty
    public boolean ok() {
        return breaksFirst == null && check.ok() && costs.dmaFaults() == 0;
    }
}
