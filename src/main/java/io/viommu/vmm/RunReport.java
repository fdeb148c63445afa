package io.viommu.vmm;

import java.util.List;

/**
 * What {@code viommu run} found, level by level: the same data for the text report and for
 * {@code --json} (Jackson writes the records as they are).
 *
 * @param vmArgs    the VM's QEMU arguments as given
 * @param ok        false when the run stopped (QEMU's refusal, a failed workload): {@code failure} says why
 * @param failure   the message that ended the run, or null
 * @param host      the host side
 * @param vm        the VM side (null when the VM did not start)
 * @param managed   devices moved to vfio-pci for the run and given back (empty without --managed)
 * @param samples   one DMA per assigned device, followed from guest IOVA to host-physical
 * @param virtio    one request per virtio device with modelled queues (virtio-rng, -net, -blk), every DMA followed
 * @param interrupts one MSI path per assigned device with an interrupt source (an edu), device to guest APIC
 * @param workload  the workload's result (null for {@code none})
 * @param counts    what the run cost at each level
 * @param noEffect  options accepted that have no effect on the model, and why
 * @param warnings  every warning: QEMU's stderr lines, viommu's warnings, libvirt's re-attach failures
 */
public record RunReport(List<String> vmArgs, boolean ok, String failure, Host host, Vm vm, List<Managed> managed,
                        List<Sample> samples, List<Virtio> virtio, List<Interrupt> interrupts, Workload workload, Counts counts, List<String> noEffect,
                        List<String> warnings) {

    /** The host: its command line and the devices it lends the VM. */
    public record Host(String args, boolean iommu, List<HostDevice> devices) {
    }

    /**
     * One assigned device on the host.
     *
     * @param name        {@code 0000:00:04.0}
     * @param ids         vendor:device
     * @param group       its host IOMMU group
     * @param groupMembers every function in that group
     * @param driver      its driver while the VM runs (vfio-pci)
     * @param domain      the host IOMMU domain its context entry points at (domain id, levels, table), or why none
     * @param container   the VMM's VFIO container mappings for the device's address space
     */
    public record HostDevice(String name, String ids, Integer group, List<String> groupMembers, String driver,
                             String domain, Container container) {
    }

    /** A VFIO container: what the VMM's listener has mapped now (iova, size, process vaddr, permissions). */
    public record Container(String listensOn, int mappings, long bytesMapped, List<String> firstMappings) {
    }

    /** The VM: RAM, CPUs, the vIOMMU, every PCI function the guest enumerated, the assigned devices. */
    public record Vm(long ramBytes, int cpus, String accelerator, Viommu viommu, List<Function> topology,
                     List<Assigned> assigned, List<String> guestModules, String guestIommu) {
    }

    /** The vIOMMU's options as the VM has them. */
    public record Viommu(boolean cachingMode, boolean intremap, boolean eim, boolean deviceIotlb, int awBits,
                         boolean scalableMode, String cap, String ecap) {
    }

    /** A PCI function as the guest sees it. */
    public record Function(String bdf, String ids, String model, Integer group, String driver) {
    }

    /** An assigned device as the guest sees it. */
    public record Assigned(String host, String guestBdf, Integer guestGroup, String guestDriver, String addressSpace) {
    }

    /** A device moved to vfio-pci by --managed: the driver it had and was given back. */
    public record Managed(String device, String previousDriver, String now) {
    }

    /**
     * One DMA followed through every level.
     *
     * @param iova          guest IOVA (the GPA when the device bypasses translation)
     * @param viommuGpa     the vIOMMU's translation of it (null: no vIOMMU in the device's path)
     * @param gpa           the guest page the guest driver mapped
     * @param processVaddr  the VMM process's address of that page
     * @param hostMapping   the VMM's VFIO mapping that covered the IOVA while the page was mapped
     * @param hostPhysical  the host unit's translation of (host RID, IOVA)
     * @param processFrame  the host frame behind the process address
     * @param hostFault     the host unit's fault, if any
     */
    public record Sample(String host, String hostRid, String guestBdf, String iova, String viommuGpa, String gpa,
                         String processVaddr, String hostMapping, String hostPhysical, String processFrame,
                         String hostFault, int bytesChecked, boolean bytesMatched, String deviceDma, String afterUnmap,
                         boolean ok) {
    }

    /**
     * A virtio device's virtqueue request ({@link VirtioSample}): how its DMA went (through the
     * vIOMMU, its ATS path, or bypassing it), every DMA it made, the bytes checked in guest RAM.
     */
    public record Virtio(String device, String bdf, String path, String request, String features, String ring,
                         String buffer, List<String> accesses, int translated, int bypassed, int faulted,
                         int bytesChecked, String compared, boolean bytesMatched, int usedLen,
                         long atsTranslationRequests, long deviceTlbHits, long deviceTlbInvalidations,
                         String afterUnmap, String problem, boolean ok) {
        static Virtio of(VirtioSample s) {
            return new Virtio(s.device(), s.bdf(), s.path(), s.request(), s.features(), s.ring(), s.buffer(),
                    s.accesses(), s.translated(), s.bypassed(), s.faulted(), s.bytesChecked(), s.compared(),
                    s.bytesMatched(), s.usedLen(), s.atsTranslationRequests(), s.deviceTlbHits(),
                    s.deviceTlbInvalidations(), s.afterUnmap(), s.problem(), s.ok());
        }
    }

    /**
     * One assigned device's MSI followed through every level ({@link InterruptSample}): the
     * device's message, the host IRTE (null: not remapped on the host), the VMM's eventfd, the
     * guest's message, the vIOMMU IRTE (null: not remapped in the VM), the guest APIC's delivery;
     * and how many of the raised interrupts reached each level.
     */
    public record Interrupt(String host, String guestBdf, String deviceMsi, Integer hostIrte, String hostDelivery,
                            String eventfd, String guestMsi, Integer viommuIrte, String guestDelivery,
                            int guestVector, int guestApicId, int raised, int hostDelivered, int eventfdSignals,
                            int guestDelivered, int handled, String problem, boolean ok) {
        static Interrupt of(InterruptSample s) {
            return new Interrupt(s.hostDevice(), s.guestBdf(), s.deviceMsi(), s.hostIrte(), s.hostDelivery(),
                    s.eventfd(), s.guestMsi(), s.viommuIrte(), s.guestDelivery(), s.guestVector(), s.guestApicId(),
                    s.raised(), s.hostDelivered(), s.eventfdSignals(), s.guestDelivered(), s.handled(), s.problem(),
                    s.ok());
        }
    }

    /** The workload that ran and what it cost. */
    public record Workload(String name, String device, String mapping, int packets, int ring, long delivered,
                           long dmaFaults, double mapsPerPacket, double iotlbInvalidationsPerPacket,
                           double vmExitsPerPacket, long hostMapCalls, long hostUnmapCalls) {
    }

    /**
     * Counts over the whole run.
     *
     * @param invalidationsTrapped   guest invalidations the VMM trapped on the vIOMMU
     * @param hostMapCalls           VFIO_IOMMU_MAP_DMA calls the VMM made
     * @param hostUnmapCalls         VFIO_IOMMU_UNMAP_DMA calls
     * @param hostPagesMapped        4 KiB pages those mapped
     * @param hostIotlbInvalidations IOTLB invalidations the host unit processed while the VM ran
     * @param viommuFaults           DMA faults the guest kernel logged (its vIOMMU's fault records)
     * @param hostFaults             DMA faults the host kernel logged (the host unit's)
     */
    public record Counts(long invalidationsTrapped, long hostMapCalls, long hostUnmapCalls, long hostPagesMapped,
                         long hostIotlbInvalidations, long viommuFaults, long hostFaults) {
    }
}
