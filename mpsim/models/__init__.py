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
