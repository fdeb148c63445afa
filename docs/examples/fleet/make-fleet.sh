#!/usr/bin/env bash
# A fleet of four model hosts, each saved as `viommu host snapshot` saves a real one (docs/fleet.md).
# Usage: make-fleet.sh DIR   (DIR/node-off, DIR/node-vfs, DIR/node-inuse, DIR/node-noir)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; v="$here/../../../viommu"; out="$1"
ir="-machine q35,kernel-irqchip=split -m 1G -device intel-iommu,intremap=on,caching-mode=on"
rp="-device pcie-root-port,id=rp1,chassis=1,slot=1"
"$v" host snapshot --model "-machine q35 -m 512M -device e1000 -append console=ttyS0" "$out/node-off"
"$v" host snapshot --model "$ir $rp -device igb-82576,bus=rp1" --host-setup "$here/vfs.sh" "$out/node-vfs"
"$v" host snapshot --model "$ir -device e1000,addr=06.0 -device e1000,addr=07.0" --host-setup "$here/inuse.sh" "$out/node-inuse"
"$v" host snapshot --model "-machine q35 -m 1G -device intel-iommu,intremap=off $rp -device igb-82576,bus=rp1" "$out/node-noir"
