package io.viommu.tour;

import io.viommu.host.HostReport;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What one step showed, in order: prose, commands with what the model printed for them, the
 * step's checks (each passed or failed), topology figures and charts. The text and HTML
 * renderings read only this.
 */
public final class StepLog {
    /** One thing the step showed. */
    public sealed interface Entry permits Say, Command, Expect, Figure, Chart {
    }

    /** A sentence of the walkthrough. */
    public record Say(String text) implements Entry {
    }

    /**
     * A command as typed and what it printed.
     *
     * @param prompt where it was typed: {@code host#} (the host's root shell), {@code guest#} (the VM's)
     */
    public record Command(String prompt, String command, String output) implements Entry {
    }

    /** A check of the outcome: what the walkthrough expects, whether the model did it, and what it did instead. */
    public record Expect(String what, boolean ok, String seen) implements Entry {
    }

    /**
     * A machine's PCI topology as the host report draws it (groups as boxes), with marked functions
     * and, for an assigned device, its DMA path from the device to memory, level by level.
     */
    public record Figure(String id, String title, HostReport report, Map<String, String> marks, List<String> dmaPath)
            implements Entry {
    }

    /** A bar chart: {@code values[series][category]}. */
    public record Chart(String id, String title, String valueAxis, List<String> series, List<String> categories,
                        double[][] values) implements Entry {
    }

    private final List<Entry> entries = new ArrayList<>();
    private int failed;

    public List<Entry> entries() {
        return List.copyOf(entries);
    }

    public void say(String text) {
        entries.add(new Say(text));
    }

    /** Types {@code command} into {@code shell} and records it with its output. */
    public String run(TourShell shell, String command) {
        String out = shell.run(command);
        entries.add(new Command(shell.prompt(), command, out));
        return out;
    }

    /** Records a command run elsewhere (a VMM start) with what it printed. */
    public void shown(String prompt, String command, String output) {
        entries.add(new Command(prompt, command, output));
    }

    /** A check: recorded, and the step fails when {@code ok} is false. */
    public boolean expect(boolean ok, String what, String seen) {
        entries.add(new Expect(what, ok, ok ? null : seen));
        if (!ok) {
            failed++;
        }
        return ok;
    }

    public void figure(String id, String title, HostReport report, Map<String, String> marks, List<String> dmaPath) {
        entries.add(new Figure(id, title, report, marks, dmaPath));
    }

    public void chart(String id, String title, String valueAxis, List<String> series, List<String> categories,
                      double[][] values) {
        entries.add(new Chart(id, title, valueAxis, series, categories, values));
    }

    /** How many checks failed. */
    public int failures() {
        return failed;
    }
}
