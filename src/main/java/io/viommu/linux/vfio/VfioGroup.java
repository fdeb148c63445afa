package io.viommu.linux.vfio;

import io.viommu.linux.driver.Drivers;
import io.viommu.linux.driver.Errno;
import io.viommu.linux.driver.PciDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * An open /dev/vfio/N ({@code struct vfio_group}'s file, drivers/vfio/group.c) and its ioctls:
 * {@link #status}, {@link #setContainer}, {@link #unsetContainer}, {@link #deviceFd}. Only one
 * open file per group exists at a time.
 *
 * <p>Closing the group ({@link #close}) releases it only once its device files are closed too
 * (they hold a reference to it, as in Linux); release detaches it from its container.
 */
public final class VfioGroup {
    /** {@code VFIO_GROUP_FLAGS_VIABLE}. */
    public static final int FLAGS_VIABLE = 1;
    /** {@code VFIO_GROUP_FLAGS_CONTAINER_SET}. */
    public static final int FLAGS_CONTAINER_SET = 2;
    /** Length of a UUID in text, {@code UUID_STRING_LEN}. */
    static final int UUID_STRING_LEN = 36;

    private final Vfio vfio;
    private final Vfio.GroupState state;
    private final UserProcess process;
    private final List<VfioDevice> devices = new ArrayList<>();
    private VfioContainer container;
    private boolean closing;
    private boolean released;

    VfioGroup(Vfio vfio, Vfio.GroupState state, UserProcess process) {
        this.vfio = vfio;
        this.state = state;
        this.process = process;
    }

    /** The IOMMU group number (the N of /dev/vfio/N or noiommu-N). */
    public int iommuGroup() {
        return state.iommuGroup;
    }

    public boolean noiommu() {
        return state.noiommu;
    }

    UserProcess process() {
        return process;
    }

    Vfio vfio() {
        return vfio;
    }

    private void live() {
        if (released || closing) {
            throw Errnos.fail(Errno.EINVAL, "group file is closed");
        }
    }

    /**
     * {@code VFIO_GROUP_GET_STATUS}: CONTAINER_SET|VIABLE once in a container; else VIABLE while
     * no DMA-API driver holds the IOMMU group's DMA ownership (unbound, vfio-pci, pci-stub and
     * pcieport members are fine).
     */
    public int status() {
        live();
        if (container != null) {
            return FLAGS_CONTAINER_SET | FLAGS_VIABLE;
        }
        if (state.noiommu || vfio.kernel().groupViable(state.iommuGroup)) {
            return FLAGS_VIABLE;
        }
        return 0;
    }

    /**
     * {@code VFIO_GROUP_SET_CONTAINER}: -EINVAL when already in one; -EPERM when the group is
     * not viable ({@code iommu_group_claim_dma_owner}), when mixing no-IOMMU and real groups,
     * or from the container's IOMMU driver attach (no interrupt remapping).
     */
    public void setContainer(VfioContainer c) {
        live();
        if (container != null) {
            throw Errnos.fail(Errno.EINVAL, "group " + state.iommuGroup + " already has a container");
        }
        c.attachGroup(this);
        container = c;
    }

    /** {@code VFIO_GROUP_UNSET_CONTAINER}: -EINVAL without one; -EBUSY while a device file is open. */
    public void unsetContainer() {
        live();
        if (container == null) {
            throw Errnos.fail(Errno.EINVAL, "no container to unset");
        }
        if (!devices.isEmpty()) {
            throw Errnos.fail(Errno.EBUSY, "device files are open");
        }
        container.detachGroup(this);
        container = null;
    }

    public VfioContainer container() {
        return container;
    }

    /**
     * {@code VFIO_GROUP_GET_DEVICE_FD}: {@code name} is the device's PCI name, optionally followed
     * by {@code " vf_token=<uuid>"}. -ENODEV when no vfio-pci device of the group matches;
     * -EINVAL for a malformed option or a token nobody needs; -EACCES for a VF of a vfio-pci PF
     * without the PF's token, or a wrong one ({@code vfio_pci_validate_vf_token}); -EINVAL
     * before the container has an IOMMU; -EPERM for a no-IOMMU device without CAP_SYS_RAWIO.
     */
    public VfioDevice deviceFd(String name) {
        live();
        PciDevice dev = null;
        for (PciDevice d : vfio.devicesOf(state)) {
            int m = match(d, name);
            if (m > 0) {
                dev = d;
                break;
            }
        }
        if (dev == null) {
            throw Errnos.fail(Errno.ENODEV, "no device '" + name + "' in group " + state.iommuGroup);
        }
        if (container == null || !container.iommuSet()) {
            throw Errnos.fail(Errno.EINVAL, "the group's container has no IOMMU set");
        }
        if (state.noiommu && !process.capable(UserProcess.Cap.SYS_RAWIO)) {
            throw Errnos.fail(Errno.EPERM, "no-IOMMU device needs CAP_SYS_RAWIO");
        }
        VfioDevice fd = new VfioDevice(this, dev);
        devices.add(fd);
        if (state.noiommu) {
            vfio.devWarn(dev, "vfio-noiommu device opened by user (" + process.comm() + ":" + process.pid() + ")");
        }
        return fd;
    }

    /**
     * {@code vfio_pci_core_match}: 0 no match, 1 match, or a negative errno (thrown) that ends
     * the search.
     */
    private int match(PciDevice d, String buf) {
        String n = d.name();
        if (!buf.startsWith(n)) {
            return 0;
        }
        UUID token = null;
        if (buf.length() > n.length()) {
            String rest = buf.substring(n.length());
            if (rest.charAt(0) != ' ') {
                return 0;
            }
            int i = 0;
            while (i < rest.length()) {
                if (rest.charAt(i) == ' ') {
                    i++;
                    continue;
                }
                if (token == null && rest.startsWith("vf_token=", i)) {
                    i += "vf_token=".length();
                    if (rest.length() - i < UUID_STRING_LEN) {
                        throw Errnos.fail(Errno.EINVAL, "vf_token too short");
                    }
                    try {
                        String u = rest.substring(i, i + UUID_STRING_LEN);
                        if (u.length() != UUID_STRING_LEN || u.charAt(8) != '-' || u.charAt(13) != '-'
                                || u.charAt(18) != '-' || u.charAt(23) != '-') {
                            throw new IllegalArgumentException(u);
                        }
                        token = UUID.fromString(u);
                    } catch (IllegalArgumentException e) {
                        throw Errnos.fail(Errno.EINVAL, "vf_token is not a UUID");
                    }
                    i += UUID_STRING_LEN;
                } else {
                    throw Errnos.fail(Errno.EINVAL, "unknown or duplicate option in '" + buf + "'");
                }
            }
        }
        validateVfToken(d, token);
        return 1;
    }

    /** {@code vfio_pci_validate_vf_token}. */
    private void validateVfToken(PciDevice d, UUID token) {
        if (d.isVirtfn()) {
            PciDevice pf = d.physfn();
            boolean pfVfio = pf.driver() != null && pf.driver().name().equals(Drivers.VFIO_PCI);
            if (!pfVfio) {
                if (token != null) {
                    vfio.info("vfio-pci " + d.name() + ": VF token incorrectly provided, PF not bound to vfio-pci");
                    throw Errnos.fail(Errno.EINVAL, "VF token given but the PF is not bound to vfio-pci");
                }
                return;
            }
            if (token == null) {
                vfio.info("vfio-pci " + d.name() + ": VF token required to access device");
                throw Errnos.fail(Errno.EACCES, "VF token required to access device");
            }
            if (!token.equals(vfio.vfToken(pf))) {
                vfio.info("vfio-pci " + d.name() + ": Incorrect VF token provided for device");
                throw Errnos.fail(Errno.EACCES, "Incorrect VF token provided for device");
            }
        } else if (d.sriov() != null) {
            // a PF: with VFs in use the current token must be given; otherwise a token sets it
            if (vfio.vfUsers(d) > 0) {
                if (token == null) {
                    vfio.info("vfio-pci " + d.name() + ": VF token required to access device");
                    throw Errnos.fail(Errno.EACCES, "VF token required to access device");
                }
                if (!token.equals(vfio.vfToken(d))) {
                    vfio.info("vfio-pci " + d.name() + ": Incorrect VF token provided for device");
                    throw Errnos.fail(Errno.EACCES, "Incorrect VF token provided for device");
                }
            } else if (token != null) {
                vfio.setVfToken(d, token);
            }
        } else if (token != null) {
            vfio.info("vfio-pci " + d.name() + ": VF token incorrectly provided, not a PF or VF");
            throw Errnos.fail(Errno.EINVAL, "VF token given for a device that is neither PF nor VF");
        }
    }

    void deviceClosed(VfioDevice d) {
        devices.remove(d);
        if (closing && devices.isEmpty()) {
            release();
        }
    }

    /** Device files open on this group. */
    public List<VfioDevice> openDevices() {
        return List.copyOf(devices);
    }

    /** {@code close(group_fd)}: released once no device file holds it. */
    public void close() {
        if (closing || released) {
            return;
        }
        closing = true;
        if (devices.isEmpty()) {
            release();
        }
    }

    /** {@code vfio_group_fops_release}. */
    private void release() {
        released = true;
        if (container != null) {
            container.detachGroup(this);
            container = null;
        }
        vfio.closed(state);
    }

    @Override
    public String toString() {
        return "/dev/vfio/" + state.nodeName();
    }
}
