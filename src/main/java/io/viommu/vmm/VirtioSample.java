package io.viommu.vmm;

import io.viommu.linux.driver.DmaOps;
import io.viommu.linux.driver.DriverDma;
import io.viommu.linux.driver.IrqCore;
import io.viommu.linux.driver.PciDevice;
import io.viommu.machine.Machine;
import io.viommu.machine.device.Endpoints;
import io.viommu.machine.device.LocalApicSink;
import io.viommu.machine.device.VirtioFunction;
import io.viommu.machine.device.VirtioFunctions;
import io.viommu.machine.device.VirtioModern;
import io.viommu.memory.AddressSpace;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.AtsEndpoint;
import io.viommu.pci.DeviceTlb;
import io.viommu.pci.DmaPort;
import io.viommu.pci.PciFunction;
import io.viommu.pci.PciRegs;
import io.viommu.vtd.IntelIommu;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One request through a virtio device's virtqueues, as the guest's virtio driver makes it
 * (virtio_pci_modern's setup, virtio_ring's virtqueue_add_*, the kind's driver), with every DMA
 * of the device followed and the bytes checked in guest RAM.
 *
 * <ol>
 * <li>Setup through BAR4 (the guest CPU's MMIO): reset, ACKNOWLEDGE|DRIVER, the features
 *     (VERSION_1, ACCESS_PLATFORM when the device offers it: {@code iommu_platform=on}, and
 *     virtio-net's MAC), FEATURES_OK, each queue the request uses at its size with its ring
 *     addresses, enabled, DRIVER_OK. Queue 0's ring is the virtio-pci driver's own queue memory
 *     ({@link DriverDma#virtio()}, dma_alloc_coherent at probe), virtio-net's transmit ring one
 *     more coherent allocation; the addresses the device gets are DMA addresses (IOVAs behind a
 *     vIOMMU) when ACCESS_PLATFORM was negotiated ({@code vring_use_dma_api}), guest-physical
 *     ones otherwise.</li>
 * <li>The request ({@link Requests}): virtio-rng one device-writable buffer; virtio-net a receive
 *     buffer posted, then a frame transmitted (the model's backend loops it back into the receive
 *     buffer); virtio-blk a write of 4 KiB to the model disk, then a read of it. Each buffer
 *     mapped with {@code dma_map_single} in the direction the driver uses.</li>
 * <li>The device's DMAs go through the vIOMMU (ATS translation requests and device-TLB hits
 *     when the function has ATS enabled) or on system memory (the bypass).</li>
 * <li>The guest reads the used rings and compares every byte: what the device read with what the
 *     guest wrote, what it wrote with what is in guest RAM; then unmaps (a device-TLB
 *     invalidation with ATS). With the vIOMMU in the path a stale request (an unmapped IOVA
 *     posted again, as a buggy driver would) must fault and leave the page as it was.</li>
 * </ol>
 *
 * @param device        the device's type name
 * @param bdf           its BDF in the VM
 * @param path          how its DMA went: "vIOMMU", "vIOMMU (ATS)", "bypass" or "no vIOMMU"
 * @param request       what the driver asked of the device
 * @param features      offered and negotiated feature bits
 * @param ring          the rings' addresses as the device got them and where they are in guest RAM
 * @param buffer        the buffers' addresses as the device got them and their GPAs
 * @param accesses      every DMA of the device, in order
 * @param translated    DMAs that went through the vIOMMU (or its ATS path)
 * @param bypassed      DMAs on system memory, not seen by the vIOMMU
 * @param faulted       DMAs that faulted (during the request)
 * @param bytesChecked  bytes compared
 * @param compared      what was compared with what
 * @param bytesMatched  whether every compared byte, used element and status was as expected
 * @param usedLen       the length the device put in the (last) used element
 * @param atsTranslationRequests ATS translation requests the device sent
 * @param deviceTlbHits         DMAs its device-TLB answered
 * @param deviceTlbInvalidations device-TLB invalidations the device received (the guest's unmap)
 * @param afterUnmap    what the stale request did (null: not probed)
 * @param problem       why the request did not complete, or null
 * @param irq           the device's interrupts as the guest's virtio-pci set them up and received them
 */
public record VirtioSample(String device, String bdf, String path, String request, String features, String ring,
                           String buffer, List<String> accesses, int translated, int bypassed, int faulted,
                           int bytesChecked, String compared, boolean bytesMatched, int usedLen,
                           long atsTranslationRequests, long deviceTlbHits, long deviceTlbInvalidations,
                           String afterUnmap, String problem, Irq irq) {

    /**
     * The interrupts of the request, set up as Linux's virtio_pci does (vp_find_vqs): MSI-X
     * with one vector for configuration changes and one per queue (vp_find_vqs_msix), else one
     * shared by the queues, else INTx; each vector's message in the compatibility format, or
     * with the vIOMMU's interrupt remapping on, the remappable format with an IRTE the guest's
     * intel-iommu driver wrote. The device's used-buffer notifications are MSI-X writes on its
     * bus-master address space: through the vIOMMU's interrupt remapping to the guest's local APIC.
     *
     * @param mode          "MSI-X per queue", "MSI-X shared", "INTx" (and why)
     * @param vectors       msix_config and each queue's queue_msix_vector as read back
     * @param guestMsi      the first queue vector's table entry as the guest programmed it
     * @param viommuIrte    the vIOMMU IRTE its message used (null: not remapped)
     * @param guestDelivery what the guest CPU's local APIC received (vector, destination)
     * @param guestVector   the CPU vector the guest allocated for that queue
     * @param raised        interrupts the device raised during the request
     * @param delivered     of those, received by the guest's local APIC at the vector and CPU programmed
     * @param handled       the guest's handler runs (vring_interrupt)
     */
    public record Irq(String mode, String vectors, String guestMsi, Integer viommuIrte, String guestDelivery,
                      int guestVector, int raised, int delivered, int handled) {
    }

    /** Bytes virtio-rng's request asks for. */
    public static final int LENGTH = 64;

    /** The request completed and every byte the device moved is where it belongs. */
    public boolean ok() {
        return problem == null && faulted == 0 && bytesMatched && (afterUnmap == null || afterUnmap.startsWith("faulted"))
                && (irq == null || irq.mode().startsWith("INTx") || irq.raised() > 0 && irq.delivered() == irq.raised()
                && irq.handled() > 0);
    }

    /**
     * Connects the ATS endpoint of every virtio function with ATS once the guest numbered the
     * buses (the endpoint asks with its requester id), as the edu's is at plug time.
     */
    static void attachAts(Machine vm) {
        IntelIommu iommu = vm.iommu();
        if (iommu == null) {
            return;
        }
        for (PciFunction f : vm.devices()) {
            if (f instanceof Endpoints.VirtioPci v && v.atsCapability() != null && v.dma() != null
                    && v.dma().ats() == null) {
                AtsEndpoint endpoint = new AtsEndpoint(v.address(), v.atsCapability(), iommu.ats());
                iommu.ats().attach(v.address(), endpoint.deviceTlb());
                v.dma().attachAts(endpoint);
            }
        }
    }

    /** The samples of every virtio function with working queues. */
    static List<VirtioSample> takeAll(Guest guest) {
        List<VirtioSample> out = new ArrayList<>();
        for (PciFunction f : guest.vmm().machine().devices()) {
            if (f instanceof Endpoints.VirtioPci v && v.queue() != null) {
                out.add(take(guest, v));
            }
        }
        return out;
    }

    static VirtioSample take(Guest guest, Endpoints.VirtioPci f) {
        Vmm vmm = guest.vmm();
        String bdf = "0000:" + f.address();
        VirtioModern q = f.queue();
        var kernel = guest.kernel();
        PciDevice pd = kernel.drivers().device(bdf).orElse(null);
        DriverDma dd = pd == null || pd.driver() == null ? null : pd.driver().dma();
        List<DriverDma.Buffer> bufs = dd == null ? List.of() : dd.buffers(pd);
        long bar = f.barAddress(4);
        if (bufs.isEmpty() || bar < 0 || bar == io.viommu.pci.Bar.UNMAPPED) {
            return failed(f, bdf, "the guest's virtio-pci driver is not bound or BAR4 is not placed");
        }
        AddressSpace mem = vmm.machine().memory(); // the guest CPU's view: RAM and MMIO
        DmaOps ops = kernel.drivers().dmaOps();
        IntelIommu viommu = vmm.machine().iommu();
        VirtioFunction kind = q.function();
        int before = q.accessCount();
        // virtio_pci_modern: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK
        Requests.mmio(mem, bar, VirtioModern.DEVICE_STATUS, 0, 1);
        Requests.mmio(mem, bar, VirtioModern.DEVICE_STATUS, VirtioModern.STATUS_ACKNOWLEDGE | VirtioModern.STATUS_DRIVER, 1);
        long offered = 0;
        for (int sel = 0; sel < 2; sel++) {
            Requests.mmio(mem, bar, VirtioModern.DEVICE_FEATURE_SELECT, sel, 4);
            offered |= mem.read(PhysAddr.of(bar + VirtioModern.DEVICE_FEATURE), 4) << (32 * sel);
        }
        long known = VirtioModern.F_VERSION_1 | VirtioModern.F_ACCESS_PLATFORM
                | (kind instanceof VirtioFunctions.Net ? VirtioFunctions.Net.F_MAC : 0);
        long wanted = offered & known;
        for (int sel = 0; sel < 2; sel++) {
            Requests.mmio(mem, bar, VirtioModern.DRIVER_FEATURE_SELECT, sel, 4);
            Requests.mmio(mem, bar, VirtioModern.DRIVER_FEATURE, wanted >>> (32 * sel), 4);
        }
        Requests.mmio(mem, bar, VirtioModern.DEVICE_STATUS, VirtioModern.STATUS_ACKNOWLEDGE | VirtioModern.STATUS_DRIVER
                | VirtioModern.STATUS_FEATURES_OK, 1);
        if ((mem.read(PhysAddr.of(bar + VirtioModern.DEVICE_STATUS), 1) & VirtioModern.STATUS_FEATURES_OK) == 0) {
            return failed(f, bdf, "the device refused the features (FEATURES_OK did not stick)");
        }
        boolean dmaApi = (wanted & VirtioModern.F_ACCESS_PLATFORM) != 0; // vring_use_dma_api
        String features = String.format(Locale.ROOT, "offered 0x%x, negotiated 0x%x (VERSION_1%s%s)", offered, wanted,
                (wanted & VirtioFunctions.Net.F_MAC) != 0 && kind instanceof VirtioFunctions.Net ? ", MAC" : "",
                dmaApi ? ", ACCESS_PLATFORM" : "; no ACCESS_PLATFORM: the driver gives guest-physical addresses");
        DmaPort port = f.dma();
        AtsEndpoint ats = port == null ? null : port.ats();
        boolean atsOn = ats != null && ats.active();
        DeviceTlb tlb = ats == null ? null : ats.deviceTlb();
        long treqBefore = ats == null ? 0 : ats.translationRequests();
        long hitsBefore = tlb == null ? 0 : tlb.hits();
        long invBefore = tlb == null ? 0 : tlb.invalidations();
        Requests r = new Requests(mem, bar, ops, pd.rid(), dmaApi, viommu != null, q, kernel);
        r.ats(atsOn);
        IrqCore irqs = kernel.drivers().irqCore();
        int[] handled = {0};
        int used = kind instanceof VirtioFunctions.Net ? 2 : 1;
        int[] vectors = new int[used];
        String mode = requestVectors(irqs, pd, mem, bar, vectors, () -> handled[0]++);
        try {
            // the queues the request uses: queue 0 in the probe's coherent memory, the others allocated now
            for (int n = 0; n < used; n++) {
                DriverDma.Buffer mem0 = n == 0 ? bufs.get(0) : null;
                if (r.queue(n, mem0, vectors[n]) == null) {
                    return failed(f, bdf, "the guest kernel could not allocate queue " + n + "'s ring");
                }
                if (vectors[n] != VirtioModern.NO_VECTOR && r.vector(n) == VirtioModern.NO_VECTOR) {
                    return failed(f, bdf, "queue " + n + "'s MSI-X vector " + vectors[n]
                            + " read back as VIRTIO_MSI_NO_VECTOR (vp_setup_vq: -EBUSY)");
                }
            }
            Requests.mmio(mem, bar, VirtioModern.DEVICE_STATUS, VirtioModern.STATUS_ACKNOWLEDGE | VirtioModern.STATUS_DRIVER
                    | VirtioModern.STATUS_FEATURES_OK | VirtioModern.STATUS_DRIVER_OK, 1);
            // bus mastering (virtio_pci_probe: pci_set_master)
            f.configWrite(PciRegs.COMMAND, f.configRead(PciRegs.COMMAND, 2) | PciRegs.COMMAND_MASTER, 2);
            LocalApicSink guestApic = vmm.machine().interrupts().apic();
            int apicFrom = guestApic.log().size();
            int raisedFrom = q.interrupts().size();
            Requests.Outcome o = switch (kind) {
                case VirtioFunctions.Net net -> r.net(net);
                case VirtioFunctions.Blk blk -> r.blk(blk);
                default -> r.rng();
            };
            kernel.takeInterrupts(); // the guest CPU takes what its local APIC received: vring_interrupt
            Irq irq = irq(mode, q, raisedFrom, guestApic, apicFrom, pd, irqs, vmm, f.msix(), vectors, handled[0]);
            Requests.mmio(mem, bar, VirtioModern.DEVICE_STATUS, 0, 1); // the queues torn down (virtio reset)
            List<VirtioModern.Access> during = q.accessesSince(before).subList(0, o.requestAccesses());
            int translated = (int) during.stream().filter(VirtioModern.Access::translated).count();
            String path = !dmaApi ? (viommu == null ? "no vIOMMU" : "bypass")
                    : viommu == null ? "no vIOMMU" : atsOn ? "vIOMMU (ATS)" : "vIOMMU";
            return new VirtioSample(f.typeName(), bdf, path, o.request(), features, r.rings(), o.buffer(),
                    during.stream().map(Object::toString).toList(), translated, during.size() - translated,
                    (int) during.stream().filter(a -> !a.ok()).count(), o.bytesChecked(), o.compared(), o.matched(),
                    o.usedLen(), ats == null ? 0 : ats.translationRequests() - treqBefore,
                    tlb == null ? 0 : tlb.hits() - hitsBefore, tlb == null ? 0 : tlb.invalidations() - invBefore,
                    o.afterUnmap(), o.problem(), irq);
        } finally {
            r.release();
            if (!mode.startsWith("INTx")) {
                for (int i = 0; i <= (mode.equals(PER_QUEUE) ? used : 1); i++) {
                    irqs.freeMsi(pd, i);
                }
                irqs.freeMsiVectors(pd);
            }
        }
    }

    private static final String PER_QUEUE = "MSI-X, a vector per queue";
    private static final String SHARED = "MSI-X, one vector shared by the queues";

    /**
     * vp_find_vqs: MSI-X with a configuration vector (entry 0, vp_config_changed) and one per
     * queue, else one shared by the queues (entry 1, vp_vring_interrupt), else INTx; the
     * configuration vector written to msix_config and read back (NO_VECTOR: -EBUSY, the next
     * choice). {@code vectors} gets each queue's vector (NO_VECTOR with INTx).
     */
    private static String requestVectors(IrqCore irqs, PciDevice pd, AddressSpace mem, long bar, int[] vectors,
                                         Runnable vringInterrupt) {
        String why = "";
        for (boolean perVq : new boolean[] {true, false}) {
            int n = perVq ? 1 + vectors.length : 2;
            int got = irqs.allocMsixVectors(pd, n); // pci_alloc_irq_vectors(n, n, PCI_IRQ_MSIX)
            if (got != n) {
                if (got > 0) {
                    irqs.freeMsiVectors(pd);
                }
                why = got < 0 ? "pci_alloc_irq_vectors(PCI_IRQ_MSIX) returned " + got
                        : "the device has fewer than " + n + " MSI-X vectors";
                continue;
            }
            irqs.requestMsi(pd, 0, () -> { }); // vp_config_changed: the model's devices change no configuration
            Requests.mmio(mem, bar, VirtioModern.MSIX_CONFIG, 0, 2);
            if (mem.read(PhysAddr.of(bar + VirtioModern.MSIX_CONFIG), 2) == VirtioModern.NO_VECTOR) {
                irqs.freeMsi(pd, 0);
                irqs.freeMsiVectors(pd);
                why = "msix_config read back VIRTIO_MSI_NO_VECTOR";
                continue;
            }
            if (!perVq) {
                irqs.requestMsi(pd, 1, vringInterrupt);
            }
            for (int i = 0; i < vectors.length; i++) {
                vectors[i] = perVq ? 1 + i : 1;
                if (perVq) {
                    irqs.requestMsi(pd, 1 + i, vringInterrupt);
                }
            }
            return perVq ? PER_QUEUE : SHARED;
        }
        java.util.Arrays.fill(vectors, VirtioModern.NO_VECTOR);
        return "INTx (" + why + "): the model's driver reads the used ring";
    }

    /** The request's interrupts as the device raised them and the guest's local APIC received them. */
    private static Irq irq(String mode, VirtioModern q, int raisedFrom, LocalApicSink apic, int apicFrom, PciDevice pd,
                           IrqCore irqs, Vmm vmm, io.viommu.pci.MsixTable table, int[] vectors, int handled) {
        StringBuilder v = new StringBuilder("msix_config ").append(q.configVector());
        for (int i = 0; i < vectors.length; i++) {
            v.append(", queue ").append(i).append(' ').append(q.queueVector(i));
        }
        int raised = (int) q.interrupts().subList(raisedFrom, q.interrupts().size()).stream()
                .filter(i -> i.queue() >= 0).count();
        if (mode.startsWith("INTx") || table == null) {
            return new Irq(mode, v.toString(), null, null, null, -1, raised, 0, handled);
        }
        java.util.Set<Integer> cpuVectors = new java.util.HashSet<>();
        for (int e : vectors) {
            cpuVectors.add(irqs.msiCpuVector(pd, e));
        }
        int apicId = vmm.machine().smp().apicId(0);
        List<LocalApicSink.ApicInterrupt> got = apic.log().subList(apicFrom, apic.log().size()).stream()
                .filter(a -> pd.rid().equals(a.source()) && cpuVectors.contains(a.vector())).toList();
        int delivered = (int) got.stream().filter(a -> !a.logical() && a.destination() == apicId).count();
        Integer irte = got.isEmpty() || !got.get(0).remapped() ? null : got.get(0).irteIndex();
        return new Irq(mode, v.toString(), InterruptSample.msi(table.address(vectors[0]), table.data(vectors[0])), irte,
                got.isEmpty() ? null : InterruptSample.delivery(got.get(0)), irqs.msiCpuVector(pd, vectors[0]), raised,
                delivered, handled);
    }

    private static VirtioSample failed(PciFunction f, String bdf, String why) {
        return new VirtioSample(f.typeName(), bdf, null, null, null, null, null, List.of(), 0, 0, 0, 0, null, false, 0,
                0, 0, 0, null, why, null);
    }
}
