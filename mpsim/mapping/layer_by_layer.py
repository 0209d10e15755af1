"""``layer_by_layer``: the GPU the paper contrasts with. Every fused unit of the *unrolled* graph
is a kernel: it pays the fixed per-kernel cost (``timing.op_overhead``) and then the slower of
its arithmetic (spread over the SMs at the op class's efficiency) and its device-memory traffic
(weights once per batch, inputs and outputs per image). Loops do not shrink the traffic. The
host issues kernels asynchronously, ahead of the device: a kernel takes the longer of its issue
time (``timing.host_issue``: an eager framework's dispatch; 0 for a compiled engine) and its
launch plus execution; a frame's first kernel also waits ``timing.frame_overhead``. With
``compute.fused_elementwise: false`` (eager PyTorch) every node is a kernel of its own.

A frame is a batch of ``--batch`` images: the batch's latency is every image's latency, and
throughput counts images. It fits when weights plus the peak of live activations fit the
device memory; several GPUs run replicas.
"""

from __future__ import annotations

import numpy as np

from mpsim.hw.profile import Profile
from mpsim.ir.graph import Graph
from mpsim.ir.loops import unroll
from mpsim.mapping.cost import firing_energy, tile_time
from mpsim.mapping.fusion import fuse
from mpsim.mapping.memory import live_profile, weight_bytes
from mpsim.mapping.placement import (INSIDE, MemoryVerdict, Placement, PlanEdge, PlanNode, RunOptions,
                                     UnitPlacement, infeasible, replica_count)
from mpsim.mapping.program import grouped_edges, output_refs
from mpsim.mapping.work import tensor_bytes


def place(g: Graph, p: Profile, options: RunOptions) -> Placement:
    batch = options.batch
    u = unroll(g)
    units, unit_of = fuse(u, p.fused_elementwise)
    bits = p.precision.activation_bits
    weights = np.array([weight_bytes(u, k.nodes, p) for k in units])
    live = live_profile(u, list(range(len(u.nodes))), p, batch)
    required = float(weights.sum() + live.max(initial=0.0))
    largest = int(np.argmax(weights)) if len(units) else 0
    if required > p.offchip_capacity_bytes:
        verdict = MemoryVerdict(
            required_bytes=required, capacity_bytes=float(p.offchip_capacity_bytes), units_needed=0, units_used=0,
            units_available=p.total_tiles, unit_word=p.memory_units, largest=units[largest].name,
            largest_bytes=float(weights[largest]), overflow_bytes=required - p.offchip_capacity_bytes)
        return infeasible(g, p, options, "layer_by_layer", verdict,
                          f"infeasible: needs {required / 1e9:,.2f} GB of device memory at batch {batch} "
                          f"({p.precision.name}); {p.name} has {p.offchip_capacity_bytes / 1e9:,.2f} GB")
    sms = p.total_tiles // max(1, p.chips)
    hbm = p.link_bandwidth["offchip"]
    pos = {n.name: i for i, n in enumerate(u.nodes)}
    returned = {o.tensor for o in u.outputs}
    nodes = []
    for k, un in enumerate(units):
        inside = {t for i in un.nodes for t in u.nodes[i].outputs}
        ins = {t for i in un.nodes for t in u.nodes[i].inputs if t not in inside}
        outs = {t for t in inside if t in returned or any(unit_of[pos[c]] != k for c in u.consumers.get(t, ()))}
        moved = weights[k] + batch * sum(tensor_bytes(u, t, bits) for t in ins | outs)
        compute = sum(tile_time(u, u.nodes[i], p, sms, batch) for i in un.nodes)
        comp_j = sum(firing_energy(u, u.nodes[i], p, 0, batch)[0] for i in un.nodes)
        device = max(compute, moved / hbm, 1.0 / p.clock_hz)
        # The host issues kernels ahead of the device: a kernel waits for its issue when that is slower.
        overhead = p.op_overhead_s + max(0.0, p.host_issue_s - p.op_overhead_s - device)
        overhead += p.frame_overhead_s if k == 0 else 0.0  # the runtime's per-frame work comes first
        nodes.append(PlanNode(name=un.name, unit=0, graph_nodes=un.nodes, compute_s=device, overhead_s=overhead,
                              local_bytes=0.0, offchip_bytes=float(moved), energy_compute_j=comp_j))
    edges = [PlanEdge(e.src, e.dst, e.kind, e.tap, batch * tensor_bytes(u, e.tensor, bits), INSIDE, e.tensor)
             for e in grouped_edges(u, list(unit_of))]
    replicas = replica_count(p, 1, options)
    device = UnitPlacement("gpu", 0, sms, sms, float(weights.sum()), float(live.max(initial=0.0)),
                           tuple(range(len(u.nodes))), held_bytes=required, capacity_bytes=p.offchip_capacity_bytes)
    verdict = MemoryVerdict(
        required_bytes=required, capacity_bytes=float(p.offchip_capacity_bytes), units_needed=sms,
        units_used=sms * replicas, units_available=p.total_tiles, unit_word=p.memory_units,
        largest=units[largest].name if units else "", largest_bytes=float(weights[largest]) if len(units) else 0.0,
        overflow_bytes=0.0, occupancy={"min": device.occupancy, "mean": device.occupancy, "max": device.occupancy})
    return Placement(
        style="layer_by_layer", graph=u, profile=p, options=options, fits=True, feasible=True,
        strategy="layer_by_layer", note=f"{len(units)} kernels per batch of {batch}, {replicas} GPU(s)",
        replicas=replicas, chips_per_replica=1, memory=verdict, units=(device,), nodes=tuple(nodes),
        edges=tuple(edges), links=(), outputs=tuple((n, it) for n, it, _ in output_refs(u, list(unit_of))),
        sync_s=0.0, meta={"kernels": len(units)})
