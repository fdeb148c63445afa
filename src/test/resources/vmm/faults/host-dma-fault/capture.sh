#!/bin/sh
# run from /work (where shared/ is), D = this directory (about 25 s on 2 cores)
D=${D:-main/src/test/resources/vmm/faults/host-dma-fault}
shared/lab/capture --host "-machine q35 -m 1G -device intel-iommu,intremap=off,caching-mode=on -device edu,addr=04.0 -append intel_iommu=on" \
    --host-setup $D/host-setup.sh \
    --vmm "-M q35 -accel tcg -S -display none -nodefaults -m 128M -device vfio-pci,host=0000:00:04.0" \
    --qtest $D/fault.qtest --out out/host-dma-fault
