package io.viommu.cli;

import io.viommu.vmm.RunReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code -bios FILE} under {@code viommu run}: no firmware runs in the model (the guest kernel
 * model boots in its place), so a firmware image the user names (OVMF.fd) is reported, not
 * required: a missing one is left out of the VM's arguments and named in the report; one that
 * exists is mapped as QEMU maps it and named too. ({@code qtest} and {@code boot} keep QEMU's
 * refusal of a missing image.)
 */
final class FirmwareFiles {
    private FirmwareFiles() {
    }

    /** {@code args} without the {@code -bios FILE} pairs whose file cannot be read. */
    static List<String> withoutMissing(List<String> args) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if ((a.equals("-bios") || a.equals("--bios")) && i + 1 < args.size() && !readable(args.get(i + 1))) {
                i++;
                continue;
            }
            out.add(a);
        }
        return out;
    }

    /** The report with the original arguments and a note per {@code -bios} in them. */
    static RunReport noted(RunReport r, List<String> args) {
        List<String> notes = new ArrayList<>();
        for (int i = 0; i + 1 < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("-bios") || a.equals("--bios")) {
                String f = args.get(i + 1);
                notes.add(a + " " + f + (readable(f)
                        ? ": mapped as ROM below 4 GiB, but no firmware runs in the model (the guest kernel model boots"
                                + " directly): no effect on what the report shows"
                        : ": not read (no such file here) and not needed: no firmware runs in the model (the guest"
                                + " kernel model boots directly), so it has no effect"));
            }
        }
        notes.addAll(r.noEffect());
        return new RunReport(List.copyOf(args), r.ok(), r.failure(), r.host(), r.vm(), r.managed(), r.samples(), r.virtio(), r.interrupts(), r.workload(),
                r.counts(), notes, r.warnings());
    }

    private static boolean readable(String f) {
        try {
            return Files.isReadable(Path.of(f));
        } catch (RuntimeException e) {
            return false;
        }
    }
}
