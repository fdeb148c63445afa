package io.viommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.viommu.linux.Kernel;
import io.viommu.vmm.VmRun;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code viommu run}'s interrupt path, end to end: an assigned edu's MSI, set up by the guest's
 * driver through the guest kernel's IRQ core, raised by the device, through the host's interrupt
 * remapping (when the host has it) to the host CPU, vfio-pci's eventfd to the VMM, the VMM's
 * write through the vIOMMU's interrupt remapping (when the VM has it) to the guest's local
 * APIC, at the vector and CPU the guest programmed; and QEMU 7.2's refusals of interrupt
 * remapping under KVM.
 */
class RunInterruptPathTest {
    static final String HOST_IR = "-machine q35 -m 2G -append intel_iommu=on -nodefaults"
            + " -device intel-iommu,intremap=on,caching-mode=on -device edu,addr=04.0";
    static final String HOST_NO_IR = "-machine q35 -m 2G -append intel_iommu=on -nodefaults"
            + " -device intel-iommu,intremap=off,caching-mode=on -device edu,addr=04.0";

    record Out(int rc, String out, String err) {
    }

    static Kernel host(String args, boolean unsafeInterrupts) throws Exception {
        Kernel k = QtestHost.bootHost(args);
        List<String> lines = new ArrayList<>(List.of("modprobe vfio-pci"));
        if (unsafeInterrupts) {
            lines.add("echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts");
        }
        assertThat(new io.viommu.linux.shell.RootShell(k).runScript(lines).ok()).isTrue();
        return k;
    }

    static Out run(Kernel host, String hostArgs, boolean json, String... vmArgs) {
        RunCommand c = new RunCommand();
        c.hostArgs = hostArgs;
        c.managed = true;
        c.json = json;
        c.vmArgs = List.of(vmArgs);
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int rc = c.runOn(host, VmRun.Workload.NONE, new PrintStream(o, true, StandardCharsets.UTF_8),
                new PrintStream(e, true, StandardCharsets.UTF_8));
        return new Out(rc, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    static String[] vm(String... extra) {
        List<String> a = new ArrayList<>(List.of("-M", "q35", "-m", "128M", "-nodefaults"));
        a.addAll(List.of(extra));
        a.addAll(List.of("-device", "vfio-pci,host=0000:00:04.0"));
        return a.toArray(String[]::new);
    }

    /** The one interrupt sample of a successful run, its counts all at {@code raised}. */
    static JsonNode delivered(Out r) throws Exception {
        assertThat(r.rc()).as(r.out() + r.err()).isZero();
        JsonNode doc = RunCommandTest.oneDocument(r.out());
        assertThat(doc.get("ok").asBoolean()).isTrue();
        assertThat(doc.get("interrupts")).hasSize(1);
        JsonNode i = doc.at("/interrupts/0");
        assertThat(i.get("host").asText()).isEqualTo("0000:00:04.0");
        assertThat(i.get("raised").asInt()).isEqualTo(3);
        for (String f : List.of("hostDelivered", "eventfdSignals", "guestDelivered", "handled")) {
            assertThat(i.get(f).asInt()).as(f).isEqualTo(3);
        }
        assertThat(i.get("ok").asBoolean()).isTrue();
        assertThat(i.get("problem").isNull()).isTrue();
        // the guest's APIC received the vector the guest allocated, on the CPU it programmed
        assertThat(i.get("guestDelivery").asText()).isEqualTo(String.format("vector 0x%02x to physical APIC %d, edge",
                i.get("guestVector").asInt(), i.get("guestApicId").asInt()));
        return i;
    }

    @Test
    void remappedOnBothLevelsTheMsiGoesThroughAHostIrteAndAVirtualIrteToTheGuestsVector() throws Exception {
        Kernel host = host(HOST_IR, false); // the host remaps interrupts: VFIO needs no allow_unsafe_interrupts
        Out r = run(host, HOST_IR, true, vm("-device", "intel-iommu,intremap=on,caching-mode=on"));
        JsonNode i = delivered(r);
        assertThat(i.get("deviceMsi").asText()).startsWith("address 0xfee").contains("remappable format, handle "
                + i.get("hostIrte").asInt());
        assertThat(i.get("hostIrte").isInt()).isTrue();
        assertThat(i.get("guestMsi").asText()).contains("remappable format, handle " + i.get("viommuIrte").asInt());
        assertThat(i.get("viommuIrte").isInt()).isTrue();
        assertThat(i.get("hostDelivery").asText()).matches("vector 0x[0-9a-f]{2} to physical APIC 0, edge");
        // the host's vfio-pci MSI vector is released with the VM's MSI: no IRTE stays behind on the host
        assertThat(host.dmesg()).noneMatch(l -> l.contains("INTR-REMAP"));
        Out text = run(host(HOST_IR, false), HOST_IR, false, vm("-device", "intel-iommu,intremap=on,caching-mode=on"));
        assertThat(text.out()).contains("INTERRUPT PATH  MSI set up by the guest's driver",
                "-> host IRTE     index 0 (the host unit's interrupt remapping)",
                "-> VMM eventfd   VFIO_DEVICE_SET_IRQS MSI vector 0 eventfd",
                "-> vIOMMU IRTE   index 0 (the vIOMMU's interrupt remapping; the guest's intel-iommu driver wrote it)",
                "raised 3, delivered to the host CPU 3, eventfd signals 3, delivered to the guest APIC 3,"
                        + " handled by the guest's driver 3", "RESULT  ok");
    }

    @Test
    void hostWithoutInterruptRemappingDeliversInCompatibilityFormatAndTheVmStillRemaps() throws Exception {
        Kernel host = host(HOST_NO_IR, true);
        JsonNode i = delivered(run(host, HOST_NO_IR, true, vm("-device", "intel-iommu,intremap=on,caching-mode=on")));
        assertThat(i.get("hostIrte").isNull()).isTrue();
        assertThat(i.get("deviceMsi").asText()).contains("compatibility format: APIC 0");
        assertThat(i.get("viommuIrte").isInt()).isTrue();
    }

    @Test
    void vmWithoutInterruptRemappingGetsTheCompatibilityFormatTheGuestProgrammed() throws Exception {
        Kernel host = host(HOST_IR, false);
        JsonNode i = delivered(run(host, HOST_IR, true, vm("-device", "intel-iommu,intremap=off,caching-mode=on")));
        assertThat(i.get("hostIrte").isInt()).isTrue();
        assertThat(i.get("viommuIrte").isNull()).isTrue();
        assertThat(i.get("guestMsi").asText()).isEqualTo(String.format(
                "address 0xfee00000 data 0x%x (compatibility format: APIC 0, vector 0x%02x)",
                i.get("guestVector").asInt(), i.get("guestVector").asInt()));
    }

    @Test
    void noRemappingAnywhereWithoutVirtualIommu() throws Exception {
        Kernel host = host(HOST_NO_IR, true);
        Out r = run(host, HOST_NO_IR, false, vm());
        assertThat(r.rc()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("-> host IRTE     none: the host does not remap interrupts",
                "-> vIOMMU IRTE   none: the VM does not remap interrupts", "handled by the guest's driver 3");
    }

    @Test
    void underKvmInterruptRemappingNeedsTheSplitIrqchipAsQemuSays() throws Exception {
        Kernel host = host(HOST_IR, false);
        Out on = run(host, HOST_IR, false, vm("-machine", "accel=kvm,kernel-irqchip=on", "-device",
                "intel-iommu,intremap=on,caching-mode=on"));
        assertThat(on.rc()).isEqualTo(1);
        assertThat(on.err()).contains("Interrupt Remapping cannot work with kernel-irqchip=on, please use 'split|off'.");
        // split: accepted, and eim=auto is on under KVM: the guest's IRTEs carry x2APIC destinations
        JsonNode i = delivered(run(host, HOST_IR, true, vm("-machine", "accel=kvm,kernel-irqchip=split", "-device",
                "intel-iommu,intremap=on,caching-mode=on")));
        assertThat(i.get("viommuIrte").isInt()).isTrue();
    }

    @Test
    void eimFollowsQemusRules() throws Exception {
        Kernel host = host(HOST_IR, false);
        Out tcg = run(host, HOST_IR, false, vm("-device", "intel-iommu,intremap=on,eim=on,caching-mode=on"));
        assertThat(tcg.rc()).isEqualTo(1);
        assertThat(tcg.err()).contains("eim=on requires accel=kvm,kernel-irqchip=split");
        Out noIr = run(host, HOST_IR, false, vm("-machine", "accel=kvm,kernel-irqchip=split", "-device",
                "intel-iommu,intremap=off,eim=on,caching-mode=on"));
        assertThat(noIr.rc()).isEqualTo(1);
        assertThat(noIr.err()).contains("eim=on cannot be selected without intremap=on");
        Out split = run(host, HOST_IR, true, vm("-machine", "accel=kvm,kernel-irqchip=split", "-device",
                "intel-iommu,intremap=on,eim=on,caching-mode=on"));
        delivered(split);
        assertThat(RunCommandTest.oneDocument(split.out()).at("/vm/viommu/eim").asBoolean()).isTrue();
    }
}
