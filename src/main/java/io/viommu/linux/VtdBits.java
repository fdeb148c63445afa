package io.viommu.linux;

/**
 * The CAP/ECAP fields the Linux driver model reads (VT-d spec 10.4.2/10.4.3; Linux's
 * cap_caching_mode, ecap_qis, ecap_smts, ecap_slts, ecap_flts):
 * <pre>
 *  CAP  bit 7  CM    caching mode
 *  ECAP bit 1  QI    queued invalidation
 *  ECAP bit 43 SMTS  scalable mode translation
 *  ECAP bit 46 SLTS  second-level translation (scalable mode)
 *  ECAP bit 47 FLTS  first-level translation (scalable mode)
 * </pre>
 */
final class VtdBits {
    private VtdBits() {
    }

    static boolean cachingMode(long cap) {
        return (cap >>> 7 & 1) != 0;
    }

    static boolean qi(long ecap) {
        return (ecap >>> 1 & 1) != 0;
    }

    static boolean smts(long ecap) {
        return (ecap >>> 43 & 1) != 0;
    }

    static boolean slts(long ecap) {
        return (ecap >>> 46 & 1) != 0;
    }

    static boolean flts(long ecap) {
        return (ecap >>> 47 & 1) != 0;
    }
}
