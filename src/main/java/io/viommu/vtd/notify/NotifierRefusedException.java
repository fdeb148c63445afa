package io.viommu.vtd.notify;

import io.viommu.pci.RequesterId;

/**
 * A registration the unit's configuration cannot serve, refused as QEMU 7.2's
 * vtd_iommu_notify_flag_changed refuses it (error_setg_errno with ENOTSUP). {@link #getMessage()}
 * is QEMU's message text; {@link #qemuErrorText()} adds the ": Operation not supported" that
 * error_setg_errno appends. The VFIO-level text ("We need to set caching-mode=on ...") is the
 * VMM layer's, not this one's.
 */
public final class NotifierRefusedException extends Exception {
    public enum Reason {
        /** snoop-control=on: QEMU refuses any notifier ("Snoop Control with vhost or VFIO is not supported"). */
        SNOOP_CONTROL,
        /** MAP without caching-mode=on. */
        CACHING_MODE,
        /** DEVIOTLB_UNMAP without device-iotlb=on. */
        DEVICE_IOTLB
    }

    private final Reason reason;
    private final RequesterId device;

    NotifierRefusedException(Reason reason, RequesterId device) {
        super(message(reason, device));
        this.reason = reason;
        this.device = device;
    }

    public Reason reason() {
        return reason;
    }

    public RequesterId device() {
        return device;
    }

    /** The full text QEMU reports: the message, then strerror(ENOTSUP). */
    public String qemuErrorText() {
        return getMessage() + ": Operation not supported";
    }

    static String message(Reason reason, RequesterId d) {
        return switch (reason) {
            case SNOOP_CONTROL -> "Snoop Control with vhost or VFIO is not supported";
            // QEMU prints bus, PCI_SLOT, PCI_FUNC as %02x.%02x.%x.
            case CACHING_MODE -> String.format("device %02x.%02x.%x requires caching mode",
                    d.bus(), d.device(), d.function());
            case DEVICE_IOTLB -> String.format("device %02x.%02x.%x requires device IOTLB mode",
                    d.bus(), d.device(), d.function());
        };
    }
}
