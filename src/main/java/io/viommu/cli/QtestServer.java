package io.viommu.cli;

import io.viommu.machine.Machine;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.config.MachineConfigException;
import io.viommu.machine.config.QemuCommandLine;
import io.viommu.machine.device.MachineLog;
import io.viommu.memory.PhysAddr;
import io.viommu.pci.PciFunction;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

/**
 * QEMU's qtest protocol (softmmu/qtest.c in 7.2) served by a viommu {@link Machine}: one
 * command per line, one reply per command ({@code OK [value]}, {@code FAIL ...}, or for
 * {@code write}/{@code b64write} with a too-short data word {@code ERR invalid argument size}),
 * and asynchronous lines before the reply of the command that caused them:
 * {@code IRQ raise N}/{@code IRQ lower N} once interrupts are intercepted, and whatever a device
 * prints to QEMU's stdout (edu's {@code EDU: clamping DMA ...!}). Reply formats were checked
 * line by line against QEMU 7.2.
 *
 * <p>Where QEMU asserts (and the process dies) on a malformed command — a missing or
 * unparsable number, an empty line, {@code read} of 0 bytes, a port above 0xffff — this server
 * answers {@code FAIL <reason>} and goes on. {@code clock_step}/{@code clock_set} are served
 * with a virtual clock in nanoseconds (QEMU answers them only with the qtest accelerator,
 * which Debian's 7.2 lacks); nothing in the model is timed, so stepping the clock changes
 * nothing else. {@code irq_intercept_in} resolves {@code ioapic} and {@code /machine/q35/ioapic};
 * other QOM paths QEMU resolves without GPIO inputs the model has ({@code mch},
 * {@code /machine/q35}, the CPU {@code /machine/unattached/device[0]} and its {@code lapic},
 * {@code /machine/peripheral-anon/device[N]}, {@code /machine/peripheral/ID})
 * are accepted and intercept nothing; the periodic PIT {@code IRQ raise 0}/{@code lower 0}
 * lines QEMU shows are not produced (no PIT is modelled).
 */
public final class QtestServer {
    /** Largest {@code read}/{@code write}/{@code memset} span served (QEMU has no limit). */
    static final long MAX_SPAN = 64L << 20;

    private final Machine machine;
    private final PrintStream out;
    private final PrintStream err;
    private final boolean[] reportedIrq = new boolean[256];
    private String interceptDevice;
    private boolean interceptingIn;
    private long clockNs;
    private QtestExplainer explainer;
    /** Whether the process died during a command (hw_error aborts before qtest replies). */
    private java.util.function.BooleanSupplier dead = () -> false;
    private int lineNumber;

    QtestServer(Machine machine, PrintStream out, PrintStream err) {
        this.machine = machine;
        this.out = out;
        this.err = err;
        machine.interrupts().setListener(this::irqChanged);
    }

    /**
     * Builds the machine from QEMU-style arguments and serves commands from {@code in} until
     * end of input. Returns 0, or 1 after printing QEMU's error text to {@code err} when the
     * arguments are refused.
     */
    public static int serve(List<String> qemuArgs, BufferedReader in, PrintStream out, PrintStream err) {
        return serve(qemuArgs, in, out, err, false);
    }

    /**
     * As {@link #serve(List, BufferedReader, PrintStream, PrintStream)}; with {@code explain},
     * each command that made the model do something is followed on {@code err} by what it did
     * ({@link QtestExplainer}), written before the command's reply so that a terminal showing
     * both streams keeps them in order. {@code out} gets exactly the same bytes either way.
     */
    public static int serve(List<String> qemuArgs, BufferedReader in, PrintStream out, PrintStream err,
                            boolean explain) {
        MachineBuilder.Built built;
        try {
            built = MachineBuilder.build(qemuArgs, machineLog(out, err));
        } catch (MachineConfigException e) {
            err.println(e.getMessage());
            return 1;
        }
        built.commandLine().warnings().forEach(err::println);
        err.flush(); // before the first reply, as QEMU's unbuffered stderr would be
        traceUnit(built.machine().iommu(), new io.viommu.machine.config.QemuTrace(
                built.commandLine().tracePatterns(), err::println));
        return serveMachine(built.machine(), in, out, err, explain);
    }

    /** -trace: the unit's QEMU trace events (vtd_*) printed as QEMU's log backend prints them. */
    static void traceUnit(io.viommu.vtd.IntelIommu unit, io.viommu.machine.config.QemuTrace trace) {
        if (unit == null || !trace.any()) {
            return;
        }
        unit.setTrace(new io.viommu.vtd.VtdTrace() {
            @Override
            public boolean qemuEvents() {
                return true;
            }

            @Override
            public void qemuEvent(String name, String args) {
                trace.event(name, args);
            }
        });
    }

    /** Where a served machine's device models print: their stdout lines to {@code out}, guest errors to {@code err}. */
    static MachineLog machineLog(PrintStream out, PrintStream err) {
        return new MachineLog() {
            @Override
            public void stdout(String line) {
                out.println(line);
            }

            @Override
            public void guestError(String message) {
                err.println(message);
            }
        };
    }

    /** Serves commands from {@code in} against an already built machine until end of input; 0, or 1 on an I/O error. */
    static int serveMachine(Machine machine, BufferedReader in, PrintStream out, PrintStream err, boolean explain) {
        return serveMachine(machine, in, out, err, explain, () -> { });
    }

    /** As above, running {@code afterEach} after every command (the host's CPU, for a VMM). */
    static int serveMachine(Machine machine, BufferedReader in, PrintStream out, PrintStream err, boolean explain,
                            Runnable afterEach) {
        return serveMachine(machine, in, out, err, explain, afterEach, () -> -1);
    }

    /**
     * As above; after every command {@code exitStatus} says whether the process must end now
     * (a status &ge; 0, e.g. 134 after the VMM's hw_error) or keep serving (-1).
     */
    static int serveMachine(Machine machine, BufferedReader in, PrintStream out, PrintStream err, boolean explain,
                            Runnable afterEach, java.util.function.IntSupplier exitStatus) {
        QtestServer server = new QtestServer(machine, out, err);
        server.dead = () -> exitStatus.getAsInt() >= 0;
        if (explain) {
            server.explainer = new QtestExplainer(machine);
            err.println(QtestExplainer.PREAMBLE);
            err.flush();
        }
        try {
            String line;
            int number = 0;
            while ((line = in.readLine()) != null) {
                server.lineNumber = ++number;
                server.handle(line);
                out.flush();
                afterEach.run();
                int status = exitStatus.getAsInt();
                if (status >= 0) {
                    err.flush();
                    return status;
                }
            }
        } catch (IOException e) {
            err.println("viommu qtest: " + e.getMessage());
            return 1;
        }
        return 0;
    }

    public Machine machine() {
        return machine;
    }

    /** Processes one command line; never throws. */
    void handle(String line) {
        if (line.endsWith("\r")) {
            line = line.substring(0, line.length() - 1);
        }
        String[] w = line.split(" ", -1);
        String reply;
        try {
            reply = dispatch(w);
        } catch (BadArgument e) {
            reply = "FAIL " + e.getMessage();
        } catch (RuntimeException e) {
            // A model bug must not take the server down; say so and go on.
            err.println("viommu qtest: internal error on '" + line + "': " + e);
            reply = "FAIL internal error: " + e.getClass().getSimpleName();
        }
        if (dead.getAsBoolean()) {
            return; // abort() came before the reply
        }
        if (explainer != null) {
            explain(line);
        }
        out.println(reply);
    }

    /**
     * The explanation of one command on stderr: the command as a heading (so the reader knows
     * which line of the script it is), then one line per thing the model did. Commands that
     * changed nothing the explainer watches print nothing. stdout is flushed first, so replies
     * and explanations reach a shared terminal in order.
     */
    private void explain(String line) {
        List<String> what = explainer.step();
        if (what.isEmpty()) {
            return;
        }
        out.flush();
        err.println(String.format("# %d: %s", lineNumber, line));
        for (String w : what) {
            err.println("#    " + w);
        }
        err.flush();
    }

    private static final class BadArgument extends Exception {
        BadArgument(String message) {
            super(message, null, false, false);
        }
    }

    private String dispatch(String[] w) throws BadArgument {
        String cmd = w[0];
        return switch (cmd) {
            case "irq_intercept_in", "irq_intercept_out" -> intercept(cmd, arg(w, 1));
            case "set_irq_in" -> setIrqIn(w);
            case "outb", "outw", "outl" -> {
                int port = port(w);
                long value = number(w, 2);
                int size = ioSize(cmd.charAt(3));
                machine.io().out(port, value & mask(size), size);
                yield "OK";
            }
            case "inb", "inw", "inl" -> {
                int port = port(w);
                int size = ioSize(cmd.charAt(2));
                long v = machine.io().in(port, size) & mask(size);
                yield String.format("OK 0x%04x", v);
            }
            case "writeb", "writew", "writel", "writeq" -> {
                long addr = number(w, 1);
                long value = number(w, 2);
                int size = ioSize(cmd.charAt(5));
                machine.memory().write(PhysAddr.of(addr), value & mask(size), size);
                yield "OK";
            }
            case "readb", "readw", "readl", "readq" -> {
                long addr = number(w, 1);
                int size = ioSize(cmd.charAt(4));
                long v = machine.memory().read(PhysAddr.of(addr), size) & mask(size);
                if (explainer != null) {
                    explainer.read(addr, size, v);
                }
                yield String.format("OK 0x%016x", v);
            }
            case "read" -> {
                long addr = number(w, 1);
                int len = span(w, 2, false);
                byte[] data = new byte[len];
                machine.memory().readBytes(PhysAddr.of(addr), data, 0, len);
                StringBuilder sb = new StringBuilder(2 * len + 5).append("OK 0x");
                for (byte b : data) {
                    sb.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
                }
                yield sb.toString();
            }
            case "b64read" -> {
                long addr = number(w, 1);
                int len = span(w, 2, true);
                byte[] data = new byte[len];
                machine.memory().readBytes(PhysAddr.of(addr), data, 0, len);
                yield "OK " + Base64.getEncoder().encodeToString(data);
            }
            case "write" -> {
                long addr = number(w, 1);
                int len = span(w, 2, true);
                String data = arg(w, 3);
                if (data.length() < 3) {
                    yield "ERR invalid argument size";
                }
                machine.memory().writeBytes(PhysAddr.of(addr), decodeHexData(data, len), 0, len);
                yield "OK";
            }
            case "memset" -> {
                long addr = number(w, 1);
                int len = span(w, 2, true);
                long pattern = number(w, 3);
                byte[] data = new byte[len];
                Arrays.fill(data, (byte) pattern);
                machine.memory().writeBytes(PhysAddr.of(addr), data, 0, len);
                yield "OK";
            }
            case "b64write" -> {
                long addr = number(w, 1);
                int len = span(w, 2, true);
                String data = arg(w, 3);
                if (data.length() < 3) {
                    yield "ERR invalid argument size";
                }
                machine.memory().writeBytes(PhysAddr.of(addr), decodeBase64InPlace(data, len), 0, len);
                yield "OK";
            }
            case "endianness" -> "OK little";
            case "clock_step" -> {
                if (w.length > 1) {
                    long ns = signed(w, 1);
                    if (ns > 0) {
                        clockNs += ns;
                    }
                }
                // Without an argument QEMU warps to the next timer deadline; the model has none.
                yield "OK " + clockNs;
            }
            case "clock_set" -> {
                long ns = signed(w, 1);
                if (ns > clockNs) {
                    clockNs = ns;
                }
                yield "OK " + clockNs;
            }
            case "module_load" -> {
                arg(w, 1);
                arg(w, 2);
                yield "FAIL";
            }
            default -> "FAIL Unknown command '" + cmd + "'";
        };
    }

    // ---- interrupts ----

    private String intercept(String cmd, String path) {
        String dev = resolveDevice(path);
        if (dev == null) {
            return "FAIL Unknown device";
        }
        if (interceptDevice != null) {
            return interceptDevice.equals(dev) ? "OK" : "FAIL IRQ intercept already enabled";
        }
        interceptDevice = dev;
        // Only the I/O APIC has unnamed GPIO inputs here; it has no GPIO outputs.
        interceptingIn = dev.equals("ioapic") && cmd.equals("irq_intercept_in");
        return "OK";
    }

    private String setIrqIn(String[] w) throws BadArgument {
        String dev = resolveDevice(arg(w, 1));
        String name = arg(w, 2);
        long num = signed(w, 3);
        long level = signed(w, 4);
        if (dev == null) {
            return "FAIL Unknown device";
        }
        if (dev.equals("ioapic") && name.equals("unnamed-gpio-in")) {
            machine.interrupts().setExternal((int) num, level != 0);
        }
        return "OK";
    }

    /** A canonical name for a QOM path the model knows, or null. */
    private String resolveDevice(String path) {
        switch (path) {
            case "ioapic", "/machine/q35/ioapic" -> {
                return "ioapic";
            }
            case "mch", "/machine/q35/mch" -> {
                return "mch";
            }
            case "/machine/q35" -> {
                return "q35";
            }
            case "/machine/unattached/device[0]" -> {
                return "cpu";
            }
            case "lapic", "/machine/unattached/device[0]/lapic" -> {
                // The CPU's local APIC: QEMU 7.2 accepts the interception and reports nothing
                // for MSIs (checked), so nothing is intercepted here either.
                return "lapic";
            }
            default -> {
            }
        }
        int anon = 0;
        for (PciFunction f : machine.devices()) {
            if (f.id() != null && path.equals("/machine/peripheral/" + f.id())) {
                return path;
            }
            if (f.id() == null && path.equals("/machine/peripheral-anon/device[" + anon++ + "]")) {
                return path;
            }
        }
        return null;
    }

    /** qtest_irq_handler: reports a line whose level differs from the last one reported. */
    private void irqChanged(int gsi, boolean level) {
        if (!interceptingIn || gsi < 0 || gsi >= reportedIrq.length || reportedIrq[gsi] == level) {
            return;
        }
        reportedIrq[gsi] = level;
        out.println("IRQ " + (level ? "raise" : "lower") + " " + gsi);
    }

    // ---- argument parsing ----

    private static String arg(String[] w, int i) throws BadArgument {
        if (i >= w.length) {
            throw new BadArgument("missing argument " + i + " for '" + w[0] + "'");
        }
        return w[i];
    }

    private static long number(String[] w, int i) throws BadArgument {
        String s = arg(w, i);
        Long v = QemuCommandLine.parseUnsigned(s);
        if (v == null) {
            throw new BadArgument("invalid number '" + s + "'");
        }
        return v;
    }

    private static long signed(String[] w, int i) throws BadArgument {
        String s = arg(w, i);
        Long v = QemuCommandLine.parseUnsigned(s);
        if (v == null) {
            throw new BadArgument("invalid number '" + s + "'");
        }
        return v;
    }

    private static int port(String[] w) throws BadArgument {
        long addr = number(w, 1);
        if (Long.compareUnsigned(addr, 0xffff) > 0) {
            throw new BadArgument("port address out of range '" + w[1] + "'");
        }
        return (int) addr;
    }

    private static int span(String[] w, int i, boolean zeroOk) throws BadArgument {
        long len = number(w, i);
        if (len == 0 && !zeroOk) {
            throw new BadArgument("zero length");
        }
        if (Long.compareUnsigned(len, MAX_SPAN) > 0) {
            throw new BadArgument("length above " + MAX_SPAN + " bytes");
        }
        return (int) len;
    }

    private static int ioSize(char c) {
        return switch (c) {
            case 'b' -> 1;
            case 'w' -> 2;
            case 'l' -> 4;
            default -> 8;
        };
    }

    private static long mask(int size) {
        return size >= 8 ? -1L : (1L << (8 * size)) - 1;
    }

    private static int hex2nib(char c) {
        int d = Character.digit(c, 16);
        return c < 128 ? d : -1;
    }

    /**
     * The {@code write} command's data: two hex digits per byte after a 2-character prefix
     * (QEMU skips it without looking), zeros past the end of the data, and QEMU's arithmetic
     * for a non-hex digit (its hex2nib returns -1).
     */
    static byte[] decodeHexData(String data, int len) {
        byte[] b = new byte[len];
        for (int i = 0; i < len; i++) {
            if (i * 2 + 4 <= data.length()) {
                int hi = hex2nib(data.charAt(i * 2 + 2));
                int lo = hex2nib(data.charAt(i * 2 + 3));
                b[i] = (byte) ((hi << 4) | lo);
            }
        }
        return b;
    }

    /**
     * The {@code b64write} command's data, as glib's lenient in-place decoder leaves QEMU's
     * buffer: decoded bytes first, then the rest of the text, then a NUL; QEMU writes
     * {@code len} bytes from it even when fewer were decoded (beyond the text: zeros here).
     */
    static byte[] decodeBase64InPlace(String text, int len) {
        byte[] raw = text.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        StringBuilder clean = new StringBuilder();
        for (byte c : raw) {
            char ch = (char) (c & 0xff);
            if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
                    || ch == '+' || ch == '/') {
                clean.append(ch);
            } else if (ch == '=') {
                break;
            }
        }
        int usable = clean.length() - clean.length() % 4;
        String body = clean.substring(0, usable);
        String tail = clean.substring(usable);
        if (tail.length() >= 2) {
            body += tail + "==".substring(0, 4 - tail.length());
        }
        byte[] decoded = Base64.getDecoder().decode(body);
        byte[] buf = new byte[Math.max(len, raw.length + 1)];
        System.arraycopy(raw, 0, buf, 0, raw.length);
        System.arraycopy(decoded, 0, buf, 0, Math.min(decoded.length, buf.length));
        return Arrays.copyOf(buf, len);
    }
}
