"""Group nodes into units: the tile sets that execute them.

The paper assumes every layer other than a convolution is fused with one (section 2.3); a
unit is therefore a weight layer plus the operators that follow it.  A non-weight node joins
the unit of the node that writes its first input, if both sit in the same loop region.
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


def fuse(g: Graph) -> tuple[list[Unit], list[int]]:
    """Return the units and, for every node position, the index of its unit."""
    pos = {n.name: i for i, n in enumerate(g.nodes)}
    loop_of = g.loop_of
    carried_init = {c.body_input: None for lp in g.loops for c in lp.carried}
    unit_of: list[int] = []
    members: list[list[int]] = []
    for i, n in enumerate(g.nodes):
        host = None
        if not is_weight_layer(n.op) and n.inputs:
            first = n.inputs[0]
            if first not in carried_init:
                writer = g.producer.get(first) or g.producer.get(split_iter_name(first)[0])
                if writer is not None and loop_of.get(writer) == loop_of.get(n.name) and first in g.producer:
                    host = unit_of[pos[writer]]
        if host is None:
            members.append([i])
            unit_of.append(len(members) - 1)
        else:
            members[host].append(i)
            unit_of.append(host)
    units = [Unit(g.nodes[m[0]].name, tuple(m), loop_of.get(g.nodes[m[0]].name)) for m in members]
    return units, unit_of
