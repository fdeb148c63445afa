package io.viommu.pci;

/**
 * The translation agent an ATS-capable function talks to (its IOMMU), PCIe 6.x section 10.
 * Implementations never throw: guest errors end as a failed completion or a {@link DmaFault}.
 */
public interface AtsTranslationAgent {
    /**
     * A Translation Request for the page of {@code iova}. {@code noWrite} is the request's NW
     * bit (the device asks for read access only); {@code prefix} the PASID prefix or null.
     */
    AtsCompletion translationRequest(RequesterId requester, PasidPrefix prefix, io.viommu.memory.Iova iova,
                                     boolean noWrite);

    /**
     * A translated request (AT = 10b) to host address {@code request.iova()}: the agent checks
     * only that the requester may issue translated requests (VT-d: context TT = 01b, or DTE = 1
     * in scalable mode) and answers with an identity {@link Translation} or a fault.
     */
    TranslationResult translatedRequest(DmaRequest request);
}
