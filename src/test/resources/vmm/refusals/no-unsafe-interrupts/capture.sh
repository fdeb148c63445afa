#!/bin/sh
# run from the steering repository root; F=shared/fixtures/vmm
F=shared/fixtures/vmm
# its host-setup.sh is $F/host-setup.sh without the allow_unsafe_interrupts line (path from the viommu repository)
shared/lab/capture --host "$(cat $F/host.args)" --host-setup src/test/resources/vmm/refusals/no-unsafe-interrupts/host-setup.sh \
    --vmm "-M q35 -accel tcg -S -display none -nodefaults -m 128M -L /usr/share/qemu -device vfio-pci,host=0000:00:04.0" --out out/no-unsafe-interrupts
