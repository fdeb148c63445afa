#!/bin/sh
# run from the steering repository root (R = this repository's nic test data); one capture at a time, ~40 s
R=wt-h11dev/src/test/resources/vmm/nic
flock /tmp/capture.lock shared/lab/capture --host "$(cat $R/host.args)" --host-setup $R/host-setup.sh \
    --vmm "-M q35 -accel tcg -S -display none -nodefaults -m 128M -L /usr/share/qemu -device intel-iommu,caching-mode=on -device vfio-pci,host=0000:00:04.0" \
    --qtest $R/e1000e-viommu.qtest --out /tmp/h11dev/cap/e1000e-viommu
