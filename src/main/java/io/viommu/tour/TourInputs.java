package io.viommu.tour;

/**
 * The tour's inputs: what a person chooses before the walkthroughs start. Tests change one to
 * see the step that depends on it fail.
 *
 * @param hostMachine  the model host's QEMU arguments (its PCI devices and VT-d unit), without -append
 * @param iommuOnLine  the kernel command line the IOMMU step boots with after editing GRUB
 * @param packets      packets of step 7's ring workloads
 */
public record TourInputs(String hostMachine, String iommuOnLine, int packets) {
    /**
     * The host every walkthrough runs on: q35 with a VT-d unit; a dual-function NIC (two e1000
     * functions in slot 5, the seed's 82598 in the model's terms); an SR-IOV NIC (82576) behind a
     * PCIe root port; two DMA-capable devices (edu) in slots 7 and 8; the ICH9 chipset functions
     * 1f.0/1f.2/1f.3 q35 always has.
     */
    public static final String HOST = "-machine q35 -m 2G -smp 2 -nodefaults -device intel-iommu,intremap=on"
            + " -device e1000,addr=05.0,multifunction=on -device e1000,addr=05.1"
            + " -device pcie-root-port,id=rp1,chassis=1,slot=1,addr=06.0 -device igb,bus=rp1"
            + " -device edu,addr=07.0 -device edu,addr=08.0";

    public static final TourInputs DEFAULT = new TourInputs(HOST, "BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-amd64 ro quiet intel_iommu=on", 256);

    public TourInputs withIommuOnLine(String line) {
        return new TourInputs(hostMachine, line, packets);
    }
}
