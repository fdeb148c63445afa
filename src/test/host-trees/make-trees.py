#!/usr/bin/env python3
"""Writes the hand-made saved host trees used by io.viommu.host tests.

They live outside src/test/resources on purpose: sysfs has symlink cycles (device/iommu_group/devices/
device/...) that maven-resources-plugin follows forever. Tests read them from src/test/host-trees.

  intel-vtd      an Intel Xeon host with VT-d on (DMAR, intel_iommu=on, groups, interrupt remapping):
                 GPU+audio multifunction (one group), an 82599 PF with 2 VFs (one VF on vfio-pci),
                 a PCIe-to-PCI bridge with two conventional devices behind a PCH root port without ACS,
                 an NVMe boot disk, the PCH LPC/SMBus functions sharing a group.
  intel-vtd-off  the same machine booted with intel_iommu=off: DMAR present (saved by a non-root
                 user, so an empty file), no groups, no /sys/class/iommu entries.

The layout is the real one (sys/bus/pci/devices/X -> ../../../devices/pci0000:00/..., relative
links for driver, iommu_group, physfn, virtfnN). Config space is built from named capabilities.
Run from this directory: python3 make-trees.py  (it replaces both trees).
"""
import os, shutil, struct, gzip

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- config space -------------------------------------------------------------------------
PM, PCIE, MSI, MSIX = 0x01, 0x10, 0x05, 0x11
ACS, ARI, ATS, SRIOV, AER = 0x000d, 0x000e, 0x000f, 0x0010, 0x0001
ROOT_PORT, ENDPOINT, LEGACY, PCIE_TO_PCI, RCIEP = 0x4, 0x0, 0x1, 0x7, 0x9
SV, RR, CR, UF, TB, DT = 0x01, 0x04, 0x08, 0x10, 0x02, 0x40

def config(vendor, device, cls, *, bridge=False, mf=False, secondary=0, caps=(), ecaps=(), size=None, rev=1):
    pcie = any(c[0] == PCIE for c in caps)
    size = size or (4096 if pcie else 256)
    b = bytearray(size)
    struct.pack_into('<HHHHI', b, 0, vendor, device, 0x0406, 0x0010 if caps else 0, (cls << 8) | rev)
    b[0x0e] = (1 if bridge else 0) | (0x80 if mf else 0)
    if bridge:
        b[0x18], b[0x19], b[0x1a] = 0, secondary, secondary
    ptr = 0x40
    if caps:
        b[0x34] = ptr
    for i, c in enumerate(caps):
        nxt = ptr + 0x20 if i + 1 < len(caps) else 0
        b[ptr], b[ptr + 1] = c[0], nxt
        if c[0] == PM:
            struct.pack_into('<HH', b, ptr + 2, 0x0003, 0x0008 if c[1] else 0)  # PMC, PMCSR (No_Soft_Reset)
        elif c[0] == PCIE:
            struct.pack_into('<HI', b, ptr + 2, 0x0002 | c[1] << 4, (1 << 28) if c[2] else 0)  # flags, DevCap FLR
        ptr = nxt
    off = 0x100
    for i, e in enumerate(ecaps):
        nxt = off + 0x40 if i + 1 < len(ecaps) else 0
        struct.pack_into('<I', b, off, e[0] | 1 << 16 | nxt << 20)
        if e[0] == ACS:
            struct.pack_into('<HH', b, off + 4, e[1], e[2])
        elif e[0] == SRIOV:
            total, num, offset, stride, vfdev = e[1:6]
            struct.pack_into('<IHHHHHHHHHH', b, off + 4, 0, 0x0019 if num else 0, 0, total, total, num, 0,
                             offset, stride, 0, vfdev)
        off = nxt
    return bytes(b)

# ---- ACPI DMAR ----------------------------------------------------------------------------
def acpi_header(sig, body, oem=b'INTEL ', table=b'S2600WF '):
    length = 36 + len(body)
    h = struct.pack('<4sIBB6s8sI4sI', sig, length, 1, 0, oem, table, 1, b'INTL', 0x20091013)
    t = bytearray(h + body)
    t[9] = (-sum(t)) & 0xff
    return bytes(t)

def scope(kind, bus, path=(), enum_id=0):
    return struct.pack('<BBHBB', kind, 6 + 2 * len(path), 0, enum_id, bus) + b''.join(struct.pack('BB', d, f) for d, f in path)

def dmar():
    drhd_scopes = scope(3, 0xf0, [(0x1f, 0)], enum_id=8) + scope(4, 0x00, [(0x1f, 0)], enum_id=0)
    drhd = struct.pack('<HHBBHQ', 0, 16 + len(drhd_scopes), 1, 0, 0, 0xfbffc000) + drhd_scopes
    rmrr_scopes = scope(1, 0, [(0x14, 0)])
    rmrr = struct.pack('<HHHHQQ', 1, 24 + len(rmrr_scopes), 0, 0, 0x3e2e0000, 0x3e2fffff) + rmrr_scopes
    atsr = struct.pack('<HHBBH', 2, 8, 1, 0, 0)
    body = struct.pack('<BB10x', 45, 0x05) + drhd + rmrr + atsr  # HAW 46, INTR_REMAP | DMA_CTRL_PLATFORM_OPT_IN
    return acpi_header(b'DMAR', body)

# ---- the machine ----------------------------------------------------------------------------
ACS_ON = (ACS, SV | RR | CR | UF | TB | DT, SV | RR | CR | UF)
D = dict  # a device: path (tuple of BDFs from the root bus), ids, config, driver, group, extras

def devices(iommu):
    g = (lambda n: n) if iommu else (lambda n: None)
    return [
        D(path=('0000:00:00.0',), cfg=config(0x8086, 0x2020, 0x060000, caps=[(PCIE, RCIEP, False)]), group=g(0)),
        D(path=('0000:00:01.0',), cfg=config(0x8086, 0x2030, 0x060400, bridge=True, secondary=1,
                                          caps=[(PCIE, ROOT_PORT, False), (PM, False), (MSI,)], ecaps=[ACS_ON, (AER,)]),
          driver='pcieport', group=g(1)),
        D(path=('0000:00:01.0', '0000:01:00.0'), sub=(0x1043, 0x8674),
          cfg=config(0x10de, 0x1e87, 0x030000, mf=True, caps=[(PM, False), (MSI,), (PCIE, LEGACY, False)], ecaps=[(AER,)]),
          driver='nouveau', group=g(7), reset='bus', boot_vga=1),
        D(path=('0000:00:01.0', '0000:01:00.1'), sub=(0x1043, 0x8674),
          cfg=config(0x10de, 0x10f8, 0x040300, mf=True, caps=[(PM, False), (MSI,), (PCIE, ENDPOINT, False)], ecaps=[(AER,)]),
          driver='snd_hda_intel', group=g(7), reset='bus'),
        D(path=('0000:00:02.0',), cfg=config(0x8086, 0x2031, 0x060400, bridge=True, secondary=2,
                                          caps=[(PCIE, ROOT_PORT, False), (PM, False), (MSI,)], ecaps=[ACS_ON]),
          driver='pcieport', group=g(2)),
        D(path=('0000:00:02.0', '0000:02:00.0'), sub=(0x8086, 0x000c),
          cfg=config(0x8086, 0x10fb, 0x020000, caps=[(PM, False), (MSI,), (MSIX,), (PCIE, ENDPOINT, True)],
                     ecaps=[(AER,), (ARI,), (SRIOV, 63, 2, 128, 2, 0x10ed)]),
          driver='ixgbe', group=g(8), reset='flr', net=('enp2s0f0', 'up'),
          sriov=dict(totalvfs=63, numvfs=2, offset=128, stride=2, vf_device='10ed', autoprobe=1),
          virtfn=['0000:02:10.0', '0000:02:10.2']),
        D(path=('0000:00:02.0', '0000:02:10.0'), sub=(0x8086, 0x000c),
          cfg=config(0xffff, 0xffff, 0x020000, caps=[(MSIX,), (PCIE, ENDPOINT, True)], ecaps=[(ARI,)]),
          ids=(0x8086, 0x10ed), driver='ixgbevf', group=g(10), reset='flr', physfn='0000:02:00.0',
          net=('enp2s16', 'down')),
        D(path=('0000:00:02.0', '0000:02:10.2'), sub=(0x8086, 0x000c),
          cfg=config(0xffff, 0xffff, 0x020000, caps=[(MSIX,), (PCIE, ENDPOINT, True)], ecaps=[(ARI,)]),
          ids=(0x8086, 0x10ed), driver='vfio-pci', group=g(11), reset='flr', physfn='0000:02:00.0', override='vfio-pci'),
        D(path=('0000:00:03.0',), cfg=config(0x8086, 0x2032, 0x060400, bridge=True, secondary=5,
                                          caps=[(PCIE, ROOT_PORT, False), (PM, False), (MSI,)], ecaps=[ACS_ON]),
          driver='pcieport', group=g(3)),
        D(path=('0000:00:03.0', '0000:05:00.0'), sub=(0x144d, 0xa801),
          cfg=config(0x144d, 0xa808, 0x010802, caps=[(PM, False), (MSI,), (PCIE, ENDPOINT, True), (MSIX,)], ecaps=[(AER,)]),
          driver='nvme', group=g(9), reset='flr bus', disk=('nvme0n1', 'nvme0n1p2')),
        D(path=('0000:00:14.0',), cfg=config(0x8086, 0xa1af, 0x0c0330, caps=[(PM, False), (MSI,)]),
          driver='xhci_hcd', group=g(4), reset='pm'),
        D(path=('0000:00:1c.0',), cfg=config(0x8086, 0xa190, 0x060400, bridge=True, secondary=3,
                                          caps=[(PCIE, ROOT_PORT, False), (PM, False), (MSI,)]),
          driver='pcieport', group=g(5)),
        D(path=('0000:00:1c.0', '0000:03:00.0'), cfg=config(0x1b21, 0x1080, 0x060401, bridge=True, secondary=4,
                                                          caps=[(PCIE, PCIE_TO_PCI, False), (PM, False), (MSI,)]),
          group=g(5)),
        D(path=('0000:00:1c.0', '0000:03:00.0', '0000:04:00.0'), sub=(0x1000, 0x0020),
          cfg=config(0x9710, 0x9865, 0x070002, caps=[(PM, False)]), driver='parport_serial', group=g(5), reset='pm'),
        D(path=('0000:00:1c.0', '0000:03:00.0', '0000:04:01.0'), sub=(0x0070, 0x6902),
          cfg=config(0x14f1, 0x8800, 0x040000, caps=[(PM, True)]), driver='cx8800', group=g(5)),
        D(path=('0000:00:1f.0',), cfg=config(0x8086, 0xa1c1, 0x060100, mf=True), driver='lpc_ich', group=g(6)),
        D(path=('0000:00:1f.2',), cfg=config(0x8086, 0xa1a1, 0x058000, mf=True), group=g(6)),
        D(path=('0000:00:1f.4',), cfg=config(0x8086, 0xa1a3, 0x0c0500, mf=True), driver='i801_smbus', group=g(6)),
    ]

CONFIG = """CONFIG_IOMMU_SUPPORT=y
CONFIG_IOMMU_API=y
CONFIG_INTEL_IOMMU=y
# CONFIG_INTEL_IOMMU_DEFAULT_ON is not set
CONFIG_AMD_IOMMU=y
CONFIG_IRQ_REMAP=y
CONFIG_IOMMU_DEFAULT_DMA_LAZY=y
CONFIG_VIRTIO_IOMMU=m
CONFIG_VFIO=m
CONFIG_VFIO_PCI=m
CONFIG_VFIO_IOMMU_TYPE1=m
CONFIG_VFIO_NOIOMMU=y
CONFIG_IOMMUFD=m
CONFIG_PCI_STUB=m
CONFIG_KVM=m
CONFIG_KVM_INTEL=m
CONFIG_KVM_AMD=m
"""

CPU = "".join(f"""processor\t: {i}
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 85
model name\t: Intel(R) Xeon(R) Gold 6138 CPU @ 2.00GHz
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc vmx smx est tm2 ssse3 fma cx16 x2apic avx2 avx512f ept vpid

""" for i in range(4))

def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode())

def link(path, target_abs, root):
    """A symlink at root+path pointing to root+target_abs, stored relative like sysfs does."""
    at = os.path.join(root, path.lstrip('/'))
    os.makedirs(os.path.dirname(at), exist_ok=True)
    rel = os.path.relpath(os.path.join(root, target_abs.lstrip('/')), os.path.dirname(at))
    os.symlink(rel, at)

def tree(name, iommu, cmdline, interrupts, dmar_bytes):
    root = os.path.join(HERE, name)
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    write(f'{root}/VIOMMU-SNAPSHOT', f'hand-made by make-trees.py: {name}\n')
    write(f'{root}/proc/cmdline', cmdline + '\n')
    write(f'{root}/proc/cpuinfo', CPU)
    write(f'{root}/proc/sys/kernel/osrelease', '6.1.0-18-amd64\n')
    write(f'{root}/boot/config-6.1.0-18-amd64', CONFIG)
    write(f'{root}/proc/interrupts', interrupts)
    write(f'{root}/proc/mounts', '/dev/nvme0n1p2 / ext4 rw,relatime,errors=remount-ro 0 0\n')
    for t in ('APIC', 'DSDT', 'FACP', 'MCFG'):
        write(f'{root}/sys/firmware/acpi/tables/{t}', acpi_header(t.encode(), b'')[:36])
    write(f'{root}/sys/firmware/acpi/tables/DMAR', dmar_bytes)
    write(f'{root}/dev/kvm', b'')
    write(f'{root}/sys/module/kvm_intel/parameters/nested', 'Y\n')
    write(f'{root}/sys/module/kvm/parameters/halt_poll_ns', '200000\n')
    write(f'{root}/sys/kernel/iommu_groups/.keep', b'')  # git keeps no empty directories; SavedTree skips dot-files
    write(f'{root}/sys/class/iommu/.keep', b'')
    if iommu:
        write(f'{root}/sys/module/vfio/parameters/enable_unsafe_noiommu_mode', 'N\n')
        write(f'{root}/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts', 'N\n')
        write(f'{root}/sys/module/vfio_pci/parameters/ids', '\n')
        write(f'{root}/dev/vfio/vfio', b'')
        write(f'{root}/dev/vfio/11', b'')
        unit = '/sys/devices/virtual/iommu/dmar0'
        link('/sys/class/iommu/dmar0', unit, root)
        for k, v in (('cap', '8d2078c106f0466'), ('ecap', 'f020df'), ('version', '1:0'), ('address', 'fbffc000')):
            write(f'{root}{unit}/intel-iommu/{k}', v + '\n')
    for drv in sorted({d.get('driver') for d in devices(iommu)} - {None}):
        write(f'{root}/sys/bus/pci/drivers/{drv}/bind', b'')
    for d in devices(iommu):
        bdf = d['path'][-1]
        dev = '/sys/devices/pci0000:00/' + '/'.join(d['path'])
        base = f'{root}{dev}'
        cfg = d['cfg']
        vendor, device = d.get('ids') or struct.unpack_from('<HH', cfg, 0)
        cls = struct.unpack_from('<I', cfg, 8)[0] >> 8
        write(f'{base}/vendor', f'0x{vendor:04x}\n')
        write(f'{base}/device', f'0x{device:04x}\n')
        sv, sd = d.get('sub', (0, 0))
        write(f'{base}/subsystem_vendor', f'0x{sv:04x}\n')
        write(f'{base}/subsystem_device', f'0x{sd:04x}\n')
        write(f'{base}/class', f'0x{cls:06x}\n')
        write(f'{base}/config', cfg)
        write(f'{base}/driver_override', (d.get('override') or '(null)') + '\n')
        if 'reset' in d:
            write(f'{base}/reset_method', d['reset'] + '\n')
            write(f'{base}/reset', b'')
        if 'boot_vga' in d:
            write(f'{base}/boot_vga', f"{d['boot_vga']}\n")
        link(f'/sys/bus/pci/devices/{bdf}', dev, root)
        if d.get('driver'):
            link(f'{dev}/driver', f"/sys/bus/pci/drivers/{d['driver']}", root)
        if d.get('group') is not None:
            gdir = f"/sys/kernel/iommu_groups/{d['group']}"
            link(f'{dev}/iommu_group', gdir, root)
            link(f'{gdir}/devices/{bdf}', dev, root)
            write(f'{root}{gdir}/type', 'DMA-FQ\n')
            regions = '0x00000000fee00000 0x00000000feefffff msi\n'
            if bdf == '0000:00:14.0':
                regions = '0x000000003e2e0000 0x000000003e2fffff direct\n' + regions
            write(f'{root}{gdir}/reserved_regions', regions)
            link(f'/sys/devices/virtual/iommu/dmar0/devices/{bdf}', dev, root)
        if 'sriov' in d:
            s = d['sriov']
            for k in ('totalvfs', 'numvfs', 'offset', 'stride', 'vf_device'):
                write(f'{base}/sriov_{k}', f'{s[k]}\n')
            write(f'{base}/sriov_drivers_autoprobe', f"{s['autoprobe']}\n")
            for i, vf in enumerate(d['virtfn']):
                link(f'{dev}/virtfn{i}', '/sys/devices/pci0000:00/' + '/'.join(d['path'][:-1] + (vf,)), root)
        if 'physfn' in d:
            link(f'{dev}/physfn', '/sys/devices/pci0000:00/' + '/'.join(d['path'][:-1] + (d['physfn'],)), root)
        if 'net' in d:
            n, state = d['net']
            link(f'/sys/class/net/{n}', f'{dev}/net/{n}', root)
            write(f'{base}/net/{n}/operstate', state + '\n')
        if 'disk' in d:
            disk, part = d['disk']
            ddir = f'{dev}/nvme/nvme0/{disk}'
            link(f'/sys/class/block/{disk}', ddir, root)
            link(f'/sys/class/block/{part}', f'{ddir}/{part}', root)
            write(f'{root}{ddir}/{part}/partition', '2\n')

IRQ_ON = """            CPU0       CPU1       CPU2       CPU3
   0:         36          0          0          0  IR-IO-APIC    2-edge      timer
   8:          0          0          0          0  IR-IO-APIC    8-edge      rtc0
 120:          0          0          0          0  DMAR-MSI    0-edge      dmar0
 121:       1893          0          0          0  IR-PCI-MSIX-0000:05:00.0    0-edge      nvme0q0
"""
IRQ_OFF = """            CPU0       CPU1       CPU2       CPU3
   0:         36          0          0          0   IO-APIC    2-edge      timer
   8:          0          0          0          0   IO-APIC    8-edge      rtc0
 121:       1893          0          0          0  PCI-MSIX-0000:05:00.0    0-edge      nvme0q0
"""

if __name__ == '__main__':
    boot = 'BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=0b9c2e55-6b1e-4f0c-9d43-4f1f7c3c3a11 ro quiet'
    tree('intel-vtd', True, boot + ' intel_iommu=on', IRQ_ON, dmar())
    tree('intel-vtd-off', False, boot + ' intel_iommu=off', IRQ_OFF, b'')
