package io.viommu.linux.scenario;

import io.viommu.machine.device.EduDevice;
import io.viommu.memory.Iova;
import io.viommu.pci.DmaPort;

/**
 * QEMU's edu device used as the receive side of a NIC: a frame "arrives from the wire" into the
 * device's own 4 KiB buffer (edu has no wire, so the scenario puts the bytes there, as a NIC's
 * MAC would fill its FIFO), then the driver's descriptor makes the device DMA it to the ring
 * buffer's DMA address (edu command START|TO_RAM). The DMA goes through the device's DMA port,
 * so through the VT-d unit's real translation of whatever tables the guest wrote.
 *
 * <p>The register stores go through whatever the driver has: the guest kernel's MMIO to BAR0,
 * or a user-space driver's VFIO device file.
 */
final class EduNic implements RxPath {
    /** An 8-byte store to edu's BAR0 at {@code offset}, by whoever drives the device. */
    @FunctionalInterface
    interface Registers {
        void store8(int offset, long value);
    }

    private final EduDevice edu;
    private final Registers regs;

    EduNic(EduDevice edu, Registers regs) {
        this.edu = edu;
        this.regs = regs;
    }

    /**
     * {@code frame} arrives and is DMAed to {@code dst}. True when the device's DMA completed
     * (a translation fault moves nothing and is recorded by the unit).
     */
    @Override
    public boolean receive(byte[] frame, Iova dst) {
        if (frame.length == 0 || frame.length >= EduDevice.DMA_BUFFER_SIZE) {
            throw new IllegalArgumentException("edu moves 1..4095 bytes, not " + frame.length);
        }
        System.arraycopy(frame, 0, edu.state().buffer, 0, frame.length);
        DmaPort.Outcome before = edu.lastDma();
        regs.store8(EduDevice.REG_DMA_SRC, EduDevice.DMA_BUFFER_BASE);
        regs.store8(EduDevice.REG_DMA_DST, dst.value());
        regs.store8(EduDevice.REG_DMA_COUNT, frame.length);
        regs.store8(EduDevice.REG_DMA_CMD, EduDevice.DMA_CMD_START | EduDevice.DMA_CMD_TO_RAM);
        DmaPort.Outcome o = edu.lastDma();
        return o != before && o != null && o.ok() && o.bytesDone() == frame.length;
    }
}
