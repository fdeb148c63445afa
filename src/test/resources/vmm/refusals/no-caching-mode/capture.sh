#!/bin/sh
# run from the steering repository root
F=shared/fixtures/vmm
shared/lab/capture --host "$(cat $F/host.args)" --host-setup $F/host-setup.sh \
    --vmm "-M q35 -accel tcg -S -display none -nodefaults -m 128M -L /usr/share/qemu -device intel-iommu -device vfio-pci,host=0000:00:04.0" --out out/no-caching-mode
