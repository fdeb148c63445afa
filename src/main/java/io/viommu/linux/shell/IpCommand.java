package io.viommu.linux.shell;

import io.viommu.linux.driver.Errno;
import io.viommu.linux.net.NetworkInterfaces;
import java.util.List;

/**
 * busybox {@code ip} (iproute applets) over the kernel's {@link NetworkInterfaces}: {@code link
 * set [dev] IF up|down}, {@code addr add ADDR[/N] dev IF}, and the listings {@code link},
 * {@code addr}, {@code route}, with busybox's texts and exit statuses (the lab capture
 * {@code host-setup/net.log}).
 */
final class IpCommand {
    /** busybox 1.35's usage text (Debian 12), printed for a bare {@code ip}. */
    static final String USAGE = """
            BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.

            Usage: ip [OPTIONS] address|route|link|tunnel|neigh|rule [ARGS]

            OPTIONS := -f[amily] inet|inet6|link | -o[neline]

            ip addr add|del IFADDR dev IFACE | show|flush [dev IFACE] [to PREFIX]
            ip route list|flush|add|del|change|append|replace|test ROUTE
            ip link set IFACE [up|down] [arp on|off] [multicast on|off]
            \t[promisc on|off] [mtu NUM] [name NAME] [qlen NUM] [address MAC]
            \t[master IFACE | nomaster] [netns PID]
            ip tunnel add|change|del|show [NAME]
            \t[mode ipip|gre|sit] [remote ADDR] [local ADDR] [ttl TTL]
            ip neigh show|flush [to PREFIX] [dev DEV] [nud STATE]
            ip rule [list] | add|del SELECTOR ACTION
            """;

    private final NetworkInterfaces net;
    private final RootShell.Stream out;
    private final RootShell.Stream err;

    IpCommand(NetworkInterfaces net, RootShell.Stream out, RootShell.Stream err) {
        this.net = net;
        this.out = out;
        this.err = err;
    }

    int run(List<String> args) {
        List<String> a = args.stream().filter(s -> !s.equals("-4")).toList();
        if (a.isEmpty()) {
            err.append(USAGE);
            return 1;
        }
        String object = a.get(0);
        List<String> rest = a.subList(1, a.size());
        if ("link".startsWith(object) && object.length() >= 1 && object.charAt(0) == 'l') {
            if (rest.isEmpty() || rest.get(0).equals("show") || rest.get(0).equals("list")) {
                list(false);
                return 0;
            }
            if (rest.get(0).equals("set")) {
                return linkSet(rest.subList(1, rest.size()));
            }
        } else if ("address".startsWith(object) && object.charAt(0) == 'a') {
            if (rest.isEmpty() || rest.get(0).equals("show") || rest.get(0).equals("list")) {
                list(true);
                return 0;
            }
            if (rest.get(0).equals("add")) {
                return addrAdd(rest.subList(1, rest.size()));
            }
        } else if ("route".startsWith(object) && object.charAt(0) == 'r') {
            if (rest.isEmpty() || rest.get(0).equals("show") || rest.get(0).equals("list")) {
                for (NetworkInterfaces.Route r : net.routes()) {
                    out.append(r.destination()).append(" dev ").append(r.device()).append(" scope link  src ")
                            .append(r.source()).append(" \n");
                }
                return 0;
            }
        }
        err.append("ip: command '").append(String.join(" ", a)).append("' is not modelled\n");
        return 1;
    }

    /** {@code ip link set [dev] IF up|down}: busybox's do_set (SIOCGIFFLAGS / SIOCSIFFLAGS). */
    private int linkSet(List<String> args) {
        String dev = null;
        Boolean up = null;
        for (int i = 0; i < args.size(); i++) {
            String w = args.get(i);
            if (w.equals("up") || w.equals("down")) {
                up = w.equals("up");
            } else if (w.equals("dev") && i + 1 < args.size() && dev == null) {
                dev = args.get(++i);
            } else if (dev == null) {
                dev = w;
            } else {
                err.append("ip: either \"dev\" is duplicate, or \"").append(w).append("\" is garbage\n");
                return 2;
            }
        }
        if (dev == null) {
            err.append("ip: \"dev\" requires an argument\n");
            return 2;
        }
        if (net.byName(dev).isEmpty()) {
            err.append("ip: SIOCGIFFLAGS: No such device\n");
            return 2;
        }
        if (up != null) {
            net.setUp(dev, up);
        }
        return 0;
    }

    /** {@code ip addr add ADDR[/N] dev IF}: RTM_NEWADDR; the device is looked up first. */
    private int addrAdd(List<String> args) {
        String addr = null;
        String dev = null;
        for (int i = 0; i < args.size(); i++) {
            String w = args.get(i);
            if (w.equals("dev") && i + 1 < args.size()) {
                dev = args.get(++i);
            } else if (w.equals("local") && i + 1 < args.size()) {
                addr = args.get(++i);
            } else if (addr == null) {
                addr = w;
            }
        }
        if (addr == null || dev == null) {
            err.append("ip: not enough information: \"dev\" argument is required\n");
            return 1;
        }
        if (net.byName(dev).isEmpty()) {
            err.append("ip: can't find device '").append(dev).append("'\n");
            return 1;
        }
        // busybox sends what it could not parse as an address anyway; the kernel refuses it
        int rc = net.addAddress(dev, NetworkInterfaces.parseAddress(addr));
        if (rc < 0) {
            err.append("ip: RTNETLINK answers: ").append(Errno.fromReturn(rc).strerror).append('\n');
            return 2;
        }
        return 0;
    }

    /**
     * {@code ip link} / {@code ip addr}: lo, then each interface. An up interface is shown with
     * its link settled (LOWER_UP); the capture, taken right after {@code up}, saw NO-CARRIER
     * before e1000's watchdog had run.
     */
    private void list(boolean addresses) {
        out.append("1: lo: <LOOPBACK> mtu 65536 qdisc noop qlen 1000\n");
        out.append("    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n");
        for (NetworkInterfaces.Interface i : net.interfaces()) {
            out.append(i.ifindex()).append(": ").append(i.name()).append(": ")
                    .append(i.up() ? "<BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel qlen 1000"
                            : "<BROADCAST,MULTICAST> mtu 1500 qdisc noop qlen 1000").append('\n');
            out.append("    link/ether ").append(i.mac()).append(" brd ff:ff:ff:ff:ff:ff\n");
            if (addresses) {
                for (NetworkInterfaces.Address a : i.addresses()) {
                    out.append("    inet ").append(a.text()).append(" scope global ").append(i.name()).append('\n');
                    out.append("       valid_lft forever preferred_lft forever\n");
                }
            }
        }
    }
}
