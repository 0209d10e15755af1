"""Generic exporter: any ``nn.Module`` built from standard ops -> the mpsim graph format.

The model is captured with ``torch.export``; each ATen call is translated by a table of
converters (``itnet_export.aten_ops``, one per op family), sub-graphs that only touch
parameters and constants are evaluated once (constant folding: also tensors created in
``forward``), batch norm is folded into a preceding (transposed) convolution that owns its
weights, and repeated use of the same parameters is folded into loop regions by
``mpsim.ir.fold``.  Unsupported operators are collected over the whole model and reported
together.  Nothing here knows about ItNet; docs/import.md lists what is supported.
"""

from __future__ import annotations

import operator
import os
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from itnet_export.aten_ops import CONVERTERS, RANDOM, SHAPE_ONLY, Ctx, Unsupported, _shape
from mpsim.atomic import atomic_dir, atomic_path
from mpsim.models import owns_export
from mpsim.errors import MpsimError, UnsupportedOperatorError
from mpsim.exec.weights import reference_inputs
from mpsim.ir.batchnorm import fold_batch_norm
from mpsim.ir.builder import GraphBuilder
from mpsim.ir.graph import Graph
from mpsim.ir.loops import fold
from mpsim.ir.serialize import save_graph

__all__ = ["export", "to_graph", "to_flat_graph", "reference_outputs", "fold_batch_norm", "save_npz"]

Example = "torch.Tensor | tuple[torch.Tensor, ...]"


def _examples(example) -> tuple[torch.Tensor, ...]:
    """The model's positional inputs: one tensor, or a tuple / list of them."""
    xs = (example,) if isinstance(example, torch.Tensor) else tuple(example)
    if not xs or not all(isinstance(x, torch.Tensor) for x in xs):
        raise MpsimError("the example input must be a tensor or a sequence of tensors")
    return xs


def _module_path(node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    path = list(stack.values())[-1][0]
    return path.replace("L['self'].", "").replace("L['self']", "")


def _op_label(target: Any) -> str:
    """``aten.cumsum.default``: the op as torch names it, with its namespace and overload."""
    name = getattr(target, "name", None)
    if callable(name):  # OpOverload: 'aten::cumsum' + overload
        ns, _, op = target.name().partition("::")
        return f"{ns}.{op}.{getattr(target, '_overloadname', 'default') or 'default'}"
    return str(getattr(target, "__name__", target)).replace("aten::", "aten.")


# Capture --------------------------------------------------------------------------------------

def _capture(model: nn.Module, examples: tuple[torch.Tensor, ...]):
    try:
        return torch.export.export(model, examples)
    except Exception as exc:  # torch raises many types; the user needs one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MpsimError(f"torch.export could not capture the model: {first}") from None


def to_flat_graph(model: nn.Module, example, name: str = "model",
                  meta: dict | None = None) -> tuple[Graph, dict[str, np.ndarray]]:
    """Translate ``model`` into a flat (unrolled) graph plus its weights.

    ``example`` is the input tensor, or a tuple of them for a model with several inputs.
    Every operator the graph format cannot express is collected first; then one
    ``UnsupportedOperatorError`` names each distinct op with its count and first module path
    (``.occurrences`` lists them all)."""
    model = model.eval()
    ep = _capture(model, _examples(example))
    sig = ep.graph_signature
    state = dict(ep.state_dict)
    consts = dict(getattr(ep, "constants", {}) or {})
    ctx = Ctx(GraphBuilder(name, meta))
    lifted = {**sig.inputs_to_parameters, **sig.inputs_to_buffers,
              **getattr(sig, "inputs_to_lifted_tensor_constants", {})}

    unsupported: list[dict] = []
    outputs: list[Any] = []
    for node in ep.graph.nodes:
        if node.op == "placeholder":
            if node.name in lifted:
                fqn = lifted[node.name]
                value = state.get(fqn, consts.get(fqn))
                ctx.fqn[id(value)] = fqn
                ctx.env[node.name] = value
            elif isinstance(node.meta.get("val"), torch.Tensor):
                ctx.env[node.name] = ctx.builder.input(node.name, _shape(node))
            else:
                ctx.env[node.name] = None  # a non-tensor input (None) fixed at export
        elif node.op == "call_function":
            ctx.env[node.name] = _translate(ctx, node, unsupported)
        elif node.op == "output":
            outputs = list(node.args[0])
    if unsupported:
        raise UnsupportedOperatorError.from_occurrences(unsupported)
    for o in outputs:
        val = ctx.env[o.name] if isinstance(o, torch.fx.Node) else o
        if not isinstance(val, str):
            raise MpsimError("every model output must be a tensor computed from the input")
        ctx.builder.output(val)
    g = ctx.builder.build()
    g, weights = fold_batch_norm(g, ctx.weights)
    return g, weights


def _resolve(ctx: Ctx, v: Any) -> Any:
    if isinstance(v, torch.fx.Node):
        return ctx.env[v.name]
    if isinstance(v, (list, tuple)):
        return type(v)(_resolve(ctx, x) for x in v)
    return v


def _is_pending(v: Any) -> bool:
    return isinstance(v, str) and v.startswith("<unsupported:")


def _translate(ctx: Ctx, node, unsupported: list[dict]) -> Any:
    args = [_resolve(ctx, a) for a in node.args]
    kwargs = {k: _resolve(ctx, v) for k, v in node.kwargs.items()}
    if node.target is operator.getitem:
        return args[0][args[1]]
    values = _flatten(args) + _flatten(list(kwargs.values()))
    if node.target in RANDOM:
        unsupported.append({"op": _op_label(node.target), "module": _module_path(node) or "model", "node": node.name,
                            "reason": "random values in forward (noise or dropout at inference cannot be exported)"})
        return _stand_in(ctx, node)
    if not any(isinstance(a, str) for a in values):
        # Only parameters, buffers and constants feed it (or nothing: zeros, arange, ...):
        # evaluate once at export (e.g. masked weights, a tensor created in forward).
        with torch.no_grad():
            return node.target(*args, **kwargs)
    if any(_is_pending(a) for a in values):
        return f"<unsupported:{node.name}>"
    path = _module_path(node)
    if node.target in SHAPE_ONLY:  # zeros_like(x): a constant of x's shape
        with torch.no_grad():
            return node.target(*[torch.zeros(ctx.shape(a)) if isinstance(a, str) else a for a in args],
                               **kwargs)
    conv = CONVERTERS.get(node.target)
    reason = None
    if conv is not None:
        try:
            return conv(ctx, node, args, kwargs, path)
        except Unsupported as exc:
            reason = str(exc)
        except Exception as exc:  # a form no converter foresaw: named, not a traceback
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            reason = f"could not translate ({type(exc).__name__}: {first})"
    unsupported.append({"op": _op_label(node.target), "module": path or "model", "node": node.name,
                        **({"reason": reason} if reason else {})})
    return _stand_in(ctx, node)


def _stand_in(ctx: Ctx, node) -> Any:
    """Inputs of the right shapes in place of an unsupported node's outputs, so that the
    translation goes on and reports every unsupported op (the graph is discarded)."""
    def one(v, k):
        if isinstance(v, torch.Tensor):
            return ctx.builder.input(f"unsupported.{node.name}.{k}", tuple(int(d) for d in v.shape))
        return f"<unsupported:{node.name}>"
    val = node.meta.get("val")
    if isinstance(val, (list, tuple)):
        return [one(v, k) for k, v in enumerate(val)]
    return one(val, 0)


def _flatten(xs: list) -> list:
    out = []
    for x in xs:
        if isinstance(x, (list, tuple)):
            out.extend(_flatten(list(x)))
        else:
            out.append(x)
    return out


# Public API -----------------------------------------------------------------------------------

def to_graph(model: nn.Module, example, name: str = "model",
             meta: dict | None = None) -> tuple[Graph, dict[str, np.ndarray]]:
    """The folded graph of ``model`` and its weights (no files written)."""
    flat, weights = to_flat_graph(model, example, name, meta)
    return fold(flat), weights


def reference_outputs(model: nn.Module, example) -> list[np.ndarray]:
    """The model's outputs on ``example``, flattened in the order torch.export returns them."""
    xs = _examples(example)
    try:
        with torch.no_grad():
            out = model.eval()(*xs)
    except Exception as exc:  # the user's forward: one line, not a traceback
        shapes = ", ".join("x".join(map(str, x.shape)) for x in xs)
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise MpsimError(f"the model's forward failed on input(s) {shapes}: {type(exc).__name__}: {first}") from None
    leaves = torch.utils._pytree.tree_leaves(out)
    if not all(isinstance(o, torch.Tensor) for o in leaves):
        raise MpsimError("every model output must be a tensor computed from the input")
    return [o.detach().cpu().numpy() for o in leaves]


def save_npz(path: str | os.PathLike[str], arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp:
        _write_npz(tmp, arrays)


def export(model: nn.Module, example_input, out_dir: str | os.PathLike[str],
           name: str = "model", meta: dict | None = None) -> Graph:
    """Write ``graph.json``, ``weights.npz`` and ``reference.npz`` (inputs and outputs) to out_dir.

    ``example_input`` is the input tensor, or a tuple of them for a model with several
    inputs.  The reference outputs (hundreds of MB at full resolution) are computed first and
    written by a second thread while the graph is traced (numpy and zipfile leave the
    interpreter lock to the tracer for most of the write).  The files are a set: they are
    written to a temporary folder beside out_dir that replaces it in one step
    (``mpsim.atomic.atomic_dir``), so an export killed at any moment leaves the old export or the
    new one, never a mix, and a failed one leaves nothing.  A folder that holds anything but an
    export is refused before any work.
    """
    examples = _examples(example_input)
    with atomic_dir(out_dir, owns=owns_export) as out:
        refs = reference_outputs(model, examples)
        outputs = {f"output_{i + 1}": r for i, r in enumerate(refs)}
        if len(examples) == 1:
            arrays = {"input": examples[0].detach().cpu().numpy(), **outputs}
            with atomic_path(out / "reference.npz") as tmp, ThreadPoolExecutor(1) as pool:
                writing = pool.submit(_write_npz, tmp, arrays)
                try:
                    g, weights = to_graph(model, examples, name, meta)
                finally:
                    wait([writing])
                writing.result()
        else:  # the inputs are stored under the graph's input names, known once traced
            g, weights = to_graph(model, examples, name, meta)
            save_npz(out / "reference.npz", {**reference_inputs(g, [x.detach().cpu().numpy() for x in examples]),
                                             **outputs})
        save_npz(out / "weights.npz", weights)
        save_graph(g, out / "graph.json")
    return g


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
