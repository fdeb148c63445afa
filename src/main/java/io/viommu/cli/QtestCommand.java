package io.viommu.cli;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code viommu qtest [QEMU arguments]}: QEMU's qtest protocol on stdin/stdout. */
@Command(name = "qtest", mixinStandardHelpOptions = true,
        description = {
            "Serve QEMU's qtest protocol on stdin/stdout for a q35 machine built from QEMU-style arguments.",
            "For example:",
            "  viommu qtest --explain -machine q35 -m 256M -device intel-iommu -device edu < script",
            "Accepted: -machine/-M q35[,...]  -m SIZE  -device intel-iommu[,...]",
            "  -device edu[,dma_mask=N][,bus=pcie.0][,addr=SLOT[.FN]][,id=ID]",
            "  -bios FILE (mapped read-only below 4 GiB and, its last 128 KiB, below 1 MiB)",
            "Ignored: -display -nodefaults -monitor -serial -qtest -d -D -accel",
            "Exit status: 0 at end of input, 1 when QEMU would refuse the arguments."},
        parameterListHeading = "%nQEMU arguments:%n")
public final class QtestCommand implements Callable<Integer> {
    @Parameters(arity = "0..*", paramLabel = "QEMU_ARG",
            description = "QEMU command-line arguments (options starting with '-' included).")
    List<String> qemuArgs = new ArrayList<>();

    @Option(names = "--explain",
            description = "After each command that made the model do something, say on stderr what it did"
                    + " (DMA translations and their results, faults recorded, VT-d and PCI state changes);"
                    + " stdout stays exactly the qtest protocol.")
    boolean explain;

    @Override
    public Integer call() {
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false,
                StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        int rc = QtestServer.serve(qemuArgs, in, out, System.err, explain);
        out.flush();
        return rc;
    }
}
