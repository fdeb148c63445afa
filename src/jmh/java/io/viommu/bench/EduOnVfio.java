package io.viommu.bench;

import io.viommu.linux.Kernel;
import io.viommu.linux.driver.DriverCore;
import io.viommu.linux.driver.PciDevice;
import io.viommu.linux.vfio.UserProcess;
import io.viommu.linux.vfio.Vfio;
import io.viommu.linux.vfio.VfioContainer;
import io.viommu.linux.vfio.VfioGroup;
import io.viommu.machine.Machine;
import io.viommu.machine.config.MachineBuilder;
import io.viommu.machine.device.MachineLog;
import java.util.List;

/**
 * The benchmarks' host: a machine with intel-iommu and an edu at 00:01.0, the kernel model
 * booted on it, the edu bound to vfio-pci, and a process's type1 container holding its group.
 */
final class EduOnVfio {
    final Machine machine;
    final Kernel kernel;
    final PciDevice edu;
    final UserProcess process;
    final VfioContainer container;

    private EduOnVfio(Machine machine, Kernel kernel, PciDevice edu, UserProcess process, VfioContainer container) {
        this.machine = machine;
        this.kernel = kernel;
        this.edu = edu;
        this.process = process;
        this.container = container;
    }

    /** {@code ram} as QEMU's -m, {@code iommu} the intel-iommu properties; {@code dmaEntryLimit} &lt; 0: the default. */
    static EduOnVfio boot(String ram, String iommu, int dmaEntryLimit, String comm) throws Exception {
        Machine m = MachineBuilder.fromCommandLine(List.of("-nodefaults", "-m", ram, "-device", "intel-iommu," + iommu,
                "-device", "edu"), MachineLog.SILENT);
        Kernel kernel = Kernel.boot(m);
        DriverCore core = kernel.drivers();
        core.loadModule("vfio-pci"); // and vfio, vfio_iommu_type1 with it
        if (dmaEntryLimit >= 0) {
            core.setModuleParameter("vfio_iommu_type1", "dma_entry_limit", Integer.toString(dmaEntryLimit));
        }
        Vfio vfio = kernel.vfio().orElseThrow();
        PciDevice edu = core.device("0000:00:01.0").orElseThrow();
        core.setDriverOverride(edu, "vfio-pci");
        core.deviceAttach(edu);
        UserProcess p = UserProcess.root(comm, kernel.userMemory());
        VfioContainer container = vfio.openContainer(p);
        VfioGroup g = vfio.openGroup(p, "/dev/vfio/" + core.groupOf(edu).getAsInt());
        g.setContainer(container);
        container.setIommu(Vfio.TYPE1v2_IOMMU);
        return new EduOnVfio(m, kernel, edu, p, container);
    }
}
