package io.viommu.vtd.notify;

import java.util.ArrayList;
import java.util.List;

/**
 * Records every event and keeps the consumer's view, applying MAP-registration events
 * strictly (a contract violation fails the test at the event that breaks it).
 */
final class RecordingListener implements MappingListener {
    final List<IommuEvent> events = new ArrayList<>();
    final List<String> aborts = new ArrayList<>();
    final MappingView view = new MappingView();
    private final boolean strict;

    RecordingListener(boolean strict) {
        this.strict = strict;
    }

    RecordingListener() {
        this(true);
    }

    @Override
    public void onEvent(IommuEvent event) {
        events.add(event);
        if (strict) {
            view.applyStrict(event);
        }
    }

    @Override
    public void walkAborted(InvalidationCause cause, String reason) {
        aborts.add(cause.kind() + ": " + reason);
    }

    /** Events since the last call. */
    List<IommuEvent> take() {
        List<IommuEvent> out = new ArrayList<>(events);
        events.clear();
        return out;
    }
}
