"""What a graph keeps in memory: weights, per-unit buffers, crossbar arrays, live activations.

Bytes follow the run's precision (``Profile.precision``): weights at its weight bits,
activations at its activation bits, times the batch.
"""

from __future__ import annotations

import math

import numpy as np

from mpsim.hw.profile import Profile
from mpsim.ir.graph import Graph
from mpsim.ir.ops import is_weight_layer
from mpsim.mapping.fusion import Unit
from mpsim.mapping.work import tensor_bytes

# Elementwise ops that write over their first input (the paper's fusion assumption).
IN_PLACE = frozenset({"relu", "relu6", "sigmoid", "hardswish", "clamp", "batch_norm", "prelu", "add", "mul",
                      "reshape", "silu", "gelu", "hardsigmoid", "dropout", "identity"})


def weight_bytes(g: Graph, nodes: list[int] | tuple[int, ...], p: Profile) -> float:
    """Bytes of the weights a set of nodes reads (every member of a weight group, shared weights once)."""
    names = {w for i in nodes for w in g.param_names(g.nodes[i])}
    return p.precision.weight_bytes(sum(g.weights[w].numel for w in names))


def firing_weight_bytes(g: Graph, nodes: list[int] | tuple[int, ...], p: Profile) -> float:
    """Bytes of the weights one firing reads: a loop node reads its iteration's member of a group."""
    names = {w for i in nodes for w in g.param_names(g.nodes[i], 0 if g.nodes[i].name in g.loop_of else None)}
    return p.precision.weight_bytes(sum(g.weights[w].numel for w in names))


def unit_bytes(g: Graph, unit: Unit, p: Profile, batch: int = 1) -> tuple[float, float]:
    """(weight bytes, buffer bytes) a pipelined unit keeps: its weights, the tensors it reads from
    other units and the tensors its non-in-place nodes write."""
    nodes = [g.nodes[i] for i in unit.nodes]
    inside = {t for n in nodes for t in n.outputs}
    ins = {t for n in nodes for t in n.inputs if t not in inside}
    own = {t for n in nodes if n.op not in IN_PLACE for t in n.outputs}
    bits = p.precision.activation_bits
    buffers = batch * sum(tensor_bytes(g, t, bits) for t in ins | own)
    return weight_bytes(g, unit.nodes, p), buffers


def crossbar_arrays(g: Graph, unit: Unit, p: Profile) -> int:
    """Crossbar arrays that a unit's weight matrices occupy (a weight spans
    ``cells_per_weight`` columns: bit slices or a differential pair; an input drives
    ``rows_per_input`` rows; small groups pack block-diagonally into one array; a spatially
    unrolled crossbar holds a copy per block of output positions, ``unrolled_arrays``)."""
    xb = p.crossbar
    cells = xb.cells_per_weight
    total = 0
    for i in unit.nodes:
        n = g.nodes[i]
        if not is_weight_layer(n.op):
            continue
        copies = len(g.param_names(n)) // max(1, len(n.params))  # weight groups store every member
        if xb.spatial_unroll:
            total += unrolled_arrays(g, n, p) * copies
            continue
        shape = g.param_shape(n.params["weight"])
        if n.op.startswith("conv"):
            groups = int(n.attrs.get("groups", 1))
            rows, cols = math.prod(shape[1:]) * xb.rows_per_input, (shape[0] // groups) * cells
        else:
            groups, rows, cols = 1, shape[1] * xb.rows_per_input, shape[0] * cells
        if rows <= xb.rows and cols <= xb.cols:
            per_array = min(xb.rows // rows, xb.cols // cols)
            arrays = math.ceil(groups / per_array)
        else:
            arrays = groups * math.ceil(rows / xb.rows) * math.ceil(cols / xb.cols)
        total += arrays * copies
    return total


def unrolled_arrays(g: Graph, n, p: Profile) -> int:
    """Arrays of one weight layer on a spatially unrolled crossbar (TrueNorth): every output
    position has its own cells, so each group's kernel is copied to an array per block of
    bh x bw output positions, the block chosen to need the fewest arrays while its receptive
    field (inputs x rows_per_input) fits the rows and its outputs (positions x features x
    cells_per_weight) fit the columns; groups small enough share an array block-diagonally.
    A kernel too large for one array is split over arrays by rows and columns."""
    xb = p.crossbar
    shape = g.param_shape(n.params["weight"])
    out = g.tensors[n.outputs[0]].shape
    if n.op.startswith("conv"):
        groups = int(n.attrs.get("groups", 1))
        cin, kh, kw = shape[1], shape[2], shape[3]
        sh, sw = n.attrs.get("stride", (1, 1))
        H, W = out[2], out[3]
    else:  # a linear layer: one position per row of its input
        groups, cin, kh, kw, sh, sw = 1, shape[1], 1, 1, 1, 1
        H, W = math.prod(out[:-1]), 1
    feats = (shape[0] // groups) * xb.cells_per_weight
    best = None
    for bh in range(1, H + 1):
        for bw in range(1, W + 1):
            rows = cin * ((bh - 1) * sh + kh) * ((bw - 1) * sw + kw) * xb.rows_per_input
            cols = bh * bw * feats
            if rows > xb.rows or cols > xb.cols:
                if bw == 1:
                    break
                continue
            per_array = min(xb.rows // rows, xb.cols // cols)  # groups sharing an array
            arrays = math.ceil(groups / per_array) * math.ceil(H / bh) * math.ceil(W / bw)
            best = arrays if best is None else min(best, arrays)
    if best is None:  # even one position's kernel needs several arrays
        best = (groups * H * W * math.ceil(cin * kh * kw * xb.rows_per_input / xb.rows)
                * math.ceil(feats / xb.cols))
    return best


def live_profile(g: Graph, order: list[int], p: Profile, batch: int = 1) -> np.ndarray:
    """Bytes of activations live while each node of ``order`` runs (one frame, nodes in that order).

    A tensor lives from the node that writes it (graph inputs: from the start) to the last node
    that reads it; an op needs its inputs and outputs at once. An in-place op whose first input
    dies there writes over it (no new buffer). Outputs nobody reads leave for the host at once.
    """
    bits = p.precision.activation_bits
    birth: dict[str, int] = {t: 0 for t in g.inputs}
    death: dict[str, int] = {t: 0 for t in g.inputs}
    for k, i in enumerate(order):
        for t in g.nodes[i].inputs:
            death[t] = max(death.get(t, k), k)
        for t in g.nodes[i].outputs:
            birth[t], death[t] = k, max(death.get(t, k), k)
    size = {t: batch * tensor_bytes(g, t, bits) for t in birth}
    for k, i in enumerate(order):  # in-place ops reuse a dying input's buffer
        n = g.nodes[i]
        if n.op in IN_PLACE and n.inputs and death.get(n.inputs[0]) == k and n.inputs[0] not in g.inputs:
            src, dst = n.inputs[0], n.outputs[0]
            if size[dst] <= size[src]:
                size[dst] = 0.0
                death[src] = max(death[src], death[dst])
    delta = np.zeros(len(order) + 1)
    for t, b in birth.items():
        delta[b] += size[t]
        delta[death[t] + 1] -= size[t]
    return np.cumsum(delta)[:-1]


def peak_live_bytes(g: Graph, order: list[int], p: Profile, batch: int = 1) -> float:
    """The most activation bytes live at once while ``order`` runs."""
    live = live_profile(g, order, p, batch)
    return float(live.max(initial=0.0))
