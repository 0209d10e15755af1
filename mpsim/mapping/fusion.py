"""Group nodes into units: the tile sets (or operations) that execute them.

The paper assumes every layer other than a convolution is fused with one (section 2.3); a
unit is therefore a weight layer plus the operators that follow it.  A non-weight node joins
the unit of the node that writes its first input, if both sit in the same loop region and the
units still form a graph without cycles within an iteration: a fused operation must never wait
for itself (two branches that exchange data, each fused into one of the other's producers).
"""

from __future__ import annotations

from dataclasses import dataclass

from mpsim.ir.graph import Graph, split_iter_name
from mpsim.ir.ops import is_weight_layer


@dataclass(frozen=True)
class Unit:
    name: str
    nodes: tuple[int, ...]  # node positions in the graph, topological order
    loop: str | None  # the loop region the unit belongs to


def fuse(g: Graph, elementwise: bool = True) -> tuple[list[Unit], list[int]]:
    """Return the units and, for every node position, the index of its unit. ``elementwise=False``
    (a profile's ``compute.fused_elementwise: false``, e.g. eager PyTorch) makes every node a
    unit of its own."""
    pos = {n.name: i for i, n in enumerate(g.nodes)}
    loop_of = g.loop_of
    carried_init = {c.body_input: None for lp in g.loops for c in lp.carried}
    unit_of: list[int] = []
    members: list[list[int]] = []
    reach: list[int] = []  # per unit: bitset of the units it feeds, directly or not
    anc: list[int] = []  # per unit: bitset of the units feeding it

    def link(src: int, dst: int) -> None:
        if src == dst or reach[src] >> dst & 1:
            return
        down, up = (1 << dst) | reach[dst], (1 << src) | anc[src]
        for a in _bits(up):
            reach[a] |= down
        for d in _bits(down):
            anc[d] |= up

    for i, n in enumerate(g.nodes):
        sources = set()
        for t in n.inputs:
            if t in carried_init:
                continue  # the previous iteration's state: no edge within an iteration
            w = g.producer.get(t) or g.producer.get(split_iter_name(t)[0])
            if w is not None:
                sources.add(unit_of[pos[w]])
        host = None
        if elementwise and not is_weight_layer(n.op) and n.inputs and n.inputs[0] not in carried_init:
            first = n.inputs[0]
            writer = g.producer.get(first)
            if writer is not None and loop_of.get(writer) == loop_of.get(n.name):
                cand = unit_of[pos[writer]]
                if not any(reach[cand] >> s & 1 for s in sources if s != cand):
                    host = cand
        if host is None:
            members.append([i])
            reach.append(0)
            anc.append(0)
            host = len(members) - 1
        else:
            members[host].append(i)
        unit_of.append(host)
        for s in sources:
            link(s, host)
    units = [Unit(g.nodes[m[0]].name, tuple(m), loop_of.get(g.nodes[m[0]].name)) for m in members]
    return units, unit_of


def _bits(x: int):
    """Indices of the set bits of x."""
    while x:
        low = x & -x
        yield low.bit_length() - 1
        x ^= low
