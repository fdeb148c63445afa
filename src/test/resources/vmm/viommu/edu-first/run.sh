#!/bin/bash
# made with the machine's own QEMU 7.2 (no lab: an emulated edu, no host), from this directory.
# Without -S (the edu's DMA timer runs on the virtual clock, which -S stops); SeaBIOS runs first
# (2 s), then the script is sent with the pauses of script.qtest (sent.qtest: what was sent).
run() { ( sleep 2; while IFS= read -r l; do case "$l" in "#sleep"*) sleep 1;; "#"*|"") ;; *) echo "$l"; sleep 0.05;; esac; done < script.qtest; sleep 1 ) \
  | timeout 30 qemu-system-x86_64 -M q35 -accel tcg -display none -nodefaults -m 128M "$@" -qtest stdio -qtest-log none; }
run -device edu -device intel-iommu,caching-mode=on > qemu.out 2> qemu.err
