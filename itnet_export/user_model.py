"""``mpsim export --module FILE.py:FACTORY`` (or ``package.module:FACTORY``): a user's own model.

The factory is any callable that returns an ``nn.Module`` (a class, a function); it is called
with ``--args`` / ``--kwargs`` after ``torch.manual_seed(seed)``, the checkpoint (if any) is
loaded into the result, and the model is exported on seeded uniform [0, 1) inputs of the
``--input`` shapes.  Every problem on the way is one ``MpsimError`` line; nothing is written
unless the whole export succeeds.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any, Callable, Sequence

import torch
import torch.nn as nn

from itnet_export.cli import load_checkpoint
from itnet_export.exporter import export
from mpsim.errors import MpsimError
from mpsim.ir.graph import Graph


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:300]}" if text else type(exc).__name__


def _import_file(path: str):
    if not os.path.isfile(path):
        raise MpsimError(f"{path}: no such file")
    name = f"_mpsim_user_{abs(hash(os.path.abspath(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise MpsimError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)  # so the file can import its neighbours
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise MpsimError(f"{path}: could not be imported ({_one_line(exc)})") from None
    finally:
        sys.path.remove(folder)
    return module


def load_factory(spec: str) -> Callable[..., Any]:
    """``FILE.py:FACTORY`` or ``package.module:FACTORY`` -> the callable (dotted names allowed)."""
    where, sep, attr = spec.rpartition(":")
    if not sep or not where or not attr:
        raise MpsimError(f"--module wants FILE.py:FACTORY or package.module:FACTORY, not '{spec}'")
    if where.endswith(".py") or os.sep in where or "/" in where:
        module = _import_file(where)
    else:
        try:
            module = importlib.import_module(where)
        except Exception as exc:
            raise MpsimError(f"module '{where}' could not be imported ({_one_line(exc)})") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            known = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_")
                           and getattr(v, "__module__", None) == module.__name__)
            hint = f" (it defines {', '.join(known[:8])})" if known else ""
            raise MpsimError(f"{where} has no '{attr}'{hint}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise MpsimError(f"{spec} is a {type(obj).__name__}, not a callable that builds a model")
    return obj


def build_model(spec: str, args: Sequence[Any] = (), kwargs: dict | None = None, seed: int = 0) -> nn.Module:
    """Call the factory (seeded) and check that it gives an ``nn.Module``."""
    factory = load_factory(spec)
    torch.manual_seed(seed)
    try:
        model = factory(*args, **(kwargs or {}))
    except Exception as exc:
        raise MpsimError(f"{spec} raised {_one_line(exc)}") from None
    if not isinstance(model, nn.Module):
        raise MpsimError(f"{spec} returned a {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


def example_inputs(shapes: Sequence[Sequence[int]], seed: int = 0) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.rand(tuple(s), generator=gen) for s in shapes)


def export_module(spec: str, out_dir: str, input_shapes: Sequence[Sequence[int]], args: Sequence[Any] = (),
                  kwargs: dict | None = None, checkpoint: str | None = None, seed: int = 0,
                  name: str | None = None) -> Graph:
    """Build the user's model and write its export (graph.json, weights.npz, reference.npz)."""
    if not input_shapes:
        raise MpsimError("--module needs --input with the shape of each model input, e.g. --input 1x3x256x256")
    model = build_model(spec, args, kwargs, seed)
    meta: dict[str, Any] = {"source": "module", "module": spec, "args": list(args), "kwargs": dict(kwargs or {}),
                            "inputs": [list(s) for s in input_shapes], "seed": seed}
    if checkpoint:
        load_checkpoint(model, checkpoint)
        meta["checkpoint"] = os.path.basename(checkpoint)
    name = name or spec.rpartition(":")[2]
    return export(model.eval(), example_inputs(input_shapes, seed), out_dir, name=name, meta=meta)
