package io.viommu.vmm.libvirt;

/**
 * A domain XML libvirt 9.0 refuses, with libvirt's message as virsh prints it after
 * {@code error: } (e.g. {@code unsupported configuration: IOMMU eim requires interrupt
 * remapping to be enabled}). For XML that is not well-formed, {@link #line()} and
 * {@link #column()} say where (0 otherwise).
 */
public final class LibvirtException extends Exception {
    private final int line;
    private final int column;

    public LibvirtException(String message) {
        this(message, 0, 0);
    }

    public LibvirtException(String message, int line, int column) {
        super(message);
        this.line = line;
        this.column = column;
    }

    public int line() {
        return line;
    }

    public int column() {
        return column;
    }
}
