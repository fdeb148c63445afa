package io.viommu.machine;

/**
 * What a QEMU command line tells the guest rather than the machine: the number of CPUs, the
 * kernel command line ({@code -append}), kernel and initrd images, the {@code -cpu} model,
 * {@code -enable-kvm}, {@code -nographic} and {@code -name}. The platform only carries them to
 * the guest model, as QEMU's fw_cfg carries -append and the CPU count to firmware; null
 * strings when not given.
 */
public record GuestOptions(int cpus, String append, String kernel, String initrd, String cpu,
                           boolean kvm, boolean nographic, String name) {
    /** A machine built without a command line: one CPU, nothing else given. */
    public static final GuestOptions NONE = new GuestOptions(1, null, null, null, null, false, false, null);
}
