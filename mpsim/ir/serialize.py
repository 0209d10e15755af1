"""The graph's JSON file format (documented in docs/graph-format.md).

``load_graph`` parses (bounded: ``mpsim.jsonfile``), type-checks and validates; any problem
becomes one ``GraphFormatError`` line that starts with the file name.  ``save_graph`` writes
atomically.
"""

from __future__ import annotations

import json
import os
from typing import Any

from mpsim import jsonfile

from mpsim.atomic import write_text
from mpsim.errors import GraphFormatError
from mpsim.ir.graph import DTYPE_BYTES, Carried, Graph, Loop, Node, Output, TensorSpec
from mpsim.ir.validate import validate
from mpsim.limits import MAX_GRAPH_FILE_BYTES

FORMAT = "mpsim-graph"
VERSION = 1


def _spec_to_json(s: TensorSpec) -> dict[str, Any]:
    return {"shape": list(s.shape), "dtype": s.dtype}


def to_dict(g: Graph) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": g.name,
        "meta": dict(g.meta),
        "inputs": list(g.inputs),
        "outputs": [{"index": o.index, "tensor": o.tensor} for o in g.outputs],
        "tensors": {k: _spec_to_json(v) for k, v in g.tensors.items()},
        "weights": {k: _spec_to_json(v) for k, v in g.weights.items()},
        "weight_groups": {k: list(v) for k, v in g.weight_groups.items()},
        "nodes": [
            {
                "name": n.name,
                "op": n.op,
                "inputs": list(n.inputs),
                "outputs": list(n.outputs),
                "attrs": _jsonable(dict(n.attrs)),
                "params": dict(n.params),
                "macs": n.macs,
                "param_count": n.param_count,
                "module": n.module,
            }
            for n in g.nodes
        ],
        "loops": [
            {
                "name": lp.name,
                "trip_count": lp.trip_count,
                "body": list(lp.body),
                "carried": [
                    {"init": c.init, "body_input": c.body_input, "body_output": c.body_output}
                    for c in lp.carried
                ],
            }
            for lp in g.loops
        ],
    }


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def dumps(g: Graph) -> str:
    return json.dumps(to_dict(g), indent=1)


def save_graph(g: Graph, path: str | os.PathLike[str]) -> None:
    validate(g)
    write_text(path, dumps(g) + "\n")


class _Reader:
    """Typed field access that names the failing field in its error."""

    def get(self, obj: Any, key: str, typ: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
        if not isinstance(obj, dict):
            raise GraphFormatError(f"'{where}' must be an object")
        if key not in obj:
            if default is not ...:
                return default
            raise GraphFormatError(f"field '{where}.{key}' is missing" if where else f"field '{key}' is missing")
        v = obj[key]
        if not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
            names = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
            raise GraphFormatError(f"field '{where + '.' if where else ''}{key}' must be {names}")
        return v

    def spec(self, obj: Any, where: str) -> TensorSpec:
        shape = self.get(obj, "shape", list, where)
        if not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
            raise GraphFormatError(f"field '{where}.shape' must be a list of integers")
        dtype = self.get(obj, "dtype", str, where, "float32")
        if dtype not in DTYPE_BYTES:
            raise GraphFormatError(f"'{where}' has unknown dtype '{dtype}' (known: {', '.join(DTYPE_BYTES)})")
        return TensorSpec(tuple(shape), dtype)

    def strings(self, obj: Any, key: str, where: str) -> tuple[str, ...]:
        xs = self.get(obj, key, list, where)
        if not all(isinstance(x, str) for x in xs):
            raise GraphFormatError(f"field '{where}.{key}' must be a list of strings")
        return tuple(xs)


def from_dict(d: Any) -> Graph:
    r = _Reader()
    if not isinstance(d, dict):
        raise GraphFormatError("the file must hold one JSON object")
    fmt = r.get(d, "format", str, "")
    if fmt != FORMAT:
        raise GraphFormatError(f"not an mpsim graph (format is '{fmt}', expected '{FORMAT}')")
    version = r.get(d, "version", int, "")
    if version != VERSION:
        raise GraphFormatError(f"format version {version} is not supported (this mpsim reads version {VERSION})")
    tensors = {k: r.spec(v, f"tensors.{k}") for k, v in r.get(d, "tensors", dict, "").items()}
    weights = {k: r.spec(v, f"weights.{k}") for k, v in r.get(d, "weights", dict, "", {}).items()}
    groups = {k: r.strings(d["weight_groups"], k, "weight_groups") for k in r.get(d, "weight_groups", dict, "", {})}
    nodes = []
    for i, nd in enumerate(r.get(d, "nodes", list, "")):
        w = f"nodes[{i}]"
        params = r.get(nd, "params", dict, w, {})
        if not all(isinstance(v, str) for v in params.values()):
            raise GraphFormatError(f"field '{w}.params' must map roles to weight names")
        nodes.append(
            Node(
                name=r.get(nd, "name", str, w),
                op=r.get(nd, "op", str, w),
                inputs=r.strings(nd, "inputs", w),
                outputs=r.strings(nd, "outputs", w),
                attrs=r.get(nd, "attrs", dict, w, {}),
                params=params,
                macs=r.get(nd, "macs", int, w, 0),
                param_count=r.get(nd, "param_count", int, w, 0),
                module=r.get(nd, "module", str, w, ""),
            )
        )
    loops = []
    for i, ld in enumerate(r.get(d, "loops", list, "", [])):
        w = f"loops[{i}]"
        carried = tuple(
            Carried(
                init=r.get(c, "init", str, f"{w}.carried[{j}]"),
                body_input=r.get(c, "body_input", str, f"{w}.carried[{j}]"),
                body_output=r.get(c, "body_output", str, f"{w}.carried[{j}]"),
            )
            for j, c in enumerate(r.get(ld, "carried", list, w, []))
        )
        loops.append(Loop(r.get(ld, "name", str, w), r.get(ld, "trip_count", int, w), r.strings(ld, "body", w), carried))
    outputs = tuple(
        Output(r.get(o, "index", int, f"outputs[{i}]"), r.get(o, "tensor", str, f"outputs[{i}]"))
        for i, o in enumerate(r.get(d, "outputs", list, ""))
    )
    g = Graph(
        name=r.get(d, "name", str, "", "graph"),
        inputs=r.strings(d, "inputs", ""),
        outputs=outputs,
        tensors=tensors,
        nodes=tuple(nodes),
        weights=weights,
        weight_groups=groups,
        loops=tuple(loops),
        meta=r.get(d, "meta", dict, "", {}),
    )
    validate(g)
    return g


def loads(text: str) -> Graph:
    return from_dict(jsonfile.parse(text, GraphFormatError))


def load_graph(path: str | os.PathLike[str]) -> Graph:
    """Load and validate ``path`` (a graph.json, or a folder holding one)."""
    p = os.fspath(path)
    if os.path.isdir(p):
        p = os.path.join(p, "graph.json")
    text = jsonfile.read_text(p, MAX_GRAPH_FILE_BYTES, "graph file", GraphFormatError)
    try:
        return loads(text)
    except GraphFormatError as exc:
        raise GraphFormatError(f"{p}: {exc}") from None
