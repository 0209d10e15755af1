"""The operator set of the graph format: shape rules, MAC counts and parameter roles.

One table holds every op, so the loader, the exporter, the metrics and the simulator agree on
what an op means.  MACs count the multiply-accumulates of convolution and linear layers only
(the paper's and fvcore's convention); elementwise work is measured separately by the
simulator from tensor sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

Shape = tuple[int, ...]
ShapeRule = Callable[[Sequence[Shape], Mapping[str, Any], Mapping[str, Shape]], list[Shape]]


class OpError(ValueError):
    """An op's inputs, attributes or parameters are inconsistent."""


@dataclass(frozen=True)
class OpDef:
    name: str
    infer: ShapeRule
    n_inputs: tuple[int, int]  # (min, max) tensor inputs
    params: tuple[str, ...] = ()  # roles it may take
    required_params: tuple[str, ...] = ()
    attrs: tuple[str, ...] = ()  # attribute keys it must carry
    weight_layer: bool = False  # counts for graph size and depth (convolutions, linear)
    macs: Callable[[Sequence[Shape], Sequence[Shape], Mapping[str, Any], Mapping[str, Shape]], int] = (
        lambda i, o, a, p: 0
    )


_MAX_ATTR = 2**30  # an integer attribute (stride, size, axis...) is at most a dimension's limit


def _int(v: Any, key: str, lo: int = -_MAX_ATTR) -> int:
    """An integer attribute in lo..2**30; a bool, a float or anything else is an OpError."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise OpError(f"attribute '{key}' must be an integer, got {str(v)[:40]}")
    if not lo <= v <= _MAX_ATTR:
        raise OpError(f"attribute '{key}' is {v} (allowed: {lo}..{_MAX_ATTR:,})")
    return v


def _ints(v: Any, key: str, lo: int = -_MAX_ATTR) -> list[int]:
    if not isinstance(v, (list, tuple)) or len(v) > 64:
        raise OpError(f"attribute '{key}' must be a list of at most 64 integers, got {str(v)[:40]}")
    return [_int(x, key, lo) for x in v]


def _pair(v: Any, key: str = "attribute", lo: int = 0) -> tuple[int, int]:
    """An integer or a pair of integers, each >= lo (stride, padding, dilation, kernel, size)."""
    if isinstance(v, (list, tuple)):
        if len(v) not in (1, 2):
            raise OpError(f"attribute '{key}' must be an integer or a pair of integers, got {str(v)[:40]}")
        xs = _ints(v, key, lo)
        return xs[0], xs[-1]
    x = _int(v, key, lo)
    return x, x


def _prod(xs: Sequence[int]) -> int:
    return math.prod(int(x) for x in xs)


def _need_rank(shape: Shape, rank: int, what: str) -> None:
    if len(shape) != rank:
        raise OpError(f"{what} expects a rank-{rank} input, got shape {list(shape)}")


# Shape rules -------------------------------------------------------------------------------

def _conv2d(ins, attrs, params):
    (x,) = ins
    _need_rank(x, 4, "conv2d")
    w = params["weight"]
    if len(w) != 4:
        raise OpError(f"conv2d weight must be rank 4, got {list(w)}")
    groups = _int(attrs["groups"], "groups", 1)
    n, c, h, wd = x
    if c != w[1] * groups:
        raise OpError(f"conv2d input has {c} channels, weight expects {w[1]} x {groups} groups")
    if w[0] % groups:
        raise OpError(f"conv2d output channels {w[0]} not divisible by groups {groups}")
    if "bias" in params and tuple(params["bias"]) != (w[0],):
        raise OpError(f"conv2d bias shape {list(params['bias'])} does not match {w[0]} channels")
    (sh, sw), (ph, pw), (dh, dw) = (_pair(attrs[k], k, lo) for k, lo in (("stride", 1), ("padding", 0),
                                                                          ("dilation", 1)))
    ho = (h + 2 * ph - dh * (w[2] - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (w[3] - 1) - 1) // sw + 1
    if ho <= 0 or wo <= 0:
        raise OpError(f"conv2d output would be empty ({ho}x{wo})")
    return [(n, w[0], ho, wo)]


def _conv2d_macs(ins, outs, attrs, params):
    w = params["weight"]
    return _prod(outs[0]) * w[1] * w[2] * w[3]


def _linear(ins, attrs, params):
    (x,) = ins
    w = params["weight"]
    if len(w) != 2 or x[-1] != w[1]:
        raise OpError(f"linear input {list(x)} does not match weight {list(w)}")
    return [tuple(x[:-1]) + (w[0],)]


def _linear_macs(ins, outs, attrs, params):
    return _prod(outs[0]) * params["weight"][1]


def _same(ins, attrs, params):
    return [tuple(ins[0])]


def _channel_param(ins, attrs, params):
    x = ins[0]
    for role, shape in params.items():
        if len(shape) != 1 or (shape[0] != 1 and (len(x) < 2 or shape[0] != x[1])):
            raise OpError(f"per-channel parameter '{role}' {list(shape)} does not fit input {list(x)}")
    return [tuple(x)]


def _finite(v: Any, key: str) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise OpError(f"attribute '{key}' must be a finite number, got {str(v)[:40]}")


def _clamp(ins, attrs, params):
    for key in ("min", "max"):
        if attrs[key] is not None:
            _finite(attrs[key], key)
    return [tuple(ins[0])]


def _broadcast(ins, attrs, params):
    if len(ins) == 1:
        if "scalar" not in attrs:
            raise OpError("a one-input add/mul needs attribute 'scalar'")
        _finite(attrs["scalar"], "scalar")
        return [tuple(ins[0])]
    a, b = ins
    rank = max(len(a), len(b))
    a = (1,) * (rank - len(a)) + tuple(a)
    b = (1,) * (rank - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            raise OpError(f"shapes {list(a)} and {list(b)} do not broadcast")
        out.append(max(x, y))
    return [tuple(out)]


def _axis(attrs, rank):
    axis = _int(attrs["axis"], "axis")
    if not -rank <= axis < rank:
        raise OpError(f"axis {axis} out of range for rank {rank}")
    return axis % rank


def _cat(ins, attrs, params):
    rank = len(ins[0])
    axis = _axis(attrs, rank)
    for s in ins[1:]:
        if len(s) != rank or any(s[d] != ins[0][d] for d in range(rank) if d != axis):
            raise OpError(f"cat inputs {[list(s) for s in ins]} differ outside axis {axis}")
    out = list(ins[0])
    out[axis] = sum(s[axis] for s in ins)
    return [tuple(out)]


def _split(ins, attrs, params):
    (x,) = ins
    axis = _axis(attrs, len(x))
    sizes = _ints(attrs["sizes"], "sizes", 1)
    if sum(sizes) != x[axis]:
        raise OpError(f"split sizes {sizes} do not add up to {x[axis]}")
    outs = []
    for s in sizes:
        o = list(x)
        o[axis] = s
        outs.append(tuple(o))
    return outs


def _reshape(ins, attrs, params):
    (x,) = ins
    shape = _ints(attrs["shape"], "shape", 1)
    if _prod(shape) != _prod(x):
        raise OpError(f"cannot reshape {list(x)} to {shape}")
    return [tuple(shape)]


def _permute(ins, attrs, params):
    (x,) = ins
    dims = _ints(attrs["dims"], "dims")
    if sorted(dims) != list(range(len(x))):
        raise OpError(f"permute dims {dims} do not fit rank {len(x)}")
    return [tuple(x[d] for d in dims)]


def _pool_out(size, k, s, p, d, ceil_mode):
    eff = d * (k - 1) + 1
    num = size + 2 * p - eff
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool2d(ins, attrs, params):
    (x,) = ins
    _need_rank(x, 4, "pool2d")
    k, s = _pair(attrs["kernel"], "kernel", 1), _pair(attrs["stride"], "stride", 1)
    p = _pair(attrs["padding"], "padding")
    d = _pair(attrs.get("dilation", 1), "dilation", 1)
    ceil_mode = bool(attrs.get("ceil_mode", False))
    ho = _pool_out(x[2], k[0], s[0], p[0], d[0], ceil_mode)
    wo = _pool_out(x[3], k[1], s[1], p[1], d[1], ceil_mode)
    if ho <= 0 or wo <= 0:
        raise OpError(f"pooling output would be empty ({ho}x{wo})")
    return [(x[0], x[1], ho, wo)]


def _adaptive_pool(ins, attrs, params):
    (x,) = ins
    _need_rank(x, 4, "adaptive_avg_pool2d")
    oh, ow = _pair(attrs["output_size"], "output_size", 1)
    return [(x[0], x[1], oh, ow)]


def _interpolate(ins, attrs, params):
    (x,) = ins
    _need_rank(x, 4, "interpolate")
    if attrs["mode"] not in ("nearest", "bilinear"):
        raise OpError(f"interpolate mode '{attrs['mode']}' is not one of nearest, bilinear")
    oh, ow = _pair(attrs["size"], "size", 1)
    return [(x[0], x[1], oh, ow)]


def _softmax(ins, attrs, params):
    _axis(attrs, len(ins[0]))
    return [tuple(ins[0])]


def _mean(ins, attrs, params):
    (x,) = ins
    axes = sorted(_axis({"axis": a}, len(x)) for a in _ints(attrs["axes"], "axes"))
    keep = bool(attrs.get("keepdim", False))
    return [tuple((1 if d in axes else s) for d, s in enumerate(x) if keep or d not in axes)]


_UNARY = dict(infer=_same, n_inputs=(1, 1))

OPS: Mapping[str, OpDef] = {
    op.name: op
    for op in [
        OpDef("conv2d", _conv2d, (1, 1), ("weight", "bias"), ("weight",),
              ("stride", "padding", "dilation", "groups"), True, _conv2d_macs),
        OpDef("linear", _linear, (1, 1), ("weight", "bias"), ("weight",), (), True, _linear_macs),
        OpDef("batch_norm", _channel_param, (1, 1), ("scale", "shift"), ("scale", "shift")),
        OpDef("prelu", _channel_param, (1, 1), ("weight",), ("weight",)),
        OpDef("relu", **_UNARY),
        OpDef("relu6", **_UNARY),
        OpDef("sigmoid", **_UNARY),
        OpDef("hardswish", **_UNARY),
        OpDef("clamp", _clamp, (1, 1), attrs=("min", "max")),
        OpDef("add", _broadcast, (1, 2)),
        OpDef("mul", _broadcast, (1, 2)),
        OpDef("cat", _cat, (1, 64), attrs=("axis",)),
        OpDef("split", _split, (1, 1), attrs=("axis", "sizes")),
        OpDef("reshape", _reshape, (1, 1), attrs=("shape",)),
        OpDef("permute", _permute, (1, 1), attrs=("dims",)),
        OpDef("max_pool2d", _pool2d, (1, 1), attrs=("kernel", "stride", "padding")),
        OpDef("avg_pool2d", _pool2d, (1, 1), attrs=("kernel", "stride", "padding")),
        OpDef("adaptive_avg_pool2d", _adaptive_pool, (1, 1), attrs=("output_size",)),
        OpDef("interpolate", _interpolate, (1, 1), attrs=("mode", "size", "align_corners")),
        OpDef("softmax", _softmax, (1, 1), attrs=("axis",)),
        OpDef("mean", _mean, (1, 1), attrs=("axes",)),
    ]
}


def check_node(op: str, in_shapes: Sequence[Shape], attrs: Mapping[str, Any],
               param_shapes: Mapping[str, Shape]) -> tuple[list[Shape], int]:
    """Validate one node against its op definition; return (output shapes, MACs)."""
    d = OPS.get(op)
    if d is None:
        raise OpError(f"unknown op '{op}'")
    lo, hi = d.n_inputs
    if not lo <= len(in_shapes) <= hi:
        raise OpError(f"{op} takes {lo}..{hi} inputs, got {len(in_shapes)}")
    missing = [a for a in d.attrs if a not in attrs]
    if missing:
        raise OpError(f"{op} is missing attribute(s) {missing}")
    extra = [p for p in param_shapes if p not in d.params]
    if extra:
        raise OpError(f"{op} takes no parameter(s) {extra}")
    absent = [p for p in d.required_params if p not in param_shapes]
    if absent:
        raise OpError(f"{op} needs parameter(s) {absent}")
    try:
        outs = d.infer(in_shapes, attrs, param_shapes)
    except OpError:
        raise
    except (KeyError, TypeError, IndexError, ValueError, ArithmeticError) as exc:
        raise OpError(f"{op}: malformed attributes ({exc})") from None
    return outs, int(d.macs(in_shapes, outs, attrs, param_shapes))


def is_weight_layer(op: str) -> bool:
    """Convolution and linear layers: what the paper's graph size and depth count."""
    d = OPS.get(op)
    return bool(d and d.weight_layer)
