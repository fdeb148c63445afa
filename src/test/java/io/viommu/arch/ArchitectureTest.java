package io.viommu.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * DESIGN.md "Layers (lower never imports higher)" and the package rules, checked with ArchUnit
 * over the main classes (target/classes: not the tests, not the src/jmh benchmarks, which are
 * compiled apart). Bytecode dependencies count, not import lines: fully qualified names, field
 * and method signatures, annotations and constants' owners included.
 */
class ArchitectureTest {
    private static JavaClasses main;

    @BeforeAll
    static void importMainClasses() {
        main = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_JARS)
                .importPackages("io.viommu");
    }

    /**
     * memory < pci < vtd < machine < linux < vmm < host < tour < cli, each with its sub-packages;
     * vmm (the next issue's VMM) may not exist yet. Every main class is in a layer.
     */
    @Test
    void lowerLayersNeverUseHigherOnes() {
        layeredArchitecture().consideringOnlyDependenciesInLayers()
                .ensureAllClassesAreContainedInArchitecture()
                .layer("memory").definedBy("io.viommu.memory..")
                .layer("pci").definedBy("io.viommu.pci..")
                .layer("vtd").definedBy("io.viommu.vtd..")
                .layer("machine").definedBy("io.viommu.machine..")
                .layer("linux").definedBy("io.viommu.linux..")
                .optionalLayer("vmm").definedBy("io.viommu.vmm..")
                .layer("host").definedBy("io.viommu.host..")
                .layer("tour").definedBy("io.viommu.tour..")
                .layer("cli").definedBy("io.viommu.cli..")
                .whereLayer("cli").mayNotBeAccessedByAnyLayer()
                .whereLayer("tour").mayOnlyBeAccessedByLayers("cli")
                .whereLayer("host").mayOnlyBeAccessedByLayers("tour", "cli")
                .whereLayer("vmm").mayOnlyBeAccessedByLayers("host", "tour", "cli")
                .whereLayer("linux").mayOnlyBeAccessedByLayers("vmm", "host", "tour", "cli")
                .whereLayer("machine").mayOnlyBeAccessedByLayers("linux", "vmm", "host", "tour", "cli")
                .whereLayer("vtd").mayOnlyBeAccessedByLayers("machine", "linux", "vmm", "host", "tour", "cli")
                .whereLayer("pci").mayOnlyBeAccessedByLayers("vtd", "machine", "linux", "vmm", "host", "tour", "cli")
                .check(main);
    }

    /** No package cycle, down to sub-packages (io.viommu.linux.iommu is a slice of its own). */
    @Test
    void packagesAreFreeOfCycles() {
        slices().matching("io.viommu.(**)").should().beFreeOfCycles().check(main);
    }

    /**
     * Inside machine, wiring apart from devices (Firecracker's device_manager and devices): the
     * device models know neither the platform nor the command line, the platform does not know
     * the command line; machine.config builds platforms from command lines.
     */
    @Test
    void deviceModelsAndThePlatformDoNotKnowTheCommandLine() {
        noClasses().that().resideInAPackage("io.viommu.machine.device..")
                .should().dependOnClassesThat().resideInAnyPackage("io.viommu.machine", "io.viommu.machine.config..")
                .check(main);
        noClasses().that().resideInAPackage("io.viommu.machine")
                .should().dependOnClassesThat().resideInAPackage("io.viommu.machine.config..")
                .check(main);
    }

    /** The benchmarks are the src/jmh source set: no main class is one, and none uses JMH. */
    @Test
    void benchmarksAndJmhStayOutOfTheMainClasses() {
        noClasses().should().resideInAPackage("io.viommu.bench..").allowEmptyShould(true).check(main);
        noClasses().should().dependOnClassesThat().resideInAPackage("org.openjdk.jmh..").check(main);
    }
}
