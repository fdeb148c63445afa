package io.viommu.tour;

/**
 * The tour as a terminal shows it: per step its title and seeds, each command after its prompt
 * with what it printed (indented), the walkthrough's sentences, each check as {@code ok} or
 * {@code FAILED} (with what the model did instead), and the step's verdict.
 */
public final class TourText {
    private TourText() {
    }

    public static String step(Tour.StepResult r) {
        StringBuilder sb = new StringBuilder();
        sb.append("== Step ").append(r.number()).append(": ").append(r.title()).append("\n   (seeds: ").append(r.source())
                .append(")\n\n");
        for (StepLog.Entry e : r.entries()) {
            switch (e) {
                case StepLog.Say s -> sb.append(sb.toString().endsWith("\n\n") ? "" : "\n").append(s.text()).append("\n\n");
                case StepLog.Command c -> {
                    sb.append(c.prompt()).append(c.prompt().endsWith("#") ? " " : ": ").append(c.command()).append('\n');
                    c.output().lines().forEach(l -> sb.append("    ").append(l).append('\n'));
                }
                case StepLog.Expect x -> {
                    sb.append(x.ok() ? "  ok      " : "  FAILED  ").append(x.what()).append('\n');
                    if (!x.ok()) {
                        String seen = x.seen() == null || x.seen().isBlank() ? "(nothing)" : x.seen();
                        seen.lines().forEach(l -> sb.append("          | ").append(l).append('\n'));
                    }
                }
                case StepLog.Figure f -> sb.append("  [figure: ").append(f.title()).append(" (--html)]\n");
                case StepLog.Chart c -> sb.append("  [chart: ").append(c.title()).append(" (--html)]\n");
            }
        }
        if (r.error() != null) {
            sb.append("  FAILED  ").append(r.error()).append('\n');
        }
        sb.append('\n').append("Step ").append(r.number()).append(r.ok() ? ": as the walkthrough says"
                : ": NOT as the walkthrough says (" + (r.failures() + (r.error() == null ? 0 : 1)) + " check(s) failed)").append("\n\n");
        return sb.toString();
    }

    public static String summary(Tour.Result r) {
        long bad = r.steps().stream().filter(s -> !s.ok()).count();
        StringBuilder sb = new StringBuilder("Tour: " + r.steps().size() + " step(s), " + (r.steps().size() - bad) + " as expected");
        if (bad > 0) {
            sb.append(", ").append(bad).append(" failed (steps ")
                    .append(String.join(", ", r.steps().stream().filter(s -> !s.ok()).map(s -> Integer.toString(s.number())).toList()))
                    .append(')');
        }
        return sb.append('\n').toString();
    }
}
