#!/bin/sh
# run from the steering repository root (/work; R = this worktree); one capture at a time
F=shared/fixtures/vmm
R=wt-hostsysfs/src/test/resources/vmm/refusals/memlock
flock /tmp/capture.lock shared/lab/capture --host "$(cat $F/host.args)" --host-setup $R/host-setup.sh \
    --vmm "-M q35 -accel tcg -S -display none -nodefaults -m 128M -L /usr/share/qemu -device vfio-pci,host=0000:00:04.0" --out $R
