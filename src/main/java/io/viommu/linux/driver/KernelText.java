package io.viommu.linux.driver;

import java.nio.charset.StandardCharsets;

/**
 * The kernel's string parsers that sysfs store functions use, with their exact acceptance rules
 * (lib/kstrtox.c, lib/vsprintf.c {@code vsscanf}, lib/string.c {@code sysfs_streq}). A sysfs
 * store sees the written bytes NUL-terminated, so every parser here stops at the first NUL, as
 * C string code does. Strings carry bytes one-to-one (ISO-8859-1).
 */
public final class KernelText {
    private KernelText() {
    }

    /** Result marker of a failed parse: the negative errno is in {@link Parsed#rc}. */
    public record Parsed(long value, int rc) {
        public boolean ok() {
            return rc == 0;
        }
    }

    /** The written bytes as a string, one char per byte. */
    public static String bytes(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    /** The C string a store function sees: everything before the first NUL. */
    public static String cstr(String buf) {
        int nul = buf.indexOf('\0');
        return nul < 0 ? buf : buf.substring(0, nul);
    }

    /**
     * {@code kstrtoull(s, base)}: optional '+', radix prefix when base is 0 or 16 ("0x" hex, "0"
     * octal for base 0), at least one digit, an optional single trailing newline, nothing else.
     * -EINVAL on syntax, -ERANGE on overflow of 64 bits.
     */
    public static Parsed kstrtoull(String buf, int base) {
        String s = cstr(buf);
        int i = 0;
        if (i < s.length() && s.charAt(i) == '+') {
            i++;
        }
        int b = base;
        if (b == 0) {
            if (i < s.length() && s.charAt(i) == '0') {
                b = i + 2 < s.length() && Character.toLowerCase(s.charAt(i + 1)) == 'x'
                        && isHex(s.charAt(i + 2)) ? 16 : 8;
            } else {
                b = 10;
            }
        }
        if (b == 16 && i + 1 < s.length() && s.charAt(i) == '0' && Character.toLowerCase(s.charAt(i + 1)) == 'x') {
            i += 2;
        }
        int start = i;
        long v = 0;
        boolean overflow = false;
        while (i < s.length()) {
            int d = digit(s.charAt(i));
            if (d < 0 || d >= b) {
                break;
            }
            // _parse_integer: overflow when res * base + d no longer fits 64 bits (unsigned)
            if (Long.compareUnsigned(v, Long.divideUnsigned(-1L - d, b)) > 0) {
                overflow = true;
            }
            v = v * b + d;
            i++;
        }
        if (overflow) {
            return new Parsed(0, Errno.ERANGE.negative());
        }
        if (i == start) {
            return new Parsed(0, Errno.EINVAL.negative());
        }
        if (i < s.length() && s.charAt(i) == '\n') {
            i++;
        }
        if (i != s.length()) {
            return new Parsed(0, Errno.EINVAL.negative());
        }
        return new Parsed(v, 0);
    }

    /** {@code kstrtou16}: kstrtoull and -ERANGE above 0xffff. */
    public static Parsed kstrtou16(String buf, int base) {
        Parsed p = kstrtoull(buf, base);
        if (p.ok() && Long.compareUnsigned(p.value(), 0xffff) > 0) {
            return new Parsed(0, Errno.ERANGE.negative());
        }
        return p;
    }

    /**
     * {@code kstrtobool}: looks at the first one or two characters only: y/Y/t/T/1 true,
     * n/N/f/F/0 false, "on"/"of(f)" in any case; else -EINVAL.
     */
    public static Parsed kstrtobool(String buf) {
        String s = cstr(buf);
        if (s.isEmpty()) {
            return new Parsed(0, Errno.EINVAL.negative());
        }
        switch (s.charAt(0)) {
            case 'y', 'Y', 't', 'T', '1' -> {
                return new Parsed(1, 0);
            }
            case 'n', 'N', 'f', 'F', '0' -> {
                return new Parsed(0, 0);
            }
            case 'o', 'O' -> {
                char c = s.length() > 1 ? s.charAt(1) : '\0';
                if (c == 'n' || c == 'N') {
                    return new Parsed(1, 0);
                }
                if (c == 'f' || c == 'F') {
                    return new Parsed(0, 0);
                }
                return new Parsed(0, Errno.EINVAL.negative());
            }
            default -> {
                return new Parsed(0, Errno.EINVAL.negative());
            }
        }
    }

    /**
     * {@code sysfs_streq}: equal, except that a single trailing newline on either side is ignored.
     * Compares C strings.
     */
    public static boolean sysfsStreq(String a, String b) {
        String s1 = cstr(a);
        String s2 = cstr(b);
        if (s1.equals(s2)) {
            return true;
        }
        return s1.equals(s2 + "\n") || s2.equals(s1 + "\n");
    }

    /**
     * The kernel's {@code vsscanf} for a format of {@code n} {@code %x} conversions separated by
     * one space ({@code "%x %x ..."}, new_id) or by {@code sep} ({@code "%x:%x"}, module ids=).
     * A space in the format skips any white space; another separator must match exactly. Each
     * conversion skips leading white space, needs a hex digit (a "0x" prefix is accepted) and
     * reads as many hex digits as follow; scanning stops at the first conversion that fails.
     * Returns the values converted (its length is what sscanf returns), low 64 bits of each.
     */
    public static long[] scanHex(String buf, int n, char sep) {
        String s = cstr(buf);
        long[] out = new long[n];
        int i = 0;
        int count = 0;
        while (count < n) {
            if (count > 0) {
                if (sep == ' ') {
                    while (i < s.length() && isSpace(s.charAt(i))) {
                        i++;
                    }
                } else if (i < s.length() && s.charAt(i) == sep) {
                    i++;
                } else {
                    break;
                }
            }
            while (i < s.length() && isSpace(s.charAt(i))) {
                i++;
            }
            if (i >= s.length() || !isHex(s.charAt(i))) {
                break;
            }
            if (s.charAt(i) == '0' && i + 1 < s.length() && Character.toLowerCase(s.charAt(i + 1)) == 'x') {
                i += 2;
            }
            long v = 0;
            while (i < s.length() && isHex(s.charAt(i))) {
                v = v << 4 | digit(s.charAt(i));
                i++;
            }
            out[count++] = v;
        }
        long[] r = new long[count];
        System.arraycopy(out, 0, r, 0, count);
        return r;
    }

    /** {@link #scanHex(String, int, char)} with space-separated conversions. */
    public static long[] scanHex(String buf, int n) {
        return scanHex(buf, n, ' ');
    }

    /** C isspace: space, \t, \n, \v, \f, \r. */
    static boolean isSpace(char c) {
        return c == ' ' || (c >= '\t' && c <= '\r');
    }

    static boolean isHex(char c) {
        return digit(c) >= 0 && digit(c) < 16;
    }

    static int digit(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        char l = Character.toLowerCase(c);
        if (l >= 'a' && l <= 'z') {
            return l - 'a' + 10;
        }
        return -1;
    }
}
