package io.viommu.vtd;

/**
 * DMA-remapping lifecycle (GCMD.TE / GSTS.TES). Moved only through
 * {@code IntelIommu.transition(TranslationState, String)}.
 */
public enum TranslationState {
    /** TES = 0: DMA is not translated (identity), as after reset. */
    DISABLED,
    /** TES = 1: DMA goes through root/context tables and the second-level walk. */
    ENABLED;

    boolean canMoveTo(TranslationState next) {
        return next != this;
    }
}
