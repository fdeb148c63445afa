package io.viommu.machine.config;

/**
 * A refused command line or device placement. The message is the complete line QEMU 7.2
 * prints for the same mistake, program name included ({@code qemu-system-x86_64: -device foo:
 * 'foo' is not a valid device model name}), so that scripts and people comparing the two see
 * the same text.
 */
public final class MachineConfigException extends Exception {
    public MachineConfigException(String message) {
        super(message);
    }
}
