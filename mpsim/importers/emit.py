"""Node patterns shared by the exporters (torch.export and ONNX): constants meeting activations.

The graph format has no node without inputs, so a constant tensor that meets an activation is
stored as a weight of the node that reads it: a binary op's ``other`` operand, or, for a
concatenation with constant parts (a class token, zero channels), a ``pad`` of the
activations plus an ``add`` of the constant in place (left out when the constant is zero).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from mpsim.ir.builder import GraphBuilder

# x op c == x for these constants (op, c); x - 0 only when the constant is second.
_NEUTRAL = {"add": 0.0, "sub": 0.0, "mul": 1.0, "div": 1.0}


def binary_with_constant(b: GraphBuilder, op: str, x: str, c: np.ndarray, reverse: bool,
                         out_shape: Sequence[int], register: Callable[[np.ndarray], str],
                         path: str = "") -> str:
    """``x op c`` (``c op x`` with ``reverse``): nothing when the constant is neutral and does
    not widen ``x``, a ``scalar`` attribute for a single value, else ``register(c)`` (the
    caller names and stores the weight) as parameter ``other``."""
    c = np.asarray(c, dtype=np.float32)
    same = tuple(out_shape) == tuple(b.tensors[x].shape)
    neutral = _NEUTRAL[op]
    if same and not (reverse and op in ("sub", "div")) and c.size and bool(np.all(c == neutral)):
        return x
    attrs = {"reverse": True} if reverse else {}
    if c.size == 1 and same:
        return b.node(op, [x], {**attrs, "scalar": float(c.reshape(()))}, name=_name(path, op), module=path)[0]
    return b.node(op, [x], attrs, {"other": register(c)}, name=_name(path, op), module=path)[0]


def cat_with_constants(b: GraphBuilder, items: Sequence[str | np.ndarray], axis: int,
                       register: Callable[[np.ndarray], str], path: str = "") -> str:
    """Concatenate activations (tensor names) and constants (arrays) along ``axis``; the
    activations must be adjacent.  Raises ``ValueError`` (with the reason) otherwise."""
    rank = len(b.tensors[next(i for i in items if isinstance(i, str))].shape)
    axis %= rank
    acts = [k for k, v in enumerate(items) if isinstance(v, str)]
    if len(acts) == len(items):
        return b.node("cat", list(items), {"axis": axis}, name=_name(path, "cat"), module=path)[0]
    if acts != list(range(acts[0], acts[-1] + 1)):
        raise ValueError("concatenation of constants between activations")
    sizes = [b.tensors[v].shape[axis] if isinstance(v, str) else int(np.shape(v)[axis]) for v in items]
    x = items[acts[0]] if len(acts) == 1 else b.node(
        "cat", [items[k] for k in acts], {"axis": axis}, name=_name(path, "cat"), module=path)[0]
    pads = [[0, 0] for _ in range(rank)]
    pads[axis] = [sum(sizes[:acts[0]]), sum(sizes[acts[-1] + 1:])]
    x = b.node("pad", [x], {"pads": pads, "mode": "constant", "value": 0.0}, name=_name(path, "pad"), module=path)[0]
    out_shape = b.tensors[x].shape
    consts = [np.asarray(v, dtype=np.float32) for v in items if not isinstance(v, str)]
    if not any(np.any(c != 0) for c in consts):
        return x
    full = np.zeros(out_shape, np.float32)
    offset = 0
    for v, size in zip(items, sizes):
        if not isinstance(v, str):
            index = tuple(slice(offset, offset + size) if d == axis else slice(None) for d in range(rank))
            full[index] = np.broadcast_to(np.asarray(v, dtype=np.float32), full[index].shape)
        offset += size
    return b.node("add", [x], {}, {"other": register(full)}, name=_name(path, "add"), module=path)[0]


def _name(path: str, op: str) -> str:
    return f"{path}.{op}" if path else op
