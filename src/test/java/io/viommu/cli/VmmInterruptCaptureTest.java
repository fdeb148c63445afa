package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.linux.Kernel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The assigned device's interrupts end to end, held against real captures
 * (src/test/resources/vmm/irq/NAME: {@code capture.sh} the command, {@code ../NAME.qtest} the
 * script with its pauses, {@code vmm.qtest} what was sent): QEMU 7.2 (TCG, so its userspace
 * INTx and MSI paths) assigning the edu of a real Linux 6.1 host (no interrupt remapping on the
 * host, allow_unsafe_interrupts=1), the VM without a vIOMMU.
 *
 * <p>{@code intx}: {@code irq_intercept_in ioapic}; the edu raises (register 0x60): the host's
 * vfio-pci handler masks it and signals the eventfd, QEMU asserts the VM's pin ({@code IRQ raise
 * 21} after the reply); a status read (0x24) through the device file EOIs ({@code IRQ lower 21}
 * before the reply) and unmasks, and as the edu still asserts the host signals again
 * ({@code IRQ raise 21} after it); the acknowledgement (0x64) EOIs for good. The guest's INTx
 * disable bit is virtual (the config read shows it, the host masks): raising then shows
 * nothing until the guest clears it. {@code msi}: the guest programs the emulated MSI
 * capability with a RAM address and enables it: the edu's MSI reaches the host's vfio-pci
 * handler, and QEMU's write of the programmed data lands in guest RAM; reprogrammed, the next
 * one lands at the new address; with bus mastering off nothing lands; MSI disabled again gives
 * INTx.
 */
class VmmInterruptCaptureTest {
    static final Path DIR = VmmFixtureTest.DIR.resolve("irq");

    static void assertCapture(String name) throws Exception {
        assertThat(VmmFixtureTest.assertCaptureDir(VmmFixtureTest.fixtureHost(), DIR.resolve(name))).isEmpty();
    }

    @Test
    void intxReachesTheVmsIoApicAndEachBarAccessEoisIt() throws Exception {
        assertCapture("intx");
    }

    /** {@code x-no-mmap=on}: every BAR access goes through the device file and EOIs; the same lines. */
    @Test
    void intxWithoutMmapGivesTheSameLines() throws Exception {
        assertCapture("intx-no-mmap");
    }

    @Test
    void msiLandsWhereTheGuestProgrammedIt() throws Exception {
        assertCapture("msi");
    }

    /**
     * {@code vir}: the VM has {@code -device intel-iommu,intremap=on,caching-mode=on}; the guest
     * enables interrupt remapping (IRTA, SIRTP, IRE) and programs the MSI capability in
     * remappable format (handle 0): the assigned device's MSI, written by the VMM over the
     * device's bus-master address space, goes through the VM's interrupt remapping. A
     * non-present IRTE and a source-id mismatch block it with QEMU 7.2's messages (each printed
     * once); a message to RAM with DMAR off lands in guest RAM. One documented difference (README,
     * deviations): the model records the blocked interrupts as IR faults, so FSTS reads PPF (0x2)
     * where QEMU 7.2 reads 0.
     */
    @Test
    void msiGoesThroughTheVirtualIommusInterruptRemapping() throws Exception {
        Path d = DIR.resolve("vir");
        Kernel k = VmmFixtureTest.fixtureHost();
        List<String> argv = VmmFixtureTest.captureArgv(d);
        List<String> sent = Files.readAllLines(d.resolve("vmm.qtest"));
        VmmFixtureTest.Run r = VmmFixtureTest.run(k, argv, Files.readString(d.resolve("vmm.qtest")));
        List<String> real = Files.readAllLines(d.resolve("vmm.out"));
        List<String> model = r.out().lines().toList();
        assertThat(model).hasSameSizeAs(real).hasSameSizeAs(sent); // no IRQ lines: one reply per command
        for (int i = 0; i < real.size(); i++) {
            if (sent.get(i).equals("readl 0xfed90034") && i > sent.indexOf("writel 0xc0000060 0x1")) {
                assertThat(real.get(i)).as("QEMU 7.2 records no IR fault").isEqualTo("OK 0x0000000000000000");
                assertThat(model.get(i)).as("the model's PPF").isEqualTo("OK 0x0000000000000002");
            } else {
                assertThat(model.get(i)).as("reply to " + sent.get(i)).isEqualTo(real.get(i));
            }
        }
        assertThat(r.err()).isEqualTo(Files.readString(d.resolve("vmm.err")));
        assertThat(r.rc()).isZero();
        assertThat(r.dmesg()).isEqualTo(VmmFixtureTest.realDmesg(d));
    }

    /**
     * {@code vdma}: the VM has {@code -device intel-iommu,caching-mode=on} with translation on
     * (the vtd-dma tables); the guest programs the MSI address as an IOVA: QEMU's write of the
     * message goes over the device's bus-master address space, so the vIOMMU translates it: IOVA
     * 0x2000 lands at GPA 0x300000, the read-only IOVA 0x1000 and the unmapped 0x5000 fault in
     * the VM's unit (FSTS 0x2) and nothing lands.
     */
    @Test
    void msiToAnIovaIsTranslatedByTheVirtualIommu() throws Exception {
        assertCapture("vdma");
    }

    /**
     * The edu's INTx on a host with interrupt remapping (no capture: Linux 6.1 panics with
     * intremap=on under TCG): when vfio-pci requests the edu's line, the host kernel sets the
     * I/O APIC pin up as Linux's IR I/O APIC domain does: an IRTE (present, the handler's vector,
     * source validation of the I/O APIC's 0xFF00 from the DMAR scope) and the pin's redirection
     * entry in remappable format pointing at it (vector field = the pin, level-triggered). Each
     * time the edu asserts, the I/O APIC sends through the host unit's interrupt remapping, the
     * CPU takes the IRTE's vector, vfio-pci's handler signals the VMM: the VM sees what the
     * capture {@code intx} shows (the host without remapping), and every interrupt the host APIC
     * took from the I/O APIC came through that IRTE. With intremap off (the capture's host) the pin stays
     * masked and the line is served by level, as before.
     */
    @Test
    void withHostInterruptRemappingIntxGoesThroughTheHostIoapicAndAnIrte() throws Exception {
        Kernel k = remappingHost();
        var platform = k.machine().interrupts();
        int before = platform.apic().log().size();
        long[] rte = new long[1];
        long[] irte = new long[2];
        int[] pin = {-1};
        // the pin is set up while the VMM holds the device (vfio-pci requests the line): watch it then
        platform.apic().addListener(i -> {
            for (int p = 0; p < io.viommu.machine.PlatformInterrupts.IOAPIC_PINS && pin[0] < 0; p++) {
                if ((platform.redirection(p) & io.viommu.machine.PlatformInterrupts.RTE_REMAPPABLE) != 0) {
                    pin[0] = p;
                    rte[0] = platform.redirection(p);
                    // the IRTE the host kernel wrote (IRTA: the table's base), while it is live
                    int index = (int) (rte[0] >>> 49) | (int) ((rte[0] >>> 11) & 1) << 15;
                    long base = k.machine().iommu().load(0xb8, 8) & ~0xfffL;
                    irte[0] = k.machine().ramSpace().read(io.viommu.memory.PhysAddr.of(base + 16L * index), 8);
                    irte[1] = k.machine().ramSpace().read(io.viommu.memory.PhysAddr.of(base + 16L * index + 8), 8);
                }
            }
        });
        Path d = DIR.resolve("intx");
        VmmFixtureTest.Run r = VmmFixtureTest.run(k, VmmFixtureTest.captureArgv(d), Files.readString(d.resolve("vmm.qtest")));
        assertThat(r.out()).isEqualTo(Files.readString(d.resolve("vmm.out")));
        assertThat(r.err()).isEqualTo(Files.readString(d.resolve("vmm.err")));
        long raises = r.out().lines().filter(l -> l.startsWith("IRQ raise")).count();
        var fromIoapic = platform.apic().log().subList(before, platform.apic().log().size()).stream()
                .filter(i -> i.source().equals(io.viommu.machine.PlatformInterrupts.IOAPIC_SOURCE)).toList();
        // each new assertion of the edu's line is one I/O APIC message; a raise that follows
        // the VMM's unmask while the edu still asserts is vfio-pci's re-signal, not a new one
        assertThat(fromIoapic).isNotEmpty().hasSizeLessThan((int) raises);
        assertThat(fromIoapic).allMatch(io.viommu.machine.device.LocalApicSink.ApicInterrupt::remapped);
        // the redirection entry: remappable, level, the pin as vector, the IRTE index in 63:49
        assertThat(pin[0]).isBetween(16, 23);
        assertThat(rte[0] & 0xff).isEqualTo(pin[0]);
        assertThat(rte[0] & io.viommu.machine.PlatformInterrupts.RTE_LEVEL).isNotZero();
        assertThat(rte[0] & io.viommu.machine.PlatformInterrupts.RTE_MASKED).isZero();
        int index = (int) (rte[0] >>> 49) | (int) ((rte[0] >>> 11) & 1) << 15;
        assertThat(fromIoapic).allMatch(i -> i.irteIndex() == index);
        long lo = irte[0];
        long hi = irte[1];
        assertThat(lo & io.viommu.vtd.Irte.P).isNotZero();
        assertThat((int) (lo >>> 16) & 0xff).isEqualTo(fromIoapic.getFirst().vector());
        assertThat(lo & io.viommu.vtd.Irte.TM).as("edge in the IRTE (prepare_irte)").isZero();
        assertThat(hi & 0xffff).isEqualTo(0xff00L);
        assertThat((hi >>> 18) & 3).isEqualTo((long) io.viommu.vtd.Irte.SVT_REQUESTER_ID);
        // the VM gone, vfio-pci freed the line: the pin is masked again
        assertThat(platform.redirection(pin[0]) & io.viommu.machine.PlatformInterrupts.RTE_MASKED).isNotZero();
    }

    /** The fixtures' host with intremap=on, set up without allow_unsafe_interrupts (VFIO does not need it then). */
    static Kernel remappingHost() throws Exception {
        String args = VmmFixtureTest.read("host.args").trim().replace("intremap=off", "intremap=on") + " -nodefaults";
        Path setup = Files.createTempFile("host-setup", ".sh");
        try {
            Files.write(setup, Files.readAllLines(VmmFixtureTest.DIR.resolve("host-setup.sh")).stream()
                    .filter(l -> !l.contains("allow_unsafe_interrupts")).toList());
            Kernel k = QtestHost.bootHost(args);
            java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
            assertThat(QtestHost.runSetup(k, setup, new java.io.PrintStream(err, true, StandardCharsets.UTF_8))).isZero();
            return k;
        } finally {
            Files.deleteIfExists(setup);
        }
    }

    /**
     * Without interrupt remapping on the host (the captures' host) no pin is set up through an
     * IRTE: every redirection entry stays masked and the edu's INTx reaches vfio-pci's handler
     * by its line's level, as the capture {@code intx} shows.
     */
    @Test
    void withoutHostInterruptRemappingNoPinIsRemapped() throws Exception {
        Kernel k = VmmFixtureTest.fixtureHost();
        var platform = k.machine().interrupts();
        Path d = DIR.resolve("intx");
        boolean[] remappable = {false};
        platform.apic().addListener(i -> {
            for (int p = 0; p < io.viommu.machine.PlatformInterrupts.IOAPIC_PINS; p++) {
                remappable[0] |= (platform.redirection(p) & io.viommu.machine.PlatformInterrupts.RTE_REMAPPABLE) != 0;
            }
        });
        VmmFixtureTest.Run r = VmmFixtureTest.run(k, VmmFixtureTest.captureArgv(d), Files.readString(d.resolve("vmm.qtest")));
        assertThat(r.out()).isEqualTo(Files.readString(d.resolve("vmm.out")));
        assertThat(remappable[0]).isFalse();
        assertThat(platform.ioapicMessages()).isZero();
    }

    /**
     * The same host with interrupt remapping on (intremap=on: Linux 6.1 panics with it under
     * TCG, so no capture exists): VFIO needs no allow_unsafe_interrupts, the edu's MSI goes
     * through an IRTE the host kernel wrote, and the VM sees exactly what the captures show.
     */
    @Test
    void withHostInterruptRemappingTheVmSeesTheSameThroughTheHostIrte() throws Exception {
        for (String name : List.of("intx", "msi")) {
            Kernel k = remappingHost();
            Path d = DIR.resolve(name);
            List<String> argv = VmmFixtureTest.captureArgv(d);
            int before = k.machine().interrupts().apic().log().size();
            VmmFixtureTest.Run r = VmmFixtureTest.run(k, argv, Files.readString(d.resolve("vmm.qtest")));
            assertThat(r.out()).as(name).isEqualTo(Files.readString(d.resolve("vmm.out")));
            assertThat(r.err()).as(name).isEqualTo(Files.readString(d.resolve("vmm.err")));
            var edu = io.viommu.pci.RequesterId.parse("00:04.0");
            var fromEdu = k.machine().interrupts().apic().log().subList(before, k.machine().interrupts().apic().log().size())
                    .stream().filter(i -> i.source().equals(edu)).toList();
            // msi: two messages reach the host CPU (the third is sent with bus mastering
            // off), each through an IRTE; intx: none (INTx is a line)
            assertThat(fromEdu).as(name).hasSize(name.equals("msi") ? 2 : 0);
            assertThat(fromEdu).allMatch(io.viommu.machine.device.LocalApicSink.ApicInterrupt::remapped);
        }
    }
}
