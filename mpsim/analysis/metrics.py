"""Static metrics of a graph, as the ItNet paper defines them (section 2.3).

Each function is an analysis pass that takes a ``Graph`` and returns plain numbers; ``stats``
bundles them in the dict that ``mpsim stats --json`` writes.
"""

from __future__ import annotations

from typing import Any

from mpsim.ir.graph import Graph, split_iter_name
from mpsim.ir.loops import unroll
from mpsim.ir.ops import is_weight_layer


def param_count(g: Graph) -> int:
    """Distinct parameters: a weight read by many nodes (or iterations) counts once."""
    used = {w for n in g.nodes for w in g.param_names(n)}
    return sum(g.weights[w].numel for w in used)


def _ancestors(g: Graph, tensor: str, memo: dict[str, frozenset[str]]) -> frozenset[str]:
    """Names of the nodes an (unrolled) tensor depends on, itself included."""
    writer = g.producer.get(tensor)
    if writer is None:
        return frozenset()
    if writer in memo:
        return memo[writer]
    stack = [writer]
    seen: set[str] = set()
    while stack:
        u = stack.pop()
        if u in seen:
            continue
        seen.add(u)
        for t in g.node_by_name[u].inputs:
            w = g.producer.get(t)
            if w is not None and w not in seen:
                stack.append(w)
    memo[writer] = frozenset(seen)
    return memo[writer]


def macs_per_output(g: Graph) -> tuple[list[int], list[int]]:
    """(MACs to produce m_n alone, MACs to produce m_1..m_n together), by output index."""
    u = unroll(g)
    memo: dict[str, frozenset[str]] = {}
    per, cumulative = [], []
    seen: set[str] = set()
    for o in sorted(u.outputs, key=lambda o: o.index):
        anc = _ancestors(u, o.tensor, memo)
        per.append(sum(u.node_by_name[n].macs for n in anc))
        seen |= anc
        cumulative.append(sum(u.node_by_name[n].macs for n in seen))
    return per, cumulative


def _tensor_bytes(g: Graph, t: str) -> int:
    spec = g.tensors.get(t) or g.tensors[split_iter_name(t)[0]]
    return spec.nbytes


def graph_size_bytes(g: Graph, only: set[str] | None = None) -> int:
    """Sum over convolution (and linear) layers of parameter + input + output bytes.

    Other layers are assumed fused (paper, 2.3).  A folded loop's body counts once; a weight
    group counts all its members, since every iteration's copy is stored.  ``only``: count
    just these nodes (the part of the graph an early exit needs).
    """
    total = 0
    for n in g.nodes:
        if not is_weight_layer(n.op) or (only is not None and n.name not in only):
            continue
        total += sum(g.weights[w].nbytes for w in g.param_names(n))
        total += sum(_tensor_bytes(g, t) for t in n.inputs)
        total += sum(_tensor_bytes(g, t) for t in n.outputs)
    return total


def depth_per_output(g: Graph) -> list[int]:
    """Convolution layers on the longest input-to-output path of each output (paper's latency)."""
    u = unroll(g)
    depth: dict[str, int] = {t: 0 for t in u.inputs}
    for n in u.nodes:
        d = max((depth.get(t, 0) for t in n.inputs), default=0) + (1 if is_weight_layer(n.op) else 0)
        for t in n.outputs:
            depth[t] = d
    return [depth[o.tensor] for o in sorted(u.outputs, key=lambda o: o.index)]


def state_bytes(g: Graph) -> int:
    """Bytes of loop-carried state: what a folded loop feeds back between iterations."""
    return sum(g.tensors[c.body_output].nbytes for lp in g.loops for c in lp.carried)


def stats(g: Graph) -> dict[str, Any]:
    per, cum = macs_per_output(g)
    return {
        "name": g.name,
        "params": param_count(g),
        "macs_per_output": per,
        "macs_cumulative": cum,
        "graph_size_bytes": {"folded": graph_size_bytes(g), "unrolled": graph_size_bytes(unroll(g))},
        "depth_per_output": depth_per_output(g),
        "state_bytes": state_bytes(g),
        "nodes": {"folded": len(g.nodes), "unrolled": len(unroll(g).nodes)},
        "loops": [{"name": lp.name, "trip_count": lp.trip_count, "body_nodes": len(lp.body)} for lp in g.loops],
    }
