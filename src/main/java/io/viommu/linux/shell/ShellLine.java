package io.viommu.linux.shell;

import java.util.ArrayList;
import java.util.List;

/**
 * One command line as busybox {@code sh} splits it: words with quote removal ({@code '...'}
 * literal, {@code "..."} with {@code \"}, {@code \\}, {@code \$} and {@code \`} escapes, a
 * backslash outside quotes quotes the next character), a {@code #} at the start of a word begins
 * a comment, {@code ;} separates commands, and an output redirection {@code > FILE} or
 * {@code >> FILE} may stand anywhere, attached to a word or not. Variables, globs, pipes and
 * here-documents are not part of what a setup line needs and are not expanded.
 */
public record ShellLine(List<String> words, String redirect, boolean append) {

    /** A line that does not split: the shell's syntax error text. */
    public static final class SyntaxError extends Exception {
        SyntaxError(String message) {
            super(message);
        }
    }

    /** The commands of a line, in order; empty for a blank or comment line. */
    public static List<ShellLine> parse(String line) throws SyntaxError {
        List<ShellLine> out = new ArrayList<>();
        List<String> words = new ArrayList<>();
        String redirect = null;
        boolean append = false;
        boolean wantTarget = false;
        StringBuilder w = null; // the word being read, null between words
        int i = 0;
        int n = line.length();
        while (i <= n) {
            char c = i < n ? line.charAt(i) : '\n';
            boolean end = i == n;
            if (end || c == ' ' || c == '\t' || c == ';' || c == '>' || (c == '#' && w == null)) {
                if (w != null) {
                    if (wantTarget) {
                        redirect = w.toString();
                        wantTarget = false;
                    } else {
                        words.add(w.toString());
                    }
                    w = null;
                }
                if (end || c == '#' || c == ';') {
                    if (wantTarget) {
                        // sh -c's string ends without a newline: "end of file"
                        throw new SyntaxError("sh: syntax error: unexpected " + (end ? "end of file"
                                : c == '#' ? "newline" : "\";\""));
                    }
                    if (!words.isEmpty() || redirect != null) {
                        out.add(new ShellLine(List.copyOf(words), redirect, append));
                    }
                    words = new ArrayList<>();
                    redirect = null;
                    append = false;
                    if (end || c == '#') {
                        break;
                    }
                } else if (c == '>') {
                    if (wantTarget) {
                        throw new SyntaxError("sh: syntax error: unexpected redirection");
                    }
                    append = i + 1 < n && line.charAt(i + 1) == '>';
                    if (append) {
                        i++;
                    }
                    wantTarget = true;
                }
                i++;
                continue;
            }
            if (w == null) {
                w = new StringBuilder();
            }
            if (c == '\'') {
                int close = line.indexOf('\'', i + 1);
                if (close < 0) {
                    throw new SyntaxError("sh: syntax error: unterminated quoted string");
                }
                w.append(line, i + 1, close);
                i = close + 1;
            } else if (c == '"') {
                i++;
                while (true) {
                    if (i >= n) {
                        throw new SyntaxError("sh: syntax error: unterminated quoted string");
                    }
                    char d = line.charAt(i);
                    if (d == '"') {
                        i++;
                        break;
                    }
                    if (d == '\\' && i + 1 < n && "\"\\$`".indexOf(line.charAt(i + 1)) >= 0) {
                        w.append(line.charAt(i + 1));
                        i += 2;
                    } else {
                        w.append(d);
                        i++;
                    }
                }
            } else if (c == '\\') {
                if (i + 1 < n) {
                    w.append(line.charAt(i + 1));
                }
                i += 2;
            } else {
                w.append(c);
                i++;
            }
        }
        return out;
    }
}
