package io.viommu.machine.config;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The accelerator a command line asks for ({@code -accel} or {@code -machine accel=}) and the
 * {@code kernel-irqchip} choice, and the interrupt-related checks QEMU 7.2 makes with them.
 * The model always runs the same way; these choices only change which option combinations are
 * accepted and what {@code intremap=auto}/{@code eim=auto} mean (all checked against
 * qemu-system-x86_64 7.2, with KVM available for the KVM cases):
 * <ul>
 * <li>TCG (default): {@code kernel-irqchip} is not looked at, whatever its value (QEMU 7.2
 *     accepts even {@code kernel-irqchip=bogus}); intremap=auto is on, eim=auto off, eim=on
 *     refused ({@code eim=on requires accel=kvm,kernel-irqchip=split}); an APIC id limit above
 *     255 is refused with {@code current -smp configuration requires kernel irqchip and X2APIC API support.}</li>
 * <li>KVM: kernel-irqchip on (the default), split or off. intremap=auto is off with
 *     kernel-irqchip=on, and intremap=on is refused then with {@code Interrupt Remapping cannot
 *     work with kernel-irqchip=on, please use 'split|off'.}; eim=auto is on with split; eim=on
 *     needs split. An APIC id limit above 255 needs the in-kernel irqchip (on or split), as the
 *     host's X2APIC API is assumed present.</li>
 * </ul>
 * QEMU 7.2 no longer asks for eim with more than 255 vCPUs: the message
 * {@code current -smp configuration requires Extended Interrupt Mode enabled...} was removed
 * in QEMU 5.2 (with KVM's extended destination id), and 7.2 accepts 256 vCPUs under
 * KVM with kernel-irqchip=split and eim=off (checked).
 */
public record Accelerator(Kind kind, Irqchip irqchip) {
    public enum Kind { TCG, KVM }

    public enum Irqchip { ON, SPLIT, OFF }

    public static final Accelerator TCG = new Accelerator(Kind.TCG, Irqchip.OFF);

    /**
     * From the accelerator name (first of a colon list, as QEMU tries them in order and KVM is
     * taken to be present) and the raw kernel-irqchip value (null when not given).
     *
     * @param location the option the error is reported against ({@code "-accel kvm: "} or "")
     */
    public static Accelerator of(String accel, String kernelIrqchip, String location) throws MachineConfigException {
        String first = accel == null ? "tcg" : accel.split(":", -1)[0];
        Kind kind = switch (first) {
            // upstream 7.2's qtest accelerator (accel/qtest) runs no vCPU and has no in-kernel
            // irqchip, so for the model it is TCG under -S; Debian's build lacks the module and
            // answers "invalid accelerator qtest" (README: deliberate difference)
            case "tcg", "qtest" -> Kind.TCG;
            case "kvm" -> Kind.KVM;
            default -> throw new MachineConfigException(location + "invalid accelerator " + first);
        };
        if (kind == Kind.TCG) {
            return new Accelerator(Kind.TCG, Irqchip.OFF);
        }
        Irqchip chip;
        if (kernelIrqchip == null) {
            chip = Irqchip.ON;
        } else {
            chip = switch (kernelIrqchip) {
                case "on", "yes", "true", "y" -> Irqchip.ON;
                case "off", "no", "false", "n" -> Irqchip.OFF;
                case "split" -> Irqchip.SPLIT;
                default -> throw new MachineConfigException(location + "can't apply global kvm-accel.kernel-irqchip="
                        + kernelIrqchip + ": Parameter 'kernel-irqchip' does not accept value '" + kernelIrqchip + "'");
            };
        }
        return new Accelerator(kind, chip);
    }

    /** x86_cpus_init: APIC ids of 255 and more need KVM's in-kernel irqchip with the X2APIC API. */
    public void checkApicIdLimit(int apicIdLimit) throws MachineConfigException {
        if (apicIdLimit > 255 && (kind == Kind.TCG || irqchip == Irqchip.OFF)) {
            throw new MachineConfigException("current -smp configuration requires kernel irqchip and X2APIC API support.");
        }
    }

    /**
     * The intel-iommu properties as {@link io.viommu.vtd.VtdConfig#fromQemuProperties} (which
     * decides for TCG) should see them under this accelerator: under KVM, intremap and eim are
     * resolved here (x86_iommu_realize, vtd_decide_config) and the irqchip check is made.
     *
     * @throws IllegalArgumentException with QEMU's message
     */
    public Map<String, String> iommuProperties(Map<String, String> props) {
        if (kind == Kind.TCG) {
            return props;
        }
        Map<String, String> out = new LinkedHashMap<>(props);
        String ir = props.getOrDefault("intremap", "auto");
        if (!ir.equals("on") && !ir.equals("off") && !ir.equals("auto")) {
            return out; // VtdConfig reports the bad value
        }
        boolean allKernel = irqchip == Irqchip.ON;
        boolean irOn = ir.equals("auto") ? !allKernel : ir.equals("on");
        if (irOn && allKernel) {
            throw new IllegalArgumentException(
                    "Interrupt Remapping cannot work with kernel-irqchip=on, please use 'split|off'.");
        }
        out.put("intremap", irOn ? "on" : "off");
        String eim = props.getOrDefault("eim", "auto");
        if (irOn && irqchip == Irqchip.SPLIT && (eim.equals("auto") || eim.equals("on"))) {
            // KVM with split irqchip and the X2APIC API: EIM is allowed (and the default).
            out.put("eim", "on");
            out.put("x-buggy-eim", "on");
        } else if (eim.equals("auto") && !props.containsKey("x-buggy-eim")) {
            out.put("eim", "off");
        }
        return out;
    }
}
