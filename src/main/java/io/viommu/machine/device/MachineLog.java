package io.viommu.machine.device;

/**
 * Text a device model emits besides its registers. QEMU 7.2's edu {@code printf}s its DMA
 * clamping notice to QEMU's stdout, which is the qtest stream when run with {@code -qtest stdio}
 * (checked), so a faithful qtest server must show it there; guest errors go to a log.
 */
public interface MachineLog {
    /** A line the device writes to standard output (without the newline). */
    void stdout(String line);

    /** A guest programming error the device noticed (QEMU: LOG_GUEST_ERROR / hw_error). */
    void guestError(String message);

    MachineLog SILENT = new MachineLog() {
        @Override
        public void stdout(String line) {
        }

        @Override
        public void guestError(String message) {
        }
    };
}
