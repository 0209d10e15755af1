"""Generic exporter: any ``nn.Module`` built from standard ops -> the mpsim graph format.

The model is captured with ``torch.export``; each ATen call is translated by a table of
converters (one per op family), sub-graphs that only touch parameters are evaluated once
(constant folding), batch norm is folded into a preceding convolution that owns its weights,
and repeated use of the same parameters is folded into loop regions by ``mpsim.ir.fold``.
Nothing here knows about ItNet.
"""

from __future__ import annotations

import operator
import os
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn as nn

from mpsim.atomic import atomic_dir, atomic_path
from mpsim.errors import MpsimError, UnsupportedOperatorError
from mpsim.ir.builder import GraphBuilder
from mpsim.ir.graph import Graph, Node, Output, TensorSpec
from mpsim.ir.loops import fold
from mpsim.ir.serialize import save_graph

aten = torch.ops.aten


@dataclass
class _Ctx:
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


def _is_const(v: Any) -> bool:
    return isinstance(v, torch.Tensor)


def _shape(node) -> tuple[int, ...]:
    return tuple(int(d) for d in node.meta["val"].shape)


def _module_path(node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    path = list(stack.values())[-1][0]
    return path.replace("L['self'].", "").replace("L['self']", "")


# Converters -----------------------------------------------------------------------------------
# Each takes (ctx, fx node, args with FX values resolved, module path) and returns the IR
# value of the node: a tensor name or a list of tensor names.

Converter = Callable[[_Ctx, Any, list, dict, str], Any]


def _emit(ctx, op, inputs, attrs=None, params=None, path="", name=None):
    base = name or (f"{path}.{op}" if path else op)
    outs = ctx.builder.node(op, inputs, attrs, params, name=base, module=path)
    return outs[0] if len(outs) == 1 else outs


def _params(ctx, path, **tensors):
    return {role: ctx.weight(t, f"{path or 'const'}.{role}") for role, t in tensors.items() if t is not None}


def _conv2d(ctx, node, a, kw, path):
    x, w = a[0], a[1]
    bias = a[2] if len(a) > 2 else kw.get("bias")
    stride, padding, dilation, groups = (list(a[3:]) + [None] * 4)[:4]
    if isinstance(padding, str):
        raise UnsupportedOperatorError(f"string padding '{padding}' at {path or 'model'} is not supported")
    attrs = {
        "stride": list(stride or [1, 1]),
        "padding": list(padding or [0, 0]),
        "dilation": list(dilation or [1, 1]),
        "groups": int(groups or 1),
    }
    return _emit(ctx, "conv2d", [x], attrs, _params(ctx, path, weight=w, bias=bias), path, path or None)


def _convolution(ctx, node, a, kw, path):
    x, w, bias, stride, padding, dilation, transposed, _out_pad, groups = a[:9]
    if transposed:
        raise UnsupportedOperatorError(f"transposed convolution at {path or 'model'} is not supported")
    return _conv2d(ctx, node, [x, w, bias, stride, padding, dilation, groups], {}, path)


def _linear(ctx, node, a, kw, path):
    bias = a[2] if len(a) > 2 else kw.get("bias")
    return _emit(ctx, "linear", [a[0]], {}, _params(ctx, path, weight=a[1], bias=bias), path, path or None)


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
        raise UnsupportedOperatorError(f"batch norm in training mode at {path}: call model.eval() first")
    return _batch_norm_common(ctx, path, x, gamma, beta, mean, var, eps)


def _batch_norm_legit(ctx, node, a, kw, path):
    x, gamma, beta, mean, var, _m, eps = a[:7]
    return [_batch_norm_common(ctx, path, x, gamma, beta, mean, var, eps)]


def _unary(op):
    return lambda ctx, node, a, kw, path: _emit(ctx, op, [a[0]], {}, None, path)


def _hardtanh(ctx, node, a, kw, path):
    lo = float(a[1]) if len(a) > 1 else -1.0
    hi = float(a[2]) if len(a) > 2 else 1.0
    if (lo, hi) == (0.0, 6.0):
        return _emit(ctx, "relu6", [a[0]], {}, None, path)
    return _emit(ctx, "clamp", [a[0]], {"min": lo, "max": hi}, None, path)


def _clamp(ctx, node, a, kw, path):
    lo = a[1] if len(a) > 1 else kw.get("min")
    hi = a[2] if len(a) > 2 else kw.get("max")
    return _emit(ctx, "clamp", [a[0]], {"min": None if lo is None else float(lo),
                                        "max": None if hi is None else float(hi)}, None, path)


def _prelu(ctx, node, a, kw, path):
    return _emit(ctx, "prelu", [a[0]], {}, _params(ctx, path, weight=a[1]), path, path or None)


def _binary(op):
    def conv(ctx, node, a, kw, path):
        x, y = a[0], a[1]
        alpha = kw.get("alpha", a[2] if len(a) > 2 else 1)
        if alpha != 1:
            raise UnsupportedOperatorError(f"{op} with alpha={alpha} at {path or 'model'} is not supported")
        if isinstance(x, (int, float)):
            x, y = y, x
        if isinstance(y, (int, float)):
            return _emit(ctx, op, [x], {"scalar": float(y)}, None, path)
        if _is_const(x) or _is_const(y):
            raise UnsupportedOperatorError(
                f"{op} of a tensor with a constant tensor at {path or 'model'} is not supported")
        return _emit(ctx, op, [x, y], {}, None, path)

    return conv


def _cat(ctx, node, a, kw, path):
    dim = a[1] if len(a) > 1 else kw.get("dim", 0)
    return _emit(ctx, "cat", list(a[0]), {"axis": int(dim)}, None, path)


def _split_like(ctx, node, a, kw, path):
    x = a[0]
    sizes = [int(v.shape[_dim(node)]) for v in node.meta["val"]]
    return _emit(ctx, "split", [x], {"axis": _dim(node), "sizes": sizes}, None, path)


def _dim(node) -> int:
    target = node.target
    args = node.args
    if target is aten.split_with_sizes.default or target is aten.split.Tensor or target is aten.chunk.default:
        d = args[2] if len(args) > 2 else node.kwargs.get("dim", 0)
    else:
        d = 0
    rank = len(node.args[0].meta["val"].shape)
    return int(d) % rank


def _reshape(ctx, node, a, kw, path):
    return _emit(ctx, "reshape", [a[0]], {"shape": list(_shape(node))}, None, path)


def _permute(ctx, node, a, kw, path):
    return _emit(ctx, "permute", [a[0]], {"dims": [int(d) for d in a[1]]}, None, path)


def _transpose(ctx, node, a, kw, path):
    rank = len(node.args[0].meta["val"].shape)
    d0, d1 = int(a[1]) % rank, int(a[2]) % rank
    dims = list(range(rank))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return _emit(ctx, "permute", [a[0]], {"dims": dims}, None, path)


def _identity(ctx, node, a, kw, path):
    return a[0]


def _max_pool(ctx, node, a, kw, path):
    k = list(a[1])
    stride = list(a[2]) if len(a) > 2 and a[2] else k
    attrs = {"kernel": k, "stride": stride, "padding": list(a[3]) if len(a) > 3 else [0, 0],
             "dilation": list(a[4]) if len(a) > 4 else [1, 1], "ceil_mode": bool(a[5]) if len(a) > 5 else False}
    out = _emit(ctx, "max_pool2d", [a[0]], attrs, None, path)
    return [out, None] if node.target is aten.max_pool2d_with_indices.default else out


def _avg_pool(ctx, node, a, kw, path):
    k = list(a[1])
    stride = list(a[2]) if len(a) > 2 and a[2] else k
    divisor = a[6] if len(a) > 6 else None
    if divisor is not None:
        raise UnsupportedOperatorError(f"avg_pool2d with divisor_override at {path or 'model'} is not supported")
    attrs = {"kernel": k, "stride": stride, "padding": list(a[3]) if len(a) > 3 else [0, 0],
             "ceil_mode": bool(a[4]) if len(a) > 4 else False,
             "count_include_pad": bool(a[5]) if len(a) > 5 else True}
    return _emit(ctx, "avg_pool2d", [a[0]], attrs, None, path)


def _adaptive_avg(ctx, node, a, kw, path):
    return _emit(ctx, "adaptive_avg_pool2d", [a[0]], {"output_size": list(_shape(node)[-2:])}, None, path)


def _upsample(mode):
    def conv(ctx, node, a, kw, path):
        if mode == "bilinear":
            align = bool(a[2])
            scales = a[3] if len(a) > 3 else None
        else:
            align = False
            scales = a[2] if len(a) > 2 else None
        attrs = {"mode": mode, "size": list(_shape(node)[-2:]), "align_corners": align,
                 "scales": [float(s) for s in scales] if scales else None}
        return _emit(ctx, "interpolate", [a[0]], attrs, None, path)

    return conv


def _softmax(ctx, node, a, kw, path):
    return _emit(ctx, "softmax", [a[0]], {"axis": int(a[1])}, None, path)


def _mean(ctx, node, a, kw, path):
    dims = a[1] if len(a) > 1 else kw.get("dim")
    keep = a[2] if len(a) > 2 else kw.get("keepdim", False)
    return _emit(ctx, "mean", [a[0]], {"axes": [int(d) for d in dims], "keepdim": bool(keep)}, None, path)


CONVERTERS: dict[Any, Converter] = {
    aten.conv2d.default: _conv2d,
    aten.convolution.default: _convolution,
    aten.linear.default: _linear,
    aten.batch_norm.default: _batch_norm,
    aten._native_batch_norm_legit_no_training.default: _batch_norm_legit,
    aten.relu.default: _unary("relu"),
    aten.relu_.default: _unary("relu"),
    aten.relu6.default: _unary("relu6"),
    aten.hardtanh.default: _hardtanh,
    aten.hardtanh_.default: _hardtanh,
    aten.clamp.default: _clamp,
    aten.sigmoid.default: _unary("sigmoid"),
    aten.hardswish.default: _unary("hardswish"),
    aten.hardswish_.default: _unary("hardswish"),
    aten.prelu.default: _prelu,
    aten.add.Tensor: _binary("add"),
    aten.add_.Tensor: _binary("add"),
    aten.mul.Tensor: _binary("mul"),
    aten.mul_.Tensor: _binary("mul"),
    aten.cat.default: _cat,
    aten.split.Tensor: _split_like,
    aten.split_with_sizes.default: _split_like,
    aten.chunk.default: _split_like,
    aten.view.default: _reshape,
    aten.reshape.default: _reshape,
    aten._unsafe_view.default: _reshape,
    aten.flatten.using_ints: _reshape,
    aten.permute.default: _permute,
    aten.transpose.int: _transpose,
    aten.contiguous.default: _identity,
    aten.clone.default: _identity,
    aten.alias.default: _identity,
    aten.detach.default: _identity,
    aten.dropout.default: _identity,
    aten.max_pool2d.default: _max_pool,
    aten.max_pool2d_with_indices.default: _max_pool,
    aten.avg_pool2d.default: _avg_pool,
    aten.adaptive_avg_pool2d.default: _adaptive_avg,
    aten.upsample_bilinear2d.vec: _upsample("bilinear"),
    aten.upsample_nearest2d.vec: _upsample("nearest"),
    aten.softmax.int: _softmax,
    aten._softmax.default: _softmax,
    aten.mean.dim: _mean,
}


def _op_label(target: Any) -> str:
    return str(getattr(target, "__name__", target)).replace("aten::", "aten.")


# Capture --------------------------------------------------------------------------------------

def _capture(model: nn.Module, example: torch.Tensor):
    try:
        return torch.export.export(model, (example,))
    except Exception as exc:  # torch raises many types; the user needs one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MpsimError(f"torch.export could not capture the model: {first}") from None


def to_flat_graph(model: nn.Module, example: torch.Tensor, name: str = "model",
                  meta: dict | None = None) -> tuple[Graph, dict[str, np.ndarray]]:
    """Translate ``model`` into a flat (unrolled) graph plus its weights."""
    model = model.eval()
    ep = _capture(model, example)
    sig = ep.graph_signature
    state = dict(ep.state_dict)
    consts = dict(getattr(ep, "constants", {}) or {})
    ctx = _Ctx(GraphBuilder(name, meta))
    lifted = {**sig.inputs_to_parameters, **sig.inputs_to_buffers,
              **getattr(sig, "inputs_to_lifted_tensor_constants", {})}

    unsupported: list[str] = []
    outputs: list[Any] = []
    for node in ep.graph.nodes:
        if node.op == "placeholder":
            if node.name in lifted:
                fqn = lifted[node.name]
                value = state.get(fqn, consts.get(fqn))
                ctx.fqn[id(value)] = fqn
                ctx.env[node.name] = value
            else:
                ctx.env[node.name] = ctx.builder.input(node.name, _shape(node))
        elif node.op == "call_function":
            ctx.env[node.name] = _translate(ctx, node, unsupported)
        elif node.op == "output":
            outputs = list(node.args[0])
    if unsupported:
        raise UnsupportedOperatorError(
            f"unsupported operator(s): {', '.join(dict.fromkeys(unsupported))}")
    for o in outputs:
        val = ctx.env[o.name]
        if not isinstance(val, str):
            raise MpsimError("every model output must be a tensor computed from the input")
        ctx.builder.output(val)
    g = ctx.builder.build()
    g, weights = fold_batch_norm(g, ctx.weights)
    return g, weights


def _resolve(ctx: _Ctx, v: Any) -> Any:
    if isinstance(v, torch.fx.Node):
        return ctx.env[v.name]
    if isinstance(v, (list, tuple)):
        return type(v)(_resolve(ctx, x) for x in v)
    return v


def _translate(ctx: _Ctx, node, unsupported: list[str]) -> Any:
    args = [_resolve(ctx, a) for a in node.args]
    kwargs = {k: _resolve(ctx, v) for k, v in node.kwargs.items()}
    if node.target is operator.getitem:
        return args[0][args[1]]
    tensor_args = [a for a in _flatten(args) + _flatten(list(kwargs.values())) if isinstance(a, (str, torch.Tensor))]
    if tensor_args and all(_is_const(a) for a in tensor_args):
        # Only parameters and constants feed it: evaluate once at export (e.g. masked weights).
        with torch.no_grad():
            return node.target(*args, **kwargs)
    conv = CONVERTERS.get(node.target)
    path = _module_path(node)
    if conv is None:
        unsupported.append(f"{_op_label(node.target)} (at {path or 'model'})")
        return f"<unsupported:{node.name}>"
    if any(isinstance(a, str) and a.startswith("<unsupported:") for a in tensor_args):
        return f"<unsupported:{node.name}>"
    return conv(ctx, node, args, kwargs, path)


def _flatten(xs: list) -> list:
    out = []
    for x in xs:
        if isinstance(x, (list, tuple)):
            out.extend(_flatten(list(x)))
        else:
            out.append(x)
    return out


# Batch-norm folding ---------------------------------------------------------------------------

def fold_batch_norm(g: Graph, weights: dict[str, np.ndarray]) -> tuple[Graph, dict[str, np.ndarray]]:
    """Fold ``batch_norm`` into the convolution before it when that convolution's output and
    weights belong to it alone (a shared convolution keeps its BN as a separate node)."""
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
        if conv is None or conv.op != "conv2d" or len(consumers.get(n.inputs[0], ())) != 1:
            continue
        if n.inputs[0] in graph_outputs:  # the un-normalised conv output is needed as is
            continue
        if any(weight_users[w] != 1 for w in conv.params.values()):
            continue
        scale, shift = weights[n.params["scale"]], weights[n.params["shift"]]
        w_name = conv.params["weight"]
        weights[w_name] = weights[w_name] * scale[:, None, None, None]
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


# Public API -----------------------------------------------------------------------------------

def to_graph(model: nn.Module, example: torch.Tensor, name: str = "model",
             meta: dict | None = None) -> tuple[Graph, dict[str, np.ndarray]]:
    """The folded graph of ``model`` and its weights (no files written)."""
    flat, weights = to_flat_graph(model, example, name, meta)
    return fold(flat), weights


def reference_outputs(model: nn.Module, example: torch.Tensor) -> list[np.ndarray]:
    with torch.no_grad():
        out = model.eval()(example)
    if isinstance(out, torch.Tensor):
        out = [out]
    return [o.detach().cpu().numpy() for o in out]


def save_npz(path: str | os.PathLike[str], arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp:
        _write_npz(tmp, arrays)


EXPORT_FILES = ("graph.json", "weights.npz", "reference.npz")


def owns_export(entry: Path) -> bool:
    """What an export folder may hold when an export replaces it: its files (and stale temporaries)."""
    return entry.name in EXPORT_FILES or (entry.name.startswith(".") and entry.name.endswith(".tmp"))


def export(model: nn.Module, example_input: torch.Tensor, out_dir: str | os.PathLike[str],
           name: str = "model", meta: dict | None = None) -> Graph:
    """Write ``graph.json``, ``weights.npz`` and ``reference.npz`` (input and outputs) to out_dir.

    The reference outputs (hundreds of MB at full resolution) are computed first and written by
    a second thread while the graph is traced (numpy and zipfile leave the interpreter lock to
    the tracer for most of the write).  The files are a set: they are written to a temporary
    folder beside out_dir that replaces it in one step (``mpsim.atomic.atomic_dir``), so an
    export killed at any moment leaves the old export or the new one, never a mix, and a failed
    one leaves nothing.  A folder that holds anything but an export is refused before any work.
    """
    with atomic_dir(out_dir, owns=owns_export) as out:
        refs = reference_outputs(model, example_input)
        arrays = {"input": example_input.detach().cpu().numpy()}
        arrays.update({f"output_{i + 1}": r for i, r in enumerate(refs)})
        with atomic_path(out / "reference.npz") as tmp, ThreadPoolExecutor(1) as pool:
            writing = pool.submit(_write_npz, tmp, arrays)
            try:
                g, weights = to_graph(model, example_input, name, meta)
            finally:
                wait([writing])
            writing.result()
        save_npz(out / "weights.npz", weights)
        save_graph(g, out / "graph.json")
    return g


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
