"""Load an export's ``weights.npz`` and ``reference.npz``; every problem is one MpsimError line.

The exporter writes ``DIR/weights.npz`` (weight name -> float32 array) and
``DIR/reference.npz``: ``input`` (or, for a graph with several inputs, ``input.<name>`` per
graph input) and ``output_1`` .. ``output_N``, the outputs PyTorch (or onnxruntime, for an
ONNX import) computed from it.
"""

from __future__ import annotations

import os
import zipfile
from typing import Any, Mapping

import numpy as np

from mpsim.errors import MpsimError
from mpsim.ir.graph import Graph

WEIGHTS_FILE = "weights.npz"
REFERENCE_FILE = "reference.npz"


def _path(path: str | os.PathLike[str], default_name: str) -> str:
    p = os.fspath(path)
    return os.path.join(p, default_name) if os.path.isdir(p) else p


def read_npz(path: str | os.PathLike[str], what: str) -> dict[str, np.ndarray]:
    """Every array of an .npz file, read eagerly (no pickles); ``what`` names the file's role."""
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise MpsimError(f"{p}: no such {what} file")
    try:
        with np.load(p, allow_pickle=False) as data:
            return {k: np.asarray(data[k]) for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MpsimError(f"{p}: not a readable {what} file ({reason})") from None


def load_weights(path: str | os.PathLike[str], graph: Graph | None = None) -> dict[str, np.ndarray]:
    """The weights of an export (a folder or the .npz itself), as float32 arrays.

    With ``graph``, also checks that every weight it names is present with its shape."""
    p = _path(path, WEIGHTS_FILE)
    raw = read_npz(p, "weights")
    if graph is not None:
        check_weights(graph, raw, source=p)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in raw.items()}


def _kind(dtype: str) -> str:
    """'f' (floating), 'i' (integer) or 'b' (bool): what an array of a graph dtype must be."""
    return "b" if dtype == "bool" else "i" if dtype.startswith("int") else "f"


def check_weights(graph: Graph, weights: Mapping[str, np.ndarray], source: str = "weights") -> None:
    """Raise one MpsimError line if a weight the graph declares is missing or misshapen."""
    missing = [w for w in graph.weights if w not in weights]
    if missing:
        more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
        raise MpsimError(
            f"{source}: lacks {len(missing)} weight(s) that graph '{graph.name}' needs: "
            f"{', '.join(missing[:3])}{more}"
        )
    for name, spec in graph.weights.items():
        arr = np.asarray(weights[name])
        if tuple(arr.shape) != tuple(spec.shape):
            raise MpsimError(f"{source}: weight '{name}' has shape {list(arr.shape)}, graph '{graph.name}' expects "
                             f"{list(spec.shape)}")
        kind = {"u": "i"}.get(arr.dtype.kind, arr.dtype.kind)
        if kind != _kind(spec.dtype):
            raise MpsimError(f"{source}: weight '{name}' is {arr.dtype}, graph '{graph.name}' declares {spec.dtype}")
        if kind == "f" and not np.isfinite(arr).all():
            raise MpsimError(f"{source}: weight '{name}' holds NaN or infinite values")


def reference_inputs(graph: Graph, arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
    """The reference.npz entries of the graph's inputs: ``input``, or ``input.<name>`` each."""
    if len(arrays) != len(graph.inputs):
        raise MpsimError(f"graph '{graph.name}' has {len(graph.inputs)} input(s), {len(arrays)} given")
    if len(arrays) == 1:
        return {"input": arrays[0]}
    return {f"input.{name}": a for name, a in zip(graph.inputs, arrays)}


def load_reference(path: str | os.PathLike[str], n_outputs: int | None = None) -> tuple[Any, list[np.ndarray]]:
    """``(input, [output_1, .., output_N])`` of an export's reference.npz; the input is an
    array, or a dict graph-input name -> array when the export has several inputs.

    With ``n_outputs``, exactly that many outputs must be present."""
    p = _path(path, REFERENCE_FILE)
    arrays = read_npz(p, "reference")
    named = {k[len("input."):]: np.ascontiguousarray(v, dtype=np.float32)
             for k, v in arrays.items() if k.startswith("input.")}
    if "input" not in arrays and not named:
        raise MpsimError(f"{p}: holds no array 'input'")
    n = 0
    while f"output_{n + 1}" in arrays:
        n += 1
    if n == 0:
        raise MpsimError(f"{p}: holds no reference outputs (output_1, output_2, ...)")
    if n_outputs is not None and n != n_outputs:
        raise MpsimError(f"{p}: holds {n} reference output(s), the graph has {n_outputs}")
    inputs = ["input"] if "input" in arrays else [f"input.{k}" for k in named]
    for key in inputs + [f"output_{i + 1}" for i in range(n)]:
        a = arrays[key]
        if a.dtype.kind not in "fiu" or (a.dtype.kind == "f" and not np.isfinite(a).all()):
            raise MpsimError(f"{p}: array '{key}' is not finite numbers ({a.dtype})")
    outs = [np.asarray(arrays[f"output_{i + 1}"], dtype=np.float32) for i in range(n)]
    if "input" not in arrays:
        return named, outs
    return np.ascontiguousarray(arrays["input"], dtype=np.float32), outs
