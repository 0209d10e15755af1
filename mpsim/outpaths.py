"""Where a command may write: checked before its work starts, so long work never fails at the end.

A file target must not be a folder or a special file; a folder target must not be a file; the
nearest existing folder on the way up must be writable (missing folders below it are created
when the command writes).  Each check returns the problem as a phrase (None when there is
none) so that ``mpsim.cli.argtypes`` can report it as a flag error and code can raise it.
"""

from __future__ import annotations

import os
from pathlib import Path

from mpsim.errors import MpsimError


def _creatable(path: Path) -> str | None:
    """Problem with creating ``path`` (and missing folders above it), or None."""
    parent = path.parent
    while not parent.exists():
        if parent == parent.parent:
            return f"no folder on the way to {path} exists"
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"folder {parent} is not writable"
    return None


def file_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot receive a file (written beside it, then renamed over it), or None."""
    text = os.fspath(path)
    if not text.strip():
        return "an empty path"
    p = Path(text)
    if p.is_dir():
        return "is a folder (give a file path)"
    if p.exists() or p.is_symlink():
        if not p.is_file():
            return "exists and is not a regular file"
        if not os.access(p.parent, os.W_OK | os.X_OK):
            return f"folder {p.parent} is not writable"
        return None
    return _creatable(p)


def folder_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot become (or be replaced as) a folder of results, or None."""
    text = os.fspath(path)
    if not text.strip():
        return "an empty path"
    p = Path(text)
    if p.exists() or p.is_symlink():
        if not p.is_dir():
            return "exists and is not a folder"
        if not os.access(p, os.W_OK | os.X_OK):
            return "is a folder that is not writable"
        if not os.access(p.resolve().parent, os.W_OK | os.X_OK):
            return f"folder {p.resolve().parent} is not writable"
        return None
    return _creatable(p)


def stem_problem(stem: str | os.PathLike[str], suffixes: tuple[str, ...] = (".png", ".svg")) -> str | None:
    """Why STEM.png and STEM.svg (a figure's files) cannot be written, or None."""
    for suffix in suffixes:
        problem = file_problem(f"{os.fspath(stem)}{suffix}")
        if problem:
            return f"{os.fspath(stem)}{suffix} {problem}"
    return None


def check_file(path: str | os.PathLike[str], what: str = "output") -> None:
    problem = file_problem(path)
    if problem:
        raise MpsimError(f"{what} {os.fspath(path)}: {problem}")


def check_folder(path: str | os.PathLike[str], what: str = "output folder") -> None:
    problem = folder_problem(path)
    if problem:
        raise MpsimError(f"{what} {os.fspath(path)}: {problem}")
