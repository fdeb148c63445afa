#!/bin/sh
# run from the steering repository root (/work; R = this directory of the worktree); one capture at a time, ~60 s
R=wt-h11path/src/test/resources/vmm/msix-reset
flock /tmp/capture.lock shared/lab/capture --host "$(cat $R/host.args)" --host-setup $R/host-setup.sh \
    --vmm "-M q35 -accel tcg -S -display none -nodefaults -m 128M -L /usr/share/qemu -trace vfio_msix* -trace vfio_pci_reset -trace vfio_intx* -device vfio-pci,host=0000:00:04.0" \
    --qtest $R/msix-reset.qtest --out /tmp/h11path-cap/msix-reset-trace
