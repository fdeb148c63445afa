qemu-system-x86_64 -M q35 -accel tcg -bios /tmp/hlt.bin -display none -nodefaults -m 128M -smp 1 -device virtio-rng-pci,disable-legacy=on,addr=02.0 -qtest stdio -qtest-log none
