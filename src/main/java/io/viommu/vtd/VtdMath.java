package io.viommu.vtd;

/** Small address helpers shared by the decoders and walks. */
final class VtdMath {
    private VtdMath() {
    }

    /** All ones below the host address width (QEMU VTD_HAW_MASK). */
    static long hawMask(int aw) {
        return aw >= 64 ? -1L : (1L << aw) - 1;
    }
}
