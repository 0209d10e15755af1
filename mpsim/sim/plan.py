"""The simulation plan: flat arrays that both engines (SimPy and compiled) consume.

``build_plan`` turns any placement (``mpsim.mapping.placement.Placement``, whatever its style)
into these arrays, adding the host: a ``host.in`` unit whose one firing per frame moves the
frame's input across the host link (once, however many units read it) and a ``host.out`` unit
that returns every output m_k (class labels or whole tensors). Replicas share the host links and
are fed in turn: the simulated replica's transfer runs at the link's full bandwidth, and a
second firing on the same unit ("other replicas") holds the link for the R - 1 other replicas'
transfers, so latency is a single transfer's and throughput sees the shared link. Building the
plan once is what makes the two engines agree to the last bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mpsim.ir.graph import Graph, iter_name, split_iter_name
from mpsim.ir.loops import unroll
from mpsim.mapping.placement import INSIDE, SOURCE, Placement
from mpsim.mapping.program import CARRIED, INIT, INVARIANT, PLAIN, TAP, edge_firings, fires_per_frame
from mpsim.mapping.work import tensor_spec

SAME_UNIT = INSIDE
LINK_CLASSES = ("on_tile", "exchange", "chip_to_chip", "offchip", "host")
UNIT_KINDS = ("compute", "host_in", "host_out")
PARTS = ("overhead", "compute", "sync", "exchange")

__all__ = ["CARRIED", "INIT", "INVARIANT", "LINK_CLASSES", "PLAIN", "SAME_UNIT", "SOURCE", "TAP", "SimPlan",
           "build_plan", "level_trips", "output_bytes"]


@dataclass(frozen=True)
class SimPlan:
    name: str
    strategy: str  # pipelined | sequential | layer_by_layer | fallback
    node_names: tuple[str, ...]
    unit_of: np.ndarray  # int64 [nodes]
    unit_names: tuple[str, ...]
    unit_kind: np.ndarray  # int64 [units]: index into UNIT_KINDS
    service_s: np.ndarray  # float64 [nodes], seconds per firing
    service_parts: np.ndarray  # float64 [nodes, 4]: PARTS of service_s
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
    # outputs m_1..m_K: the node that completes each (its return to the host) and its iteration
    out_node: np.ndarray
    out_iter: np.ndarray
    # per firing accounting
    local_bytes: np.ndarray  # float64 [nodes]: bytes read/written in tile memory
    offchip_bytes: np.ndarray  # float64 [nodes]: bytes moved to/from off-chip memory
    host_bytes: np.ndarray  # float64 [nodes]: bytes over the host link
    energy_compute_j: np.ndarray  # float64 [nodes]
    energy_conversion_j: np.ndarray  # float64 [nodes] (analog ADC)
    energy_move_j: np.ndarray  # float64 [nodes]: tile-memory, off-chip and host movement of one firing
    link_energy_j_per_byte: np.ndarray  # float64 [links]
    level_trips: np.ndarray  # int64 [outputs, nodes]: firings per frame when it exits after m_k (row k-1)
    window: int  # frames in flight when no rate is offered
    bottleneck_s: float  # largest per-frame busy time of a unit or link
    sync_s: float = 0.0  # one BSP synchronisation (spans the replica's chips)
    replicas: int = 1
    batch: int = 1
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


def level_trips(g: Graph, trips: np.ndarray) -> np.ndarray:
    """Firings of every node when a frame exits early, after output m_k (row k - 1).

    Outside loops a node fires if some output m_1..m_k depends on it; a loop runs whole
    iterations, as many as the last one any of m_1..m_k needs, and so needs the inputs of
    every node of those iterations too.  The last row is the full run (every node, dead ends
    included, as the compiled program would).
    """
    u = unroll(g)
    outs = sorted(u.outputs, key=lambda o: o.index)
    loop_index = {lp.name: k for k, lp in enumerate(g.loops)}
    body_loop = {n: loop_index[lp] for n, lp in g.loop_of.items()}
    rows = np.zeros((len(outs), len(g.nodes)), dtype=np.int64)
    needed: set[str] = set()
    iters = np.zeros(len(g.loops), dtype=np.int64)
    for k, o in enumerate(outs):
        stack = [u.producer[o.tensor]] if o.tensor in u.producer else []
        while stack:
            while stack:
                name = stack.pop()
                if name in needed:
                    continue
                needed.add(name)
                stack.extend(u.producer[t] for t in u.node_by_name[name].inputs if t in u.producer)
            for name in needed:
                base, it = split_iter_name(name)
                if it is not None and base in body_loop:
                    iters[body_loop[base]] = max(iters[body_loop[base]], it + 1)
            # Whole iterations: every body node of the iterations that run, and what it reads.
            stack = [iter_name(b, it) for b, lp in body_loop.items() for it in range(int(iters[lp]))
                     if iter_name(b, it) not in needed]
        for j, n in enumerate(g.nodes):
            lp = body_loop.get(n.name)
            rows[k, j] = iters[lp] if lp is not None else int(n.name in needed)
    rows[-1] = trips
    return rows


def output_bytes(g: Graph, tensor: str, activation_bits: int, host_output: str) -> float:
    """Bytes of one output returned to the host for one image: the whole tensor, or (labels) one
    class index per position, in as few whole bytes as the class count needs."""
    spec = tensor_spec(g, tensor)
    if host_output == "tensors" or len(spec.shape) < 2 or spec.shape[1] < 2:
        return spec.numel * activation_bits / 8
    classes = spec.shape[1]
    return spec.numel / classes * max(1, math.ceil(math.log2(classes) / 8))


def build_plan(pl: Placement) -> SimPlan:
    """The engines' arrays for a placement (which must be feasible)."""
    if not pl.feasible:
        raise ValueError("an infeasible placement has nothing to simulate")
    g, p, batch = pl.graph, pl.profile, pl.batch
    e = p.energy
    R = max(1, pl.replicas)
    n_graph_nodes = len(pl.nodes)
    n_out = len(pl.outputs)
    bits = p.precision.activation_bits
    in_bytes = batch * sum(tensor_spec(g, t).numel for t in g.inputs) * bits / 8
    out_sizes = [batch * output_bytes(g, o.tensor, bits, pl.options.host_output)
                 for o in sorted(g.outputs, key=lambda o: o.index)]
    units = [u.name for u in pl.units] + ["host.in", "host.out"]
    u_in, u_out = len(pl.units), len(pl.units) + 1
    unit_kind = [0] * len(pl.units) + [1, 2]
    names = [n.name for n in pl.nodes]
    unit_of = [n.unit for n in pl.nodes]
    parts = [(n.overhead_s, n.compute_s, n.sync_s, n.exchange_s) for n in pl.nodes]
    host = [0.0] * n_graph_nodes
    rows = []  # (src, dst, kind, tap, link, time, bytes)

    def host_node(name: str, unit: int, nbytes: float, bandwidth: float) -> int:
        """A transfer over a host link at full bandwidth, then (R > 1) the other replicas' turn."""
        names.append(name)
        unit_of.append(unit)
        parts.append((0.0, p.host_latency_s + nbytes / bandwidth, 0.0, 0.0))
        host.append(nbytes)
        k = len(names) - 1
        if R > 1:
            names.append(f"{name} (other replicas)")
            unit_of.append(unit)
            parts.append((0.0, (R - 1) * (p.host_latency_s + nbytes / bandwidth), 0.0, 0.0))
            host.append(0.0)  # the other replicas' bytes are theirs: per-frame figures count one replica
            rows.append((k, k + 1, PLAIN, -1, INSIDE, 0.0, 0.0))
        return k

    i_in = host_node("input", u_in, in_bytes, p.link_bandwidth["host_in"])
    rows.insert(0, (SOURCE, i_in, PLAIN, -1, INSIDE, 0.0, 0.0))
    returns = [host_node(f"return m_{k + 1}", u_out, b, p.link_bandwidth["host_out"]) for k, b in enumerate(out_sizes)]
    n_extra = len(names) - n_graph_nodes
    host_e = e.host_byte if e else 0.0
    local = [n.local_bytes for n in pl.nodes] + [0.0] * n_extra
    offchip = [n.offchip_bytes for n in pl.nodes] + [0.0] * n_extra
    e_comp = [n.energy_compute_j for n in pl.nodes] + [0.0] * n_extra
    e_conv = [n.energy_conversion_j for n in pl.nodes] + [0.0] * n_extra
    e_local, e_off = (e.sram_byte, e.offchip_byte) if e else (0.0, 0.0)
    e_move = [a * e_local + b * e_off + c * host_e for a, b, c in zip(local, offchip, host)]
    # Loops: a plan node fires as often as its graph nodes (one loop region per plan node).
    loops = {lp.name: k for k, lp in enumerate(g.loops)}
    loop_trips = np.array([lp.trip_count for lp in g.loops], dtype=np.int64)
    loop_of = [loops.get(g.loop_of.get(g.nodes[n.graph_nodes[0]].name), -1) for n in pl.nodes] + [-1] * n_extra
    trips = np.array([loop_trips[k] if k >= 0 else 1 for k in loop_of], dtype=np.int64)
    # Edges: the frame reaches the input node; the input feeds its readers in place.
    links = list(pl.links)
    for ed in pl.edges:
        src = i_in if ed.src == SOURCE else ed.src
        time = 0.0 if ed.link == INSIDE else links[ed.link].latency_s + ed.nbytes / links[ed.link].bandwidth
        rows.append((src, ed.dst, ed.kind, ed.tap, ed.link, time, ed.nbytes))
    for k, (node, it) in enumerate(pl.outputs):
        rows.append((node, returns[k], TAP if it >= 0 else PLAIN, it, INSIDE, 0.0, out_sizes[k]))
    service = np.array([sum(x) for x in parts], dtype=np.float64)
    link_class = np.array([LINK_CLASSES.index(lk.cls) for lk in links], dtype=np.int64)
    # Bottleneck: the busiest unit or link per frame.
    unit_busy = np.zeros(len(units))
    np.add.at(unit_busy, np.array(unit_of), service * trips)
    link_busy = np.zeros(len(links))
    for src, dst, kind, tap, link, time, nbytes in rows:
        if link != INSIDE:
            link_busy[link] += time * edge_firings(kind, int(trips[dst]))
    bottleneck = float(max(unit_busy.max(initial=0.0), link_busy.max(initial=0.0)))
    total = float(np.sum(service * trips)) + float(sum(r[5] for r in rows))
    if pl.window:
        window = pl.window
    elif pl.strategy == "pipelined":  # enough frames to cover the busiest unit's period
        window = max(2, int(math.ceil(total / max(bottleneck, 1e-30))) + 2)
    else:  # a chain of stages (host in, chips, host out): one frame at each, one waiting
        window = len(units) + 1
    lvl = np.zeros((n_out, len(names)), dtype=np.int64)
    graph_rows = level_trips(g, np.array(fires_per_frame(g), dtype=np.int64))
    for j, n in enumerate(pl.nodes):
        lvl[:, j] = graph_rows[:, list(n.graph_nodes)].max(axis=1)
    lvl[:, i_in:returns[0] if returns else len(names)] = 1  # the input (and its other replicas' turn)
    for k, j in enumerate(returns):
        lvl[k:, j:j + (2 if R > 1 else 1)] = 1
    lvl[-1, :] = trips
    return SimPlan(
        name=g.name, strategy=pl.strategy, node_names=tuple(names), unit_of=np.array(unit_of, dtype=np.int64),
        unit_names=tuple(units), unit_kind=np.array(unit_kind, dtype=np.int64), service_s=service,
        service_parts=np.array(parts, dtype=np.float64), trips=trips,
        loop_of=np.array(loop_of, dtype=np.int64), loop_trips=loop_trips,
        e_src=np.array([r[0] for r in rows], dtype=np.int64), e_dst=np.array([r[1] for r in rows], dtype=np.int64),
        e_kind=np.array([r[2] for r in rows], dtype=np.int64), e_tap=np.array([r[3] for r in rows], dtype=np.int64),
        e_link=np.array([r[4] for r in rows], dtype=np.int64), e_time=np.array([r[5] for r in rows], dtype=np.float64),
        e_bytes=np.array([r[6] for r in rows], dtype=np.float64), link_names=tuple(lk.name for lk in links),
        link_class=link_class, out_node=np.array(returns, dtype=np.int64),
        out_iter=np.full(n_out, -1, dtype=np.int64),
        local_bytes=np.array(local), offchip_bytes=np.array(offchip), host_bytes=np.array(host),
        energy_compute_j=np.array(e_comp), energy_conversion_j=np.array(e_conv), energy_move_j=np.array(e_move),
        link_energy_j_per_byte=np.array([lk.energy_per_byte for lk in links], dtype=np.float64),
        level_trips=lvl, window=int(window), bottleneck_s=bottleneck, sync_s=pl.sync_s, replicas=R, batch=batch,
        meta=dict(pl.meta),
    )
