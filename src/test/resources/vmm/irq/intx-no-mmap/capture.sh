#!/bin/sh
# run from the steering repository root (R = this repository); one capture at a time
F=shared/fixtures/vmm
R=wt-irq/src/test/resources/vmm/irq
flock /tmp/capture.lock shared/lab/capture --host "$(cat $F/host.args)" --host-setup $F/host-setup.sh \
    --vmm "-M q35 -accel tcg -S -display none -nodefaults -m 128M -L /usr/share/qemu -device vfio-pci,host=0000:00:04.0,x-no-mmap=on" \
    --qtest $R/intx.qtest --out /tmp/irq-cap/intx-no-mmap
