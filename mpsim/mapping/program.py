"""From a graph and a grouping of its nodes to plan edges: what every firing waits for.

Edges are typed by how a firing of the consumer at iteration i finds its producer:

* PLAIN      same frame, same iteration (or both outside loops);
* CARRIED    the producer's previous iteration (loop feedback), for i > 0;
* INIT       outside the loop -> iteration 0 only (the carried state's initial value);
* INVARIANT  outside the loop -> every iteration (delivered once per frame);
* TAP        a body tensor of iteration ``tap`` -> a node outside the loop.

A plan node may group several graph nodes (a fused operation); edges between members of one
group disappear, the rest keep their type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mpsim.errors import MpsimError
from mpsim.ir.graph import Graph, split_iter_name
from mpsim.mapping.placement import SOURCE
from mpsim.mapping.work import tensor_bytes

PLAIN, CARRIED, INIT, INVARIANT, TAP = range(5)


@dataclass(frozen=True)
class GraphEdge:
    src: int  # plan node, or SOURCE
    dst: int
    kind: int
    tap: int
    tensor: str


def resolve_tensor(g: Graph, t: str) -> tuple[str | None, int]:
    """(writer node name, tap iteration or -1) of a tensor reference."""
    if t in g.producer:
        return g.producer[t], -1
    base, it = split_iter_name(t)
    if it is not None and base in g.producer:
        return g.producer[base], it
    return None, -1


def _node_edges(g: Graph) -> list[tuple[int, int, int, int, str]]:
    """(src node, dst node, kind, tap, tensor) for every distinct tensor a graph node reads."""
    pos = {n.name: i for i, n in enumerate(g.nodes)}
    loop_of = g.loop_of
    carried = {c.body_input: c for lp in g.loops for c in lp.carried}
    out = []
    for j, n in enumerate(g.nodes):
        in_loop = loop_of.get(n.name)
        for t in dict.fromkeys(n.inputs):
            if t in carried:
                c = carried[t]
                w, tap = resolve_tensor(g, c.init)
                out.append((SOURCE if w is None else pos[w], j, INIT, tap, c.init))
                out.append((pos[g.producer[c.body_output]], j, CARRIED, -1, c.body_output))
                continue
            w, tap = resolve_tensor(g, t)
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


def grouped_edges(g: Graph, group_of: list[int]) -> list[GraphEdge]:
    """Edges between plan nodes (``group_of[graph node] = plan node``); one per distinct
    (source, destination, kind, tap, tensor), none inside a group."""
    seen: dict[tuple, GraphEdge] = {}
    for src, dst, kind, tap, t in _node_edges(g):
        s = SOURCE if src == SOURCE else group_of[src]
        d = group_of[dst]
        if s == d and kind == PLAIN:
            continue  # inside one operation
        key = (s, d, kind, tap, t)
        seen.setdefault(key, GraphEdge(s, d, kind, tap, t))
    return list(seen.values())


def output_refs(g: Graph, group_of: list[int]) -> list[tuple[int, int, str]]:
    """(plan node, iteration or -1, tensor) of every output m_1..m_K, in order."""
    pos = {n.name: i for i, n in enumerate(g.nodes)}
    refs = []
    for o in sorted(g.outputs, key=lambda o: o.index):
        w, tap = resolve_tensor(g, o.tensor)
        if w is None:
            raise MpsimError(f"output m_{o.index} is a graph input; nothing to simulate")
        refs.append((group_of[pos[w]], tap, o.tensor))
    return refs


def fires_per_frame(g: Graph) -> list[int]:
    """Firings per frame of every graph node: its loop's trip count, or 1."""
    trips = {lp.name: lp.trip_count for lp in g.loops}
    return [trips.get(g.loop_of.get(n.name), 1) for n in g.nodes]


def edge_firings(kind: int, dst_trips: int) -> int:
    """How often an edge carries data per frame."""
    if kind == PLAIN:
        return dst_trips
    if kind == CARRIED:
        return max(0, dst_trips - 1)
    return 1


def cut_bytes(g: Graph, edges: list[GraphEdge], group_of: list[int], bits: int, batch: int, n: int) -> np.ndarray:
    """Bytes per frame crossing a cut just before group c of ``n`` groups in topological order
    (a loop's edges count every firing): what a chip boundary there would carry."""
    fires = fires_per_frame(g)
    crossing = np.zeros(n + 1)
    for e in edges:
        if e.src == SOURCE:
            continue
        a, b = sorted((group_of[e.src], group_of[e.dst]))
        if a != b:
            crossing[a + 1:b + 1] += batch * tensor_bytes(g, e.tensor, bits) * edge_firings(e.kind, fires[e.dst])
    return crossing

