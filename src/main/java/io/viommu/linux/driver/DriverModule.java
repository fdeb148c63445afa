package io.viommu.linux.driver;

import java.util.List;
import java.util.Map;

/**
 * One kernel module as the model knows it, declared by the driver's own class and added to
 * {@link Drivers}: its name (modprobe's form, underscores), the modules it needs loaded first
 * (its modules.dep line), those it pulls in right after itself ({@code MODULE_SOFTDEP("post:
 * ...")}), and for a PCI driver module the {@code struct pci_driver} its {@code module_init}
 * registers (Linux: {@code module_pci_driver()} in the driver's file), made fresh per kernel
 * because some drivers keep state (nvme's instance numbers), and what its init does with module
 * parameters once the driver is registered (vfio-pci's and pci-stub's {@code ids=}).
 *
 * @param driver   the PCI driver's name, or null for a module without one (vfio, uio, ...)
 * @param builtin  built into the kernel (pcieport): registered at boot, never loaded or removed
 */
public record DriverModule(String name, List<String> dependencies, List<String> softDependenciesPost,
                           String driver, boolean builtin, Factory factory, AfterRegister afterRegister) {
    /** Makes the module's PCI driver; {@code params} are the module parameters given at load. */
    @FunctionalInterface
    public interface Factory {
        PciDriver create(Map<String, String> params);
    }

    /** The rest of the module's init, after {@code pci_register_driver} returned. */
    @FunctionalInterface
    public interface AfterRegister {
        void afterRegister(PciDriver driver, Map<String, String> params, DriverCore core);
    }

    public DriverModule {
        dependencies = List.copyOf(dependencies);
        softDependenciesPost = List.copyOf(softDependenciesPost);
    }

    /** A loadable module whose init registers the PCI driver {@code driver}. */
    public static DriverModule pciDriver(String name, String driver, Factory factory) {
        return new DriverModule(name, List.of(), List.of(), driver, false, factory, null);
    }

    /** A PCI driver built into the kernel (its module name is the driver's). */
    public static DriverModule builtinPciDriver(String driver, Factory factory) {
        return new DriverModule(driver, List.of(), List.of(), driver, true, factory, null);
    }

    /** A module without a PCI driver: loading it satisfies dependencies and runs module listeners. */
    public static DriverModule library(String name) {
        return new DriverModule(name, List.of(), List.of(), null, false, null, null);
    }

    public DriverModule dependsOn(String... modules) {
        return new DriverModule(name, List.of(modules), softDependenciesPost, driver, builtin, factory, afterRegister);
    }

    public DriverModule softDependsPost(String... modules) {
        return new DriverModule(name, dependencies, List.of(modules), driver, builtin, factory, afterRegister);
    }

    public DriverModule onRegistered(AfterRegister hook) {
        return new DriverModule(name, dependencies, softDependenciesPost, driver, builtin, factory, hook);
    }
}
