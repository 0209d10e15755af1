"""``pipelined``: the ItNet paper's model. Every unit owns its tiles (or crossbar arrays) for the
whole run and frames stream through, so unit A works on frame f + 1 while unit B works on f.

Communication-aware: a replica uses as few chips as its memory needs; when it needs several,
its units (in topological order) are cut into per-chip stages where the fewest bytes cross,
never splitting a unit. Spare chips run independent replicas, each fed by the host. Inside a
chip, tiles beyond the memory minimum go to the slowest units until the pipeline is balanced.
A digital graph that needs more chips than the machine has runs sequentially instead (one
operation at a time needs far less memory), or, failing that too, the off-chip fallback
(``mpsim.mapping.sequential``); the report says so. A crossbar graph that does not fit is
infeasible.
"""

from __future__ import annotations

import math

import numpy as np

from mpsim.hw.profile import Profile
from mpsim.ir.graph import Graph
from mpsim.mapping import sequential
from mpsim.mapping.cost import firing_energy, firing_time
from mpsim.mapping.fusion import fuse
from mpsim.mapping.memory import crossbar_arrays, firing_weight_bytes, unit_bytes
from mpsim.mapping.placement import (INSIDE, SOURCE, LinkSpec, MemoryVerdict, Placement, PlanEdge, PlanNode,
                                     RunOptions, UnitPlacement, infeasible, replica_count)
from mpsim.mapping.program import cut_bytes, edge_firings, fires_per_frame, grouped_edges, output_refs
from mpsim.mapping.stages import cut_stages
from mpsim.mapping.work import tensor_bytes


def balance(work: np.ndarray, minimum: np.ndarray, step: np.ndarray, budget: int,
            sent: np.ndarray | None = None) -> np.ndarray:
    """Allocation minimising the pipeline's period within ``budget``, time scaling as 1 / tiles:
    unit u gets max(minimum_u, ceil(work_u / tau), ceil(sent_u / (r tau))) tiles, or (``step_u``
    > 0, crossbar replicas) a whole number of copies of its ``step_u`` weight arrays. Without
    ``sent`` (r = 1, the period max_u work_u / tiles_u); with it (bsp: a step is its slowest
    compute *plus* its slowest exchange) the split r between the two phases minimising
    tau (1 + r) is searched."""
    if minimum.sum() > budget or max(work.max(initial=0.0), 0.0 if sent is None else sent.max(initial=0.0)) <= 0:
        return minimum.copy()

    def alloc(tau: float, r: float) -> np.ndarray:
        need = np.ceil(work / tau)
        if sent is not None:
            need = np.maximum(need, np.ceil(sent / (r * tau)))
        copies = np.where(step > 0, np.maximum(1, np.ceil(need / np.maximum(step, 1))) * step, 0)
        return np.maximum(minimum, np.where(step > 0, copies, need)).astype(np.int64)

    def least_tau(r: float) -> float:
        top = max(work.max(initial=0.0), 0.0 if sent is None else sent.max(initial=0.0) / r)
        lo, hi = top / budget, top
        if alloc(lo, r).sum() <= budget:
            return lo
        for _ in range(60):
            mid = math.sqrt(lo * hi)
            lo, hi = (lo, mid) if alloc(mid, r).sum() <= budget else (mid, hi)
        return hi

    if sent is None or sent.max(initial=0.0) <= 0 or work.max(initial=0.0) <= 0:
        return alloc(least_tau(1.0), 1.0)
    ratios = np.geomspace(1 / 64, 64, 49)
    taus = [least_tau(r) for r in ratios]
    best = int(np.argmin([t * (1 + r) for t, r in zip(taus, ratios)]))
    return alloc(taus[best], ratios[best])


def place(g: Graph, p: Profile, options: RunOptions) -> Placement:
    batch = options.batch
    units, unit_of = fuse(g, p.fused_elementwise)
    analog = p.kind == "crossbar"
    sizes = [unit_bytes(g, u, p, batch) for u in units]
    fires = fires_per_frame(g)
    apt = p.crossbar.arrays_per_tile if analog else 1
    if analog:
        weight_arrays = np.array([crossbar_arrays(g, u, p) for u in units], dtype=np.int64)
        buffer_tiles = np.array([math.ceil(b / p.tile_memory_bytes) for _, b in sizes], dtype=np.int64)
        minimum = np.maximum(weight_arrays, apt * buffer_tiles)
        step = weight_arrays
    else:
        usable = p.usable_tile_bytes
        minimum = np.array([max(1, math.ceil((w + b) / usable)) for w, b in sizes], dtype=np.int64)
        step = np.zeros(len(units), dtype=np.int64)
    per_chip = p.tiles_per_chip * apt
    edges = grouped_edges(g, list(range(len(g.nodes))))
    bits = p.precision.activation_bits
    crossing = cut_bytes(g, edges, unit_of, bits, batch, len(units))
    stage = cut_stages(minimum.astype(float), np.zeros(len(units)), per_chip, crossing)
    stages = 0 if stage is None else int(stage.max(initial=0)) + 1
    fits = stage is not None and stages <= p.chips
    if not fits:
        needed = int(minimum.sum())
        why = (f"needs {needed:,} {p.memory_units} for its weights and buffers"
               + (f", more than one chip's {per_chip:,} for its largest unit" if stage is None else
                  f" on {stages} chips; {p.name} has {p.chips}"))
        if analog:
            return _infeasible(g, p, options, units, sizes, minimum, why)
        return sequential.place(g, p, options, failed=f"does not fit as pipelined ({why})")
    replicas = replica_count(p, stages, options)
    # Balance each chip's spare tiles among its units by what bounds the frame rate: in dataflow
    # a unit's work per frame (its firings back to back) and its exchange port's bytes, each
    # its own resource; in bsp and rollout a superstep lasts its slowest firing plus its slowest
    # exchange, whatever the firing counts. A digital unit's port grows with its tiles.
    stepped = (options.mode or p.default_mode) != "dataflow"
    per = [1 if stepped else fires[u.nodes[0]] for u in units]
    single = np.array([k * sum(firing_time(g, g.nodes[i], p, 1, 1, batch) for i in u.nodes)
                       for k, u in zip(per, units)])
    sent = np.zeros(len(units))
    for e in edges:
        su, du = (None, None) if e.src == SOURCE or analog else (unit_of[e.src], unit_of[e.dst])
        if su is not None and su != du and stage[su] == stage[du]:
            times = 1 if stepped else edge_firings(e.kind, fires[e.dst])
            sent[su] += batch * tensor_bytes(g, e.tensor, bits) * times / p.link_bandwidth["exchange"]
    alloc = np.zeros(len(units), dtype=np.int64)
    for c in range(stages):
        on = np.flatnonzero(stage == c)
        if analog and p.crossbar.spatial_unroll:  # every position has its arrays: copies gain nothing
            alloc[on] = minimum[on]
        elif stepped:
            alloc[on] = balance(single[on], minimum[on], step[on], per_chip, sent[on])
        else:
            alloc[on] = balance(np.maximum(single[on], sent[on]), minimum[on], step[on], per_chip)
    return _build(g, p, options, units, unit_of, sizes, minimum, alloc, weight_arrays if analog else None,
                  stage, stages, replicas, edges)


def _build(g, p, options, units, unit_of, sizes, minimum, alloc, weight_arrays, stage, stages, replicas, edges):
    batch, analog = options.batch, p.kind == "crossbar"
    apt = p.crossbar.arrays_per_tile if analog else 1
    e = p.energy
    bits = p.precision.activation_bits
    placements: list[UnitPlacement] = []
    nodes: list[PlanNode | None] = [None] * len(g.nodes)  # plan node i is graph node i: edges index them so
    for k, u in enumerate(units):
        tiles = int(alloc[k])
        copies = max(1, tiles // int(weight_arrays[k])) if analog and weight_arrays[k] else 1
        digital_tiles = max(1, math.ceil(tiles / apt))
        w, b = sizes[k]
        placements.append(UnitPlacement(
            u.name, int(stage[k]), tiles, int(minimum[k]), w, b, u.nodes, held_bytes=b if analog else w + b,
            capacity_bytes=digital_tiles * (p.tile_memory_bytes if analog else p.usable_tile_bytes)))
        for pos, i in enumerate(u.nodes):
            n = g.nodes[i]
            weights_read = firing_weight_bytes(g, (i,), p)
            io = batch * sum(tensor_bytes(g, t, bits) for t in (*n.inputs, *n.outputs))
            arrays = int(weight_arrays[k]) if analog else 0
            comp, conv = firing_energy(g, n, p, arrays, batch)
            nodes[i] = PlanNode(
                name=n.name, unit=k, graph_nodes=(i,),
                compute_s=firing_time(g, n, p, digital_tiles if analog else tiles, copies, batch),
                overhead_s=p.op_overhead_s if pos == 0 else 0.0,
                local_bytes=weights_read + io, energy_compute_j=comp, energy_conversion_j=conv)
    # Links: each unit's exchange port, and a link per ordered chip pair that carries data.
    links = [LinkSpec(f"{u.name}.out", "exchange",
                      max(1, math.ceil(u.tiles / apt)) * p.link_bandwidth["exchange"],
                      e.exchange_byte if e else 0.0) for u in placements]
    pair_link: dict[tuple[int, int], int] = {}
    plan_edges = []
    for ed in edges:
        nbytes = batch * tensor_bytes(g, ed.tensor, bits)
        if ed.src == SOURCE:
            link = INSIDE  # the host-in unit delivers the frame (mpsim.sim.plan)
        else:
            su, du = unit_of[ed.src], unit_of[ed.dst]
            if su == du:
                link = INSIDE
            elif stage[su] == stage[du]:
                link = su
            else:
                key = (int(stage[su]), int(stage[du]))
                if key not in pair_link:
                    pair_link[key] = len(links)
                    links.append(LinkSpec(f"chip{key[0]}->chip{key[1]}", "chip_to_chip",
                                          p.link_bandwidth["chip_to_chip"], e.chip_to_chip_byte if e else 0.0))
                link = pair_link[key]
        plan_edges.append(PlanEdge(ed.src, ed.dst, ed.kind, ed.tap, nbytes, link, ed.tensor))
    required = sum(w + b for w, b in sizes) + (0 if analog else p.code_per_tile_bytes * int(minimum.sum()))
    occ = [u.occupancy for u in placements if u.capacity_bytes]
    largest = max(range(len(units)), key=lambda k: sum(sizes[k]))
    verdict = MemoryVerdict(
        required_bytes=float(required), capacity_bytes=float(p.capacity_bytes),
        units_needed=int(minimum.sum()), units_used=int(alloc.sum()), units_available=p.total_tiles * apt,
        unit_word=p.memory_units, largest=units[largest].name, largest_bytes=float(sum(sizes[largest])),
        overflow_bytes=0.0, occupancy=_occupancy(occ))
    note = f"{replicas} replica{'s' if replicas > 1 else ''} of {stages} chip{'s' if stages > 1 else ''} each"
    return Placement(
        style="pipelined", graph=g, profile=p, options=options, fits=True, feasible=True, strategy="pipelined",
        note=note, replicas=replicas, chips_per_replica=stages, memory=verdict, units=tuple(placements),
        nodes=tuple(nodes), edges=tuple(plan_edges), links=tuple(links),
        outputs=tuple((n, it) for n, it, _ in output_refs(g, list(range(len(g.nodes))))),
        sync_s=p.sync_for(stages), meta={"stages": stages})


def _occupancy(occ: list[float]) -> dict[str, float]:
    if not occ:
        return {"min": 0.0, "mean": 0.0, "max": 0.0}
    return {"min": float(min(occ)), "mean": float(np.mean(occ)), "max": float(max(occ))}


def _infeasible(g, p, options, units, sizes, minimum, why) -> Placement:
    """A crossbar graph that does not fit: weights cannot be rewritten per frame."""
    budget = p.total_arrays
    largest = max(range(len(units)), key=lambda k: sum(sizes[k]))
    verdict = MemoryVerdict(
        required_bytes=float(sum(b for _, b in sizes)), capacity_bytes=float(p.capacity_bytes),
        units_needed=int(minimum.sum()), units_used=0, units_available=budget, unit_word=p.memory_units,
        largest=units[largest].name, largest_bytes=float(sum(sizes[largest])),
        overflow_bytes=float(max(0, int(minimum.sum()) - budget)), occupancy=_occupancy([]))
    return infeasible(g, p, options, "pipelined", verdict,
                      f"infeasible: the graph {why}, and weights cannot be rewritten per frame")
