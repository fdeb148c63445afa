package io.viommu.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.machine.device.MachineLog;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Option combinations around interrupt remapping (-smp, accelerator, kernel-irqchip, intremap,
 * eim): QEMU 7.2 and viommu refuse the same ones with the same message, and where both accept,
 * report the same ECAP. Arguments are separated by spaces.
 */
class InterruptOptionConformanceTest {

    static String viommuError(List<String> args) {
        try {
            MachineBuilder.fromCommandLine(Differential.commandLine(args), MachineLog.SILENT);
            return null;
        } catch (MachineConfigException e) {
            return e.getMessage();
        }
    }

    static void compare(String argLine) {
        Differential.requireQemu();
        List<String> args = List.of(argLine.split(" "));
        String qemu = QemuPeer.startupError(Differential.commandLine(args));
        assertThat(viommuError(args)).as("viommu for %s", argLine).isEqualTo(qemu);
        if (qemu == null && args.stream().anyMatch(s -> s.startsWith("intel-iommu"))) {
            long q;
            long v;
            try (QtestPeer s = Differential.qemu(args.toArray(String[]::new))) {
                q = s.value("readq 0xfed90010");
            }
            try (QtestPeer s = Differential.viommu(args.toArray(String[]::new))) {
                v = s.value("readq 0xfed90010");
            }
            assertThat(v).as("ECAP for %s", argLine).isEqualTo(q);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "-device intel-iommu,intremap=off,eim=on",
        "-device intel-iommu,eim=on",
        "-machine q35,kernel-irqchip=on -device intel-iommu,intremap=on",
        "-machine q35,kernel-irqchip=bogus -device intel-iommu",
        "-smp 256 -device intel-iommu",
        "-smp 1,maxcpus=256 -device intel-iommu,x-buggy-eim=on",
        "-smp 1,maxcpus=255 -device intel-iommu",
        "-smp 1,maxcpus=255,cores=3 -device intel-iommu",
        "-smp 1,maxcpus=200,cores=100,threads=2 -device intel-iommu",
        "-smp 4,sockets=3",
        "-smp 8,maxcpus=4",
        "-smp bogus",
        "-smp 1,maxcpus=289",
        "-accel bogus",
    })
    void tcgAcceptsAndRefusesAsQemu(String args) {
        compare(args);
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "-accel kvm -machine q35 -device intel-iommu",
        "-accel kvm -machine q35,kernel-irqchip=on -device intel-iommu,intremap=on",
        "-accel kvm -machine q35,kernel-irqchip=on -device intel-iommu,eim=on",
        "-accel kvm -machine q35,kernel-irqchip=split -device intel-iommu",
        "-accel kvm -machine q35,kernel-irqchip=split -device intel-iommu,eim=off",
        "-accel kvm -machine q35,kernel-irqchip=split -device intel-iommu,intremap=off,eim=on",
        "-accel kvm -machine q35,kernel-irqchip=off -device intel-iommu,eim=on",
        "-accel kvm -machine q35,kernel-irqchip=split -smp 1,maxcpus=256 -device intel-iommu,eim=off",
        "-accel kvm -machine q35,kernel-irqchip=off -smp 1,maxcpus=256 -device intel-iommu",
        "-accel kvm -machine q35,kernel-irqchip=bogus -device intel-iommu",
        "-machine q35,accel=kvm,kernel-irqchip=on -device intel-iommu,intremap=on",
    })
    void kvmAcceptsAndRefusesAsQemu(String args) {
        Differential.requireKvm();
        compare(args);
    }
}
