/**
 * The Intel VT-d remapping unit (legacy and scalable mode, interrupt remapping, ATS), held
 * against QEMU 7.2's {@code intel-iommu}.
 *
 * <p>Entry points: {@link io.viommu.vtd.IntelIommu} (its constructor, {@code load/store} on the
 * register page, {@code translate}), configured by {@link io.viommu.vtd.VtdConfig}
 * ({@code fromQemuProperties} takes QEMU's property syntax and fails with QEMU's messages).
 *
 * <h2>Structure</h2>
 * <ul>
 * <li>{@link io.viommu.vtd.IntelIommu} is the register front: guest MMIO in, operations out.
 *     It owns the register file ({@link io.viommu.vtd.VtdRegisters}), the lifecycles
 *     ({@link io.viommu.vtd.TranslationState}, {@link io.viommu.vtd.QueueState}) and the
 *     invalidation listeners, and delegates: {@code InvalidationQueue} (queued invalidation),
 *     {@code RegisterInvalidation} (CCMD, IOTLB/IVA), {@code CacheInvalidation} (every
 *     invalidation: the core's caches, then the listeners), {@code FaultRing} (the FRCD
 *     registers), {@code EventInterrupts} (fault and completion events).</li>
 * <li>{@code DmaRemapping} is the translation core: request in, translation or fault out. It
 *     owns the caches and walks and is driven by operations (enable, set root table,
 *     invalidate); faults go to the {@code FaultRecorder} it is given (the fault ring). It never
 *     reaches back into the register front, nor do {@link io.viommu.vtd.AtsService} and
 *     {@link io.viommu.vtd.InterruptRemapping}, which get narrow views.</li>
 * <li>Context resolution is a value: a {@code ContextResolver} (legacy or scalable) returns a
 *     {@link io.viommu.vtd.ContextResult}, a resolved context or a fault with its reason and
 *     FPD. Scalable mode adds the PASID step (PASID directory and entry), after the IOTLB
 *     lookup as in QEMU.</li>
 * <li>One second-level walk ({@link io.viommu.vtd.SecondLevelWalk}) serves legacy translation,
 *     scalable PGTT 2, the second stage of nested translation, ATS and the notifier's range
 *     walk; one first-level walk ({@code FirstLevelWalk}).</li>
 * <li>One bounded LRU cache ({@code LruCache}) with different key types: the IOTLB
 *     ({@code Iotlb}, both modes), the context cache and the PASID cache.</li>
 * </ul>
 *
 * <h2>Modelled</h2>
 * Register file from one table (reset, write, W1C and write-only masks, {@link io.viommu.vtd.VtdRegisters});
 * QEMU's access splitting (pieces under 4 bytes read 0); GCMD/GSTS for TE, SRTP, QIE, SIRTP, IRE;
 * root/context tables with TT 00/01/10; 3-, 4- and 5-level second-level walks; 2 MiB and 1 GiB
 * pages; QEMU's reserved-bit masks and fault reasons 1-0xC and 0xE; FPD for qualified faults;
 * context cache and LRU IOTLB (both bounded, in both modes); CCMD and IOTLB/IVA invalidation
 * with CAIG/IAIG as QEMU reports them;
 * queued invalidation (128-bit, and 256-bit in scalable mode) with context-cache, IOTLB,
 * device-TLB, interrupt-entry-cache and wait descriptors, IQE stopping at the bad descriptor;
 * ICS/IECTL and FSTS/FECTL events through {@link io.viommu.pci.MsiSink}; the FRCD ring with
 * PPF, PFO, FRI and QEMU's compression of faults from one source; state snapshots.
 * Interrupt remapping ({@link io.viommu.vtd.InterruptRemapping}): IRTA/SIRTP/IRE/CFI, remapped
 * IRTEs ({@link io.viommu.vtd.Irte}) with xAPIC/x2APIC (EIME) destinations, remappable and
 * compatibility-format MSIs, SHV/subhandle, SVT/SQ source validation, an optional interrupt
 * entry cache with global and index-selective IEC descriptors, faults 0x20-0x26 in the FRCD
 * registers with FPD.
 *
 * <h2>Deliberate differences from QEMU 7.2</h2>
 * <ul>
 * <li>A wait descriptor with both SW and IF writes the status and then signals completion
 *     (QEMU asserts and the VM dies).</li>
 * <li>An 8-byte write to FECTL, IECTL or IEADDR is performed as two 4-byte writes (QEMU asserts).</li>
 * <li>The IOTLB evicts its least-recently-used entry at {@code iotlb-entries} (QEMU drops every
 *     entry when 1024 are cached). Hits and misses give the same results either way; only the
 *     cost of later misses differs.</li>
 * <li>Interrupt-remapping faults 0x20-0x26 are recorded in the fault registers (FI 63:48 =
 *     index, as the spec and QEMU >= 8.2); QEMU 7.2 only prints a message and drops the
 *     interrupt. GCMD.CFI sets GSTS.CFIS and compatibility-format interrupts are blocked (0x25)
 *     while IR is on and CFIS clear; QEMU 7.2 ignores CFI and always passes them.</li>
 * <li>Extensions, all off by default: {@code aw-bits=57}, {@code fault-records=N},
 *     {@code iotlb-entries=N}, {@code iec-entries=N} (an interrupt entry cache; without it every
 *     IRTE is read from memory, as QEMU 7.2 does).</li>
 * </ul>
 *
 * <h2>Where QEMU departs from the spec and this model follows QEMU</h2>
 * <ul>
 * <li>FRCD.PV is 0xffff on faults found in the second-level walk although PP = 0 (and 0 on
 *     root/context faults).</li>
 * <li>A disallowed or reserved context TT is fault 3 for DMA, never 0xD (0xD is recorded for
 *     ATS translation and translated requests to a context without TT = 01b, see
 *     {@link io.viommu.vtd.AtsService}).</li>
 * <li>Paging-entry permission is checked before reserved bits; an unreadable paging entry (or one
 *     reading all ones) is fault 3 at the top level and 7 below.</li>
 * <li>A DMA whose cached translation lacks the permission fails without a fault record.</li>
 * <li>Domain-selective context invalidation is performed and reported (CAIG) as global.</li>
 * <li>IQER stays 0 (VER is 1.0); IQA reads back the base latched at QIE time; register-based
 *     invalidation is ignored while QI is on (ICC/IVT stay set); CFI, WBF and SFL have no effect;
 *     IRE and CFI are ignored without interrupt remapping; IRTE.IM (posted) is read as a
 *     remapped-format entry; the xAPIC-mode DST bits outside 47:40 are not checked; a
 *     subhandle index wraps at 16 bits; a wait descriptor with neither SW nor IF, and
 *     PASID-cache/PASID-IOTLB descriptors in legacy mode, behave as in QEMU (IQE / ignored).</li>
 * </ul>
 *
 * <h2>Scalable mode (RTADDR.TTM = 01)</h2>
 * {@link io.viommu.vtd.ScalableModeTranslator}: scalable root entries (both halves), 256-bit
 * context entries, PASID directory and tables, RID_PASID/RID_PRIV for requests without PASID,
 * requests with a PASID prefix ({@link io.viommu.vtd.IntelIommu#translate(io.viommu.pci.DmaRequest,
 * io.viommu.pci.PasidPrefix)}), PGTT second-level, pass-through, and with the extensions
 * {@code x-flts}/{@code x-nest} first-level (4/5-level, A/D updates, canonical, U/S, SRE, WPE,
 * XD/NXE/ERE) and nested ({@link io.viommu.vtd.FirstLevelWalk}); a PASID cache and a
 * PASID-tagged IOTLB with PASID-cache and PASID-IOTLB descriptors; fault reasons as QEMU 7.2
 * records them, or the specification's 0x38-0x87 with {@code x-sm-spec-faults}
 * ({@link io.viommu.vtd.ScalableFault}). Checked against QEMU 7.2 by ScalableModeConformanceTest.
 * Differences from QEMU 7.2: QEMU walks the second-level table of first-level and nested PASID
 * entries as if PGTT were 2; here they are invalid PASID entries (0x58) unless the extensions
 * advertise them. QEMU accepts PASID-based device-TLB descriptors (type 8) nowhere; here they
 * are processed when scalable mode and device-iotlb are both on. QEMU has no PASID cache;
 * here a changed PASID entry is seen after PASID-cache or context-cache invalidation.
 *
 * <h2>ATS / device-IOTLB</h2>
 * {@link io.viommu.vtd.AtsService} answers translation requests (legacy TT = 01b, scalable
 * DTE = 1) with completions carrying size and permissions, checks translated requests, and
 * delivers device-TLB invalidations (type 3; type 8) to the functions' device-TLBs
 * ({@link io.viommu.pci.DeviceTlb}, {@link io.viommu.pci.AtsEndpoint}).
 *
 * <h2>Not modelled yet</h2>
 * Posted interrupts (CAP.PI = 0, as QEMU), page requests (PRS), second-level A/D (SLADS).
 * The map/unmap notifier ({@link io.viommu.vtd.notify}) follows legacy-mode units only.
 */
package io.viommu.vtd;
