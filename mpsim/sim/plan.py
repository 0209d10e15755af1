"""The simulation plan: flat arrays that both engines (SimPy and compiled) consume.

Building it once, from the graph and the placement, is what makes the two engines agree to
the last bit: they read the same service and transfer times and apply the same rules.

Edges are typed by how a firing of the consumer at iteration i finds its producer:

* PLAIN      same frame, same iteration (or both outside loops);
* CARRIED    the producer's previous iteration (loop feedback), for i > 0;
* INIT       outside the loop -> iteration 0 only (the carried state's initial value);
* INVARIANT  outside the loop -> every iteration (delivered once per frame);
* TAP        a body tensor of iteration ``tap`` -> a node outside the loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mpsim.errors import MpsimError
from mpsim.hw.profile import Profile
from mpsim.ir.graph import Graph, split_iter_name
from mpsim.ir.loops import unroll
from mpsim.ir.ops import is_weight_layer
from mpsim.mapping.fusion import fuse
from mpsim.mapping.mapper import NUMERIC_BITS, NUMERIC_BYTES, Placement
from mpsim.mapping.work import tensor_bytes, vector_ops

PLAIN, CARRIED, INIT, INVARIANT, TAP = range(5)
SOURCE = -1
SAME_UNIT = -1
LINK_CLASSES = ("on_tile", "exchange", "chip_to_chip", "offchip", "host")


@dataclass(frozen=True)
class SimPlan:
    name: str
    strategy: str  # spatial | fallback | layer_by_layer
    node_names: tuple[str, ...]
    unit_of: np.ndarray  # int64 [nodes]
    unit_names: tuple[str, ...]
    service_s: np.ndarray  # float64 [nodes], seconds per firing
    trips: np.ndarray  # int64 [nodes]: firings per frame (loop trip count, or 1)
    loop_of: np.ndarray  # int64 [nodes]: loop index or -1
    loop_trips: np.ndarray  # int64 [loops]
    # edges
    e_src: np.ndarray  # int64: producer node or SOURCE
    e_dst: np.ndarray
    e_kind: np.ndarray
    e_tap: np.ndarray  # iteration for TAP edges, else -1
    e_link: np.ndarray  # link index or SAME_UNIT
    e_time: np.ndarray  # seconds on the link
    e_bytes: np.ndarray  # float64
    link_names: tuple[str, ...]
    link_class: np.ndarray  # int64 index into LINK_CLASSES
    # outputs m_1..m_K: producing node and iteration (-1 outside loops)
    out_node: np.ndarray
    out_iter: np.ndarray
    # per firing accounting
    local_bytes: np.ndarray  # float64 [nodes]: bytes read/written in tile memory
    offchip_bytes: np.ndarray  # float64 [nodes]: bytes moved to/from off-chip memory
    energy_compute_j: np.ndarray  # float64 [nodes]
    energy_conversion_j: np.ndarray  # float64 [nodes] (analog ADC)
    link_energy_j_per_byte: np.ndarray  # float64 [links]
    local_energy_j_per_byte: float
    offchip_energy_j_per_byte: float
    level_trips: np.ndarray  # int64 [outputs, nodes]: firings per frame when it exits after m_k (row k-1)
    window: int  # frames in flight when no rate is offered
    bottleneck_s: float  # largest per-frame busy time of a unit or link
    meta: dict = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return len(self.node_names)

    @property
    def n_units(self) -> int:
        return len(self.unit_names)

    @property
    def n_outputs(self) -> int:
        return len(self.out_node)


def _resolve(g: Graph, t: str) -> tuple[str | None, int]:
    """(writer node name, tap iteration or -1) of a tensor reference."""
    if t in g.producer:
        return g.producer[t], -1
    base, it = split_iter_name(t)
    if it is not None and base in g.producer:
        return g.producer[base], it
    return None, -1


def _edges(g: Graph) -> list[tuple[int, int, int, int, str]]:
    """(src, dst, kind, tap, tensor) for every distinct tensor a node reads."""
    pos = {n.name: i for i, n in enumerate(g.nodes)}
    loop_of = g.loop_of
    carried = {c.body_input: c for lp in g.loops for c in lp.carried}
    out = []
    for j, n in enumerate(g.nodes):
        in_loop = loop_of.get(n.name)
        for t in dict.fromkeys(n.inputs):
            if t in carried:
                c = carried[t]
                w, tap = _resolve(g, c.init)
                src = SOURCE if w is None else pos[w]
                out.append((src, j, INIT, tap, c.init))
                out.append((pos[g.producer[c.body_output]], j, CARRIED, -1, c.body_output))
                continue
            w, tap = _resolve(g, t)
            if w is None:
                out.append((SOURCE, j, INVARIANT if in_loop else PLAIN, -1, t))
            elif tap >= 0:
                if in_loop:
                    raise MpsimError(f"node '{n.name}' inside a loop reads another loop's tensor '{t}'")
                out.append((pos[w], j, TAP, tap, t))
            elif loop_of.get(w) == in_loop:
                out.append((pos[w], j, PLAIN, -1, t))
            else:
                out.append((pos[w], j, INVARIANT, -1, t))
    return out


def _act_bits(p: Profile) -> int:
    return min(8, NUMERIC_BITS[p.numerics.activations])


def _compute_energy(g: Graph, i: int, p: Profile) -> tuple[float, float]:
    """(compute, conversion) joules of one firing of node i."""
    e = p.energy
    if e is None:
        return 0.0, 0.0
    n = g.nodes[i]
    if p.kind == "crossbar" and is_weight_layer(n.op):
        xb = p.crossbar
        out = g.tensors[n.outputs[0]].shape
        mvms = int(np.prod(out)) // out[1] if n.op == "conv2d" else int(np.prod(out[:-1]))
        passes = math.ceil(_act_bits(p) / max(1, xb.dac_bits))
        cols = out[1] if n.op == "conv2d" else out[-1]
        cells = math.ceil(xb.weight_bits / xb.bits_per_cell) * 2
        arrays = max(1, math.ceil(n.param_count / (xb.rows * xb.cols / cells)))
        return mvms * passes * arrays * e.crossbar_mvm, mvms * passes * cols * e.adc_conversion
    return n.macs * e.mac + vector_ops(g, n) * e.mac * 0.1, 0.0


def level_trips(g: Graph, trips: np.ndarray) -> np.ndarray:
    """Firings of every node when a frame exits early, after output m_k (row k - 1).

    Outside loops a node fires if some output m_1..m_k depends on it; a loop runs whole
    iterations, as many as the last one any of m_1..m_k needs.  The last row is the full
    run (every node, dead ends included, as the compiled program would).
    """
    u = unroll(g)
    outs = sorted(u.outputs, key=lambda o: o.index)
    loop_index = {lp.name: k for k, lp in enumerate(g.loops)}
    body_loop = {n: loop_index[lp] for n, lp in g.loop_of.items()}
    rows = np.zeros((len(outs), len(g.nodes)), dtype=np.int64)
    needed: set[str] = set()
    for k, o in enumerate(outs):
        stack = [u.producer[o.tensor]] if o.tensor in u.producer else []
        while stack:
            name = stack.pop()
            if name in needed:
                continue
            needed.add(name)
            stack.extend(u.producer[t] for t in u.node_by_name[name].inputs if t in u.producer)
        iters = np.zeros(len(g.loops), dtype=np.int64)
        for name in needed:
            base, it = split_iter_name(name)
            if it is not None and base in body_loop:
                iters[body_loop[base]] = max(iters[body_loop[base]], it + 1)
        for j, n in enumerate(g.nodes):
            lp = body_loop.get(n.name)
            rows[k, j] = iters[lp] if lp is not None else int(n.name in needed)
    rows[-1] = trips
    return rows


def _window(service_total: float, bottleneck: float) -> int:
    return max(2, int(math.ceil(service_total / max(bottleneck, 1e-30))) + 2)


def build_spatial_plan(g: Graph, pl: Placement, p: Profile) -> SimPlan:
    """Plan for a graph that fits: every unit on its own tiles, frames pipelined."""
    a_bytes, w_bytes = pl.act_bytes, NUMERIC_BYTES[p.numerics.weights]
    loops = {lp.name: k for k, lp in enumerate(g.loops)}
    loop_of = np.array([loops.get(g.loop_of.get(n.name), -1) for n in g.nodes], dtype=np.int64)
    loop_trips = np.array([lp.trip_count for lp in g.loops], dtype=np.int64)
    trips = np.array([loop_trips[k] if k >= 0 else 1 for k in loop_of], dtype=np.int64)
    unit_of = np.array(pl.unit_of, dtype=np.int64)
    bw = p.link_bandwidth
    link_names = [f"{u.name}.out" for u in pl.units] + [f"chip{c}.link" for c in range(p.chips)] + ["host"]
    link_class = [1] * len(pl.units) + [2] * p.chips + [4]
    link_bw = [max(1, u.tiles) * bw["exchange"] for u in pl.units] + [bw["chip_to_chip"]] * p.chips + [bw["host"]]
    host = len(link_names) - 1
    e = p.energy
    per_class_energy = {1: e.exchange_byte if e else 0.0, 2: e.chip_to_chip_byte if e else 0.0,
                        4: e.offchip_byte if e else 0.0}
    rows = []
    for src, dst, kind, tap, t in _edges(g):
        nbytes = float(tensor_bytes(g, t, a_bytes))
        if src == SOURCE:
            link = host
        elif unit_of[src] == unit_of[dst]:
            link = SAME_UNIT
        else:
            su, du = pl.units[unit_of[src]], pl.units[unit_of[dst]]
            link = int(unit_of[src]) if su.chip == du.chip else len(pl.units) + su.chip
        time = 0.0 if link == SAME_UNIT else nbytes / link_bw[link]
        rows.append((src, dst, kind, tap, link, time, nbytes))
    local = []
    for n in g.nodes:
        wb = sum(g.weights[w].numel for w in g.param_names(n, 0 if n.name in g.loop_of else None)) * w_bytes
        io = sum(tensor_bytes(g, t, a_bytes) for t in list(n.inputs) + list(n.outputs))
        local.append(float(wb + io))
    energies = [_compute_energy(g, i, p) for i in range(len(g.nodes))]
    # Bottleneck: the busiest unit or link per frame.
    busy_units = np.array([u.busy_per_frame_s for u in pl.units])
    link_busy = np.zeros(len(link_names))
    for src, dst, kind, tap, link, time, nbytes in rows:
        if link != SAME_UNIT:
            mult = 1 if kind in (INIT, INVARIANT, TAP) or src == SOURCE else int(trips[dst])
            if kind == CARRIED:
                mult = int(trips[dst]) - 1
            link_busy[link] += time * mult
    bottleneck = float(max(busy_units.max(initial=0.0), link_busy.max(initial=0.0)))
    out_node, out_iter = _outputs(g)
    return SimPlan(
        name=g.name, strategy="spatial", node_names=tuple(n.name for n in g.nodes), unit_of=unit_of,
        unit_names=tuple(u.name for u in pl.units), service_s=np.array(pl.service_s, dtype=np.float64),
        trips=trips, loop_of=loop_of, loop_trips=loop_trips,
        e_src=np.array([r[0] for r in rows], dtype=np.int64), e_dst=np.array([r[1] for r in rows], dtype=np.int64),
        e_kind=np.array([r[2] for r in rows], dtype=np.int64), e_tap=np.array([r[3] for r in rows], dtype=np.int64),
        e_link=np.array([r[4] for r in rows], dtype=np.int64), e_time=np.array([r[5] for r in rows], dtype=np.float64),
        e_bytes=np.array([r[6] for r in rows], dtype=np.float64), link_names=tuple(link_names),
        link_class=np.array(link_class, dtype=np.int64), out_node=out_node, out_iter=out_iter,
        local_bytes=np.array(local), offchip_bytes=np.zeros(len(g.nodes)),
        energy_compute_j=np.array([x[0] for x in energies]), energy_conversion_j=np.array([x[1] for x in energies]),
        link_energy_j_per_byte=np.array([per_class_energy.get(c, 0.0) for c in link_class]),
        local_energy_j_per_byte=e.sram_byte if e else 0.0, offchip_energy_j_per_byte=e.offchip_byte if e else 0.0,
        level_trips=level_trips(g, trips),
        window=_window(float(np.sum(pl.service_s * trips)) + float(np.sum([r[5] for r in rows])), bottleneck),
        bottleneck_s=bottleneck,
    )


def _outputs(g: Graph) -> tuple[np.ndarray, np.ndarray]:
    pos = {n.name: i for i, n in enumerate(g.nodes)}
    nodes, iters = [], []
    for o in sorted(g.outputs, key=lambda o: o.index):
        w, tap = _resolve(g, o.tensor)
        if w is None:
            raise MpsimError(f"output m_{o.index} is a graph input; nothing to simulate")
        nodes.append(pos[w])
        iters.append(tap)
    return np.array(nodes, dtype=np.int64), np.array(iters, dtype=np.int64)


def build_sequential_plan(g: Graph, p: Profile, strategy: str) -> SimPlan:
    """Plan for CPU/GPU-like execution: steps run one after another on the whole machine.

    ``layer_by_layer`` (gpu kind): every fused unit of the unrolled graph is a step that reads
    its weights and inputs from off-chip memory and writes its outputs back (roofline time,
    plus a launch).  ``fallback`` (a graph too large for the tiles): the unrolled units are
    packed in order into parts that fit; each part reloads its weights and boundary
    activations from off-chip memory for every frame.
    """
    u = unroll(g)
    units, _ = fuse(u)
    a_bytes, w_bytes = NUMERIC_BYTES[p.numerics.activations], NUMERIC_BYTES[p.numerics.weights]
    compute_rate = p.total_tiles * p.tile_macs_per_s
    vector_rate = p.total_tiles * p.tile_vector_ops_per_s
    offchip_bw = p.link_bandwidth["offchip"]
    producer_unit = {}
    for k, un in enumerate(units):
        for i in un.nodes:
            for t in u.nodes[i].outputs:
                producer_unit[t] = k

    def unit_cost(k: int) -> tuple[float, float, dict[str, int]]:
        nodes = [u.nodes[i] for i in units[k].nodes]
        macs = sum(n.macs for n in nodes)
        vec = sum(vector_ops(u, n) for n in nodes)
        weights = {w: u.weights[w].numel * w_bytes for n in nodes for w in n.params.values()}
        return macs / compute_rate + vec / vector_rate, float(sum(n.macs for n in nodes)), weights

    groups: list[list[int]] = []
    if strategy == "layer_by_layer":
        groups = [[k] for k in range(len(units))]
    else:
        cap, used, seen = p.capacity_bytes, 0.0, set()
        for k, un in enumerate(units):
            _, _, wts = unit_cost(k)
            nodes = [u.nodes[i] for i in un.nodes]
            act = sum(tensor_bytes(u, t, a_bytes) for n in nodes for t in set(n.inputs) | set(n.outputs))
            need = act + sum(b for w, b in wts.items() if w not in seen)
            if groups and used + need <= cap:
                groups[-1].append(k)
                used += need
            else:
                groups.append([k])
                used, seen = need, set()
            seen |= set(wts)
    names, service, offchip, local, e_comp = [], [], [], [], []
    unit_step = {}
    e = p.energy
    for s, grp in enumerate(groups):
        compute, weights, macs = 0.0, {}, 0.0
        for k in grp:
            c, m, w = unit_cost(k)
            compute += c
            macs += m
            weights.update(w)
            unit_step[k] = s
        inside = {t for k in grp for i in units[k].nodes for t in u.nodes[i].outputs}
        ins = {t for k in grp for i in units[k].nodes for t in u.nodes[i].inputs if t not in inside}
        consumed_later = set()
        for k2 in range(grp[-1] + 1, len(units)):
            consumed_later |= {t for i in units[k2].nodes for t in u.nodes[i].inputs}
        outs = {t for t in inside if t in consumed_later or t in {o.tensor for o in u.outputs}}
        moved = sum(weights.values()) + sum(tensor_bytes(u, t, a_bytes) for t in ins | outs)
        if strategy == "layer_by_layer":
            t = p.launch_s + max(compute, moved / offchip_bw)
        else:
            t = moved / offchip_bw + compute + p.sync_s
        names.append(units[grp[0]].name if len(grp) == 1 else f"part{s}:{units[grp[0]].name}..")
        service.append(max(t, 1.0 / p.clock_hz))
        offchip.append(float(moved))
        local.append(float(sum(tensor_bytes(u, t, a_bytes) for t in inside)))
        e_comp.append(macs * (e.mac if e else 0.0))
    n = len(groups)
    # A chain: the source feeds step 0 over the host link, each step feeds the next on chip.
    src = [SOURCE] + list(range(n - 1))
    dst = list(range(n))
    in_bytes = float(sum(tensor_bytes(u, t, a_bytes) for t in u.inputs))
    e_time = [in_bytes / p.link_bandwidth["host"]] + [0.0] * (n - 1)
    e_link = [0] + [SAME_UNIT] * (n - 1)
    out_node = []
    for o in sorted(u.outputs, key=lambda o: o.index):
        out_node.append(unit_step[producer_unit[o.tensor]])
    total = float(sum(service))
    return SimPlan(
        name=g.name, strategy=strategy, node_names=tuple(names), unit_of=np.zeros(n, dtype=np.int64),
        unit_names=("machine",), service_s=np.array(service), trips=np.ones(n, dtype=np.int64),
        loop_of=np.full(n, -1, dtype=np.int64), loop_trips=np.zeros(0, dtype=np.int64),
        e_src=np.array(src, dtype=np.int64), e_dst=np.array(dst, dtype=np.int64),
        e_kind=np.zeros(n, dtype=np.int64), e_tap=np.full(n, -1, dtype=np.int64),
        e_link=np.array(e_link, dtype=np.int64), e_time=np.array(e_time), e_bytes=np.array([in_bytes] + [0.0] * (n - 1)),
        link_names=("host",), link_class=np.array([4], dtype=np.int64),
        out_node=np.array(out_node, dtype=np.int64), out_iter=np.full(len(out_node), -1, dtype=np.int64),
        local_bytes=np.array(local), offchip_bytes=np.array(offchip), energy_compute_j=np.array(e_comp),
        energy_conversion_j=np.zeros(n), link_energy_j_per_byte=np.array([e.offchip_byte if e else 0.0]),
        local_energy_j_per_byte=e.sram_byte if e else 0.0, offchip_energy_j_per_byte=e.offchip_byte if e else 0.0,
        level_trips=(np.arange(n)[None, :] <= np.maximum.accumulate(np.array(out_node))[:, None]).astype(np.int64),
        window=1, bottleneck_s=max(total, e_time[0]), meta={"parts": n},
    )
