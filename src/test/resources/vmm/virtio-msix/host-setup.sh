# a 64 KiB firmware image of HLT instructions: the vCPU halts at the reset vector, the VM runs
head -c 65536 /dev/zero | tr '\000' '\364' > /tmp/hlt.bin; ls -l /tmp/hlt.bin; od -An -tx1 -N4 /tmp/hlt.bin
