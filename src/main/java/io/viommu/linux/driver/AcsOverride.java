package io.viommu.linux.driver;

import java.util.ArrayList;
import java.util.List;

/**
 * WHAT-IF, NOT LINUX 6.1: the out-of-tree "pcie_acs_override" patch that some distribution
 * kernels (Arch linux-vfio/zen, Proxmox) carry. Upstream Linux has no such option; a stock 6.1
 * kernel ignores the parameter. The model applies it only when the command line asks for it,
 * and then the boot report says so.
 *
 * <p>Semantics of the patch: {@code downstream} claims ACS on root and downstream ports,
 * {@code multifunction} on multifunction endpoints/upstream ports/RCiEPs, {@code id:vvvv:dddd}
 * on one vendor:device (at most 15 ids). It never overrides a conventional PCI device or a
 * device that has an ACS capability. It is the last entry of the ACS quirk table.
 *
 * @param downstream    root and downstream ports count as isolated
 * @param multifunction multifunction endpoints count as isolated
 * @param ids           vendor:device pairs that count as isolated
 */
public record AcsOverride(boolean downstream, boolean multifunction, List<int[]> ids) {
    public static final AcsOverride NONE = new AcsOverride(false, false, List.of());
    /** The patch's NUM_ACS_IDS: one slot is never used (max_acs_id >= NUM_ACS_IDS - 1). */
    static final int ID_SLOTS = 16;
    /** The line the patched kernel prints when any override is active. */
    public static final String WARNING =
            "Warning: PCIe ACS overrides enabled; This may allow non-IOMMU protected peer-to-peer DMA";

    public boolean active() {
        return downstream || multifunction || !ids.isEmpty();
    }

    public boolean matchesId(int vendor, int device) {
        for (int[] id : ids) {
            if (id[0] == vendor && id[1] == device) {
                return true;
            }
        }
        return false;
    }

    /** The patch's pcie_acs_override_setup; its warnings go to {@code messages}. */
    public static AcsOverride parse(String value, List<String> messages) {
        boolean down = false;
        boolean mf = false;
        List<int[]> ids = new ArrayList<>();
        for (String opt : value.split(",", -1)) {
            if (opt.startsWith("downstream")) {
                down = true;
            }
            if (opt.startsWith("multifunction")) {
                mf = true;
            }
            if (opt.startsWith("id:")) {
                if (ids.size() >= ID_SLOTS - 1) {
                    messages.add("Out of PCIe ACS override slots (" + ID_SLOTS + ")");
                    continue;
                }
                String rest = opt.substring(3);
                Integer vendor = hex4(rest);
                if (vendor == null) {
                    messages.add("PCIe ACS ID parse error -22");
                    continue;
                }
                int colon = rest.indexOf(':');
                if (colon < 0) {
                    messages.add("PCIe ACS invalid ID");
                    continue;
                }
                Integer device = hex4(rest.substring(colon + 1));
                if (device == null) {
                    messages.add("PCIe ACS ID parse error -22");
                    continue;
                }
                ids.add(new int[] {vendor, device});
            }
        }
        AcsOverride o = new AcsOverride(down, mf, List.copyOf(ids));
        if (o.active()) {
            messages.add(WARNING);
        }
        return o;
    }

    /** snprintf(opt, 5, "%s", p) then kstrtol(opt, 16): at most 4 characters, all hex. */
    private static Integer hex4(String s) {
        String t = s.length() > 4 ? s.substring(0, 4) : s;
        if (t.isEmpty() || !t.matches("[0-9a-fA-F]+")) {
            return null;
        }
        return Integer.parseInt(t, 16);
    }
}
