"""How much work one firing of a node is, independent of the hardware.

MACs come from the graph; elementwise ("vector") work is counted per output element with a
per-op cost, so that fused activations, pooling and resizing are not free.
"""

from __future__ import annotations

from mpsim.ir.graph import Graph, Node, split_iter_name

# Vector operations per output element (per input element for reductions).  The entries
# below the first block count the arithmetic of each op's formula (docs/import.md):
# hardsigmoid clamp(x+3, 0, 6)/6: add, 2 compares, multiply; silu x*sigmoid(x): sigmoid + 1;
# gelu x/2*(1+erf(x/sqrt2)): erf (as sigmoid, 4) + 4; leaky_relu: compare, multiply;
# layer/group norm: mean, centre, square-accumulate, scale by rstd, affine (x*w + b): 6;
# pad, slice, expand, max_unpool2d: one copy per element; matmul and conv_transpose2d: MACs.
_PER_OUTPUT = {
    "relu": 1, "relu6": 1, "sigmoid": 4, "hardswish": 3, "clamp": 1, "batch_norm": 2, "prelu": 2,
    "add": 1, "mul": 1, "cat": 1, "split": 1, "permute": 1, "reshape": 0, "softmax": 4,
    "conv2d": 0, "linear": 0,
    "conv_transpose2d": 0, "matmul": 0, "sub": 1, "div": 1, "hardsigmoid": 4, "silu": 5, "gelu": 8,
    "tanh": 4, "erf": 4, "sqrt": 1, "pow": 1, "leaky_relu": 2, "layer_norm": 6, "group_norm": 6,
    "pad": 1, "slice": 1, "expand": 1, "max_unpool2d": 1,
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
