package io.viommu.linux;

import io.viommu.machine.GuestOptions;
import io.viommu.machine.Machine;
import java.util.ArrayList;
import java.util.List;

/**
 * The guest's CPUs as /proc/cpuinfo shows them, minimally: what tools look at (vendor, model name,
 * the vmx/svm and hypervisor flags), from {@code -cpu} and {@code -smp}. Not a CPUID model: the
 * flag list is a fixed baseline of x86-64 features plus {@code hypervisor} (a QEMU guest always
 * has it) plus {@code vmx} when the guest is given VT-x: {@code -cpu ...,+vmx} / {@code vmx=on},
 * or {@code -cpu host}/{@code max} under KVM (TCG in QEMU 7.2 does not emulate VMX).
 *
 * @param vendor    vendor_id: AuthenticAMD for QEMU's default qemu64 model (it carries AMD's
 *                  vendor string), GenuineIntel otherwise
 * @param modelName "QEMU Virtual CPU version 2.5+" for qemu64, else the {@code -cpu} model's name
 *                  (not QEMU's model-id string, which the model does not carry)
 */
record GuestCpu(int cpus, String vendor, String modelName, boolean vmx) {
    static final String BASE_FLAGS = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36"
            + " clflush mmx fxsr sse sse2 syscall nx lm rep_good nopl cpuid pni cx16 x2apic hypervisor lahf_lm";

    static GuestCpu of(Machine machine) {
        GuestOptions guest = machine.guest();
        String cpu = guest.cpu() == null ? "qemu64" : guest.cpu();
        boolean kvm = guest.kvm();
        String model = cpu.split(",", 2)[0];
        List<String> opts = List.of(cpu.split(","));
        boolean vmx = opts.contains("+vmx") || opts.contains("vmx=on")
                || (kvm && (model.equals("host") || model.equals("max")));
        if (opts.contains("-vmx") || opts.contains("vmx=off")) {
            vmx = false;
        }
        boolean qemu64 = model.equals("qemu64");
        return new GuestCpu(machine.smp().cpus(), qemu64 ? "AuthenticAMD" : "GenuineIntel",
                qemu64 ? "QEMU Virtual CPU version 2.5+" : model, vmx);
    }

    /** show_cpuinfo's lines that matter, one block per CPU. */
    String cpuinfo() {
        List<String> blocks = new ArrayList<>();
        for (int i = 0; i < cpus; i++) {
            blocks.add("processor\t: " + i + "\n"
                    + "vendor_id\t: " + vendor + "\n"
                    + "model name\t: " + modelName + "\n"
                    + "flags\t\t: " + BASE_FLAGS + (vmx ? " vmx" : "") + "\n");
        }
        return String.join("\n", blocks) + "\n";
    }
}
