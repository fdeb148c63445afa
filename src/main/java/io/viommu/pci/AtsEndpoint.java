package io.viommu.pci;

import io.viommu.memory.Iova;
import io.viommu.memory.PhysAddr;

/**
 * The ATS side of one function's DMA path: its {@link AtsCapability}, its {@link DeviceTlb}
 * and the {@link AtsTranslationAgent} (IOMMU) it asks. With ATS enabled in the capability a
 * DMA page is translated by the device itself: a device-TLB hit becomes a translated request
 * (AT = translated) that the IOMMU only checks for permission to use translated requests; a
 * miss first sends a Translation Request and caches the completion. A completion with U = 1
 * sends the access untranslated; Unsupported Request, Completer Abort or missing permission
 * fail the page (the IOMMU has recorded what the architecture says it records).
 *
 * <p>With ATS disabled {@link #translate} returns null and the {@link DmaPort} sends an
 * ordinary untranslated request.
 */
public final class AtsEndpoint {
    private final RequesterId requester;
    private final AtsCapability capability;
    private final AtsTranslationAgent agent;
    private final DeviceTlb tlb = new DeviceTlb();
    private PasidPrefix prefix; // null: requests without PASID
    private boolean wasEnabled;
    private long translationRequests;

    public AtsEndpoint(RequesterId requester, AtsCapability capability, AtsTranslationAgent agent) {
        this.requester = requester;
        this.capability = capability;
        this.agent = agent;
    }

    public DeviceTlb deviceTlb() {
        return tlb;
    }

    public AtsCapability capability() {
        return capability;
    }

    public RequesterId requester() {
        return requester;
    }

    /** Makes later DMAs carry {@code prefix} (null: no PASID prefix). */
    public void setPasid(PasidPrefix prefix) {
        this.prefix = prefix;
    }

    public long translationRequests() {
        return translationRequests;
    }

    /** Whether ATS is enabled; disabling it empties the device-TLB (PCIe 10.5.1.2). */
    public boolean active() {
        boolean on = capability.enabled();
        if (wasEnabled && !on) {
            tlb.invalidateAll();
        }
        wasEnabled = on;
        return on;
    }

    private int pasidKey() {
        return prefix == null ? DeviceTlb.NO_PASID : prefix.pasid();
    }

    /**
     * The translation of the page of {@code iova} as this device obtains it, or null to send
     * the access as an untranslated request. Never throws.
     */
    public TranslationResult translate(Iova iova, int length, DmaAccess access) {
        if (!active()) {
            return null;
        }
        AtsCompletion c = tlb.lookup(pasidKey(), iova);
        if (c == null) {
            translationRequests++;
            c = agent.translationRequest(requester, prefix, iova, !access.isWrite());
            if (c.ok() && c.untranslatedOnly()) {
                return null;
            }
            if (!c.ok()) {
                return new DmaFault(requester, iova, access, c.faultReason(),
                        "translation request failed: " + c.status(), false);
            }
            tlb.insert(pasidKey(), c);
        }
        if (access.isWrite() ? !c.write() : !c.read()) {
            // A cached read-only entry and a write: ask again (the page may have become
            // writable, and a first-level walk sets D only for a write request).
            if (access.isWrite() && c.read()) {
                translationRequests++;
                AtsCompletion again = agent.translationRequest(requester, prefix, iova, false);
                if (again.ok() && again.write()) {
                    tlb.insert(pasidKey(), again);
                    c = again;
                }
            }
            if (access.isWrite() ? !c.write() : !c.read()) {
                return new DmaFault(requester, iova, access, 0,
                        "translation completion grants no " + access + " access", false);
            }
        }
        long offset = iova.value() - c.untranslated().value();
        long hpa = c.translated().value() + offset;
        TranslationResult checked = agent.translatedRequest(
                new DmaRequest(requester, new Iova(hpa), length, access));
        if (checked instanceof DmaFault f) {
            return new DmaFault(requester, iova, access, f.reason(), f.description(), f.recorded());
        }
        // The page the translated request moves: 4 KiB within the cached range.
        long page = iova.value() & ~0xfffL;
        return new Translation(new Iova(page), new PhysAddr(hpa & ~0xfffL), 4096, c.read(), c.write());
    }
}
