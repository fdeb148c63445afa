package io.viommu.tour;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The tour: the seeds' walkthroughs as numbered steps, run in order on model hosts. The step list
 * is {@link #STEPS}: steps 1-10 of issue 13 §2; asking for a number that is no step is an error.
 */
public final class Tour {
    /** Every step of this build, in tour order. Adding a walkthrough is adding its class here. */
    public static final List<TourStep> STEPS = List.of(
            new IommuOnStep(), new GroupStep(), new SysfsBindStep(), new SriovStep(), new InterruptRemappingStep(),
            new CachingModeStep(), new GuestDpdkStep(), new VirtioAtsStep(), new NestedStep(), new LibvirtStep());

    /** What one step did. */
    public record StepResult(int number, String title, String source, List<StepLog.Entry> entries, int failures,
                             String error) {
        public boolean ok() {
            return failures == 0 && error == null;
        }
    }

    /** The whole run: each step's result, in order. */
    public record Result(List<StepResult> steps) {
        public boolean ok() {
            return steps.stream().allMatch(StepResult::ok);
        }
    }

    private Tour() {
    }

    /** The step numbered {@code n}, or null. */
    public static TourStep step(int n) {
        return STEPS.stream().filter(s -> s.number() == n).findFirst().orElse(null);
    }

    /**
     * The steps {@code wanted} names (all when empty), or an error message: a number that is no step
     * of the tour.
     */
    public static Selection select(List<Integer> wanted) {
        if (wanted.isEmpty()) {
            return new Selection(STEPS, null);
        }
        Map<Integer, TourStep> chosen = new TreeMap<>();
        for (int n : wanted) {
            TourStep s = step(n);
            if (s == null) {
                return new Selection(List.of(), "there is no step " + n + ": the tour has steps "
                        + numbers());
            }
            chosen.put(n, s);
        }
        return new Selection(new ArrayList<>(chosen.values()), null);
    }

    /** The steps chosen, or why none. */
    public record Selection(List<TourStep> steps, String error) {
    }

    /** "1-10", or "1-8, 10" with a gap */
    static String numbers() {
        List<Integer> ns = STEPS.stream().map(TourStep::number).toList();
        StringBuilder sb = new StringBuilder();
        int i = 0;
        while (i < ns.size()) {
            int j = i;
            while (j + 1 < ns.size() && ns.get(j + 1) == ns.get(j) + 1) {
                j++;
            }
            sb.append(sb.isEmpty() ? "" : ", ").append(ns.get(i)).append(j > i ? "-" + ns.get(j) : "");
            i = j + 1;
        }
        return sb.toString();
    }

    /** Runs {@code steps} in order. A step never throws out of here: a model failure is its error. */
    public static Result run(List<TourStep> steps, TourInputs inputs, java.util.function.Consumer<StepResult> done) {
        List<StepResult> out = new ArrayList<>();
        for (TourStep s : steps) {
            StepLog log = new StepLog();
            String error = null;
            try {
                s.run(inputs, log);
            } catch (RuntimeException e) {
                error = "the model failed in this step: " + e;
            }
            StepResult r = new StepResult(s.number(), s.title(), s.source(), log.entries(), log.failures(), error);
            out.add(r);
            done.accept(r);
        }
        return new Result(out);
    }
}
