"""Built-in graphs (exported from the presets, weights not included) for simulation without torch.

Regenerate with ``python -m itnet_export.builtin``; a test checks they match fresh exports.
"""

from __future__ import annotations

from pathlib import Path

from mpsim.errors import MpsimError
from mpsim.ir.graph import Graph
from mpsim.ir.serialize import load_graph

MODEL_DIR = Path(__file__).parent
DEFAULT_MODEL = "itnet-cityscapes"


def builtin_models() -> list[str]:
    return sorted(p.stem for p in MODEL_DIR.glob("*.json"))


def resolve_model(name_or_path: str | None) -> Graph:
    """A built-in model name, a graph.json, or a folder holding one."""
    name = name_or_path or DEFAULT_MODEL
    path = Path(name)
    if path.exists():
        return load_graph(path)
    if (MODEL_DIR / f"{name}.json").exists():
        return load_graph(MODEL_DIR / f"{name}.json")
    raise MpsimError(f"no model '{name}': not a file or folder, nor a built-in ({', '.join(builtin_models())})")


def export_folder(name_or_path: str) -> Path:
    """The folder of an export given as the folder or its graph.json (weights.npz and
    reference.npz lie beside the graph). A built-in model is a graph without weights."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    if path.is_file():
        return path.parent
    if (MODEL_DIR / f"{name_or_path}.json").exists():
        raise MpsimError(f"'{name_or_path}' is a built-in graph without weights: export it with weights first "
                         f"(mpsim export --preset {name_or_path} --out DIR, or mpsim train)")
    raise MpsimError(f"no model '{name_or_path}': not a file or folder, nor a built-in ({', '.join(builtin_models())})")
