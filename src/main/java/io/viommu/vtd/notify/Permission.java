package io.viommu.vtd.notify;

/**
 * What a mapping allows a device to do: QEMU's IOMMUAccessFlags without IOMMU_NONE (an
 * entry that allows nothing is not a mapping). Second-level R and W are ANDed over the walk.
 */
public enum Permission {
    READ_ONLY(true, false), WRITE_ONLY(false, true), READ_WRITE(true, true);

    private final boolean readable;
    private final boolean writable;

    Permission(boolean readable, boolean writable) {
        this.readable = readable;
        this.writable = writable;
    }

    public boolean readable() {
        return readable;
    }

    public boolean writable() {
        return writable;
    }

    /** The permission for R/W bits, or null when neither is set (not a mapping). */
    public static Permission of(boolean readable, boolean writable) {
        if (readable) {
            return writable ? READ_WRITE : READ_ONLY;
        }
        return writable ? WRITE_ONLY : null;
    }
}
