"""How much work one firing of a node is, independent of the hardware.

MACs come from the graph; elementwise ("vector") work is counted per output element with a
per-op cost, so that fused activations, pooling and resizing are not free.
"""

from __future__ import annotations

from mpsim.ir.graph import Graph, Node, split_iter_name

# Vector operations per output element (per input element for reductions).
_PER_OUTPUT = {
    "relu": 1, "relu6": 1, "sigmoid": 4, "hardswish": 3, "clamp": 1, "batch_norm": 2, "prelu": 2,
    "add": 1, "mul": 1, "cat": 1, "split": 1, "permute": 1, "reshape": 0, "softmax": 4,
    "conv2d": 0, "linear": 0,
}


def tensor_spec(g: Graph, t: str):
    """The spec of a tensor reference, ``t@i`` names included."""
    return g.tensors.get(t) or g.tensors[split_iter_name(t)[0]]


def vector_ops(g: Graph, n: Node) -> int:
    """Elementwise operations of one firing of ``n``."""
    out = sum(tensor_spec(g, t).numel for t in n.outputs)
    if n.op in _PER_OUTPUT:
        return out * _PER_OUTPUT[n.op]
    if n.op in ("max_pool2d", "avg_pool2d"):
        k = n.attrs["kernel"]
        kh, kw = (k, k) if isinstance(k, int) else (k[0], k[-1])
        return out * kh * kw
    if n.op == "interpolate":
        return out * (4 if n.attrs["mode"] == "bilinear" else 1)
    if n.op in ("adaptive_avg_pool2d", "mean"):
        return sum(tensor_spec(g, t).numel for t in n.inputs)
    return out


def tensor_bytes(g: Graph, t: str, activation_bits: int) -> float:
    """Bytes of an activation tensor at ``activation_bits`` per element (packed)."""
    return tensor_spec(g, t).numel * activation_bits / 8
