#!/bin/sh
# run from the steering repository root (R = this repository's msix test data); one capture at a time, ~25 s
R=wt-vmm-devices/src/test/resources/vmm/msix
flock /tmp/capture.lock shared/lab/capture --host "$(cat $R/host.args)" --host-setup $R/host-setup.sh \
    --vmm "-M q35 -accel tcg -S -display none -nodefaults -m 128M -L /usr/share/qemu -device intel-iommu,caching-mode=on -device vfio-pci,host=0000:00:04.0" \
    --qtest $R/nvme-viommu.qtest --out /tmp/vmmdev-cap/nvme-viommu
