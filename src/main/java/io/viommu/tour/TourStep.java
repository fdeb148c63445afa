package io.viommu.tour;

/**
 * One walkthrough of the tour. A step boots its own model host (steps are independent: any
 * subset runs in any order), types its commands through a {@link TourShell}, starts its VMs, and
 * records everything in the {@link StepLog}, asserting each outcome there with
 * {@link StepLog#expect}. A new step is one class added to {@link Tour#STEPS}.
 */
public interface TourStep {
    /** Its number in the tour (1-based, as the README and {@code viommu tour N} name it). */
    int number();

    /** One line: what the step shows. */
    String title();

    /** Which seed walkthroughs it follows (../shared/seeds). */
    String source();

    /** Runs the step; an outcome other than the tour expects is an {@code expect} that failed. */
    void run(TourInputs inputs, StepLog log);
}
