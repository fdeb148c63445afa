package io.viommu.machine.device;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * The 82576's internal switch between its VFs (the datasheet's VM-to-VM loopback), as the
 * model keeps it: a frame a VF transmits goes to every live VF of the same PF whose MAC is the
 * destination (the sender included), a broadcast to every other VF; nothing else is switched
 * (no VLAN or multicast filtering, no PF queue), and what no VF takes goes to the wire peer,
 * if one is connected.
 */
public final class Igb82576Switch {
    private final List<IgbVfCore> ports = new ArrayList<>();
    private Consumer<byte[]> wire;

    void attach(IgbVfCore vf) {
        ports.add(vf);
    }

    /** Frames that leave the NIC (no VF took them); null: dropped. */
    public void connectWire(Consumer<byte[]> peer) {
        this.wire = peer;
    }

    void forward(IgbVfCore from, byte[] frame) {
        byte[] dst = Arrays.copyOf(frame, 6);
        boolean broadcast = true;
        for (byte b : dst) {
            broadcast &= b == (byte) 0xff;
        }
        boolean taken = false;
        for (IgbVfCore vf : List.copyOf(ports)) {
            if (broadcast ? vf != from : Arrays.equals(vf.mac(), dst)) {
                taken |= vf.receive(frame);
            }
        }
        if (!taken && wire != null) {
            wire.accept(frame.clone());
        }
    }
}
