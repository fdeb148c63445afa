package io.viommu.linux.driver;

/**
 * One kernel log line: printk level (3 err, 4 warning, 6 info) and text without timestamp.
 * A console at {@code loglevel=4} shows the lines whose level is below 4.
 */
public record KernelMessage(int level, String text) {
    public static final int ERR = 3;
    public static final int WARNING = 4;
    public static final int INFO = 6;

    @Override
    public String toString() {
        return "<" + level + ">" + text;
    }
}
