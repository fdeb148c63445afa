#!/bin/sh
# run from the steering repository root (/work; R = this directory of the worktree); one capture at a time, ~20 s
R=wt-h11path/src/test/resources/vmm/bridge
flock /tmp/capture.lock shared/lab/capture --host "$(cat $R/host.args)" --host-setup $R/host-setup.sh \
    --vmm "-M q35 -accel tcg -S -display none -nodefaults -m 128M -L /usr/share/qemu -device vfio-pci,host=0000:01:01.0" \
    --qtest $R/dma.qtest --out /tmp/h11path-cap/bridge-dma
