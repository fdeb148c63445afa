package io.viommu.linux.scenario;

import io.viommu.memory.Iova;

/** The receive side of the scenario's NIC: a frame arrives from the wire and is DMAed to {@code dst}. */
interface RxPath {
    /** True when the device's DMA of the frame completed (a translation fault moves nothing and is recorded). */
    boolean receive(byte[] frame, Iova dst);
}
