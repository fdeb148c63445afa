#!/bin/sh
# run from the steering repository root (/work); one capture at a time, ~60 s; the c-dma script of the lab
F=shared/fixtures/vmm
flock /tmp/capture.lock shared/lab/capture --host "$(cat $F/host.args)" --host-setup $F/host-setup.sh \
    --vmm "-M q35 -accel tcg -S -display none -nodefaults -m 128M -L /usr/share/qemu -trace vfio_listener* -trace vfio_dma* -trace vfio_region* -device vfio-pci,host=0000:00:04.0" \
    --qtest shared/lab/examples/c-dma.qtest --out /tmp/h11path-cap/listener-dma
