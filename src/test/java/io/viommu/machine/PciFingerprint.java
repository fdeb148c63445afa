package io.viommu.machine;

import io.viommu.memory.PhysAddr;
import io.viommu.pci.RequesterId;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The per-function fingerprint line of scripts/qemu-pci-golden.py, computed from the model the
 * way the script computes it from QEMU: configuration space read through ECAM, BARs sized
 * through 0xcf8/0xcfc. Keep the two in step.
 */
final class PciFingerprint {
    private PciFingerprint() {
    }

    private static final Map<Integer, int[]> CAPKEY = Map.of(0x10, new int[] {2, 8}, 0x11, new int[] {2, 12},
            0x05, new int[] {2, 4}, 0x01, new int[] {2, 6}, 0x0d, new int[] {4, 8}, 0x09, new int[] {2, 16},
            0x04, new int[] {2, 4}, 0x0c, new int[] {2, 2}, 0x12, new int[] {2, 8});
    private static final Map<Integer, int[]> ECAPKEY = Map.of(0x0d, new int[] {4, 8}, 0x0e, new int[] {4, 8},
            0x10, new int[] {4, 0x3c}, 0x0f, new int[] {4, 8}, 0x03, new int[] {4, 12}, 0x01, new int[] {4, 4});

    static byte[] readEcam(Machine m, RequesterId rid) {
        byte[] b = new byte[4096];
        long base = 0xb000_0000L | (long) rid.value() << 12;
        for (int o = 0; o < 4096; o += 4) {
            long v = m.memory().read(PhysAddr.of(base + o), 4);
            for (int i = 0; i < 4; i++) {
                b[o + i] = (byte) (v >>> (8 * i));
            }
        }
        return b;
    }

    static String barSizes(Machine m, RequesterId rid) {
        int n = (MachineTest.cf8Read(m, rid, 0x0c, 4) >>> 16 & 0x7f) == 0 ? 6 : 2;
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int r = 0x10 + 4 * i;
            long old = MachineTest.cf8Read(m, rid, r, 4);
            MachineTest.cf8Write(m, rid, r, 0xffff_ffffL, 4);
            out.add(String.format("%08x", MachineTest.cf8Read(m, rid, r, 4)));
            MachineTest.cf8Write(m, rid, r, old, 4);
        }
        return String.join(",", out);
    }

    private static int u(byte[] b, int o, int n) {
        int v = 0;
        for (int i = 0; i < n; i++) {
            v |= (b[o + i] & 0xff) << (8 * i);
        }
        return v;
    }

    private static String hex(byte[] b, int from, int to) {
        StringBuilder sb = new StringBuilder();
        for (int i = from; i < to && i < b.length; i++) {
            sb.append(String.format("%02x", b[i] & 0xff));
        }
        return sb.toString();
    }

    static String line(RequesterId rid, byte[] b, String sizes) {
        int ht = b[0xe] & 0xff;
        StringBuilder sb = new StringBuilder(String.format(
                "%s %04x:%04x rev=%02x class=%06x hdr=%02x ss=%04x:%04x pin=%d sts=%04x bars=%s", rid,
                u(b, 0, 2), u(b, 2, 2), b[8] & 0xff, u(b, 9, 3), ht, u(b, 0x2c, 2), u(b, 0x2e, 2),
                b[0x3d] & 0xff, u(b, 6, 2), sizes));
        if ((ht & 0x7f) == 1) {
            sb.append(String.format(" t1=%08x,%08x,%08x,%04x", u(b, 0x1c, 4), u(b, 0x20, 4), u(b, 0x24, 4),
                    u(b, 0x3e, 2)));
        }
        List<String> caps = new ArrayList<>();
        Set<Integer> seen = new HashSet<>();
        int p = (u(b, 6, 2) & 0x10) != 0 ? b[0x34] & 0xff : 0;
        while (p != 0 && seen.add(p) && seen.size() <= 48) {
            int[] k = CAPKEY.getOrDefault(b[p] & 0xff, new int[] {2, 2});
            caps.add(String.format("%02x@%02x:%s", b[p] & 0xff, p, hex(b, p + k[0], p + k[1])));
            p = b[p + 1] & 0xff;
        }
        sb.append(" caps=").append(String.join(",", caps));
        List<String> ecaps = new ArrayList<>();
        seen.clear();
        int e = 0x100;
        while (e != 0 && seen.add(e) && seen.size() <= 48) {
            long h = u(b, e, 4) & 0xffff_ffffL;
            if (h == 0 || h == 0xffff_ffffL) {
                break;
            }
            int id = (int) (h & 0xffff);
            int[] k = ECAPKEY.getOrDefault(id, new int[] {4, 4});
            ecaps.add(String.format("%04x.%d@%03x:%s", id, (h >>> 16) & 0xf, e, hex(b, e + k[0], e + k[1])));
            e = (int) (h >>> 20);
        }
        sb.append(" ecaps=").append(String.join(",", ecaps));
        return sb.toString();
    }
}
