package io.viommu.pci;

import java.util.Arrays;

/**
 * The configuration space of one PCI function: 256 bytes (conventional) or 4096 (PCIe), with a
 * write mask and a write-1-to-clear mask per byte, as QEMU keeps them ({@code pdev->config},
 * {@code wmask}, {@code w1cmask} in hw/pci/pci.c). A guest write touches only bits whose
 * write-mask bit is set; a 1 written to a W1C bit clears it. Device models fill the space
 * once through {@link #define}, which is the register table (reset value, write mask, W1C).
 *
 * <p>Accesses may be of any length 1..4 at any offset, little-endian, as QEMU's
 * {@code pci_default_read_config} allows. Bytes at or beyond {@link #size()} read as 0xff and
 * ignore writes (QEMU: {@code pci_host_config_read_common} returns ~0 past the limit).
 */
public final class ConfigSpace {
    public static final int CONVENTIONAL_SIZE = 0x100;
    public static final int PCIE_SIZE = 0x1000;

    private final byte[] value;
    private final byte[] wmask;
    private final byte[] w1cmask;

    public ConfigSpace(int size) {
        if (size != CONVENTIONAL_SIZE && size != PCIE_SIZE) {
            throw new IllegalArgumentException("config space is 256 or 4096 bytes: " + size);
        }
        value = new byte[size];
        wmask = new byte[size];
        w1cmask = new byte[size];
    }

    public int size() {
        return value.length;
    }

    /** Declares a register: its reset value, writable bits and write-1-to-clear bits. */
    public void define(int offset, int len, long reset, long writable, long w1c) {
        checkRange(offset, len);
        for (int i = 0; i < len; i++) {
            value[offset + i] = (byte) (reset >>> (8 * i));
            wmask[offset + i] = (byte) (writable >>> (8 * i));
            w1cmask[offset + i] = (byte) (w1c >>> (8 * i));
        }
    }

    /** Sets the writable bits of {@code len} bytes without touching their value. */
    public void setWriteMask(int offset, int len, long writable) {
        checkRange(offset, len);
        for (int i = 0; i < len; i++) {
            wmask[offset + i] = (byte) (writable >>> (8 * i));
        }
    }

    /** Makes a whole range writable (QEMU: {@code pci_init_wmask} for bytes 0x40..end). */
    public void fillWriteMask(int from, int to, int byteMask) {
        Arrays.fill(wmask, from, to, (byte) byteMask);
    }

    /** Device-side update of a value, bypassing the guest write masks. */
    public void set(int offset, int len, long v) {
        checkRange(offset, len);
        for (int i = 0; i < len; i++) {
            value[offset + i] = (byte) (v >>> (8 * i));
        }
    }

    /** Device-side read of a value (no 0xff padding; the range must be inside the space). */
    public long get(int offset, int len) {
        return gather(value, offset, len);
    }

    public long writeMask(int offset, int len) {
        return gather(wmask, offset, len);
    }

    public long w1cMask(int offset, int len) {
        return gather(w1cmask, offset, len);
    }

    /** {@code len} bytes of {@code bytes} at {@code offset}, little-endian. */
    private long gather(byte[] bytes, int offset, int len) {
        checkRange(offset, len);
        long v = 0;
        for (int i = 0; i < len; i++) {
            v |= (bytes[offset + i] & 0xffL) << (8 * i);
        }
        return v;
    }

    /** Guest read: {@code len} (1..4) bytes; bytes outside the space read as 0xff. */
    public long read(int offset, int len) {
        long v = 0;
        for (int i = 0; i < len; i++) {
            int o = offset + i;
            long b = o >= 0 && o < value.length ? value[o] & 0xffL : 0xffL;
            v |= b << (8 * i);
        }
        return v;
    }

    /** Guest write through the masks; bytes outside the space are ignored. */
    public void write(int offset, long v, int len) {
        for (int i = 0; i < len; i++) {
            int o = offset + i;
            if (o < 0 || o >= value.length) {
                continue;
            }
            int b = (int) (v >>> (8 * i)) & 0xff;
            int wm = wmask[o] & 0xff;
            int w1c = w1cmask[o] & 0xff;
            int old = value[o] & 0xff;
            int next = (old & ~wm) | (b & wm);
            next &= ~(b & w1c);
            value[o] = (byte) next;
        }
    }

    private void checkRange(int offset, int len) {
        if (offset < 0 || len < 0 || offset + len > value.length) {
            throw new IllegalArgumentException("config range " + offset + "+" + len);
        }
    }
}
