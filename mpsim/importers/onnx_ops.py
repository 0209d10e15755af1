"""ONNX node -> graph-format node(s): one converter per ONNX op, and the table of them.

Each converter takes (ctx, node, inputs, attributes, module path), where an input is a graph
tensor name (str) for a value computed from the model's input, a numpy array for a constant,
an ``IndexValue`` for max-pooling indices, or None for an absent optional input; it returns
the value of the node's output(s).  A form the graph format cannot express raises
``Unsupported`` with the reason (``onnx_import`` collects them).

Max-unpooling: ONNX ``MaxPool`` indices count over the whole tensor, PyTorch's (and the graph
format's) within one plane.  An index value is tracked as ``IndexValue``: a graph tensor of
per-plane indices plus a constant offset, through the ``Sub`` / ``Add`` / ``Reshape`` that
exporters wrap around it, until ``MaxUnpool`` or the ``ScatterND`` into zeros that the
torch.onnx (dynamo) exporter writes for ``max_unpool2d``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from mpsim.importers.emit import binary_with_constant, cat_with_constants
from mpsim.ir.builder import GraphBuilder


class Unsupported(Exception):
    """This node has a form the graph format cannot express (the reason)."""


@dataclass(frozen=True)
class IndexValue:
    """An ONNX max-pooling index tensor: ``per_plane`` (graph tensor, int64) + ``offset``
    (constant, the current shape); ``origin`` is the pooled shape and tensor it came from."""

    per_plane: str
    offset: np.ndarray
    origin: str
    origin_shape: tuple[int, ...]


@dataclass
class Ctx:
    model: Any
    builder: GraphBuilder
    shapes: dict[str, tuple[int, ...]]  # ONNX value -> inferred shape
    consumers: dict[str, list]  # ONNX value -> nodes reading it
    vals: dict[str, Any] = field(default_factory=dict)  # ONNX value -> tensor name | ndarray | IndexValue
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    weight_of: dict[tuple, str] = field(default_factory=dict)  # (source value, transform) -> weight name
    skip: set[str] = field(default_factory=set)  # first outputs of nodes an earlier one absorbed
    reshape_src: dict[str, str] = field(default_factory=dict)  # reshaped tensor -> its source

    def weight(self, arr: np.ndarray, source: str, transform: str = "") -> str:
        """A constant as a weight, once per (ONNX value, transform): shared initializers stay shared."""
        key = (source, transform)
        if key not in self.weight_of:
            base = clean_name(source + (f".{transform}" if transform else ""))
            name, k = base, 1
            while name in self.weights:
                name = f"{base}_{k}"
                k += 1
            arr = np.ascontiguousarray(arr, dtype=np.float32)
            self.weights[name] = arr
            self.builder.weight(name, arr.shape)
            self.weight_of[key] = name
        return self.weight_of[key]

    def shape(self, t: str) -> tuple[int, ...]:
        return tuple(self.builder.tensors[t].shape)


def clean_name(name: str) -> str:
    return re.sub(r"[@\s]", "_", name).strip("/") or "const"


def module_path(node) -> str:
    props = {p.key: p.value for p in node.metadata_props}
    scopes = props.get("pkg.torch.onnx.name_scopes")
    if scopes:  # torch.onnx (dynamo): ['', 'layer1', 'layer1.0', 'layer1.0.conv1', 'conv2d']
        parts = re.findall(r"'([^']*)'", scopes)
        return parts[-2] if len(parts) >= 2 else ""
    parts = [s for s in node.name.split("/") if s]  # torch.onnx (TorchScript): /layer1/layer1.0/conv1/Conv
    return parts[-2] if len(parts) >= 2 else ""


def attrs_of(node) -> dict[str, Any]:
    import onnx.helper

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


# Converters -----------------------------------------------------------------------------------

def _emit(ctx, op, inputs, attrs=None, params=None, path="", node=None):
    base = clean_name(node.name) if node is not None and node.name else (f"{path}.{op}" if path else op)
    outs = ctx.builder.node(op, inputs, attrs, params, name=base, module=path)
    return outs[0] if len(outs) == 1 else outs


def _act(v: Any, what: str) -> str:
    if not isinstance(v, str):
        kind = "a constant" if isinstance(v, np.ndarray) else "max-pooling indices" if isinstance(
            v, IndexValue) else "an output that is not computed"
        raise Unsupported(f"{what} of {kind}")
    return v


def _const(v: Any, what: str) -> np.ndarray:
    if not isinstance(v, np.ndarray):
        raise Unsupported(f"{what} must be a constant")
    return v


def _out_shape(ctx, node, k: int = 0) -> tuple[int, ...]:
    s = ctx.shapes.get(node.output[k])
    if s is None:
        raise Unsupported(f"output '{node.output[k]}' has no static shape after shape inference")
    return s


def _conv_pads(ctx, node, x, attrs, kernel, path):
    """(x, symmetric padding): ONNX begin/end pads, or auto_pad; asymmetric ones as a pad node."""
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    strides = list(attrs.get("strides", [1, 1]))
    dil = list(attrs.get("dilations", [1, 1]))
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        h, w = ctx.shape(x)[2:]
        lo, hi = [], []
        for size, k, s, d in zip((h, w), kernel, strides, dil):
            total = max(0, (-(-size // s) - 1) * s + (k - 1) * d + 1 - size)
            small, big = total // 2, total - total // 2
            lo.append(big if auto == "SAME_LOWER" else small)
            hi.append(small if auto == "SAME_LOWER" else big)
    elif auto == "VALID":
        lo, hi = [0, 0], [0, 0]
    else:
        pads = list(attrs.get("pads", [0, 0, 0, 0]))
        lo, hi = pads[:2], pads[2:]
    if lo != hi:
        rank = len(ctx.shape(x))
        p = [[0, 0]] * (rank - 2) + [[lo[0], hi[0]], [lo[1], hi[1]]]
        x = _emit(ctx, "pad", [x], {"pads": p, "mode": "constant", "value": 0.0}, None, path)
        lo = [0, 0]
    return x, lo, strides, dil


def _conv(ctx, node, ins, attrs, path):
    x, w = _act(ins[0], "Conv"), _const(ins[1], "a Conv weight")
    if w.ndim != 4:
        raise Unsupported(f"{w.ndim - 2}-d convolution (only 2-d)")
    x, pads, strides, dil = _conv_pads(ctx, node, x, attrs, w.shape[2:], path)
    params = {"weight": ctx.weight(w, node.input[1])}
    if len(ins) > 2 and ins[2] is not None:
        params["bias"] = ctx.weight(_const(ins[2], "a Conv bias"), node.input[2])
    a = {"stride": strides, "padding": pads, "dilation": dil, "groups": int(attrs.get("group", 1))}
    return _emit(ctx, "conv2d", [x], a, params, path, node)


def _conv_transpose(ctx, node, ins, attrs, path):
    x, w = _act(ins[0], "ConvTranspose"), _const(ins[1], "a ConvTranspose weight")
    if w.ndim != 4:
        raise Unsupported(f"{w.ndim - 2}-d transposed convolution (only 2-d)")
    if "output_shape" in attrs:
        raise Unsupported("ConvTranspose with attribute output_shape (give pads and output_padding)")
    auto = attrs.get("auto_pad", b"NOTSET")
    if (auto.decode() if isinstance(auto, bytes) else auto) not in ("NOTSET", "VALID"):
        raise Unsupported(f"ConvTranspose with auto_pad {auto!r}")
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if pads[:2] != pads[2:]:
        raise Unsupported(f"ConvTranspose with asymmetric pads {pads}")
    params = {"weight": ctx.weight(w, node.input[1])}
    if len(ins) > 2 and ins[2] is not None:
        params["bias"] = ctx.weight(_const(ins[2], "a ConvTranspose bias"), node.input[2])
    a = {"stride": list(attrs.get("strides", [1, 1])), "padding": pads[:2],
         "output_padding": list(attrs.get("output_padding", [0, 0])),
         "dilation": list(attrs.get("dilations", [1, 1])), "groups": int(attrs.get("group", 1))}
    return _emit(ctx, "conv_transpose2d", [x], a, params, path, node)


def _bias_after(ctx, node, n_out: int):
    """The 1-D constant of an Add that is the only reader of ``node``'s output, if any (a
    linear layer's bias, exported as MatMul + Add); that Add is then skipped."""
    users = ctx.consumers.get(node.output[0], [])
    if len(users) != 1 or users[0].op_type != "Add" or any(o.name == node.output[0] for o in ctx.model.graph.output):
        return None
    add = users[0]
    other = add.input[1] if add.input[0] == node.output[0] else add.input[0]
    c = ctx.vals.get(other)
    if not isinstance(c, np.ndarray) or c.size != n_out or c.ndim > 1:
        return None
    ctx.skip.add(add.output[0])
    return add, other, c.reshape(n_out)


def _linear(ctx, node, x, weight: np.ndarray, src: str, transform: str, path, bias=None, bias_src=""):
    """A linear layer; a bias-free one takes the bias of an Add that follows it alone."""
    params = {"weight": ctx.weight(weight, src, transform)}
    add = None
    if bias is None:
        found = _bias_after(ctx, node, weight.shape[0])
        if found is not None:
            add, bias_src, bias = found
    if bias is not None:
        params["bias"] = ctx.weight(bias, bias_src)
    y = _emit(ctx, "linear", [x], {}, params, path, node)
    if add is not None:
        ctx.vals[add.output[0]] = y
    return y


def _matmul(ctx, node, ins, attrs, path):
    a, b = ins
    if isinstance(b, np.ndarray):
        x = _act(a, "MatMul")
        if b.ndim != 2:
            raise Unsupported("MatMul with a constant operand of rank other than 2")
        return _linear(ctx, node, x, b.T, node.input[1], "T", path)
    a, b = _act(a, "MatMul"), _act(b, "MatMul")
    if len(ctx.shape(a)) < 2 or len(ctx.shape(b)) < 2:
        raise Unsupported("MatMul of a rank-1 operand")
    return _emit(ctx, "matmul", [a, b], {}, None, path, node)


def _gemm(ctx, node, ins, attrs, path):
    x, b = _act(ins[0], "Gemm"), _const(ins[1], "a Gemm weight")
    if attrs.get("transA", 0):
        raise Unsupported("Gemm with transA")
    alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
    w = b if attrs.get("transB", 0) else b.T
    transform = ("" if attrs.get("transB", 0) else "T") + ("" if alpha == 1 else f"x{alpha:g}")
    bias = None
    if len(ins) > 2 and ins[2] is not None:
        c = _const(ins[2], "a Gemm bias")
        if c.size not in (1, w.shape[0]):
            raise Unsupported(f"Gemm bias of shape {list(c.shape)}")
        bias = np.broadcast_to(c.reshape(-1), (w.shape[0],)) * beta
    return _linear(ctx, node, x, w * alpha if alpha != 1 else w, node.input[1], transform, path,
                   bias, node.input[2] if bias is not None else "")


def _batch_norm(ctx, node, ins, attrs, path):
    x = _act(ins[0], "BatchNormalization")
    gamma, beta, mean, var = (_const(v, "batch-norm statistics") for v in ins[1:5])
    eps = float(attrs.get("epsilon", 1e-5))
    scale = (gamma / np.sqrt(var + eps)).astype(np.float32)
    shift = (beta - mean * scale).astype(np.float32)
    params = {"scale": ctx.weight(scale, node.input[1], "bn_scale"), "shift": ctx.weight(shift, node.input[2], "bn_shift")}
    return [_emit(ctx, "batch_norm", [x], {}, params, path, node)]


def _layer_norm(ctx, node, ins, attrs, path):
    x = _act(ins[0], "LayerNormalization")
    shape = ctx.shape(x)
    axis = int(attrs.get("axis", -1)) % len(shape)
    eps = float(attrs.get("epsilon", 1e-5))
    params = {}
    for role, k in (("weight", 1), ("bias", 2)):
        if len(ins) > k and ins[k] is not None:
            params[role] = ctx.weight(np.broadcast_to(_const(ins[k], "a layer-norm scale"), shape[axis:]),
                                      node.input[k])
    return [_emit(ctx, "layer_norm", [x], {"axis": axis, "eps": eps}, params, path, node)]


def _instance_norm(ctx, node, ins, attrs, path):
    x = _act(ins[0], "InstanceNormalization")
    c = ctx.shape(x)[1]
    params = {"weight": ctx.weight(_const(ins[1], "a scale").reshape(c), node.input[1]),
              "bias": ctx.weight(_const(ins[2], "a bias").reshape(c), node.input[2])}
    return _emit(ctx, "group_norm", [x], {"groups": c, "eps": float(attrs.get("epsilon", 1e-5))}, params, path,
                 node)


def _group_norm(ctx, node, ins, attrs, path):
    x = _act(ins[0], "GroupNormalization")
    c, groups = ctx.shape(x)[1], int(attrs["num_groups"])
    params = {}
    for role, k in (("weight", 1), ("bias", 2)):
        v = _const(ins[k], "a group-norm scale").reshape(-1)
        if v.size == groups and groups != c:  # opset 18 (deprecated): one value per group
            v = np.repeat(v, c // groups)
        params[role] = ctx.weight(v, node.input[k])
    return _emit(ctx, "group_norm", [x], {"groups": groups, "eps": float(attrs.get("epsilon", 1e-5))}, params,
                 path, node)


def _unary(op, **fixed):
    def conv(ctx, node, ins, attrs, path):
        return _emit(ctx, op, [_act(ins[0], node.op_type)], dict(fixed), None, path, node)
    return conv


def _gelu(ctx, node, ins, attrs, path):
    approximate = attrs.get("approximate", b"none")
    approximate = approximate.decode() if isinstance(approximate, bytes) else approximate
    return _emit(ctx, "gelu", [_act(ins[0], "Gelu")], {"approximate": approximate}, None, path, node)


def _leaky_relu(ctx, node, ins, attrs, path):
    return _emit(ctx, "leaky_relu", [_act(ins[0], "LeakyRelu")], {"negative_slope": float(attrs.get("alpha", 0.01))},
                 None, path, node)


def _hard_sigmoid(ctx, node, ins, attrs, path):
    x = _act(ins[0], "HardSigmoid")
    alpha, beta = float(attrs.get("alpha", 0.2)), float(attrs.get("beta", 0.5))
    if abs(alpha - 1 / 6) < 1e-7 and beta == 0.5:
        return _emit(ctx, "hardsigmoid", [x], {}, None, path, node)
    y = _emit(ctx, "mul", [x], {"scalar": alpha}, None, path)
    y = _emit(ctx, "add", [y], {"scalar": beta}, None, path)
    return _emit(ctx, "clamp", [y], {"min": 0.0, "max": 1.0}, None, path, node)


def _clip(ctx, node, ins, attrs, path):
    x = _act(ins[0], "Clip")
    lo = attrs.get("min") if len(ins) < 2 or ins[1] is None else float(_const(ins[1], "Clip min"))
    hi = attrs.get("max") if len(ins) < 3 or ins[2] is None else float(_const(ins[2], "Clip max"))
    if lo == 0.0 and hi == 6.0:
        return _emit(ctx, "relu6", [x], {}, None, path, node)
    return _emit(ctx, "clamp", [x], {"min": None if lo is None else float(lo), "max": None if hi is None else float(hi)},
                 None, path, node)


def _pow(ctx, node, ins, attrs, path):
    e = _const(ins[1], "a Pow exponent")
    if e.size != 1:
        raise Unsupported("Pow with a tensor exponent")
    e = float(e.reshape(()))
    if e == 0.5:
        return _emit(ctx, "sqrt", [_act(ins[0], "Pow")], {}, None, path, node)
    return _emit(ctx, "pow", [_act(ins[0], "Pow")], {"exponent": e}, None, path, node)


def _prelu(ctx, node, ins, attrs, path):
    x = _act(ins[0], "PRelu")
    slope = _const(ins[1], "a PRelu slope")
    if slope.size not in (1, ctx.shape(x)[1]):
        raise Unsupported(f"PRelu slope of shape {list(slope.shape)}")
    return _emit(ctx, "prelu", [x], {}, {"weight": ctx.weight(slope.reshape(-1), node.input[1])}, path, node)


def _neg(ctx, node, ins, attrs, path):
    return _emit(ctx, "mul", [_act(ins[0], "Neg")], {"scalar": -1.0}, None, path, node)


def _reciprocal(ctx, node, ins, attrs, path):
    return _emit(ctx, "div", [_act(ins[0], "Reciprocal")], {"scalar": 1.0, "reverse": True}, None, path, node)


def _identity(ctx, node, ins, attrs, path):
    return [ins[0]] + [None] * (len(node.output) - 1)


def _binary(op):
    def conv(ctx, node, ins, attrs, path):
        a, b = ins
        if isinstance(a, IndexValue) or isinstance(b, IndexValue):
            return _index_arith(ctx, op, a, b)
        if isinstance(a, str) and isinstance(b, str):
            return _emit(ctx, op, [a, b], {}, None, path, node)
        reverse = not isinstance(a, str)
        x, c = (b, a) if reverse else (a, b)
        src = node.input[0] if reverse else node.input[1]
        return binary_with_constant(ctx.builder, op, x, c, reverse, _out_shape(ctx, node),
                                    lambda arr: ctx.weight(arr, src), path)
    return conv


def _index_arith(ctx, op, a, b):
    if op not in ("add", "sub") or not isinstance(a, IndexValue) or not isinstance(b, np.ndarray):
        raise Unsupported(f"{op} on max-pooling indices (only adding or subtracting constants)")
    offset = a.offset + b if op == "add" else a.offset - b
    if offset.shape != a.offset.shape:
        raise Unsupported("an index offset that widens the indices")
    return IndexValue(a.per_plane, offset, a.origin, a.origin_shape)


def _concat(ctx, node, ins, attrs, path):
    if any(isinstance(v, IndexValue) for v in ins):
        raise Unsupported("concatenation of max-pooling indices")
    return cat_with_constants(ctx.builder, ins, int(attrs["axis"]),
                              lambda arr: ctx.weight(arr, node.output[0], "constant"), path)


def _split(ctx, node, ins, attrs, path):
    x = _act(ins[0], "Split")
    axis = int(attrs.get("axis", 0)) % len(ctx.shape(x))
    sizes = [_out_shape(ctx, node, k)[axis] for k in range(len(node.output))]
    outs = _emit(ctx, "split", [x], {"axis": axis, "sizes": sizes}, None, path, node)
    return outs if isinstance(outs, list) else [outs]


def _reshape_to(ctx, x: str, shape: tuple[int, ...], path, node=None) -> str:
    src = ctx.reshape_src.get(x, x)
    if ctx.shape(src) == tuple(shape):
        return src
    y = _emit(ctx, "reshape", [src], {"shape": list(shape)}, None, path, node)
    ctx.reshape_src[y] = src
    return y


def _reshape(ctx, node, ins, attrs, path):
    x = ins[0]
    shape = _out_shape(ctx, node)
    if isinstance(x, IndexValue):
        return IndexValue(_reshape_to(ctx, x.per_plane, shape, path), x.offset.reshape(shape), x.origin,
                          x.origin_shape)
    return _reshape_to(ctx, _act(x, node.op_type), shape, path, node)


def _transpose(ctx, node, ins, attrs, path):
    x = _act(ins[0], "Transpose")
    rank = len(ctx.shape(x))
    perm = [int(p) for p in attrs.get("perm", list(range(rank))[::-1])]
    return _emit(ctx, "permute", [x], {"dims": perm}, None, path, node)


def _slice(ctx, node, ins, attrs, path):
    x = _act(ins[0], "Slice")
    shape = ctx.shape(x)
    starts, ends = _const(ins[1], "Slice starts"), _const(ins[2], "Slice ends")
    axes = _const(ins[3], "Slice axes") if len(ins) > 3 and ins[3] is not None else np.arange(len(starts))
    steps = _const(ins[4], "Slice steps") if len(ins) > 4 and ins[4] is not None else np.ones(len(starts), np.int64)
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = int(axis) % len(shape)
        if step < 1:
            raise Unsupported("Slice with a negative step")
        big = shape[axis]
        s, e, st = slice(int(max(min(start, 2 ** 62), -2 ** 62)), int(max(min(end, 2 ** 62), -2 ** 62)),
                         int(step)).indices(big)
        if (s, e, st) == (0, big, 1):
            continue
        if s >= e:
            raise Unsupported("Slice to an empty tensor")
        x = _emit(ctx, "slice", [x], {"axis": axis, "start": s, "end": e, "step": st}, None, path)
    return x


def _gather(ctx, node, ins, attrs, path):
    x = _act(ins[0], "Gather")
    idx = _const(ins[1], "Gather indices")
    shape = ctx.shape(x)
    axis = int(attrs.get("axis", 0)) % len(shape)
    flat = (idx.reshape(-1) % shape[axis]).astype(np.int64)
    if flat.size == 0 or np.any(np.diff(flat) != 1):
        raise Unsupported("Gather of indices that are not one contiguous range")
    y = _emit(ctx, "slice", [x], {"axis": axis, "start": int(flat[0]), "end": int(flat[-1]) + 1, "step": 1},
              None, path)
    return _reshape_to(ctx, y, _out_shape(ctx, node), path, node)


def _expand(ctx, node, ins, attrs, path):
    x = _act(ins[0], "Expand")
    shape = _out_shape(ctx, node)
    if ctx.shape(x) == shape:
        return x
    return _emit(ctx, "expand", [x], {"shape": list(shape)}, None, path, node)


def _pool_attrs(ctx, node, attrs, x):
    auto = attrs.get("auto_pad", b"NOTSET")
    if (auto.decode() if isinstance(auto, bytes) else auto) not in ("NOTSET", "VALID"):
        raise Unsupported(f"pooling with auto_pad {auto!r}")
    k = list(attrs["kernel_shape"])
    if len(k) != 2:
        raise Unsupported(f"{len(k)}-d pooling (only 2-d)")
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if pads[:2] != pads[2:]:
        raise Unsupported(f"pooling with asymmetric pads {pads}")
    return {"kernel": k, "stride": list(attrs.get("strides", [1, 1])), "padding": pads[:2],
            "ceil_mode": bool(attrs.get("ceil_mode", 0))}


def _max_pool(ctx, node, ins, attrs, path):
    x = _act(ins[0], "MaxPool")
    a = {**_pool_attrs(ctx, node, attrs, x), "dilation": list(attrs.get("dilations", [1, 1]))}
    if attrs.get("storage_order", 0):
        raise Unsupported("MaxPool indices in column-major storage order")
    wants_indices = len(node.output) > 1 and node.output[1] and ctx.consumers.get(node.output[1])
    if not wants_indices:
        return [_emit(ctx, "max_pool2d", [x], a, None, path, node), None]
    shape = ctx.shape(x)
    if a["kernel"] == [1, 1] and a["stride"] == [1, 1] and a["padding"] == [0, 0]:
        # One value per window: the indices are the positions themselves, a constant.
        flat = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
        return [x, flat]
    y, idx = _emit(ctx, "max_pool2d", [x], {**a, "indices": True}, None, path, node)
    n, c, h, w = shape
    plane = (np.arange(n * c, dtype=np.int64) * (h * w)).reshape(n, c, 1, 1)
    out_shape = ctx.shape(idx)
    return [y, IndexValue(idx, np.broadcast_to(plane, out_shape).copy(), idx, out_shape)]


def _unpool(ctx, x: str, index: IndexValue, plane: int, path, node, out_hw=None) -> str:
    """max_unpool2d of ``x`` at ``index`` into planes of ``plane`` values, checking that the
    index's offset is exactly ``plane`` per (n, c) plane, as a per-plane index needs."""
    n, c, hp, wp = index.origin_shape
    offsets = index.offset.reshape(n * c, hp * wp)
    if not np.all(offsets == (np.arange(n * c, dtype=np.int64) * plane)[:, None]):
        raise Unsupported("max-unpooling indices whose offsets are not one plane each")
    src = ctx.reshape_src.get(x, x)
    if ctx.shape(src) != index.origin_shape:
        src = _reshape_to(ctx, x, index.origin_shape, path)
    oh, ow = out_hw if out_hw else (1, plane)
    return _emit(ctx, "max_unpool2d", [src, index.origin], {"output_size": [oh, ow]}, None, path, node)


def _max_unpool(ctx, node, ins, attrs, path):
    x, index = _act(ins[0], "MaxUnpool"), ins[1]
    if not isinstance(index, IndexValue):
        raise Unsupported("MaxUnpool indices that do not come from a MaxPool")
    n, c, oh, ow = _out_shape(ctx, node)
    return _unpool(ctx, x, index, oh * ow, path, node, (oh, ow))


def _scatter_nd(ctx, node, ins, attrs, path):
    """``ScatterND(zeros (L,), indices (L', 1), updates (L',))``: torch.onnx's max_unpool2d."""
    data, index, updates = ins
    if not (isinstance(data, np.ndarray) and data.ndim == 1 and not np.any(data)
            and isinstance(index, IndexValue) and index.offset.shape[-1:] == (1,) and isinstance(updates, str)):
        raise Unsupported("ScatterND other than max-unpooling into zeros")
    n, c = index.origin_shape[:2]
    plane = data.size // (n * c)
    hw = None
    users = ctx.consumers.get(node.output[0], [])
    if len(users) == 1 and users[0].op_type == "Reshape":
        shape = ctx.shapes.get(users[0].output[0])
        if shape and len(shape) == 4 and shape[:2] == (n, c) and shape[2] * shape[3] == plane:
            hw = shape[2:]
    y = _unpool(ctx, updates, index, plane, path, node, hw)
    return _reshape_to(ctx, y, (data.size,), path)


def _avg_pool(ctx, node, ins, attrs, path):
    x = _act(ins[0], "AveragePool")
    a = {**_pool_attrs(ctx, node, attrs, x), "count_include_pad": bool(attrs.get("count_include_pad", 0))}
    return _emit(ctx, "avg_pool2d", [x], a, None, path, node)


def _global_avg(ctx, node, ins, attrs, path):
    x = _act(ins[0], "GlobalAveragePool")
    if len(ctx.shape(x)) != 4:
        raise Unsupported("GlobalAveragePool of a tensor that is not N x C x H x W")
    return _emit(ctx, "adaptive_avg_pool2d", [x], {"output_size": [1, 1]}, None, path, node)


def _reduce(op):
    def conv(ctx, node, ins, attrs, path):
        x = _act(ins[0], node.op_type)
        rank = len(ctx.shape(x))
        axes = attrs.get("axes")
        if len(ins) > 1 and ins[1] is not None:
            axes = list(_const(ins[1], "reduction axes").reshape(-1))
        if not axes:
            if attrs.get("noop_with_empty_axes", 0):
                return x
            axes = list(range(rank))
        return _emit(ctx, op, [x], {"axes": [int(a) % rank for a in axes], "keepdim": bool(attrs.get("keepdims", 1))},
                     None, path, node)
    return conv


def _softmax(ctx, node, ins, attrs, path):
    x = _act(ins[0], "Softmax")
    return _emit(ctx, "softmax", [x], {"axis": int(attrs.get("axis", -1))}, None, path, node)


def _pad(ctx, node, ins, attrs, path):
    x = _act(ins[0], "Pad")
    rank = len(ctx.shape(x))
    pads = list(_const(ins[1], "Pad amounts")) if len(ins) > 1 and ins[1] is not None else list(attrs["pads"])
    value = 0.0
    if len(ins) > 2 and ins[2] is not None and ins[2].size:
        value = float(_const(ins[2], "the Pad value").reshape(-1)[0])
    axes = list(range(rank))
    if len(ins) > 3 and ins[3] is not None:
        axes = [int(a) % rank for a in _const(ins[3], "Pad axes")]
    mode = attrs.get("mode", b"constant")
    mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}.get(
        mode.decode() if isinstance(mode, bytes) else mode)
    if mode is None:
        raise Unsupported(f"Pad mode {attrs.get('mode')!r}")
    per_axis = [[0, 0] for _ in range(rank)]
    k = len(axes)
    for j, a in enumerate(axes):
        per_axis[a] = [int(pads[j]), int(pads[j + k])]
    return _emit(ctx, "pad", [x], {"pads": per_axis, "mode": mode, "value": value}, None, path, node)


def _resize(ctx, node, ins, attrs, path):
    x = _act(ins[0], node.op_type)
    shape = ctx.shape(x)
    out = _out_shape(ctx, node)
    if len(shape) != 4 or out[:2] != shape[:2]:
        raise Unsupported("resizing other than the two spatial axes of N x C x H x W")
    text = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
    mode = text.get("mode", "nearest")
    ctm = text.get("coordinate_transformation_mode", "half_pixel" if node.op_type == "Resize" else "asymmetric")
    scales = None
    k = 2 if node.op_type == "Resize" else 1
    if len(ins) > k and isinstance(ins[k], np.ndarray) and ins[k].size == 4:
        scales = [float(s) for s in ins[k][2:]]
    if mode == "nearest":
        if ctm != "asymmetric" or text.get("nearest_mode", "round_prefer_floor") != "floor":
            raise Unsupported(f"nearest resizing with {ctm} coordinates and "
                              f"{text.get('nearest_mode', 'round_prefer_floor')} rounding (PyTorch's is "
                              "asymmetric + floor)")
        a = {"mode": "nearest", "size": list(out[2:]), "align_corners": False, "scales": scales}
    elif mode == "linear":
        if ctm not in ("half_pixel", "pytorch_half_pixel", "align_corners"):
            raise Unsupported(f"linear resizing with {ctm} coordinates")
        a = {"mode": "bilinear", "size": list(out[2:]), "align_corners": ctm == "align_corners",
             "scales": None if ctm == "align_corners" else scales}
    else:
        raise Unsupported(f"resizing mode '{mode}'")
    return _emit(ctx, "interpolate", [x], a, None, path, node)


def _cast(ctx, node, ins, attrs, path):
    import onnx

    if int(attrs["to"]) != onnx.TensorProto.FLOAT:
        raise Unsupported(f"Cast to {onnx.TensorProto.DataType.Name(int(attrs['to']))} (the graph computes in float32)")
    return ins[0]


def _shape_of(ctx, node, ins, attrs, path):
    v = ins[0]
    shape = ctx.shape(v.per_plane) if isinstance(v, IndexValue) else ctx.shape(_act(v, "Shape"))
    s = np.array(shape, dtype=np.int64)
    start, end = attrs.get("start", 0), attrs.get("end", len(s))
    return s[start:end]


CONVERTERS: dict[str, Callable] = {
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "Gemm": _gemm,
    "MatMul": _matmul,
    "BatchNormalization": _batch_norm,
    "LayerNormalization": _layer_norm,
    "InstanceNormalization": _instance_norm,
    "GroupNormalization": _group_norm,
    "Relu": _unary("relu"),
    "Sigmoid": _unary("sigmoid"),
    "HardSwish": _unary("hardswish"),
    "HardSigmoid": _hard_sigmoid,
    "Tanh": _unary("tanh"),
    "Erf": _unary("erf"),
    "Sqrt": _unary("sqrt"),
    "Gelu": _gelu,
    "LeakyRelu": _leaky_relu,
    "Clip": _clip,
    "Pow": _pow,
    "PRelu": _prelu,
    "Neg": _neg,
    "Reciprocal": _reciprocal,
    "Identity": _identity,
    "Dropout": _identity,
    "Cast": _cast,
    "Add": _binary("add"),
    "Sub": _binary("sub"),
    "Mul": _binary("mul"),
    "Div": _binary("div"),
    "Concat": _concat,
    "Split": _split,
    "Reshape": _reshape,
    "Flatten": _reshape,
    "Squeeze": _reshape,
    "Unsqueeze": _reshape,
    "Transpose": _transpose,
    "Slice": _slice,
    "Gather": _gather,
    "Expand": _expand,
    "MaxPool": _max_pool,
    "MaxUnpool": _max_unpool,
    "ScatterND": _scatter_nd,
    "AveragePool": _avg_pool,
    "GlobalAveragePool": _global_avg,
    "ReduceMean": _reduce("mean"),
    "ReduceSum": _reduce("sum"),
    "Softmax": _softmax,
    "Pad": _pad,
    "Resize": _resize,
    "Upsample": _resize,
    "Shape": _shape_of,
}
