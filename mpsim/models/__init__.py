"""Built-in graphs (exported presets, weights not included) for simulation without torch.

Regenerate with ``python -m itnet_export.builtin``; a test checks they match fresh exports.
Every command that takes a model resolves it here, the same way: an existing path (a
graph.json, or an export folder holding one) first, then a built-in name.
"""

from __future__ import annotations

from pathlib import Path

from mpsim.errors import MpsimError
from mpsim.ir.graph import Graph
from mpsim.ir.serialize import load_graph

MODEL_DIR = Path(__file__).parent
DEFAULT_MODEL = "itnet-cityscapes"


EXPORT_FILES = ("graph.json", "weights.npz", "reference.npz")


def owns_export(entry: Path) -> bool:
    """What an export folder may hold when an export replaces it: its files (and stale temporaries)."""
    return entry.name in EXPORT_FILES or (entry.name.startswith(".") and entry.name.endswith(".tmp"))


def builtin_models() -> list[str]:
    return sorted(p.stem for p in MODEL_DIR.glob("*.json"))


def locate(name_or_path: str | None) -> tuple[Path, bool]:
    """(the graph file, whether it is a built-in) for a name, a graph.json or an export folder."""
    name = name_or_path or DEFAULT_MODEL
    path = Path(name)
    if path.exists():
        return (path / "graph.json" if path.is_dir() else path), False
    if name in builtin_models():
        return MODEL_DIR / f"{name}.json", True
    raise MpsimError(f"no model '{name}': not a file or folder, nor a built-in ({', '.join(builtin_models())})")


def resolve_model(name_or_path: str | None) -> Graph:
    """A built-in model name, a graph.json, or a folder holding one."""
    return load_graph(locate(name_or_path)[0])


def resolve_export(name_or_path: str | None) -> tuple[Graph, Path | None]:
    """The graph and the export folder beside it (weights, reference); None for a built-in."""
    path, builtin = locate(name_or_path)
    return load_graph(path), None if builtin else path.parent


def export_folder(folder: Path | None, name: str, purpose: str) -> Path:
    """``folder``, or one line saying that a built-in graph has no weights for ``purpose``."""
    if folder is None:
        raise MpsimError(f"'{name}' is a built-in graph without weights; {purpose} needs an export folder "
                         f"(mpsim export --preset {name} --out DIR, then give DIR)")
    return folder
