package io.viommu.linux.driver;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The kernel's one log buffer (the printk ring that {@code dmesg} reads): every part of the kernel
 * model, from the boot code to the driver core and the drivers, appends here, in the order things
 * happened.
 */
public final class KernelLog {
    private final List<KernelMessage> messages = new ArrayList<>();

    public void add(int level, String text) {
        messages.add(new KernelMessage(level, text));
    }

    public void info(String text) {
        add(KernelMessage.INFO, text);
    }

    /** Every message so far, oldest first (a live, read-only view). */
    public List<KernelMessage> messages() {
        return Collections.unmodifiableList(messages);
    }

    /** {@code dmesg}'s timestamp field; the model keeps no time, so every line shows 0. */
    public static final String TIMESTAMP = "[    0.000000] ";

    /** Every line as {@code dmesg} prints it: {@code [    0.000000] text}. */
    public List<String> dmesgLines() {
        return messages.stream().map(m -> TIMESTAMP + m.text()).toList();
    }

    /** The texts, as {@code dmesg} prints them without timestamps. */
    public List<String> texts() {
        return messages.stream().map(KernelMessage::text).toList();
    }
}
