"""ATen operator -> graph-format node(s): one converter per op family, and the table of them.

Each converter takes (ctx, fx node, args, kwargs, module path), where the args hold a graph
tensor name (str) for a value computed from the model's input, a torch tensor for a constant
(parameter, buffer, or a tensor created in ``forward``), or a plain Python value; it returns
the graph value of the node: a tensor name, a list of them, a constant, or ``None`` (no value,
e.g. an assertion).  A converter that meets a form it cannot express raises ``Unsupported``
with the reason; the exporter collects those with the ops that have no converter at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from mpsim.importers.emit import binary_with_constant, cat_with_constants
from mpsim.ir.builder import GraphBuilder

aten = torch.ops.aten


class Unsupported(Exception):
    """This call of a known op has a form the graph format cannot express (the reason)."""


@dataclass
class Ctx:
    """Translation state: IR builder, numpy weights and the value of every FX node."""

    builder: GraphBuilder
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)  # fx node name -> IR tensor name | torch const | list
    const_names: dict[int, str] = field(default_factory=dict)  # id(const tensor) -> weight name
    keep_alive: list = field(default_factory=list)  # ids above stay valid while translating
    fqn: dict[int, str] = field(default_factory=dict)  # id(const tensor) -> parameter path
    bn_params: dict[tuple, dict] = field(default_factory=dict)  # ids of BN tensors -> scale/shift

    def weight(self, value: torch.Tensor, hint: str) -> str:
        """Register a constant tensor as a weight (once per tensor object: identity = sharing)."""
        key = id(value)
        if key not in self.const_names:
            name = self.fqn.get(key, hint)
            base, k = name, 1
            while name in self.weights:
                name = f"{base}_{k}"
                k += 1
            arr = value.detach().to(torch.float32).cpu().numpy().copy()
            self.weights[name] = arr
            self.builder.weight(name, arr.shape)
            self.const_names[key] = name
            self.keep_alive.append(value)
        return self.const_names[key]

    def shape(self, t: str) -> tuple[int, ...]:
        return tuple(self.builder.tensors[t].shape)


def is_const(v: Any) -> bool:
    return isinstance(v, torch.Tensor)


def _shape(node) -> tuple[int, ...]:
    return tuple(int(d) for d in node.meta["val"].shape)


def _emit(ctx, op, inputs, attrs=None, params=None, path="", name=None):
    base = name or (f"{path}.{op}" if path else op)
    outs = ctx.builder.node(op, inputs, attrs, params, name=base, module=path)
    return outs[0] if len(outs) == 1 else outs


def _params(ctx, path, **tensors):
    return {role: ctx.weight(t, f"{path or 'const'}.{role}") for role, t in tensors.items() if t is not None}


def _arg(a, kw, i, key, default=None):
    if len(a) > i:
        return a[i]
    return kw.get(key, default)


def _need_activation(op: str, *values) -> None:
    for v in values:
        if is_const(v):
            raise Unsupported(f"{op} of a constant tensor (only its activation operand may be computed)")


# Convolutions and linear layers ----------------------------------------------------------------

def _same_padding(w: torch.Tensor, dilation) -> tuple[list[int], list[int]]:
    """PyTorch's padding='same': total d*(k-1) per axis, the extra one (odd totals) at the end."""
    lo, hi = [], []
    for k, d in zip(w.shape[2:], dilation):
        total = int(d) * (int(k) - 1)
        lo.append(total // 2)
        hi.append(total - total // 2)
    return lo, hi


def _conv2d(ctx, node, a, kw, path):
    x, w = a[0], a[1]
    _need_activation("conv2d", x)
    if w.dim() != 4:
        raise Unsupported(f"{w.dim() - 2}-d convolution (only 2-d)")
    bias = _arg(a, kw, 2, "bias")
    stride, padding, dilation, groups = (list(a[3:]) + [None] * 4)[:4]
    dilation = list(dilation or [1, 1])
    if isinstance(padding, str):
        if padding == "valid":
            padding = [0, 0]
        else:  # 'same'
            lo, hi = _same_padding(w, dilation)
            if lo != hi:
                rank = len(ctx.shape(x))
                pads = [[0, 0]] * (rank - 2) + [[lo[0], hi[0]], [lo[1], hi[1]]]
                x = _emit(ctx, "pad", [x], {"pads": pads, "mode": "constant", "value": 0.0}, None, path)
                lo = [0, 0]
            padding = lo
    attrs = {
        "stride": list(stride or [1, 1]),
        "padding": list(padding or [0, 0]),
        "dilation": dilation,
        "groups": int(groups or 1),
    }
    return _emit(ctx, "conv2d", [x], attrs, _params(ctx, path, weight=w, bias=bias), path, path or None)


def _conv_transpose(ctx, x, w, bias, stride, padding, output_padding, groups, dilation, path):
    _need_activation("conv_transpose2d", x)
    if w.dim() != 4:
        raise Unsupported(f"{w.dim() - 2}-d transposed convolution (only 2-d)")
    attrs = {
        "stride": list(stride or [1, 1]),
        "padding": list(padding or [0, 0]),
        "output_padding": list(output_padding or [0, 0]),
        "dilation": list(dilation or [1, 1]),
        "groups": int(groups or 1),
    }
    return _emit(ctx, "conv_transpose2d", [x], attrs, _params(ctx, path, weight=w, bias=bias), path,
                 path or None)


def _conv_transpose2d(ctx, node, a, kw, path):
    x, w, bias, stride, padding, output_padding, groups, dilation = (list(a) + [None] * 8)[:8]
    return _conv_transpose(ctx, x, w, bias, stride, padding, output_padding, groups, dilation, path)


def _convolution(ctx, node, a, kw, path):
    x, w, bias, stride, padding, dilation, transposed, out_pad, groups = a[:9]
    if transposed:
        return _conv_transpose(ctx, x, w, bias, stride, padding, out_pad, groups, dilation, path)
    return _conv2d(ctx, node, [x, w, bias, stride, padding, dilation, groups], {}, path)


def _linear(ctx, node, a, kw, path):
    _need_activation("linear", a[0])
    bias = _arg(a, kw, 2, "bias")
    return _emit(ctx, "linear", [a[0]], {}, _params(ctx, path, weight=a[1], bias=bias), path, path or None)


def _matmul(ctx, node, a, kw, path):
    x, y = a[0], a[1]
    _need_activation("matmul", x)
    if is_const(y):
        if y.dim() != 2:
            raise Unsupported("matmul with a constant operand of rank other than 2")
        # x @ W is a linear layer with weight W^T (so its MACs and weights count as one).
        weight = y.detach().t().contiguous()
        return _emit(ctx, "linear", [x], {}, _params(ctx, path, weight=weight), path, path or None)
    if len(ctx.shape(x)) < 2 or len(ctx.shape(y)) < 2:
        raise Unsupported("matmul of a rank-1 operand")
    return _emit(ctx, "matmul", [x, y], {}, None, path)


def _sdpa(ctx, node, a, kw, path):
    """scaled_dot_product_attention -> softmax(q k^T * scale) v with two matmuls (no mask)."""
    q, k, v = a[:3]
    mask = _arg(a, kw, 3, "attn_mask")
    causal = _arg(a, kw, 5, "is_causal", False)
    scale = _arg(a, kw, 6, "scale")
    if mask is not None or causal:
        raise Unsupported("attention with a mask or is_causal")
    _need_activation("scaled_dot_product_attention", q, k, v)
    rank = len(ctx.shape(k))
    dims = list(range(rank))
    dims[-1], dims[-2] = dims[-2], dims[-1]
    kt = _emit(ctx, "permute", [k], {"dims": dims}, None, path)
    s = _emit(ctx, "matmul", [q, kt], {}, None, path)
    s = _emit(ctx, "mul", [s], {"scalar": float(scale) if scale is not None else 1.0 / math.sqrt(ctx.shape(q)[-1])},
              None, path)
    p = _emit(ctx, "softmax", [s], {"axis": -1}, None, path)
    return _emit(ctx, "matmul", [p, v], {}, None, path)


# Normalisation ---------------------------------------------------------------------------------

def _batch_norm_common(ctx, path, x, gamma, beta, mean, var, eps):
    # One batch-norm module applied several times derives its scale/shift once (identity = sharing).
    key = (id(gamma), id(beta), id(mean), id(var), float(eps))
    p = ctx.bn_params.get(key)
    if p is None:
        c = mean.shape[0]
        gamma = torch.ones(c) if gamma is None else gamma
        beta = torch.zeros(c) if beta is None else beta
        scale = gamma / torch.sqrt(var + eps)
        shift = beta - mean * scale
        p = {"scale": ctx.weight(scale, f"{path}.scale"), "shift": ctx.weight(shift, f"{path}.shift")}
        ctx.bn_params[key] = p
    return _emit(ctx, "batch_norm", [x], {}, p, path, path or None)


def _batch_norm(ctx, node, a, kw, path):
    x, gamma, beta, mean, var, training, _m, eps = a[:8]
    if training:
        raise Unsupported("batch norm in training mode (call model.eval() first)")
    if mean is None or var is None:
        raise Unsupported("batch norm without running statistics")
    return _batch_norm_common(ctx, path, x, gamma, beta, mean, var, eps)


def _batch_norm_legit(ctx, node, a, kw, path):
    x, gamma, beta, mean, var, _m, eps = a[:7]
    return [_batch_norm_common(ctx, path, x, gamma, beta, mean, var, eps)]


def _layer_norm(ctx, node, a, kw, path):
    x, shape = a[0], list(a[1])
    w, b = _arg(a, kw, 2, "weight"), _arg(a, kw, 3, "bias")
    eps = float(_arg(a, kw, 4, "eps", 1e-5))
    axis = len(ctx.shape(x)) - len(shape)
    out = _emit(ctx, "layer_norm", [x], {"axis": axis, "eps": eps}, _params(ctx, path, weight=w, bias=b), path)
    return [out, None, None] if node.target is aten.native_layer_norm.default else out


def _group_norm(ctx, node, a, kw, path):
    x, groups = a[0], int(a[1])
    w, b = _arg(a, kw, 2, "weight"), _arg(a, kw, 3, "bias")
    eps = float(_arg(a, kw, 4, "eps", 1e-5))
    return _emit(ctx, "group_norm", [x], {"groups": groups, "eps": eps}, _params(ctx, path, weight=w, bias=b), path)


def _instance_norm(ctx, node, a, kw, path):
    x, w, b, mean, var, use_input_stats, _m, eps = a[:8]
    if not use_input_stats:  # track_running_stats in eval: a batch norm with the running statistics
        return _batch_norm_common(ctx, path, x, w, b, mean, var, eps)
    # Instance norm = group norm with one channel per group.
    c = ctx.shape(x)[1]
    return _emit(ctx, "group_norm", [x], {"groups": c, "eps": float(eps)}, _params(ctx, path, weight=w, bias=b),
                 path)


# Elementwise -----------------------------------------------------------------------------------

def _unary(op, **fixed):
    def conv(ctx, node, a, kw, path):
        _need_activation(op, a[0])
        return _emit(ctx, op, [a[0]], dict(fixed), None, path)
    return conv


def _gelu(ctx, node, a, kw, path):
    approximate = _arg(a, kw, 1, "approximate", "none")
    return _emit(ctx, "gelu", [a[0]], {"approximate": str(approximate)}, None, path)


def _leaky_relu(ctx, node, a, kw, path):
    slope = float(_arg(a, kw, 1, "negative_slope", 0.01))
    return _emit(ctx, "leaky_relu", [a[0]], {"negative_slope": slope}, None, path)


def _pow(ctx, node, a, kw, path):
    exponent = a[1]
    if not isinstance(exponent, (int, float)):
        raise Unsupported("pow with a tensor exponent")
    if exponent == 0.5:
        return _emit(ctx, "sqrt", [a[0]], {}, None, path)
    return _emit(ctx, "pow", [a[0]], {"exponent": float(exponent)}, None, path)


def _rsqrt(ctx, node, a, kw, path):
    root = _emit(ctx, "sqrt", [a[0]], {}, None, path)
    return _emit(ctx, "div", [root], {"scalar": 1.0, "reverse": True}, None, path)


def _hardtanh(ctx, node, a, kw, path):
    lo = float(a[1]) if len(a) > 1 else -1.0
    hi = float(a[2]) if len(a) > 2 else 1.0
    if (lo, hi) == (0.0, 6.0):
        return _emit(ctx, "relu6", [a[0]], {}, None, path)
    return _emit(ctx, "clamp", [a[0]], {"min": lo, "max": hi}, None, path)


def _clamp(ctx, node, a, kw, path):
    lo = _arg(a, kw, 1, "min")
    hi = _arg(a, kw, 2, "max")
    if node.target in (aten.clamp_max.default,):
        lo, hi = None, a[1]
    if is_const(lo) or is_const(hi):
        raise Unsupported("clamp with tensor bounds")
    return _emit(ctx, "clamp", [a[0]], {"min": None if lo is None else float(lo),
                                        "max": None if hi is None else float(hi)}, None, path)


def _prelu(ctx, node, a, kw, path):
    return _emit(ctx, "prelu", [a[0]], {}, _params(ctx, path, weight=a[1]), path, path or None)


def _compact_const(c: torch.Tensor) -> torch.Tensor:
    """An expanded constant (stride 0 on broadcast axes) shrunk back to its stored size."""
    if all(s != 0 or d == 1 for s, d in zip(c.stride(), c.shape)):
        return c
    return c[tuple(slice(0, 1) if s == 0 else slice(None) for s in c.stride())]


def _binary(op, reverse=False):
    """add / sub / mul / div of two activations, or of an activation and a constant
    (``mpsim.importers.emit.binary_with_constant``)."""
    def conv(ctx, node, a, kw, path):
        x, y = a[0], a[1]
        alpha = kw.get("alpha", a[2] if len(a) > 2 and op in ("add", "sub") else 1)
        if kw.get("rounding_mode") is not None:
            raise Unsupported(f"division with rounding_mode={kw['rounding_mode']!r}")
        if alpha != 1:
            if isinstance(y, str):
                y = _emit(ctx, "mul", [y], {"scalar": float(alpha)}, None, path)
            else:
                y = y * alpha
        flip = reverse
        if not isinstance(x, str):
            x, y, flip = y, x, not flip
        if isinstance(y, str):
            return _emit(ctx, op, [y, x] if flip else [x, y], {}, None, path)
        const = _compact_const(y) if is_const(y) else torch.tensor(float(y))
        return binary_with_constant(ctx.builder, op, x, const.detach().to(torch.float32).numpy(), flip, _shape(node),
                                    lambda arr: ctx.weight(const, f"{path or 'const'}.{op}_operand"), path)

    return conv


def _neg(ctx, node, a, kw, path):
    return _emit(ctx, "mul", [a[0]], {"scalar": -1.0}, None, path)


# Shape and layout ------------------------------------------------------------------------------

def _cat(ctx, node, a, kw, path):
    """Concatenation; constant parts: ``mpsim.importers.emit.cat_with_constants``."""
    items = [v if isinstance(v, str) else v.detach().to(torch.float32).numpy() for v in a[0]]
    axis = int(_arg(a, kw, 1, "dim", 0))
    try:
        return cat_with_constants(ctx.builder, items, axis,
                                  lambda arr: ctx.weight(torch.from_numpy(arr), f"{path or 'const'}.cat_constant"),
                                  path)
    except ValueError as exc:
        raise Unsupported(str(exc)) from None


def _stack(ctx, node, a, kw, path):
    items = list(a[0])
    rank = len(_shape(node))
    axis = int(_arg(a, kw, 1, "dim", 0)) % rank
    parts = []
    for v in items:
        _need_activation("stack", v)
        s = list(ctx.shape(v))
        s.insert(axis, 1)
        parts.append(_emit(ctx, "reshape", [v], {"shape": s}, None, path))
    return _emit(ctx, "cat", parts, {"axis": axis}, None, path)


def _split_like(ctx, node, a, kw, path):
    x = a[0]
    d = _dim(node)
    sizes = [int(v.shape[d]) for v in node.meta["val"]]
    outs = _emit(ctx, "split", [x], {"axis": d, "sizes": sizes}, None, path)
    return outs if isinstance(outs, list) else [outs]


def _unbind(ctx, node, a, kw, path):
    x = a[0]
    shape = ctx.shape(x)
    d = int(_arg(a, kw, 1, "dim", 0)) % len(shape)
    rest = [s for i, s in enumerate(shape) if i != d]
    parts = _emit(ctx, "split", [x], {"axis": d, "sizes": [1] * shape[d]}, None, path)
    parts = parts if isinstance(parts, list) else [parts]
    return [_emit(ctx, "reshape", [p], {"shape": rest}, None, path) for p in parts]


def _dim(node) -> int:
    target = node.target
    args = node.args
    if target in (aten.split_with_sizes.default, aten.split.Tensor, aten.chunk.default):
        d = args[2] if len(args) > 2 else node.kwargs.get("dim", 0)
    else:
        d = 0
    rank = len(node.args[0].meta["val"].shape)
    return int(d) % rank


def _reshape(ctx, node, a, kw, path):
    _need_activation("reshape", a[0])
    if ctx.shape(a[0]) == _shape(node):
        return a[0]
    return _emit(ctx, "reshape", [a[0]], {"shape": list(_shape(node))}, None, path)


def _permute(ctx, node, a, kw, path):
    rank = len(ctx.shape(a[0]))
    return _emit(ctx, "permute", [a[0]], {"dims": [int(d) % rank for d in a[1]]}, None, path)


def _transpose(ctx, node, a, kw, path):
    rank = len(ctx.shape(a[0]))
    if node.target is aten.t.default:
        d0, d1 = 0, rank - 1
    else:
        d0, d1 = int(a[1]) % rank, int(a[2]) % rank
    dims = list(range(rank))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return _emit(ctx, "permute", [a[0]], {"dims": dims}, None, path)


def _slice(ctx, node, a, kw, path):
    x = a[0]
    shape = ctx.shape(x)
    d = int(_arg(a, kw, 1, "dim", 0)) % len(shape)
    start, end, step = _arg(a, kw, 2, "start"), _arg(a, kw, 3, "end"), int(_arg(a, kw, 4, "step", 1) or 1)
    start, end, step = slice(start, end, step).indices(shape[d])
    if (start, end, step) == (0, shape[d], 1):
        return x
    return _emit(ctx, "slice", [x], {"axis": d, "start": start, "end": end, "step": step}, None, path)


def _narrow(ctx, node, a, kw, path):
    x, d, start, length = a[:4]
    shape = ctx.shape(x)
    d = int(d) % len(shape)
    start = int(start) % shape[d]
    return _slice(ctx, node, [x, d, start, start + int(length), 1], {}, path)


def _select(ctx, node, a, kw, path):
    x, d, index = a[0], int(a[1]), int(a[2])
    shape = ctx.shape(x)
    d %= len(shape)
    index %= shape[d]
    y = _emit(ctx, "slice", [x], {"axis": d, "start": index, "end": index + 1, "step": 1}, None, path)
    return _emit(ctx, "reshape", [y], {"shape": list(_shape(node))}, None, path)


BROADCASTING = set()  # filled below: ops whose operands broadcast (an expand before them is free)


def _expand(ctx, node, a, kw, path):
    """``expand``: free when every reader broadcasts anyway, else an ``expand`` node."""
    x = a[0]
    out = list(_shape(node))
    if ctx.shape(x) == tuple(out):
        return x
    if node.users and all(_broadcasts_to_its_output(u, node, ctx.shape(x)) for u in node.users):
        return x
    return _emit(ctx, "expand", [x], {"shape": out}, None, path)


def _broadcasts_to_its_output(user, node, small: tuple[int, ...]) -> bool:
    """Does ``user`` (a binary op reading ``node``) give the same result when it reads the
    unexpanded tensor, i.e. does its other operand already have the full shape?"""
    if user.target not in BROADCASTING or len(user.args) < 2:
        return False
    other = user.args[1] if user.args[0] is node else user.args[0]
    if other is node or not isinstance(other, torch.fx.Node) or "val" not in other.meta:
        return False
    shapes = (tuple(other.meta["val"].shape), small)
    try:
        return tuple(torch.broadcast_shapes(*shapes)) == tuple(user.meta["val"].shape)
    except RuntimeError:
        return False


def _identity(ctx, node, a, kw, path):
    return a[0]


def _to_copy(ctx, node, a, kw, path):
    dtype = kw.get("dtype", a[1] if len(a) > 1 and isinstance(a[1], torch.dtype) else None)
    if dtype not in (None, torch.float32):
        raise Unsupported(f"conversion to {dtype} (the graph computes in float32)")
    return a[0]


def _no_value(ctx, node, a, kw, path):
    return None


def _dropout(ctx, node, a, kw, path):
    train = _arg(a, kw, 2, "train", False)
    if train:
        raise Unsupported("dropout in training mode (call model.eval(), or pass training=self.training)")
    return [a[0], None] if node.target is aten.native_dropout.default else a[0]


def _pad(ctx, node, a, kw, path):
    x = a[0]
    pad = [int(p) for p in a[1]]
    target = node.target
    if target is aten.constant_pad_nd.default:
        mode, value = "constant", _arg(a, kw, 2, "value", 0.0)
    elif target is aten.pad.default:
        mode, value = _arg(a, kw, 2, "mode", "constant"), _arg(a, kw, 3, "value")
    else:
        mode, value = ("reflect" if "reflection" in str(target) else "replicate"), None
    rank = len(ctx.shape(x))
    pads = [[0, 0] for _ in range(rank)]
    for k in range(len(pad) // 2):  # PyTorch lists the last axis first
        pads[rank - 1 - k] = [pad[2 * k], pad[2 * k + 1]]
    return _emit(ctx, "pad", [x], {"pads": pads, "mode": mode, "value": float(value or 0.0)}, None, path)


# Pooling, resizing, reductions -----------------------------------------------------------------

def _max_pool(ctx, node, a, kw, path):
    k = list(a[1])
    stride = list(a[2]) if len(a) > 2 and a[2] else k
    attrs = {"kernel": k, "stride": stride, "padding": list(a[3]) if len(a) > 3 else [0, 0],
             "dilation": list(a[4]) if len(a) > 4 else [1, 1], "ceil_mode": bool(a[5]) if len(a) > 5 else False}
    if node.target is not aten.max_pool2d_with_indices.default:
        return _emit(ctx, "max_pool2d", [a[0]], attrs, None, path)
    wants_indices = any(u.args[1] == 1 and u.users for u in node.users)
    if not wants_indices:
        return [_emit(ctx, "max_pool2d", [a[0]], attrs, None, path), None]
    return _emit(ctx, "max_pool2d", [a[0]], {**attrs, "indices": True}, None, path)


def _max_unpool(ctx, node, a, kw, path):
    x, idx = a[0], a[1]
    _need_activation("max_unpool2d", x, idx)
    return _emit(ctx, "max_unpool2d", [x, idx], {"output_size": list(_shape(node)[-2:])}, None, path)


def _avg_pool(ctx, node, a, kw, path):
    k = list(a[1])
    stride = list(a[2]) if len(a) > 2 and a[2] else k
    divisor = a[6] if len(a) > 6 else None
    if divisor is not None:
        raise Unsupported("avg_pool2d with divisor_override")
    attrs = {"kernel": k, "stride": stride, "padding": list(a[3]) if len(a) > 3 else [0, 0],
             "ceil_mode": bool(a[4]) if len(a) > 4 else False,
             "count_include_pad": bool(a[5]) if len(a) > 5 else True}
    return _emit(ctx, "avg_pool2d", [a[0]], attrs, None, path)


def _adaptive_avg(ctx, node, a, kw, path):
    return _emit(ctx, "adaptive_avg_pool2d", [a[0]], {"output_size": list(_shape(node)[-2:])}, None, path)


def _upsample(mode):
    def conv(ctx, node, a, kw, path):
        if node.target in (aten.upsample_bilinear2d.vec, aten.upsample_nearest2d.vec):
            if mode == "bilinear":
                align, scales = bool(a[2]), (a[3] if len(a) > 3 else None)
            else:
                align, scales = False, (a[2] if len(a) > 2 else None)
        else:  # .default: (x, output_size, [align_corners,] scales_h, scales_w)
            rest = list(a[3:] if mode == "bilinear" else a[2:])
            align = bool(a[2]) if mode == "bilinear" else False
            scales = rest if len(rest) == 2 and all(s is not None for s in rest) else None
        attrs = {"mode": mode, "size": list(_shape(node)[-2:]), "align_corners": align,
                 "scales": [float(s) for s in scales] if scales else None}
        return _emit(ctx, "interpolate", [a[0]], attrs, None, path)

    return conv


def _softmax(ctx, node, a, kw, path):
    return _emit(ctx, "softmax", [a[0]], {"axis": int(a[1])}, None, path)


def _reduce(op):
    def conv(ctx, node, a, kw, path):
        rank = len(ctx.shape(a[0]))
        dims = _arg(a, kw, 1, "dim")
        keep = bool(_arg(a, kw, 2, "keepdim", False))
        if node.target in (aten.mean.default, aten.sum.default) or not dims:
            dims, keep = list(range(rank)), False
        if kw.get("dtype") not in (None, torch.float32):
            raise Unsupported(f"{op} with dtype {kw['dtype']}")
        return _emit(ctx, op, [a[0]], {"axes": [int(d) % rank for d in dims], "keepdim": keep}, None, path)
    return conv


CONVERTERS: dict[Any, Callable] = {
    aten.conv2d.default: _conv2d,
    aten.conv2d.padding: _conv2d,
    aten.convolution.default: _convolution,
    aten.conv_transpose2d.input: _conv_transpose2d,
    aten.linear.default: _linear,
    aten.matmul.default: _matmul,
    aten.bmm.default: _matmul,
    aten.mm.default: _matmul,
    aten.scaled_dot_product_attention.default: _sdpa,
    aten.batch_norm.default: _batch_norm,
    aten._native_batch_norm_legit_no_training.default: _batch_norm_legit,
    aten.layer_norm.default: _layer_norm,
    aten.native_layer_norm.default: _layer_norm,
    aten.group_norm.default: _group_norm,
    aten.instance_norm.default: _instance_norm,
    aten.relu.default: _unary("relu"),
    aten.relu_.default: _unary("relu"),
    aten.relu6.default: _unary("relu6"),
    aten.hardtanh.default: _hardtanh,
    aten.hardtanh_.default: _hardtanh,
    aten.clamp.default: _clamp,
    aten.clamp_.default: _clamp,
    aten.clamp_min.default: _clamp,
    aten.clamp_max.default: _clamp,
    aten.sigmoid.default: _unary("sigmoid"),
    aten.sigmoid_.default: _unary("sigmoid"),
    aten.hardswish.default: _unary("hardswish"),
    aten.hardswish_.default: _unary("hardswish"),
    aten.hardsigmoid.default: _unary("hardsigmoid"),
    aten.hardsigmoid_.default: _unary("hardsigmoid"),
    aten.silu.default: _unary("silu"),
    aten.silu_.default: _unary("silu"),
    aten.gelu.default: _gelu,
    aten.gelu_.default: _gelu,
    aten.tanh.default: _unary("tanh"),
    aten.tanh_.default: _unary("tanh"),
    aten.erf.default: _unary("erf"),
    aten.sqrt.default: _unary("sqrt"),
    aten.rsqrt.default: _rsqrt,
    aten.leaky_relu.default: _leaky_relu,
    aten.leaky_relu_.default: _leaky_relu,
    aten.pow.Tensor_Scalar: _pow,
    aten.neg.default: _neg,
    aten.prelu.default: _prelu,
    aten.add.Tensor: _binary("add"),
    aten.add_.Tensor: _binary("add"),
    aten.add.Scalar: _binary("add"),
    aten.sub.Tensor: _binary("sub"),
    aten.sub_.Tensor: _binary("sub"),
    aten.sub.Scalar: _binary("sub"),
    aten.rsub.Scalar: _binary("sub", reverse=True),
    aten.rsub.Tensor: _binary("sub", reverse=True),
    aten.mul.Tensor: _binary("mul"),
    aten.mul_.Tensor: _binary("mul"),
    aten.mul.Scalar: _binary("mul"),
    aten.div.Tensor: _binary("div"),
    aten.div_.Tensor: _binary("div"),
    aten.div.Scalar: _binary("div"),
    aten.div.Tensor_mode: _binary("div"),
    aten.cat.default: _cat,
    aten.stack.default: _stack,
    aten.split.Tensor: _split_like,
    aten.split_with_sizes.default: _split_like,
    aten.chunk.default: _split_like,
    aten.unbind.int: _unbind,
    aten.view.default: _reshape,
    aten.reshape.default: _reshape,
    aten._unsafe_view.default: _reshape,
    aten.flatten.using_ints: _reshape,
    aten.unflatten.int: _reshape,
    aten.squeeze.default: _reshape,
    aten.squeeze.dim: _reshape,
    aten.squeeze.dims: _reshape,
    aten.unsqueeze.default: _reshape,
    aten.view_as.default: _reshape,
    aten.reshape_as.default: _reshape,
    aten.permute.default: _permute,
    aten.transpose.int: _transpose,
    aten.t.default: _transpose,
    aten.slice.Tensor: _slice,
    aten.narrow.default: _narrow,
    aten.select.int: _select,
    aten.expand.default: _expand,
    aten.expand_as.default: _expand,
    aten.contiguous.default: _identity,
    aten.clone.default: _identity,
    aten.alias.default: _identity,
    aten.detach.default: _identity,
    aten.detach_.default: _identity,
    aten.lift_fresh_copy.default: _identity,
    aten._to_copy.default: _to_copy,
    aten.to.dtype: _to_copy,
    aten.to.dtype_layout: _to_copy,
    aten.type_as.default: _identity,
    aten._assert_tensor_metadata.default: _no_value,
    aten.dropout.default: _dropout,
    aten.dropout_.default: _dropout,
    aten.feature_dropout.default: _dropout,
    aten.feature_dropout_.default: _dropout,
    aten.alpha_dropout.default: _dropout,
    aten.alpha_dropout_.default: _dropout,
    aten.feature_alpha_dropout.default: _dropout,
    aten.feature_alpha_dropout_.default: _dropout,
    aten.native_dropout.default: _dropout,
    aten.pad.default: _pad,
    aten.constant_pad_nd.default: _pad,
    aten.reflection_pad1d.default: _pad,
    aten.reflection_pad2d.default: _pad,
    aten.replication_pad1d.default: _pad,
    aten.replication_pad2d.default: _pad,
    aten.max_pool2d.default: _max_pool,
    aten.max_pool2d_with_indices.default: _max_pool,
    aten.max_unpool2d.default: _max_unpool,
    aten.avg_pool2d.default: _avg_pool,
    aten.adaptive_avg_pool2d.default: _adaptive_avg,
    aten.upsample_bilinear2d.vec: _upsample("bilinear"),
    aten.upsample_nearest2d.vec: _upsample("nearest"),
    aten.upsample_bilinear2d.default: _upsample("bilinear"),
    aten.upsample_nearest2d.default: _upsample("nearest"),
    aten.softmax.int: _softmax,
    aten._softmax.default: _softmax,
    aten.mean.dim: _reduce("mean"),
    aten.mean.default: _reduce("mean"),
    aten.sum.dim_IntList: _reduce("sum"),
    aten.sum.default: _reduce("sum"),
}

BROADCASTING.update(t for t, c in CONVERTERS.items()
                    if getattr(c, "__qualname__", "").startswith("_binary."))

# Ops whose result depends only on the shape of their tensor argument: folded as constants.
SHAPE_ONLY = {aten.zeros_like.default, aten.ones_like.default, aten.full_like.default,
              aten.new_zeros.default, aten.new_ones.default, aten.new_full.default}

# Ops that draw random numbers: never folded (the reference run would have drawn others).
RANDOM = {aten.rand.default, aten.randn.default, aten.randint.low, aten.randint.default, aten.rand_like.default,
          aten.randn_like.default, aten.randint_like.default, aten.bernoulli.default, aten.bernoulli.p,
          aten.normal.Tensor_float, aten.normal.float_Tensor, aten.normal.Tensor_Tensor, aten.normal.float_float,
          aten.randperm.default, aten.multinomial.default, aten.uniform.default}
