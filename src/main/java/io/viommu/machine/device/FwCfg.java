package io.viommu.machine.device;

import io.viommu.memory.AddressSpace;
import io.viommu.memory.Mmio;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Supplier;

/**
 * QEMU's firmware configuration device on the PC I/O ports (docs/specs/fw_cfg.txt,
 * hw/nvram/fw_cfg.c in 7.2), enough of it to publish the ACPI tables:
 * <pre>
 *  0x510  le16 write: select an item (the read offset restarts at 0); bits 14/15 (write
 *         channel, arch-local) are kept in the key: items there are not modelled and read 0
 *  0x511  u8 read: next byte of the selected item (0 past its end or for unknown keys);
 *         a 1-byte read at 0x510 reads data as well (QEMU's combined region)
 *  0x514  DMA interface (big-endian): reads give "QEMU CFG"; writing the address of an
 *         FWCfgDmaAccess {be32 control, be32 length, be64 address} (32-bit halves at 0x514
 *         then 0x518, or 64 bits at 0x514) runs it: control bit 3 select (key in 31:16),
 *         bit 1 read, bit 2 skip, bit 4 write (refused: nothing here is writable, error bit 0);
 *         control is written back 0 on success
 * </pre>
 * Items: 0x00 signature "QEMU", 0x01 feature bitmap (bit 0 traditional, bit 1 DMA: 3, as
 * QEMU q35 reports), 0x19 file directory: be32 count, then per file be32 size, be16 select,
 * be16 reserved, name[56]; files sorted by name with selects from 0x20 (checked against
 * QEMU 7.2's directory format). Device DMA of this device goes to system memory untranslated,
 * as fw_cfg's DMA does in QEMU.
 */
public final class FwCfg {
    public static final int PORT_SELECTOR = 0x510;
    public static final int PORT_DATA = 0x511;
    public static final int PORT_DMA = 0x514;
    public static final int KEY_SIGNATURE = 0x00;
    public static final int KEY_ID = 0x01;
    public static final int KEY_FILE_DIR = 0x19;
    public static final int KEY_FILE_FIRST = 0x20;
    public static final int FEATURE_TRADITIONAL = 1;
    public static final int FEATURE_DMA = 2;
    public static final int FILE_NAME_SIZE = 56;
    public static final long DMA_SIGNATURE = 0x51454d5520434647L; // "QEMU CFG"
    public static final int DMA_CTL_ERROR = 0x01;
    public static final int DMA_CTL_READ = 0x02;
    public static final int DMA_CTL_SKIP = 0x04;
    public static final int DMA_CTL_SELECT = 0x08;
    public static final int DMA_CTL_WRITE = 0x10;

    private record FwFile(String name, Supplier<byte[]> contents) {
        byte[] data() {
            byte[] d = contents.get();
            return d == null ? new byte[0] : d;
        }
    }

    private final AddressSpace memory;
    private final List<FwFile> files = new ArrayList<>();
    private int key = -1;
    private byte[] current; // the selected item's contents, taken at select time
    private int offset;
    private long dmaAddress;

    public FwCfg(AddressSpace memory) {
        this.memory = memory;
    }

    /** Adds (or replaces) a named file with fixed contents. */
    public void addFile(String name, byte[] data) {
        byte[] copy = data.clone();
        addFile(name, () -> copy);
    }

    /**
     * Adds (or replaces) a named file whose contents are produced when read (QEMU rebuilds the
     * ACPI tables when firmware first reads them, so they describe the devices present then).
     */
    public void addFile(String name, Supplier<byte[]> contents) {
        if (name.getBytes(StandardCharsets.US_ASCII).length >= FILE_NAME_SIZE) {
            throw new IllegalArgumentException("fw_cfg file name too long: " + name);
        }
        files.removeIf(f -> f.name.equals(name));
        files.add(new FwFile(name, contents));
        files.sort(Comparator.comparing(FwFile::name));
    }

    /** The contents of item {@code k}, or null when there is none. */
    public byte[] item(int k) {
        switch (k) {
            case KEY_SIGNATURE -> {
                return "QEMU".getBytes(StandardCharsets.US_ASCII);
            }
            case KEY_ID -> {
                return new byte[] {FEATURE_TRADITIONAL | FEATURE_DMA, 0, 0, 0};
            }
            case KEY_FILE_DIR -> {
                return directory();
            }
            default -> {
                int i = k - KEY_FILE_FIRST;
                return i >= 0 && i < files.size() ? files.get(i).data() : null;
            }
        }
    }

    private byte[] directory() {
        byte[] d = new byte[4 + 64 * files.size()];
        be(d, 0, files.size(), 4);
        for (int i = 0; i < files.size(); i++) {
            int o = 4 + 64 * i;
            be(d, o, files.get(i).data().length, 4);
            be(d, o + 4, KEY_FILE_FIRST + i, 2);
            byte[] n = files.get(i).name.getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(n, 0, d, o + 8, n.length);
        }
        return d;
    }

    private static void be(byte[] b, int off, long v, int n) {
        for (int i = 0; i < n; i++) {
            b[off + i] = (byte) (v >>> (8 * (n - 1 - i)));
        }
    }

    private static long readBe(AddressSpace m, long addr, int n) {
        long v = 0;
        for (int i = 0; i < n; i++) {
            v = v << 8 | (m.read(addr + i, 1) & 0xff);
        }
        return v;
    }

    void select(int k) {
        key = k & 0xffff;
        current = item(key);
        offset = 0;
    }

    int readData() {
        byte[] d = current;
        if (d == null || offset >= d.length) {
            return 0;
        }
        return d[offset++] & 0xff;
    }

    /** The selector/data ports: 2 bytes at 0x510 (rules: 1 or 2 bytes). */
    public final Mmio ioPorts = new Mmio() {
        @Override
        public long load(long off, int size) {
            return size == 1 ? readData() : 0;
        }

        @Override
        public void store(long off, long value, int size) {
            if (size == 2 && off == 0) {
                select((int) value);
            }
            // 1-byte data writes: ignored (the write channel is gone since QEMU 2.4).
        }
    };

    /** The DMA interface: 8 bytes at 0x514 (big-endian device: the CPU's value is byte-swapped). */
    public final Mmio dmaPort = new Mmio() {
        @Override
        public long load(long off, int size) {
            long v = 0;
            for (int i = 0; i < size && off + i < 8; i++) {
                long b = (DMA_SIGNATURE >>> (8 * (7 - (off + i)))) & 0xff;
                v |= b << (8 * i);
            }
            return v;
        }

        @Override
        public void store(long off, long value, int size) {
            if (size == 4) {
                long v = Integer.reverseBytes((int) value) & 0xffffffffL;
                if (off == 0) {
                    dmaAddress = v << 32;
                } else if (off == 4) {
                    dmaAddress |= v;
                    dmaTransfer();
                }
            } else if (size == 8 && off == 0) {
                dmaAddress = Long.reverseBytes(value);
                dmaTransfer();
            }
        }
    };

    /** fw_cfg_dma_transfer. */
    private void dmaTransfer() {
        long at = dmaAddress;
        dmaAddress = 0;
        if (memory.probe(at, 16) != AddressSpace.Status.OK) {
            return;
        }
        int control = (int) readBe(memory, at, 4);
        long length = readBe(memory, at + 4, 4);
        long address = readBe(memory, at + 8, 8);
        if ((control & DMA_CTL_SELECT) != 0) {
            select(control >>> 16);
        }
        boolean read = (control & DMA_CTL_READ) != 0;
        boolean write = !read && (control & DMA_CTL_WRITE) != 0;
        if (!read && !write && (control & DMA_CTL_SKIP) == 0) {
            length = 0;
        }
        int status = 0;
        byte[] d = current;
        while (length > 0 && (status & DMA_CTL_ERROR) == 0) {
            long len;
            if (d == null || offset >= d.length) {
                len = length;
                if (read) {
                    memory.writeBytes(address, new byte[(int) Math.min(len, 1 << 20)], 0, (int) Math.min(len, 1 << 20));
                    len = Math.min(len, 1 << 20);
                }
                if (write) {
                    status |= DMA_CTL_ERROR;
                }
            } else {
                len = Math.min(length, d.length - offset);
                if (read) {
                    memory.writeBytes(address, d, offset, (int) len);
                }
                if (write) {
                    status |= DMA_CTL_ERROR; // no writable items
                }
                offset += (int) len;
            }
            address += len;
            length -= len;
        }
        memory.write(at, Integer.reverseBytes(status) & 0xffffffffL, 4);
    }
}
