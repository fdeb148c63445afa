package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What `viommu --help` and each command's help show a newcomer: whole sentences. */
class HelpTest {
    /** The summaries of a help text's "Commands:" section, continuation lines joined. */
    static List<String> summaries(String help) {
        List<String> out = new ArrayList<>();
        boolean in = false;
        for (String l : help.split("\n")) {
            if (l.equals("Commands:")) {
                in = true;
            } else if (in && l.startsWith("              ")) {
                out.set(out.size() - 1, out.getLast() + " " + l.strip());
            } else if (in && l.startsWith("  ")) {
                out.add(l.strip().split("\\s+", 2)[1]);
            } else {
                in = false;
            }
        }
        return out;
    }

    static String help(String... args) {
        CliRun r = CliRun.of(args);
        assertThat(r.code()).isZero();
        return r.out();
    }

    @Test
    void everyCommandSummaryIsAWholeSentence() {
        List<String> all = new ArrayList<>(summaries(help("--help")));
        all.addAll(summaries(help("host", "--help")));
        all.addAll(summaries(help("scenario", "--help")));
        assertThat(all).hasSizeGreaterThanOrEqualTo(9).allSatisfy(s -> assertThat(s).endsWith("."));
        assertThat(all).contains(
                "Serve QEMU's qtest protocol on stdin/stdout for a q35 machine built from QEMU-style arguments.",
                "Model a Linux 6.1 guest (Debian's 6.1 kernel config) booting on the q35 machine the QEMU"
                        + " arguments describe.",
                "Read the host's PCI devices, IOMMU and kernel settings and report what can be assigned to a VM"
                        + " with vfio-pci (scan, tree, report); plan, apply and undo handing devices to vfio-pci.");
    }

    @Test
    void eachCommandsOwnHelpOpensWithTheSameWholeSummary() {
        List<String> top = summaries(help("--help"));
        List<String> cmds = List.of("help", "qtest", "bench", "boot", "host", "scenario");
        for (int i = 1; i < cmds.size(); i++) {
            String own = help("help", cmds.get(i)).lines().skip(1).reduce((a, b) -> a + " " + b).orElse("");
            assertThat(own.replaceAll("\\s+", " ")).as(cmds.get(i)).contains(top.get(i));
        }
    }
}
