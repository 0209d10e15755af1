"""Fold an inference batch norm into the convolution before it (shared by both exporters).

A ``batch_norm`` node (y = x*scale + shift per channel) that reads the only output of a
convolution whose weights no other node reads becomes part of that convolution's weight and
bias; anything else keeps the node.
"""

from __future__ import annotations

import numpy as np

from mpsim.ir.graph import Graph, Node, Output, TensorSpec


def _scale_conv(w: np.ndarray, scale: np.ndarray, groups: int) -> np.ndarray:
    return w * scale[:, None, None, None]  # (Cout, Cin/groups, kh, kw)


def _scale_conv_transpose(w: np.ndarray, scale: np.ndarray, groups: int) -> np.ndarray:
    cin, coutg, kh, kw = w.shape  # output channel g*coutg + j is column j of group g's rows
    per_group = np.broadcast_to(scale, (groups * coutg,)).reshape(groups, 1, coutg, 1, 1)
    return (w.reshape(groups, cin // groups, coutg, kh, kw) * per_group).reshape(w.shape)


# Ops whose output channels a following batch norm can be folded into, and how.
_SCALE_OUTPUT = {"conv2d": _scale_conv, "conv_transpose2d": _scale_conv_transpose}


def fold_batch_norm(g: Graph, weights: dict[str, np.ndarray]) -> tuple[Graph, dict[str, np.ndarray]]:
    """Fold ``batch_norm`` into the (plain or transposed) convolution before it when that
    convolution's output and weights belong to it alone (a shared convolution keeps its BN as
    a separate node)."""
    weights = dict(weights)
    weight_users: dict[str, int] = {}
    for n in g.nodes:
        for w in n.params.values():
            weight_users[w] = weight_users.get(w, 0) + 1
    consumers = g.consumers
    graph_outputs = {o.tensor for o in g.outputs}
    replaced: dict[str, Node] = {}
    dropped: set[str] = set()
    alias: dict[str, str] = {}
    for n in g.nodes:
        if n.op != "batch_norm":
            continue
        src = g.producer.get(n.inputs[0])
        conv = replaced.get(src) or (g.node_by_name[src] if src else None)
        if conv is None or conv.op not in _SCALE_OUTPUT or len(consumers.get(n.inputs[0], ())) != 1:
            continue
        if n.inputs[0] in graph_outputs:  # the un-normalised conv output is needed as is
            continue
        if any(weight_users[w] != 1 for w in conv.params.values()):
            continue
        scale, shift = weights[n.params["scale"]], weights[n.params["shift"]]
        w_name = conv.params["weight"]
        weights[w_name] = _SCALE_OUTPUT[conv.op](weights[w_name], scale, int(conv.attrs["groups"]))
        b_name = conv.params.get("bias") or _fresh_name(weights, f"{w_name.rsplit('.', 1)[0]}.bias")
        bias = weights.get(b_name, np.zeros_like(shift))
        weights[b_name] = (bias * scale + shift).astype(np.float32)
        params = dict(conv.params, bias=b_name)
        count = sum(int(np.prod(weights[w].shape)) for w in params.values())
        replaced[conv.name] = Node(conv.name, conv.op, conv.inputs, conv.outputs, conv.attrs, params,
                                   conv.macs, count, conv.module)
        dropped.add(n.name)
        alias[n.outputs[0]] = conv.outputs[0]
    if not dropped:
        return g, weights
    nodes = []
    for n in g.nodes:
        if n.name in dropped:
            continue
        n = replaced.get(n.name, n)
        nodes.append(Node(n.name, n.op, tuple(alias.get(t, t) for t in n.inputs), n.outputs, n.attrs,
                          n.params, n.macs, n.param_count, n.module))
    used = list(dict.fromkeys(w for n in nodes for w in n.params.values()))  # first-use order: deterministic
    tensors = {k: v for k, v in g.tensors.items() if k not in alias}
    specs = {k: TensorSpec(tuple(weights[k].shape)) for k in used}
    out = Graph(g.name, g.inputs, tuple(Output(o.index, alias.get(o.tensor, o.tensor)) for o in g.outputs),
                tensors, tuple(nodes), specs, {}, (), g.meta)
    return out, {k: v for k, v in weights.items() if k in used}


def _fresh_name(weights: dict, base: str) -> str:
    name, k = base, 1
    while name in weights:
        name = f"{base}_{k}"
        k += 1
    return name
