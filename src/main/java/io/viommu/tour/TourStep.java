package io.viommu.tour;

/**
 * One walkthrough of the tour. A step boots its own model host (steps are independent: any
 * subset runs in any order), types its commands through a {@link TourShell}, starts its VMs, and
 * records everything in the {@link StepLog}, asserting each outcome there with
 * {@link StepLog#expect}. A new step is one subclass added to {@link Tour#STEPS}.
 */
public abstract class TourStep {
    private final int number;
    private final String title;
    private final String source;

    /**
     * @param number its number in the tour (1-based, as the README and {@code viommu tour N} name it)
     * @param title  one line: what the step shows
     * @param source which seed walkthroughs it follows (../shared/seeds)
     */
    protected TourStep(int number, String title, String source) {
        this.number = number;
        this.title = title;
        this.source = source;
    }

    public final int number() {
        return number;
    }

    public final String title() {
        return title;
    }

    public final String source() {
        return source;
    }

    /** Runs the step; an outcome other than the tour expects is an {@code expect} that failed. */
    public abstract void run(TourInputs inputs, StepLog log);
}
