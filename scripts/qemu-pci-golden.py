#!/usr/bin/env python3
"""Regenerates src/test/resources/qemu-pci/*.golden from QEMU 7.2 (qemu-system-x86_64 over qtest).

For each scenario of scenarios.txt (name | extra bdfs | post commands ; separated | QEMU args) it
starts QEMU with the HALT firmware, enables ECAM at 0xb0000000, numbers the bridges depth-first
as SeaBIOS and Linux do (config writes through 0xcf8/0xcfc), sizes every BAR, runs the post
commands (e.g. enabling SR-IOV VFs), then prints one fingerprint line per function; the Java test
(QemuPciGoldenTest) computes the same line from the model. The fingerprint format is defined by
fingerprint() below and PciFingerprint.java: keep the two in step.
"""
import os, subprocess, sys, shlex
HERE = os.path.dirname(os.path.abspath(__file__))
RES = os.path.join(HERE, '..', 'src', 'test', 'resources', 'qemu-pci')
HALT = '/tmp/HALT.bin'

def u(b, o, n): return int.from_bytes(b[o:o+n], 'little')
# capability id -> (first, end) byte range of the structure that the fingerprint shows
CAPKEY = {0x10: (2, 8), 0x11: (2, 12), 0x05: (2, 4), 0x01: (2, 6), 0x0d: (4, 8), 0x09: (2, 16),
          0x04: (2, 4), 0x0c: (2, 2), 0x12: (2, 8)}
ECAPKEY = {0x0d: (4, 8), 0x0e: (4, 8), 0x10: (4, 0x3c), 0x0f: (4, 8), 0x03: (4, 12), 0x01: (4, 4)}

def fingerprint(bdf, b, sizes):
    ht = b[0xe]
    out = ['%s %04x:%04x rev=%02x class=%06x hdr=%02x ss=%04x:%04x pin=%d sts=%04x' % (
        bdf, u(b, 0, 2), u(b, 2, 2), b[8], u(b, 9, 3), ht, u(b, 0x2c, 2), u(b, 0x2e, 2), b[0x3d], u(b, 6, 2))]
    out.append('bars=' + sizes)
    if ht & 0x7f == 1:
        out.append('t1=%08x,%08x,%08x,%04x' % (u(b, 0x1c, 4), u(b, 0x20, 4), u(b, 0x24, 4), u(b, 0x3e, 2)))
    caps, seen = [], set()
    p = b[0x34] if u(b, 6, 2) & 0x10 else 0
    while p and p not in seen and len(seen) < 48:
        seen.add(p)
        s, e = CAPKEY.get(b[p], (2, 2))
        caps.append('%02x@%02x:%s' % (b[p], p, b[p+s:p+e].hex()))
        p = b[p+1]
    out.append('caps=' + ','.join(caps))
    ecaps, seen, e = [], set(), 0x100
    while e and e not in seen and u(b, e, 4) not in (0, 0xffffffff) and len(seen) < 48:
        seen.add(e)
        h = u(b, e, 4)
        s, t = ECAPKEY.get(h & 0xffff, (4, 4))
        ecaps.append('%04x.%d@%03x:%s' % (h & 0xffff, (h >> 16) & 0xf, e, b[e+s:e+t].hex()))
        e = h >> 20
    out.append('ecaps=' + ','.join(ecaps))
    return ' '.join(out)

def run(args, extra, post):
    cmd = ['qemu-system-x86_64', '-machine', 'q35', '-display', 'none', '-monitor', 'none',
           '-serial', 'none', '-bios', HALT, '-qtest', 'stdio'] + args
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, bufsize=1)
    def q(line):
        p.stdin.write(line + '\n'); p.stdin.flush()
        while True:
            r = p.stdout.readline()
            if not r:
                raise SystemExit('qemu died on ' + line + ' for ' + ' '.join(args))
            if not r.startswith('IRQ'):
                return r.strip()
    def addr(b, d, f, r): return 0x80000000 | b << 16 | d << 11 | f << 8 | (r & 0xfc)
    def rd(b, d, f, r):
        q('outl 0xcf8 0x%x' % addr(b, d, f, r)); return int(q('inl 0xcfc').split()[1], 16)
    def wr(b, d, f, r, v):
        q('outl 0xcf8 0x%x' % addr(b, d, f, r)); q('outl 0xcfc 0x%x' % v)
    wr(0, 0, 0, 0x60, 0xb0000001)
    found, nextbus = [], [1]
    def scan(bus):
        for d in range(32):
            for f in range(8):
                if rd(bus, d, f, 0) == 0xffffffff:
                    if f == 0: break
                    continue
                ht = (rd(bus, d, f, 0xc) >> 16) & 0xff
                found.append((bus, d, f))
                if ht & 0x7f == 1:
                    sec = nextbus[0]; nextbus[0] += 1
                    old = rd(bus, d, f, 0x18)
                    wr(bus, d, f, 0x18, (old & 0xff000000) | bus | sec << 8 | 0xff << 16)
                    scan(sec)
                    wr(bus, d, f, 0x18, (old & 0xff000000) | bus | sec << 8 | (nextbus[0] - 1) << 16)
                if f == 0 and not ht & 0x80: break
    scan(0)
    def sizes(b, d, f):
        n = 6 if (rd(b, d, f, 0xc) >> 16) & 0x7f == 0 else 2
        out = []
        for i in range(n):
            r = 0x10 + 4 * i
            old = rd(b, d, f, r); wr(b, d, f, r, 0xffffffff); out.append('%08x' % rd(b, d, f, r)); wr(b, d, f, r, old)
        return ','.join(out)
    for c in post:
        q(c)
    lines = []
    for (b, d, f) in found + extra:
        r = q('read 0x%x 4096' % (0xb0000000 | b << 20 | d << 15 | f << 12))
        lines.append(fingerprint('%02x:%02x.%x' % (b, d, f), bytes.fromhex(r.split()[1][2:]), sizes(b, d, f)))
    p.kill()
    return lines

if not os.path.exists(HALT):
    b = bytearray(b'\xf4' * 65536); b[0xfff0:0xfff3] = b'\xf4\xeb\xfd'; open(HALT, 'wb').write(b)
only = sys.argv[1:]
for line in open(os.path.join(RES, 'scenarios.txt')):
    line = line.strip()
    if not line or line.startswith('#'):
        continue
    name, extra, post, args = [x.strip() for x in line.split('|')]
    if only and name not in only:
        continue
    ex = [tuple(int(x, 16) for x in e.replace(':', '.').split('.')) for e in extra.split(',') if e]
    lines = run(shlex.split(args), ex, [c.strip() for c in post.split(';') if c.strip()])
    with open(os.path.join(RES, name + '.golden'), 'w') as fh:
        fh.write('\n'.join(lines) + '\n')
    print(name, len(lines), 'functions')
