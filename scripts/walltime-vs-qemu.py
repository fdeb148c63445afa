#!/usr/bin/env python3
"""Runs one long qtest DMA script through QEMU 7.2 and through viommu and prints wall times.

Phase 1 (setup) writes a 4-level VT-d table set mapping N pages for edu (00:01.0), programs the
unit and edu's BAR; phase 2 (register traffic) reads registers many times; phase 3 (DMA) runs
edu DMAs through the IOMMU, each polled to completion. QEMU's edu completes a DMA ~100 ms after
it is commanded (a real-time timer), viommu's immediately, so phase 3 mostly measures that
timer; phases 1-2 measure the cost of the model and the protocol.

Usage: scripts/walltime-vs-qemu.py [--pages N] [--reads N] [--dmas N]
"""
import argparse, os, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ARGS = ["-machine", "q35", "-nodefaults", "-m", "256M", "-device", "intel-iommu,aw-bits=48", "-device", "edu"]
VTD = 0xFED90000
BAR = 0xFE000000


def halt_bios(d):
    p = os.path.join(d, "HALT.bin")
    b = bytearray(b"\xf4" * 65536)
    b[0xFFF0:0xFFF3] = b"\xf4\xeb\xfd"
    open(p, "wb").write(b)
    return p


class Peer:
    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, bufsize=1)

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        while True:
            r = self.p.stdout.readline()
            if not r:
                raise SystemExit("peer exited on: " + line)
            if not r.startswith("IRQ"):
                return r.strip()

    def close(self):
        self.p.kill()
        self.p.wait()


def setup_commands(pages):
    cmds, nxt = [], [0x100000]

    def page():
        p = nxt[0]
        nxt[0] += 4096
        return p
    root, ctx, pml4 = page(), page(), page()
    cmds.append(f"writeq 0x{root:x} 0x{ctx | 1:x}")
    cmds.append(f"writeq 0x{ctx + 8 * 16:x} 0x{pml4 | 1:x}")      # devfn 8 = 01.0
    cmds.append(f"writeq 0x{ctx + 8 * 16 + 8:x} 0x{(1 << 8) | 2:x}")  # DID 1, AW 48-bit
    tables = {}
    for i in range(pages):
        iova = 0x1000000 + i * 4096
        t = pml4
        for lvl in (4, 3, 2):
            idx = (iova >> (12 + 9 * (lvl - 1))) & 0x1FF
            key = (t, idx)
            if key not in tables:
                tables[key] = page()
                cmds.append(f"writeq 0x{t + idx * 8:x} 0x{tables[key] | 3:x}")
            t = tables[key]
        cmds.append(f"writeq 0x{t + ((iova >> 12) & 0x1FF) * 8:x} 0x{(0x2000000 + i * 4096) | 3:x}")
    cmds += [f"writeq 0x{VTD + 0x20:x} 0x{root:x}", f"writel 0x{VTD + 0x18:x} 0x40000000",
             f"writel 0x{VTD + 0x18:x} 0x80000000",
             "outl 0xcf8 0x80000810", f"outl 0xcfc 0x{BAR:x}", "outl 0xcf8 0x80000804", "outw 0xcfc 0x6"]
    return cmds


def run(peer, pages, reads, dmas):
    times = []
    t0 = time.perf_counter()
    for c in setup_commands(pages):
        peer.cmd(c)
    times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(reads):
        peer.cmd(f"readq 0x{VTD + (0x08 if i % 2 else 0x10):x}")
    times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(dmas):
        iova = 0x1000000 + (i % pages) * 4096
        peer.cmd(f"writeq 0x{BAR + 0x80:x} 0x{iova:x}")
        peer.cmd(f"writeq 0x{BAR + 0x88:x} 0x40000")
        peer.cmd(f"writeq 0x{BAR + 0x90:x} 0x100")
        peer.cmd(f"writeq 0x{BAR + 0x98:x} 0x1")
        while int(peer.cmd(f"readq 0x{BAR + 0x98:x}").split()[1], 16) & 1:
            time.sleep(0.002)
    times.append(time.perf_counter() - t0)
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=2048)
    ap.add_argument("--reads", type=int, default=20000)
    ap.add_argument("--dmas", type=int, default=20)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        qemu = Peer(["qemu-system-x86_64", *ARGS, "-display", "none", "-monitor", "none",
                     "-serial", "none", "-bios", halt_bios(d), "-qtest", "stdio"])
        qemu.cmd("endianness")
        tq = run(qemu, a.pages, a.reads, a.dmas)
        qemu.close()
    vm = Peer([os.path.join(ROOT, "viommu"), "qtest", *ARGS])
    vm.cmd("endianness")  # JVM start and build are not timed
    tv = run(vm, a.pages, a.reads, a.dmas)
    vm.close()
    names = [f"setup ({a.pages} pages mapped)", f"{a.reads} register reads", f"{a.dmas} edu DMAs"]
    print(f"{'phase':32} {'QEMU s':>9} {'viommu s':>9} {'QEMU/viommu':>12}")
    for n, q, v in zip(names + ["total"], tq + [sum(tq)], tv + [sum(tv)]):
        print(f"{n:32} {q:9.3f} {v:9.3f} {q / v if v else float('inf'):12.2f}")


if __name__ == "__main__":
    main()
