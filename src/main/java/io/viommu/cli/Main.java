package io.viommu.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code viommu} command. Exit codes: 0 ok, 1 failure, 2 usage. */
@Command(name = "viommu", mixinStandardHelpOptions = true, version = "viommu 0.1",
        description = "A model of Intel VT-d and PCI device assignment, held against QEMU and Linux.",
        subcommands = {CommandLine.HelpCommand.class, QtestCommand.class, BenchCommand.class,
                BootCommand.class, HostCommand.class, ScenarioCommand.class, RunCommand.class,
                DomxmlToNativeCommand.class, TourCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        // `viommu qtest -machine q35 ...` hands QEMU's options through untouched.
        cl.getSubcommands().get("qtest").setUnmatchedOptionsArePositionalParams(true);
        cl.getSubcommands().get("boot").setUnmatchedOptionsArePositionalParams(true);
        cl.getSubcommands().get("run").setUnmatchedOptionsArePositionalParams(true);
        return cl;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }
}
