package io.viommu.conformance;

/** One qtest peer (QEMU 7.2 or viommu) driven command by command; asynchronous IRQ lines are skipped. */
interface IrQtest extends AutoCloseable {
    /** Sends one command and returns its reply line ({@code OK ...}, {@code FAIL ...}, {@code ERR ...}). */
    String cmd(String command);

    @Override
    void close();

    default long value(String command) {
        String r = cmd(command);
        if (!r.startsWith("OK ")) {
            throw new IllegalStateException(command + " -> " + r);
        }
        return Long.parseUnsignedLong(r.substring(3).replace("0x", ""), 16);
    }
}
