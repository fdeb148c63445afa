package io.viommu.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.viommu.pci.RequesterId;
import io.viommu.pci.Topology;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Multifunction slots as Linux 6.1 enumerates and groups them.
 *
 * <p>Enumeration: pci_scan_slot / next_fn (drivers/pci/probe.c): function 0 must answer; if
 * its header says multi-function, functions 1..7 are each tried, a missing one is a gap
 * ({@code dev == NULL} goes on), and every function found above 0 gets
 * {@code dev->multifunction = 1}, so a function without the header bit does not end the scan.
 * SeaBIOS numbers the bus behind a bridge on any function (pci_bios_init_bus_rec over
 * pci_next, which looks at function 0's header bit only).
 *
 * <p>Groups (no real capture has mixed-ACS slots; these follow Linux 6.1 line by line):
 * <ul>
 * <li>drivers/iommu/iommu.c get_pci_function_alias_group:
 *     {@code if (!pdev->multifunction || pci_acs_enabled(pdev, REQ_ACS_FLAGS)) return NULL;}
 *     then {@code for_each_pci_dev(tmp)}: skip {@code tmp == pdev}, another bus, another
 *     slot, or {@code pci_acs_enabled(tmp, REQ_ACS_FLAGS)}; else join
 *     {@code get_pci_alias_group(tmp, devfns)} if tmp already has a group.</li>
 * <li>{@code #define REQ_ACS_FLAGS (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF)}.</li>
 * <li>drivers/pci/pci.c pci_acs_enabled: {@code case PCI_EXP_TYPE_ROOT_PORT: return
 *     pci_acs_flags_enabled(pdev, acs_flags);} - a root port without an ACS capability
 *     (QEMU's {@code disable-acs=on}) is not isolated; pci_acs_flags_enabled returns false
 *     when {@code !pdev->acs_cap}.</li>
 * <li>pci_device_group: {@code for (bus = pdev->bus; !pci_is_root_bus(bus); bus = bus->parent)
 *     { if (!bus->self) continue; if (pci_acs_path_enabled(bus->self, NULL, REQ_ACS_FLAGS))
 *     break; pdev = bus->self; group = iommu_group_get(&pdev->dev); if (group) return group; }}
 *     - a device behind a port without ACS joins the port's group.</li>
 * </ul>
 */
class MultifunctionSlotTest {
    static final String IOMMU = "-device intel-iommu,intremap=off ";

    static String port(String id, int n, String addr, String extra) {
        return " -device pcie-root-port,id=" + id + ",chassis=" + n + ",slot=" + n + ",addr=" + addr + extra;
    }

    static List<String> bdfs(Kernel k) {
        return k.topology().byBdf().stream().map(Topology.Function::bdf).toList();
    }

    static int group(Kernel k, String bdf) {
        return IommuGroupsTest.group(k, bdf);
    }

    static List<String> members(Kernel k, String bdf) {
        return k.groups().groupOf(RequesterId.parse(bdf)).orElseThrow().memberBdfs();
    }

    @Test
    void threeFunctionsAreAllEnumeratedWithTheDevicesBehindThem() throws Exception {
        Kernel k = IommuGroupsTest.boot(IOMMU + port("a", 1, "0x6.0", ",multifunction=on") + port("b", 2, "0x6.1", "")
                + port("c", 3, "0x6.2", "") + " -device e1000e,bus=c -device e1000e,bus=b");
        assertThat(bdfs(k)).contains("0000:00:06.0", "0000:00:06.1", "0000:00:06.2", "0000:02:00.0", "0000:03:00.0");
        assertThat(k.topology().function(RequesterId.parse("00:06.2")).orElseThrow().secondaryBus()).isEqualTo(3);
        // Root ports with ACS: each function is isolated, and so is each device behind one.
        assertThat(members(k, "00:06.0")).containsExactly("0000:00:06.0");
        assertThat(members(k, "00:06.1")).containsExactly("0000:00:06.1");
        assertThat(members(k, "00:06.2")).containsExactly("0000:00:06.2");
        assertThat(members(k, "03:00.0")).containsExactly("0000:03:00.0");
        assertThat(members(k, "02:00.0")).containsExactly("0000:02:00.0");
    }

    @Test
    void gapsInTheSlotAreSkippedNotEndTheScan() throws Exception {
        Kernel k = IommuGroupsTest.boot(IOMMU + port("a", 1, "0x6.0", ",multifunction=on") + port("b", 2, "0x6.3", "")
                + port("c", 3, "0x6.7", "") + " -device e1000e,bus=c");
        assertThat(bdfs(k)).filteredOn(b -> b.startsWith("0000:00:06."))
                .containsExactly("0000:00:06.0", "0000:00:06.3", "0000:00:06.7");
        assertThat(bdfs(k)).contains("0000:03:00.0");
        assertThat(List.of(group(k, "00:06.0"), group(k, "00:06.3"), group(k, "00:06.7"), group(k, "03:00.0")))
                .doesNotHaveDuplicates();
    }

    @Test
    void allEightFunctionsOfASlot() throws Exception {
        StringBuilder args = new StringBuilder(IOMMU);
        for (int fn = 0; fn < 8; fn++) {
            args.append(port("p" + fn, fn + 1, "0x6." + fn, fn == 0 ? ",multifunction=on" : ""));
        }
        args.append(" -device e1000e,bus=p7");
        Kernel k = IommuGroupsTest.boot(args.toString());
        List<String> slot = bdfs(k).stream().filter(b -> b.startsWith("0000:00:06.")).toList();
        assertThat(slot).hasSize(8);
        assertThat(bdfs(k)).contains("0000:08:00.0");
        assertThat(slot.stream().map(b -> group(k, b.substring(5))).collect(Collectors.toSet())).hasSize(8);
    }

    @Test
    void aPortWithoutAcsBesidePortsWithAcsKeepsItsOwnGroupAndTakesItsDevice() throws Exception {
        // c (06.2) has no ACS: get_pci_function_alias_group looks for a slot sibling that is not
        // ACS-isolated; a and b are, so c gets a group of its own. The e1000e behind c: the bus
        // walk meets c, pci_acs_path_enabled(c) is false, pdev = c, which has a group: join it.
        Kernel k = IommuGroupsTest.boot(IOMMU + port("a", 1, "0x6.0", ",multifunction=on") + port("b", 2, "0x6.1", "")
                + port("c", 3, "0x6.2", ",disable-acs=on") + " -device e1000e,bus=c -device e1000e,bus=a");
        assertThat(members(k, "00:06.0")).containsExactly("0000:00:06.0");
        assertThat(members(k, "00:06.1")).containsExactly("0000:00:06.1");
        assertThat(members(k, "00:06.2")).containsExactly("0000:00:06.2", "0000:03:00.0");
        assertThat(members(k, "01:00.0")).containsExactly("0000:01:00.0");
    }

    @Test
    void twoPortsWithoutAcsInOneSlotShareAGroupWithWhatIsBehindThem() throws Exception {
        // b (06.1) is probed first: its only non-isolated sibling c has no group yet, so b gets
        // a new one; then c finds b (no ACS, same bus and slot) and joins it. The ACS-enabled
        // function 0 stays alone: its own pci_acs_enabled() ends get_pci_function_alias_group.
        Kernel k = IommuGroupsTest.boot(IOMMU + port("a", 1, "0x6.0", ",multifunction=on")
                + port("b", 2, "0x6.1", ",disable-acs=on") + port("c", 3, "0x6.2", ",disable-acs=on")
                + " -device e1000e,bus=b -device e1000e,bus=c");
        assertThat(members(k, "00:06.0")).containsExactly("0000:00:06.0");
        assertThat(members(k, "00:06.1")).containsExactly("0000:00:06.1", "0000:00:06.2", "0000:02:00.0", "0000:03:00.0");
    }

    @Test
    void functionZeroWithoutAcsDoesNotPullInIsolatedSiblings() throws Exception {
        // a (06.0) lacks ACS: it is multifunction (header bit), not isolated; its siblings b and
        // c are ACS-isolated and skipped by the tmp loop, so a is alone with its device.
        Kernel k = IommuGroupsTest.boot(IOMMU + port("a", 1, "0x6.0", ",multifunction=on,disable-acs=on")
                + port("b", 2, "0x6.1", "") + port("c", 3, "0x6.2", "") + " -device e1000e,bus=a");
        assertThat(members(k, "00:06.0")).containsExactly("0000:00:06.0", "0000:01:00.0");
        assertThat(members(k, "00:06.1")).containsExactly("0000:00:06.1");
        assertThat(members(k, "00:06.2")).containsExactly("0000:00:06.2");
    }

    /**
     * QEMU 7.2's pci_init_multifunction, checked with qemu-system-x86_64 7.2 on these exact
     * arguments: a function above 0 beside a single-function function 0 is refused, in either
     * order; a function above 0 with no function 0 at all is accepted (and Linux never sees it:
     * BootCommandTest#aFunctionLinuxCannotSeeIsNamedNotDropped).
     */
    @Test
    void qemuRefusesSiblingsOfASingleFunctionFunctionZero() {
        assertThatThrownBy(() -> IommuGroupsTest.machine(port("a", 1, "0x6.0", "") + port("b", 2, "0x6.1", "")))
                .hasMessage("qemu-system-x86_64: -device pcie-root-port,id=b,chassis=2,slot=2,addr=0x6.1: "
                        + "PCI: single function device can't be populated in function 6.1");
        assertThatThrownBy(() -> IommuGroupsTest.machine(port("b", 2, "0x6.1", "") + port("a", 1, "0x6.0", "")))
                .hasMessage("qemu-system-x86_64: -device pcie-root-port,id=a,chassis=1,slot=1,addr=0x6.0: "
                        + "PCI: 6.0 indicates single function, but 6.1 is already populated.");
    }
}
