"""ONNX model -> the mpsim graph format, without torch.

``onnx`` checks the file and infers every tensor's shape (after ``--input`` fixes any dynamic
dimension); each ONNX node becomes nodes of the same op table the torch.export exporter uses
(``mpsim.ir.ops``), so MACs, graph size and the executor mean the same for both.  Nodes whose
inputs are all constants (shape arithmetic, ``ConstantOfShape``, ...) are evaluated once with
``onnx.reference``; batch norm is folded into the convolution before it; shared initializers
fold into loops as in the torch path.  ``import_onnx`` also runs the model in
``onnxruntime`` on a seeded input and stores that as the reference ``mpsim verify`` checks.
The converters, one per ONNX op, are in ``onnx_ops``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mpsim.atomic import atomic_dir, atomic_path
from mpsim.errors import MpsimError, UnsupportedOperatorError
from mpsim.importers.onnx_ops import CONVERTERS, Ctx, Unsupported, attrs_of, clean_name, module_path
from mpsim.ir.batchnorm import fold_batch_norm
from mpsim.ir.builder import GraphBuilder
from mpsim.ir.graph import Graph
from mpsim.ir.loops import fold
from mpsim.ir.serialize import save_graph
from mpsim.models import owns_export


def _onnx():
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401
        import onnx.reference  # noqa: F401
        import onnx.shape_inference  # noqa: F401
    except ImportError as exc:
        raise MpsimError(f"--onnx needs the onnx package: {exc} (pip install 'mpsim[onnx]')") from None
    return onnx


# Loading --------------------------------------------------------------------------------------

def load_onnx(path: str | os.PathLike[str], input_shapes: Sequence[Sequence[int]] | None = None):
    """Read, check and shape-infer an ONNX file; ``input_shapes`` fix the graph inputs' shapes
    (required where the file leaves a dimension dynamic).  Every problem is one MpsimError."""
    onnx = _onnx()
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise MpsimError(f"{p}: no such ONNX file")
    try:
        model = onnx.load(p)
        onnx.checker.check_model(model)
    except Exception as exc:  # DecodeError, ValidationError, ...: the user needs one line
        raise MpsimError(f"{p}: not a valid ONNX model ({_first_line(exc)})") from None
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if input_shapes is not None and len(input_shapes) != len(inputs):
        raise MpsimError(f"{p}: the model has {len(inputs)} input(s), --input gives {len(input_shapes)}")
    for k, inp in enumerate(inputs):
        dims = inp.type.tensor_type.shape.dim
        if inp.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
            raise MpsimError(f"{p}: input '{inp.name}' is not float32 (only float inputs are supported)")
        if input_shapes is not None:
            want = [int(d) for d in input_shapes[k]]
            have = [d.dim_value if d.HasField("dim_value") else None for d in dims]
            if len(have) != len(want) or any(h not in (None, w) for h, w in zip(have, want)):
                shown = "x".join(str(h) if h else "?" for h in have)
                raise MpsimError(f"{p}: input '{inp.name}' is {shown} in the model, --input gives "
                                 f"{'x'.join(map(str, want))}")
            for d, w in zip(dims, want):
                d.ClearField("dim_param")
                d.dim_value = w
        else:
            for d in dims:
                if not d.HasField("dim_value") or d.dim_value <= 0:
                    raise MpsimError(f"{p}: input '{inp.name}' has a dynamic dimension "
                                     f"'{d.dim_param or '?'}': give its shape with --input")
    for out in model.graph.output:  # let inference decide output shapes afresh
        out.type.tensor_type.ClearField("shape")
    try:
        model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except Exception as exc:
        raise MpsimError(f"{p}: ONNX shape inference failed ({_first_line(exc)})") from None
    return model


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


# Translation ----------------------------------------------------------------------------------

def to_flat_graph(model, name: str = "model", meta: dict | None = None) -> tuple[Graph, dict[str, np.ndarray]]:
    """Translate a checked, shape-inferred ONNX model into a flat graph plus its weights."""
    onnx = _onnx()
    g = model.graph
    shapes: dict[str, tuple[int, ...]] = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        tt = vi.type.tensor_type
        if tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
            shapes[vi.name] = tuple(int(d.dim_value) for d in tt.shape.dim)
    consumers: dict[str, list] = {}
    for n in g.node:
        for t in n.input:
            consumers.setdefault(t, []).append(n)
    ctx = Ctx(model, GraphBuilder(name, meta), shapes, consumers)
    for init in g.initializer:
        ctx.vals[init.name] = onnx.numpy_helper.to_array(init)
    for inp in g.input:
        if inp.name not in ctx.vals:
            ctx.vals[inp.name] = ctx.builder.input(clean_name(inp.name), shapes[inp.name])
    unsupported: list[dict] = []
    for node in g.node:
        if node.output[0] in ctx.skip:
            continue
        _translate(ctx, node, unsupported)
    if unsupported:
        raise UnsupportedOperatorError.from_occurrences(unsupported)
    for out in g.output:
        val = ctx.vals.get(out.name)
        if not isinstance(val, str):
            raise MpsimError(f"ONNX output '{out.name}' is not computed from the input")
        ctx.builder.output(val)
    graph = _drop_dead_nodes(ctx.builder.build())
    return fold_batch_norm(graph, ctx.weights)


def _drop_dead_nodes(g: Graph) -> Graph:
    """Remove nodes no output depends on (left behind by patterns folded into one node)."""
    live = {o.tensor for o in g.outputs}
    keep = []
    for n in reversed(g.nodes):
        if any(t in live for t in n.outputs):
            keep.append(n)
            live.update(n.inputs)
    if len(keep) == len(g.nodes):
        return g
    keep.reverse()
    used = {t for n in keep for t in n.inputs + n.outputs} | set(g.inputs)
    weights = {w for n in keep for w in n.params.values()}
    return Graph(g.name, g.inputs, g.outputs, {k: v for k, v in g.tensors.items() if k in used}, tuple(keep),
                 {k: v for k, v in g.weights.items() if k in weights}, meta=g.meta)


_PENDING = object()  # the value of an unsupported node (and of everything computed from it)


def _translate(ctx: Ctx, node, unsupported: list[dict]) -> None:
    ins = [ctx.vals[t] if t else None for t in node.input]  # the checker guarantees every name exists
    if any(v is _PENDING for v in ins):
        outs: Any = [_PENDING] * len(node.output)
    else:
        label = f"{node.domain or 'ai.onnx'}.{node.op_type}"
        reason = None
        try:
            if node.domain not in ("", "ai.onnx"):
                raise Unsupported(f"operator domain '{node.domain}'")
            if all(v is None or isinstance(v, np.ndarray) for v in ins) and node.op_type not in _NEVER_FOLD:
                outs = _evaluate(ctx, node, ins)
            elif node.op_type in CONVERTERS:
                outs = CONVERTERS[node.op_type](ctx, node, ins, attrs_of(node), module_path(node))
            else:
                outs, reason = None, ""
        except Unsupported as exc:
            outs, reason = None, str(exc)
        except Exception as exc:  # a form no converter foresaw: named, not a traceback
            outs, reason = None, f"could not translate ({type(exc).__name__}: {_first_line(exc)})"
        if reason is not None:
            unsupported.append({"op": label, "module": module_path(node), "node": node.name,
                                **({"reason": reason} if reason else {})})
            outs = _stand_ins(ctx, node)
    outs = outs if isinstance(outs, list) else [outs]
    for t, v in zip(node.output, outs):
        if t and t not in ctx.vals:  # an output an earlier pattern already produced stays
            ctx.vals[t] = v


def _stand_ins(ctx: Ctx, node) -> list:
    """Inputs of the inferred shapes in place of an unsupported node's outputs, so that the
    translation goes on and reports every unsupported op (the graph is discarded)."""
    return [ctx.builder.input(f"<unsupported:{t}>", ctx.shapes[t]) if t in ctx.shapes else _PENDING
            for t in node.output]


_NEVER_FOLD = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial"}


def _evaluate(ctx: Ctx, node, ins: list) -> list[np.ndarray]:
    """A node of constants, evaluated once with onnx's reference implementation."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    names = [f"in{k}" if t else "" for k, t in enumerate(node.input)]
    feeds = {n: v for n, v in zip(names, ins) if n}
    copy = onnx.helper.make_node(node.op_type, names, [f"out{k}" for k in range(len(node.output))],
                                 domain=node.domain)
    copy.attribute.extend(node.attribute)
    graph = onnx.helper.make_graph(
        [copy], "fold",
        [onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
         for n, v in feeds.items()],
        [onnx.helper.make_empty_tensor_value_info(f"out{k}") for k in range(len(node.output))])
    m = onnx.helper.make_model(graph, opset_imports=ctx.model.opset_import, ir_version=ctx.model.ir_version)
    return [np.asarray(v) for v in ReferenceEvaluator(m).run(None, feeds)]


# Files ----------------------------------------------------------------------------------------

def reference_run(model, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """The model's outputs in onnxruntime (CPU, one thread: the same numbers every run)."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise MpsimError(f"--onnx needs onnxruntime for the reference outputs: {exc} (pip install 'mpsim[onnx]')") \
            from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        names = [i.name for i in sess.get_inputs()]
        return [np.asarray(o, dtype=np.float32) for o in sess.run(None, dict(zip(names, arrays)))]
    except Exception as exc:
        raise MpsimError(f"onnxruntime could not run the model: {_first_line(exc)}") from None


def to_graph(path: str | os.PathLike[str], input_shapes: Sequence[Sequence[int]] | None = None,
             name: str | None = None) -> tuple[Graph, dict[str, np.ndarray], Any]:
    """(folded graph, weights, the shape-fixed ONNX model) of an ONNX file; nothing written."""
    model = load_onnx(path, input_shapes)
    meta = {"source": "onnx", "file": os.path.basename(os.fspath(path)),
            "producer": f"{model.producer_name} {model.producer_version}".strip(),
            "opset": max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)}
    flat, weights = to_flat_graph(model, name or Path(path).stem, meta)
    return fold(flat), weights, model


def import_onnx(path: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                input_shapes: Sequence[Sequence[int]] | None = None, seed: int = 0,
                name: str | None = None) -> Graph:
    """Write ``graph.json``, ``weights.npz`` and ``reference.npz`` (a seeded uniform [0, 1)
    input and onnxruntime's outputs for it) to ``out_dir``.  Everything is computed first; the
    files are written as a set (``mpsim.atomic.atomic_dir``: a temporary folder that replaces
    ``out_dir`` in one step), so on any error or kill the old export stays."""
    from mpsim.exec.weights import reference_inputs

    g, weights, model = to_graph(path, input_shapes, name)
    rng = np.random.default_rng(seed)
    xs = [rng.random(g.tensors[t].shape, dtype=np.float32) for t in g.inputs]
    refs = reference_run(model, xs)
    if len(refs) != len(g.outputs):
        raise MpsimError(f"onnxruntime gave {len(refs)} output(s), the graph has {len(g.outputs)}")
    arrays = {**reference_inputs(g, xs), **{f"output_{i + 1}": r for i, r in enumerate(refs)}}
    with atomic_dir(out_dir, owns=owns_export) as out:
        for fname, data in (("reference.npz", arrays), ("weights.npz", weights)):
            with atomic_path(out / fname) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, **data)
        save_graph(g, out / "graph.json")
    return g
