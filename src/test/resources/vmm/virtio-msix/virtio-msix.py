L=[]
def cfg(off): return 0x80001000|off
def rcfg(off): L.extend([f"outl 0xcf8 {hex(cfg(off))}", "inl 0xcfc"])
def wcfg(off,val,w='l'):
    port=0xcfc+(off&3)
    L.extend([f"outl 0xcf8 {hex(cfg(off&~3))}", f"out{w} {hex(port)} {hex(val)}"])
for off in range(0,256,4): rcfg(off)
for off in (0x10,0x14,0x18,0x1c,0x20,0x24):
    wcfg(off,0xffffffff); L.append("inl 0xcfc")
wcfg(0x10,0); wcfg(0x18,0); wcfg(0x1c,0)
wcfg(0x14,0xe0000000); wcfg(0x20,0xe0100000); wcfg(0x24,0)
wcfg(0x04,0x6,'w')
rcfg(0x14); rcfg(0x20); rcfg(0x24)
T=0xe0000000; B=0xe0100000
for v in range(2):
    for o in (0,4,8,12): L.append(f"readl {hex(T+16*v+o)}")
L.append(f"readl {hex(T+16*2)}")
L.append(f"readl {hex(T+0x800)}")
L.append(f"readl {hex(T+0xffc)}")
rcfg(0x98)
wcfg(0x9a,0x8000,'w')
rcfg(0x98)
L.extend([f"writel {hex(T)} 0x100000", f"writel {hex(T+4)} 0x0", f"writel {hex(T+8)} 0x1234", f"writel {hex(T+12)} 0x0",
      f"writel {hex(T+16)} 0x100010", f"writel {hex(T+20)} 0x0", f"writel {hex(T+24)} 0x5678", f"writel {hex(T+28)} 0x0"])
for v in range(2):
    for o in (0,4,8,12): L.append(f"readl {hex(T+16*v+o)}")
L.extend([f"readw {hex(B+0x10)}", f"readw {hex(B+0x1a)}"])
L.extend([f"writew {hex(B+0x10)} 0x1", f"readw {hex(B+0x10)}",
      f"writew {hex(B+0x10)} 0x2", f"readw {hex(B+0x10)}",
      f"writew {hex(B+0x10)} 0x1", f"readw {hex(B+0x10)}",
      f"writew {hex(B+0x16)} 0x0",
      f"writew {hex(B+0x1a)} 0x5", f"readw {hex(B+0x1a)}",
      f"writew {hex(B+0x1a)} 0x0", f"readw {hex(B+0x1a)}",
      f"writew {hex(B+0x16)} 0x1", f"readw {hex(B+0x1a)}",
      f"writew {hex(B+0x1a)} 0x1", f"readw {hex(B+0x1a)}",
      f"writew {hex(B+0x1a)} 0xffff", f"readw {hex(B+0x1a)}",
      f"writew {hex(B+0x16)} 0x0", f"readw {hex(B+0x1a)}", f"readw {hex(B+0x18)}"])
L.extend([f"writeb {hex(B+0x14)} 0x3", f"writel {hex(B+0x8)} 0x1", f"writel {hex(B+0xc)} 0x1",
      f"writel {hex(B+0x8)} 0x0", f"writel {hex(B+0xc)} 0x0", f"writeb {hex(B+0x14)} 0xb", f"readb {hex(B+0x14)}",
      f"writel {hex(B+0x20)} 0x200000", f"writel {hex(B+0x24)} 0x0",
      f"writel {hex(B+0x28)} 0x201000", f"writel {hex(B+0x2c)} 0x0",
      f"writel {hex(B+0x30)} 0x202000", f"writel {hex(B+0x34)} 0x0",
      f"writew {hex(B+0x1c)} 0x1", f"writeb {hex(B+0x14)} 0xf", f"readb {hex(B+0x14)}"])
L.extend(["writeq 0x200000 0x203000", "writel 0x200008 0x10", "writew 0x20000c 0x2", "writew 0x20000e 0x0",
      "writew 0x201004 0x0", "writew 0x201000 0x0", "writew 0x201002 0x1"])
def kick_and_look():
    L.append(f"writew {hex(B+0x3000)} 0x0")
    L.append("#sleep 1")
    L.extend(["readw 0x202002", "readl 0x202004", "readl 0x202008", "readl 0x100000", "readl 0x100010",
          f"readl {hex(T+0x800)}", f"readb {hex(B+0x1000)}", f"readb {hex(B+0x1000)}"])
kick_and_look()
L.extend(["writel 0x100000 0x0", f"writel {hex(T+12)} 0x1", "writew 0x201006 0x0", "writew 0x201002 0x2"])
kick_and_look()
L.extend([f"writel {hex(T+12)} 0x0", "readl 0x100000", f"readl {hex(T+0x800)}"])
L.extend(["writel 0x100000 0x0", "writew 0x201000 0x1", "writew 0x201008 0x0", "writew 0x201002 0x3"])
kick_and_look()
L.extend(["writew 0x201000 0x0", f"writew {hex(B+0x16)} 0x0", f"writew {hex(B+0x1a)} 0xffff", "writew 0x20100a 0x0", "writew 0x201002 0x4"])
kick_and_look()
L.extend([f"writew {hex(B+0x1a)} 0x0", f"readw {hex(B+0x1a)}"])
wcfg(0x9a,0xc000,'w')
L.extend(["writew 0x20100c 0x0", "writew 0x201002 0x5"])
kick_and_look()
wcfg(0x9a,0x8000,'w')
L.extend(["readl 0x100000", f"readl {hex(T+0x800)}"])
L.append("writel 0x100000 0x0")
wcfg(0x9a,0x0,'w')
L.extend(["writew 0x20100e 0x0", "writew 0x201002 0x6"])
kick_and_look()
L.extend([f"writeb {hex(B+0x14)} 0x0", f"readw {hex(B+0x10)}", f"readw {hex(B+0x1a)}"])
open("virtio-msix.qtest","w").write("\n".join(L)+"\n")
print(len(L))
