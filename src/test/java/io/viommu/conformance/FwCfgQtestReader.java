package io.viommu.conformance;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads QEMU's fw_cfg over qtest: items through the selector/data ports (0x510/0x511), and whole
 * files through the DMA interface (0x514, big-endian: an outl carries the byte-swapped value),
 * with an FWCfgDmaAccess written into guest RAM at {@link #DMA_DESCRIPTOR}.
 */
final class FwCfgQtestReader {
    static final long DMA_DESCRIPTOR = 0x1000;
    static final long DMA_BUFFER = 0x100000;

    record FileEntry(String name, int size, int select, int reserved) {
    }

    private final QtestPeer q;

    FwCfgQtestReader(QtestPeer q) {
        this.q = q;
    }

    byte[] readItemByPorts(int key, int len) {
        q.cmd("outw 0x510 " + key);
        byte[] b = new byte[len];
        for (int i = 0; i < len; i++) {
            b[i] = (byte) q.value("inb 0x511");
        }
        return b;
    }

    Map<String, FileEntry> directory() {
        byte[] count = readItemByPorts(0x19, 4);
        int n = be(count, 0, 4);
        byte[] dir = readItemByPorts(0x19, 4 + 64 * n);
        Map<String, FileEntry> files = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            int o = 4 + 64 * i;
            String name = new String(dir, o + 8, 56, StandardCharsets.US_ASCII).replace("\0", "");
            files.put(name, new FileEntry(name, be(dir, o, 4), be(dir, o + 4, 2), be(dir, o + 6, 2)));
        }
        return files;
    }

    /** Reads {@code len} bytes of item {@code key} with one DMA transfer; returns them and the control word left. */
    byte[] readByDma(int key, int len, int[] controlOut) {
        int control = key << 16 | 0x08 | 0x02; // SELECT | READ
        q.cmd(String.format("write 0x%x 16 0x%08x%08x%016x", DMA_DESCRIPTOR, control, len, DMA_BUFFER));
        q.cmd("outl 0x514 0");
        q.cmd(String.format("outl 0x518 0x%x", Integer.reverseBytes((int) DMA_DESCRIPTOR)));
        controlOut[0] = (int) q.value(String.format("readl 0x%x", DMA_DESCRIPTOR));
        String r = q.cmd(String.format("read 0x%x %d", DMA_BUFFER, len));
        String hex = r.substring("OK 0x".length());
        byte[] b = new byte[len];
        for (int i = 0; i < len; i++) {
            b[i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
        }
        return b;
    }

    byte[] readFile(String name) {
        FileEntry e = directory().get(name);
        if (e == null) {
            return null;
        }
        return readByDma(e.select(), e.size(), new int[1]);
    }

    /** The first ACPI table with {@code signature} in an etc/acpi/tables blob, or null. */
    static byte[] findTable(byte[] blob, String signature) {
        byte[] sig = signature.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i + 36 <= blob.length; i++) {
            if (blob[i] == sig[0] && blob[i + 1] == sig[1] && blob[i + 2] == sig[2] && blob[i + 3] == sig[3]) {
                int len = (blob[i + 4] & 0xff) | (blob[i + 5] & 0xff) << 8 | (blob[i + 6] & 0xff) << 16
                        | (blob[i + 7] & 0xff) << 24;
                if (len >= 36 && i + len <= blob.length) {
                    byte[] t = new byte[len];
                    System.arraycopy(blob, i, t, 0, len);
                    return t;
                }
            }
        }
        return null;
    }

    static int be(byte[] b, int off, int n) {
        int v = 0;
        for (int i = 0; i < n; i++) {
            v = v << 8 | (b[off + i] & 0xff);
        }
        return v;
    }
}
