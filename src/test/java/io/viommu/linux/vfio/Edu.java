package io.viommu.linux.vfio;

import io.viommu.machine.device.EduDevice;
import java.util.function.BiConsumer;

/** A user-space edu driver: DMA commands written to BAR0 through whatever the process has. */
final class Edu {
    private final BiConsumer<Integer, Long> write8;

    /** @param write8 (BAR0 offset, value): an 8-byte store to the device's registers */
    Edu(BiConsumer<Integer, Long> write8) {
        this.write8 = write8;
    }

    static Edu through(VfioDevice d) {
        return new Edu((off, v) -> d.write(((long) VfioDevice.BAR0_REGION << VfioDevice.OFFSET_SHIFT) + off, v, 8));
    }

    /** The device copies {@code len} bytes from its DMA address {@code addr} into its buffer. */
    void fromMemory(long addr, int len) {
        write8.accept(EduDevice.REG_DMA_SRC, addr);
        write8.accept(EduDevice.REG_DMA_DST, EduDevice.DMA_BUFFER_BASE);
        write8.accept(EduDevice.REG_DMA_COUNT, (long) len);
        write8.accept(EduDevice.REG_DMA_CMD, EduDevice.DMA_CMD_START);
    }

    /** The device writes {@code len} bytes of its buffer to its DMA address {@code addr}. */
    void toMemory(long addr, int len) {
        write8.accept(EduDevice.REG_DMA_SRC, EduDevice.DMA_BUFFER_BASE);
        write8.accept(EduDevice.REG_DMA_DST, addr);
        write8.accept(EduDevice.REG_DMA_COUNT, (long) len);
        write8.accept(EduDevice.REG_DMA_CMD, EduDevice.DMA_CMD_START | EduDevice.DMA_CMD_TO_RAM);
    }
}
