package io.viommu.host;

import io.viommu.linux.driver.Errno;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The one seam through which {@code host plan/apply/undo/tree} read and change a host (DESIGN.md,
 * layer 7): the read side of {@link HostFiles}, plus the few effects passthrough needs, each one
 * system call or one command as a person would type it:
 * <ul>
 * <li>{@link #write}: {@code echo VALUE > PATH} into sysfs (one open, one write), with the errno the
 *     write gets (EBUSY from {@code sriov_numvfs}, ENODEV from {@code bind}, ...);</li>
 * <li>{@link #modprobe} / {@link #rmmod};</li>
 * <li>{@link #setLink} / {@link #addAddress}: {@code ip link set dev IF up}, {@code ip addr add},
 *     the only way back for an interface whose driver was unbound (its addresses die with it).</li>
 * </ul>
 * Every effect that reached the host is counted ({@link #writes}); a refused one
 * ({@link #writeRefusal}) is not. Three implementations: the live host ({@link RealHost}), a saved
 * tree ({@link SavedTree}, read-only: it refuses every effect) and a model host ({@link ModelHost},
 * the kernel model's sysfs with its real behaviour and errnos).
 */
public interface HostSysfs extends HostFiles {
    /** What an effect did: ok, or the errno (and the tool's message, for commands) it failed with. */
    record Outcome(Errno errno, String message) {
        public static final Outcome OK = new Outcome(null, null);

        public static Outcome failed(Errno e) {
            return new Outcome(e, e.strerror);
        }

        public static Outcome failed(Errno e, String message) {
            return new Outcome(e, message);
        }

        public boolean ok() {
            return errno == null && message == null;
        }

        @Override
        public String toString() {
            return ok() ? "ok" : message != null ? message : errno.strerror;
        }
    }

    /** {@code echo -n VALUE > PATH} (the caller adds the newline when the attribute wants one). */
    Outcome write(Path path, String value);

    Outcome modprobe(String module);

    Outcome rmmod(String module);

    /** {@code ip link set dev IF up|down}. */
    Outcome setLink(String ifname, boolean up);

    /** {@code ip addr add CIDR dev IF}. */
    Outcome addAddress(String ifname, String cidr);

    /** The interface's IPv4 addresses as {@code A.B.C.D/N}, in the order they were added. */
    List<String> addresses(String ifname);

    /** Effects that reached the host since this view was made. */
    long writes();

    /** Why this view cannot be changed (a saved tree; the live host without root), or empty. */
    Optional<String> writeRefusal();
}
