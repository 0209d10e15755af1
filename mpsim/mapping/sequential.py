"""``sequential``: how Poplar runs a model on an IPU. Each operation (a fused unit of the graph)
is spread over all tiles of its chip and operations run one after another in supersteps:
compute, synchronise, exchange the next operation's inputs. A frame's first operation also pays
``timing.frame_overhead`` (a runtime's per-call work).

Memory is the chip's weights, the code and vertex state every tile keeps, and the peak of
*live* activations (a tensor lives from the operation that writes it to the last one that
reads it), so ``fits`` compares weights + peak live with the chip's data memory. A graph too
large for one chip is cut into pipeline stages, one chip each, where the fewest bytes cross;
frames overlap only across stages and across replicas on the spare chips.

``fallback`` is what runs when a graph fits no chip (in any style): the same operations on one
chip per replica, with the weights that do not fit streamed from off-chip memory every time
they are used (and activations too, when even those do not fit).
"""

from __future__ import annotations

import math

import numpy as np

from mpsim.hw.profile import Profile
from mpsim.ir.graph import Graph, split_iter_name
from mpsim.ir.loops import unroll
from mpsim.mapping.cost import firing_energy, tile_time
from mpsim.mapping.fusion import Unit, fuse
from mpsim.mapping.memory import firing_weight_bytes, live_profile, weight_bytes
from mpsim.mapping.placement import (INSIDE, SOURCE, LinkSpec, MemoryVerdict, Placement, PlanEdge, PlanNode,
                                     RunOptions, UnitPlacement, replica_count)
from mpsim.mapping.program import cut_bytes, fires_per_frame, grouped_edges, output_refs
from mpsim.mapping.stages import cut_stages
from mpsim.mapping.work import tensor_bytes


def op_live_bytes(g: Graph, units: list[Unit], unit_of: list[int], p: Profile, batch: int) -> np.ndarray:
    """Activation bytes live while each operation runs: the unrolled graph's liveness, the most
    over the iterations of a loop operation."""
    u = unroll(g)
    live = live_profile(u, list(range(len(u.nodes))), p, batch)
    pos = {n.name: i for i, n in enumerate(g.nodes)}
    out = np.zeros(len(units))
    for k, node in enumerate(u.nodes):
        base = node.name if node.name in pos else split_iter_name(node.name)[0]
        op = unit_of[pos[base]]
        out[op] = max(out[op], live[k])
    return out


def _op_bytes(g: Graph, unit: Unit, p: Profile, batch: int) -> tuple[float, float]:
    """(input bytes from other operations, output bytes) of one firing of a fused operation."""
    bits = p.precision.activation_bits
    inside = {t for i in unit.nodes for t in g.nodes[i].outputs}
    ins = {t for i in unit.nodes for t in g.nodes[i].inputs if t not in inside}
    return (batch * sum(tensor_bytes(g, t, bits) for t in ins),
            batch * sum(tensor_bytes(g, t, bits) for t in inside))


def place(g: Graph, p: Profile, options: RunOptions, failed: str | None = None) -> Placement:
    """Place ``g`` sequentially; ``failed`` says why the requested style did not fit (the run
    then reports fits = False and ran sequential)."""
    batch = options.batch
    units, unit_of = fuse(g, p.fused_elementwise)
    weights = np.array([weight_bytes(g, u.nodes, p) for u in units])
    live = op_live_bytes(g, units, unit_of, p, batch)
    edges = grouped_edges(g, list(unit_of))
    chip_bytes = p.tiles_per_chip * p.usable_tile_bytes
    crossing = cut_bytes(g, grouped_edges(g, list(range(len(g.nodes)))), list(unit_of), p.precision.activation_bits,
                         batch, len(units))
    stage = cut_stages(weights, live, chip_bytes, crossing)
    stages = 0 if stage is None else int(stage.max(initial=0)) + 1
    if stage is None or stages > p.chips:
        need = weights.sum() + live.max(initial=0.0)
        return fallback(g, p, options, (failed + "; it also " if failed else "") + f"does not fit as sequential (weights {weights.sum() / 1e6:,.1f} MB + peak "
                                       f"live activations {live.max(initial=0) / 1e6:,.1f} MB = {need / 1e6:,.1f} MB "
                                       f"{'on ' + str(stages) + ' chips' if stage is not None else 'per chip'}; "
                                       f"a chip holds {chip_bytes / 1e6:,.1f} MB)")
    replicas = replica_count(p, stages, options)
    streamed = np.zeros(len(units))
    note = f"{replicas} replica{'s' if replicas > 1 else ''} of {stages} chip{'s' if stages > 1 else ''} each"
    if failed:
        note = f"{failed}: ran sequential instead (one operation at a time), {note}"
    return _build(g, p, options, units, unit_of, weights, live, stage, stages, replicas, edges, streamed,
                  spill=False, fits=failed is None, strategy="sequential", note=note, overflow=0.0)


def fallback(g: Graph, p: Profile, options: RunOptions, why: str) -> Placement:
    """The graph fits no chip: one chip per replica runs it sequentially, keeping the weights that
    fit and streaming the rest from off-chip memory every time an operation uses them."""
    batch = options.batch
    units, unit_of = fuse(g, p.fused_elementwise)
    weights = np.array([weight_bytes(g, u.nodes, p) for u in units])
    live = op_live_bytes(g, units, unit_of, p, batch)
    chip_bytes = p.tiles_per_chip * p.usable_tile_bytes
    room = chip_bytes - live.max(initial=0.0)
    spill = room < 0  # even the live activations do not fit: they go off chip too
    streamed = np.zeros(len(units))
    kept = 0.0
    for k in range(len(units)):  # weights stay resident in operation order while they fit
        if not spill and kept + weights[k] <= room:
            kept += weights[k]
        else:
            streamed[k] = weights[k]
    replicas = replica_count(p, 1, options)
    fires = fires_per_frame(g)
    edges = grouped_edges(g, list(unit_of))
    overflow = float(weights.sum() + live.max(initial=0.0) - chip_bytes)
    per_frame = sum(streamed[k] * fires[units[k].nodes[0]] for k in range(len(units)))
    note = (f"{why}: simulated with the off-chip fallback, {per_frame / 1e6:,.1f} MB of weights streamed per frame"
            + (" and activations spilled off chip" if spill else "") + f", {replicas} replica(s) of one chip")
    return _build(g, p, options, units, unit_of, weights, live, np.zeros(len(units), dtype=np.int64), 1, replicas,
                  edges, streamed, spill=bool(spill), fits=False, strategy="fallback", note=note, overflow=overflow)


def _build(g, p, options, units, unit_of, weights, live, stage, stages, replicas, edges, streamed, spill, fits,
           strategy, note, overflow) -> Placement:
    batch = options.batch
    T = p.tiles_per_chip
    e = p.energy
    offchip_bw = p.link_bandwidth["offchip"] / max(1, replicas)  # the streaming memory is shared
    nodes = []
    for k, u in enumerate(units):
        in_b, out_b = _op_bytes(g, u, p, batch)
        read = firing_weight_bytes(g, u.nodes, p)
        moved = (read if streamed[k] else 0.0) + ((in_b + out_b) if spill else 0.0)
        compute = sum(tile_time(g, g.nodes[i], p, T, batch) for i in u.nodes)
        if moved:
            compute += moved / offchip_bw if offchip_bw > 0 else math.inf
        comp_j = conv_j = 0.0
        for i in u.nodes:
            c, v = firing_energy(g, g.nodes[i], p, 0, batch)
            comp_j, conv_j = comp_j + c, conv_j + v
        nodes.append(PlanNode(
            name=u.name, unit=int(stage[k]), graph_nodes=u.nodes, compute_s=compute, sync_s=p.sync_s,
            exchange_s=in_b / (T * p.link_bandwidth["exchange"]),
            overhead_s=p.op_overhead_s + (p.frame_overhead_s if k == 0 else 0.0),  # a frame's runtime call first
            local_bytes=read + in_b + out_b, offchip_bytes=moved,
            energy_compute_j=comp_j, energy_conversion_j=conv_j))
    links: list[LinkSpec] = []
    pair_link: dict[tuple[int, int], int] = {}
    plan_edges = []
    bits = p.precision.activation_bits
    for ed in edges:
        nbytes = batch * tensor_bytes(g, ed.tensor, bits)
        link = INSIDE
        if ed.src != SOURCE and stage[ed.src] != stage[ed.dst]:
            key = (int(stage[ed.src]), int(stage[ed.dst]))
            if key not in pair_link:
                pair_link[key] = len(links)
                links.append(LinkSpec(f"chip{key[0]}->chip{key[1]}", "chip_to_chip", p.link_bandwidth["chip_to_chip"],
                                      e.chip_to_chip_byte if e else 0.0, latency_s=p.sync_for(2) - p.sync_s))
            link = pair_link[key]
        plan_edges.append(PlanEdge(ed.src, ed.dst, ed.kind, ed.tap, nbytes, link, ed.tensor))
    chip_data = T * p.usable_tile_bytes
    stage_units = []
    for c in range(stages):
        on = np.flatnonzero(stage == c)
        w = float((weights[on] - streamed[on]).sum())
        b = float(live[on].max(initial=0.0))
        stage_units.append(UnitPlacement(f"chip{c}", c, T, T, w, b, tuple(i for k in on for i in units[k].nodes),
                                         held_bytes=min(w + b, chip_data) if not fits else w + b,
                                         capacity_bytes=chip_data))
    largest = int(np.argmax(weights + live)) if len(units) else 0
    verdict = MemoryVerdict(
        required_bytes=float(weights.sum() + live.max(initial=0.0) + p.code_per_tile_bytes * T * stages),
        capacity_bytes=float(p.tile_memory_bytes * T * stages),
        units_needed=T * stages, units_used=T * stages * replicas, units_available=p.total_tiles,
        unit_word=p.memory_units, largest=units[largest].name if units else "",
        largest_bytes=float(weights[largest] + live[largest]) if len(units) else 0.0,
        overflow_bytes=max(0.0, overflow),
        occupancy={k: float(f([u.occupancy for u in stage_units])) for k, f in
                   (("min", min), ("mean", np.mean), ("max", max))} if stage_units else {})
    return Placement(
        style="sequential", graph=g, profile=p, options=options, fits=fits, feasible=True, strategy=strategy,
        note=note, replicas=replicas, chips_per_replica=stages, memory=verdict, units=tuple(stage_units),
        nodes=tuple(nodes), edges=tuple(plan_edges), links=tuple(links),
        outputs=tuple((n, it) for n, it, _ in output_refs(g, list(unit_of))), sync_s=p.sync_for(stages),
        meta={"stages": stages, "streamed_bytes": float(streamed.sum())})
