package io.viommu.pci;

/**
 * Configuration cycles by routing id, as a host bridge issues them (ECAM semantics: 4 KiB per
 * function; all ones where nothing answers). What firmware and a kernel model use to see and
 * program the hierarchy, exactly as a guest would.
 */
public interface ConfigAccess {
    /** Reads {@code len} (1, 2 or 4) bytes; all ones when no function answers. */
    long read(RequesterId rid, int offset, int len);

    /** Writes {@code len} (1, 2 or 4) bytes; dropped when no function answers. */
    void write(RequesterId rid, int offset, long value, int len);

    /** A configuration access rooted at {@code root} (routing as {@link PciBus#findBus}). */
    static ConfigAccess of(PciBus root) {
        return new ConfigAccess() {
            @Override
            public long read(RequesterId rid, int offset, int len) {
                PciFunction f = root.route(rid.bus(), rid.devfn());
                int limit = f == null ? 0 : f.configSpace().size();
                if (f == null || offset < 0 || offset >= limit) {
                    return len >= 8 ? -1L : (1L << (8 * len)) - 1;
                }
                return f.configRead(offset, Math.min(len, limit - offset));
            }

            @Override
            public void write(RequesterId rid, int offset, long value, int len) {
                PciFunction f = root.route(rid.bus(), rid.devfn());
                if (f != null && offset >= 0 && offset < f.configSpace().size()) {
                    f.configWrite(offset, value, Math.min(len, f.configSpace().size() - offset));
                }
            }
        };
    }
}
