"""The operator set of the graph format: shape rules, MAC counts and parameter roles.

One table holds every op, so the loader, the exporters (torch.export and ONNX), the metrics
and the simulator agree on what an op means.  MACs count the multiply-accumulates of
convolutions (plain and transposed), linear layers and matrix products of two activations
(fvcore's convention; docs/import.md defines each); elementwise work is measured separately
by the simulator from tensor sizes.
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
    index_outputs: Callable[[Mapping[str, Any]], tuple[int, ...]] = lambda a: ()  # int64 outputs


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


def _conv_transpose2d(ins, attrs, params):
    (x,) = ins
    _need_rank(x, 4, "conv_transpose2d")
    w = params["weight"]
    if len(w) != 4:
        raise OpError(f"conv_transpose2d weight must be rank 4, got {list(w)}")
    groups = int(attrs["groups"])
    n, c, h, wd = x
    if c != w[0] or c % groups:
        raise OpError(f"conv_transpose2d input has {c} channels, weight {list(w)} with {groups} groups expects {w[0]}")
    cout = w[1] * groups
    if "bias" in params and tuple(params["bias"]) != (cout,):
        raise OpError(f"conv_transpose2d bias shape {list(params['bias'])} does not match {cout} channels")
    (sh, sw), (ph, pw), (dh, dw), (oph, opw) = (
        _pair(attrs[k]) for k in ("stride", "padding", "dilation", "output_padding"))
    if not (0 <= oph < max(sh, dh) and 0 <= opw < max(sw, dw)):
        raise OpError(f"conv_transpose2d output padding {[oph, opw]} must be below stride or dilation")
    ho = (h - 1) * sh - 2 * ph + dh * (w[2] - 1) + oph + 1
    wo = (wd - 1) * sw - 2 * pw + dw * (w[3] - 1) + opw + 1
    if ho <= 0 or wo <= 0:
        raise OpError(f"conv_transpose2d output would be empty ({ho}x{wo})")
    return [(n, cout, ho, wo)]


def _conv_transpose2d_macs(ins, outs, attrs, params):
    """Every input value times every tap of its group's filters: N*Cin*H*W * Cout/groups * kh*kw
    (fvcore's count; taps that land in the cropped padding are counted too)."""
    w = params["weight"]
    return _prod(ins[0]) * w[1] * w[2] * w[3]


def _linear(ins, attrs, params):
    (x,) = ins
    w = params["weight"]
    if len(w) != 2 or x[-1] != w[1]:
        raise OpError(f"linear input {list(x)} does not match weight {list(w)}")
    return [tuple(x[:-1]) + (w[0],)]


def _linear_macs(ins, outs, attrs, params):
    return _prod(outs[0]) * params["weight"][1]


def _matmul(ins, attrs, params):
    a, b = ins
    if len(a) < 2 or len(b) < 2:
        raise OpError(f"matmul needs rank >= 2 operands, got {list(a)} and {list(b)}")
    if a[-1] != b[-2]:
        raise OpError(f"matmul operands {list(a)} and {list(b)} do not chain")
    batch = _broadcast_shapes(tuple(a[:-2]), tuple(b[:-2]))
    return [batch + (a[-2], b[-1])]


def _matmul_macs(ins, outs, attrs, params):
    return _prod(outs[0]) * ins[0][-1]


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
    """Elementwise binary op: two inputs, or one input and a constant operand (attribute
    ``scalar`` or parameter ``other``); ``reverse`` puts the constant first (``c - x``)."""
    if len(ins) == 1:
        if "other" in params:
            return [_broadcast_shapes(tuple(ins[0]), tuple(params["other"]))]
        if "scalar" not in attrs:
            raise OpError("a one-input binary op needs attribute 'scalar' or parameter 'other'")
        _finite(attrs["scalar"], "scalar")
        return [tuple(ins[0])]
    if "other" in params:
        raise OpError("a two-input binary op takes no parameter 'other'")
    return [_broadcast_shapes(tuple(ins[0]), tuple(ins[1]))]


def _broadcast_shapes(a: Shape, b: Shape) -> Shape:
    rank = max(len(a), len(b))
    a = (1,) * (rank - len(a)) + tuple(a)
    b = (1,) * (rank - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            raise OpError(f"shapes {list(a)} and {list(b)} do not broadcast")
        out.append(max(x, y))
    return tuple(out)


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


def _expand(ins, attrs, params):
    (x,) = ins
    shape = tuple(int(s) for s in attrs["shape"])
    if _broadcast_shapes(tuple(x), shape) != shape:
        raise OpError(f"cannot expand {list(x)} to {list(shape)}")
    return [shape]


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


def _pool2d_indices(ins, attrs, params):
    """max_pool2d; with ``indices`` true a second output holds each maximum's flat position
    in its input plane (PyTorch's convention), for max_unpool2d."""
    (out,) = _pool2d(ins, attrs, params)
    return [out, out] if attrs.get("indices") else [out]


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


def _max_unpool2d(ins, attrs, params):
    x, idx = ins
    _need_rank(x, 4, "max_unpool2d")
    if tuple(idx) != tuple(x):
        raise OpError(f"max_unpool2d indices {list(idx)} do not match values {list(x)}")
    oh, ow = _pair(attrs["output_size"])
    if oh <= 0 or ow <= 0:
        raise OpError(f"max_unpool2d output size {[oh, ow]} is empty")
    return [(x[0], x[1], oh, ow)]


PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pad(ins, attrs, params):
    (x,) = ins
    pads = [tuple(int(v) for v in p) for p in attrs["pads"]]
    if len(pads) != len(x) or any(len(p) != 2 for p in pads):
        raise OpError(f"pad needs one [before, after] pair per axis of {list(x)}, got {attrs['pads']}")
    mode = attrs.get("mode", "constant")
    if mode not in PAD_MODES:
        raise OpError(f"pad mode '{mode}' is not one of {', '.join(PAD_MODES)}")
    out = []
    for d, (lo, hi) in zip(x, pads):
        if mode != "constant" and (lo < 0 or hi < 0 or (mode == "reflect" and max(lo, hi) >= d)
                                   or (mode == "circular" and max(lo, hi) > d)):
            raise OpError(f"{mode} padding {[lo, hi]} does not fit an axis of size {d}")
        out.append(d + lo + hi)
    if any(d <= 0 for d in out):
        raise OpError(f"pad output would be empty ({out})")
    return [tuple(out)]


def _slice(ins, attrs, params):
    (x,) = ins
    axis = _axis(attrs, len(x))
    start, end, step = int(attrs["start"]), int(attrs["end"]), int(attrs.get("step", 1))
    if step < 1 or not 0 <= start < end <= x[axis]:
        raise OpError(f"slice [{start}:{end}:{step}] does not fit an axis of size {x[axis]}")
    out = list(x)
    out[axis] = len(range(start, end, step))
    return [tuple(out)]


def _norm_axis(attrs, x):
    axis = int(attrs["axis"])
    if not -len(x) <= axis < len(x):
        raise OpError(f"axis {axis} out of range for rank {len(x)}")
    return axis % len(x)


def _layer_norm(ins, attrs, params):
    (x,) = ins
    axis = _norm_axis(attrs, x)
    for role, shape in params.items():
        if tuple(shape) != tuple(x[axis:]):
            raise OpError(f"layer_norm '{role}' {list(shape)} must have the normalised shape {list(x[axis:])}")
    return [tuple(x)]


def _group_norm(ins, attrs, params):
    (x,) = ins
    groups = int(attrs["groups"])
    if len(x) < 2 or groups < 1 or x[1] % groups:
        raise OpError(f"group_norm: {groups} groups do not divide the channels of {list(x)}")
    for role, shape in params.items():
        if tuple(shape) != (x[1],):
            raise OpError(f"group_norm '{role}' {list(shape)} must have {x[1]} entries")
    return [tuple(x)]


_UNARY = dict(infer=_same, n_inputs=(1, 1))
_BINARY = dict(infer=_broadcast, n_inputs=(1, 2), params=("other",))

OPS: Mapping[str, OpDef] = {
    op.name: op
    for op in [
        OpDef("conv2d", _conv2d, (1, 1), ("weight", "bias"), ("weight",),
              ("stride", "padding", "dilation", "groups"), True, _conv2d_macs),
        OpDef("conv_transpose2d", _conv_transpose2d, (1, 1), ("weight", "bias"), ("weight",),
              ("stride", "padding", "output_padding", "dilation", "groups"), True, _conv_transpose2d_macs),
        OpDef("linear", _linear, (1, 1), ("weight", "bias"), ("weight",), (), True, _linear_macs),
        OpDef("matmul", _matmul, (2, 2), macs=_matmul_macs),
        OpDef("batch_norm", _channel_param, (1, 1), ("scale", "shift"), ("scale", "shift")),
        OpDef("prelu", _channel_param, (1, 1), ("weight",), ("weight",)),
        OpDef("relu", **_UNARY),
        OpDef("relu6", **_UNARY),
        OpDef("sigmoid", **_UNARY),
        OpDef("hardswish", **_UNARY),
        OpDef("hardsigmoid", **_UNARY),
        OpDef("silu", **_UNARY),
        OpDef("gelu", **_UNARY),  # attrs: approximate ("none" | "tanh"), default "none"
        OpDef("tanh", **_UNARY),
        OpDef("erf", **_UNARY),
        OpDef("sqrt", **_UNARY),
        OpDef("leaky_relu", _same, (1, 1), attrs=("negative_slope",)),
        OpDef("pow", _same, (1, 1), attrs=("exponent",)),
        OpDef("clamp", _clamp, (1, 1), attrs=("min", "max")),
        OpDef("add", **_BINARY),
        OpDef("sub", **_BINARY),
        OpDef("mul", **_BINARY),
        OpDef("div", **_BINARY),
        OpDef("cat", _cat, (1, 64), attrs=("axis",)),
        OpDef("split", _split, (1, 1), attrs=("axis", "sizes")),
        OpDef("reshape", _reshape, (1, 1), attrs=("shape",)),
        OpDef("permute", _permute, (1, 1), attrs=("dims",)),
        OpDef("expand", _expand, (1, 1), attrs=("shape",)),
        OpDef("max_pool2d", _pool2d_indices, (1, 1), attrs=("kernel", "stride", "padding"),
              index_outputs=lambda a: (1,) if a.get("indices") else ()),
        OpDef("max_unpool2d", _max_unpool2d, (2, 2), attrs=("output_size",)),
        OpDef("avg_pool2d", _pool2d, (1, 1), attrs=("kernel", "stride", "padding")),
        OpDef("adaptive_avg_pool2d", _adaptive_pool, (1, 1), attrs=("output_size",)),
        OpDef("interpolate", _interpolate, (1, 1), attrs=("mode", "size", "align_corners")),
        OpDef("softmax", _softmax, (1, 1), attrs=("axis",)),
        OpDef("mean", _mean, (1, 1), attrs=("axes",)),
        OpDef("sum", _mean, (1, 1), attrs=("axes",)),
        OpDef("pad", _pad, (1, 1), attrs=("pads",)),
        OpDef("slice", _slice, (1, 1), attrs=("axis", "start", "end")),
        OpDef("layer_norm", _layer_norm, (1, 1), ("weight", "bias"), (), ("axis", "eps")),
        OpDef("group_norm", _group_norm, (1, 1), ("weight", "bias"), (), ("groups", "eps")),
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


def index_outputs(op: str, attrs: Mapping[str, Any]) -> tuple[int, ...]:
    """Positions of the outputs that hold int64 indices (max_pool2d with ``indices``)."""
    d = OPS.get(op)
    return d.index_outputs(attrs) if d else ()
