package io.viommu.vtd;

/**
 * The unit's one {@link VtdTrace}, handed to every part of it at construction; the observer
 * behind it can be replaced at any time ({@link IntelIommu#setTrace}).
 */
final class TraceRelay implements VtdTrace {
    private VtdTrace target = VtdTrace.NONE;

    void set(VtdTrace t) {
        target = t == null ? VtdTrace.NONE : t;
    }

    @Override
    public void transition(Enum<?> from, Enum<?> to, String reason) {
        target.transition(from, to, reason);
    }

    @Override
    public void guestError(String message) {
        target.guestError(message);
    }

    @Override
    public void errorReportOnce(String site, String message) {
        target.errorReportOnce(site, message);
    }

    @Override
    public boolean qemuEvents() {
        return target.qemuEvents();
    }

    @Override
    public void qemuEvent(String name, String args) {
        target.qemuEvent(name, args);
    }
}
