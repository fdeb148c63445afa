package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.machine.config.QemuTrace;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code -trace} held against real captures (src/test/resources/vmm/trace/NAME, its capture.sh;
 * the vIOMMU scripts viommu/vtd-dma.qtest and viommu/qi-dma.qtest): Debian's QEMU 7.2 prints {@code name args}
 * lines on stderr, no pid, no timestamp. Of the thousands of lines the real runs printed, those of the events
 * viommu models ({@link QemuTrace#MODELLED}) are the model's trace lines, in the same order, byte for
 * byte; the replies and QEMU's own messages are unchanged, and the note naming the modelled events is
 * printed once.
 */
class VmmTraceCaptureTest {
    static final Path TRACES = VmmFixtureTest.DIR.resolve("trace");

    /** Trace lines of the modelled events (a line starting with two spaces continues the one before). */
    static List<String> modelledEvents(List<String> lines) {
        List<String> out = new ArrayList<>();
        boolean keep = false;
        for (String l : lines) {
            if (l.startsWith("  ")) {
                if (keep) {
                    out.add(l);
                }
                continue;
            }
            String name = l.contains(" ") ? l.substring(0, l.indexOf(' ')) : l;
            keep = QemuTrace.MODELLED.contains(name);
            if (keep) {
                // the host address of a RAM section is the VMM process's own: QEMU's, or the model's
                out.add(name.equals("vfio_listener_region_add_ram") ? l.replaceFirst("\\[0x[0-9a-f]+\\]$", "[HVA]") : l);
            }
        }
        return out;
    }

    /** vtd-dma: register-based invalidation, -trace 'vfio_*' -trace 'vtd_*'; qi-dma: queued invalidation, -trace 'vtd_*'. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"vtd-dma", "qi-dma"})
    void theModelledEventsAreQemusLinesInQemusOrder(String name) throws Exception {
        Path DIR = TRACES.resolve(name);
        List<String> argv = new ArrayList<>(List.of(Files.readString(DIR.resolve("vmm.cmd")).trim().split(" ")));
        argv.remove(0);
        VmmFixtureTest.Run r = VmmFixtureTest.run(VmmFixtureTest.fixtureHost(), argv,
                Files.readString(DIR.resolve("vmm.qtest"), StandardCharsets.UTF_8));
        List<String> real = Files.readAllLines(DIR.resolve("vmm.err"));
        List<String> model = r.err().lines().toList();
        List<String> expected = modelledEvents(real);
        assertThat(expected).hasSizeGreaterThan(20);
        // QEMU's notifier walks every entry of the guest's tables: four (vtd-dma) or more walks of
        // about 1530 entries each, each entry a vtd_page_walk_one* line (QemuWalkTrace)
        assertThat(expected.stream().filter(l -> l.startsWith("vtd_page_walk_one_skip_unmap ")).count())
                .isGreaterThan(6000);
        assertThat(expected).contains("vtd_page_walk_one domain 0x1 iova 0x2000 -> gpa 0x300000 mask 0xfff perm 3");
        assertThat(modelledEvents(model)).isEqualTo(expected);
        assertThat(r.out()).isEqualTo(Files.readString(DIR.resolve("vmm.out")));
        assertThat(model.stream().filter(l -> l.startsWith("qemu-system-x86_64: ")).toList())
                .isEqualTo(real.stream().filter(l -> l.startsWith("qemu-system-x86_64: ")).toList());
        assertThat(model.stream().filter(l -> l.startsWith("viommu: ")).toList()).containsExactly(QemuTrace.NOTE);
        // nothing else: every line the model printed is a modelled event, QEMU's message or the note
        assertThat(model.size()).isEqualTo(modelledEvents(model).size() + 2 + 1);
    }

    /**
     * listener-dma: no vIOMMU, the lab's c-dma script with {@code -trace 'vfio_listener*' -trace
     * 'vfio_dma*' -trace 'vfio_region*'}: the listener's sections at realize (RAM below 4 GiB, the
     * board's MMIO skipped, the BIOS), the first reset's PAM split, and the edu's BAR 0 added as a
     * RAM device section when the guest turns memory decoding on; every line QEMU printed is an
     * event the model has except vfio_region_mmaps_set_enabled (the INTx mmap switch), in order.
     */
    @org.junit.jupiter.api.Test
    void theListenersSectionsWithoutAViommuAreQemus() throws Exception {
        Path dir = TRACES.resolve("listener-dma");
        List<String> argv = new ArrayList<>(List.of(Files.readString(dir.resolve("vmm.cmd")).trim().split(" ")));
        argv.remove(0);
        VmmFixtureTest.Run r = VmmFixtureTest.run(VmmFixtureTest.fixtureHost(), argv,
                Files.readString(dir.resolve("vmm.qtest"), StandardCharsets.UTF_8));
        List<String> real = Files.readAllLines(dir.resolve("vmm.err"));
        List<String> expected = modelledEvents(real);
        assertThat(expected).contains("vfio_listener_region_add_ram region_add [ram] 0xc0000000 - 0xc00fffff [HVA]",
                "vfio_listener_region_del region_del 0x0 - 0x7ffffff");
        assertThat(modelledEvents(r.err().lines().toList())).isEqualTo(expected);
        assertThat(real.stream().filter(l -> !expected.contains(l.replaceFirst("\\[0x[0-9a-f]+\\]$", "[HVA]"))
                && !l.startsWith("qemu-system-x86_64: ")).distinct().toList())
                .containsExactly("vfio_region_mmaps_set_enabled Region 0000:00:04.0 BAR 0 mmaps enabled: 1");
        assertThat(r.out()).isEqualTo(Files.readString(dir.resolve("vmm.out")));
    }

    @org.junit.jupiter.api.Test
    void theVmmSaysWhatItIgnoresBeforeItStarts() throws Exception {
        List<String> argv = new ArrayList<>(VmmFixtureTest.vmArgs("a-config"));
        argv.addAll(List.of("-global", "ICH9-LPC.noreboot=off", "-trace", "enable=vfio_*,file=/tmp/qemu.trace"));
        VmmFixtureTest.Run r = VmmFixtureTest.run(VmmFixtureTest.fixtureHost(), argv, "");
        List<String> notes = r.err().lines().filter(l -> l.startsWith("viommu: ")).toList();
        assertThat(notes).hasSize(3);
        assertThat(notes.get(0)).startsWith("viommu: warning: -global ICH9-LPC.noreboot=off is ignored");
        assertThat(notes).contains(QemuTrace.NOTE,
                "viommu: note: -trace file=/tmp/qemu.trace is not honoured: trace events go to stderr");
        assertThat(r.err()).contains("vfio_realize  (0000:00:04.0) group 1\n");
    }
}
