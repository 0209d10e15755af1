"""Where a command may write: checked before its work starts, so long work never fails at the end.

A file target must not be a folder or a special file; a folder target must not be a file; the
nearest existing folder on the way up must be writable (missing folders below it are created
when the command writes).  Each check returns the problem as a phrase (None when there is
none) so that ``mpsim.cli.argtypes`` can report it as a flag error and code can raise it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mpsim.errors import MpsimError


class _Unreachable(Exception):
    pass


def _kind(p: Path) -> str:
    """'missing', 'dir', 'file' or 'other'; _Unreachable when a folder on the way cannot be searched."""
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        return "missing"
    except NotADirectoryError:
        raise _Unreachable(f"a part of {p} is a file, not a folder") from None
    except PermissionError:
        raise _Unreachable(f"a folder on the way to {p} cannot be searched (permission denied)") from None
    except OSError as exc:
        raise _Unreachable(f"{p}: {exc.strerror or exc}") from None
    return "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"


def _writable_dir(d: Path) -> str | None:
    return None if os.access(d, os.W_OK | os.X_OK) else f"folder {d} is not writable"


def _creatable(path: Path) -> str | None:
    """Problem with creating ``path`` (and missing folders above it), or None."""
    parent = path.parent
    while _kind(parent) == "missing":
        if parent == parent.parent:
            return f"no folder on the way to {path} exists"
        parent = parent.parent
    if _kind(parent) != "dir":
        return f"{parent} is not a folder"
    return _writable_dir(parent)


def _problem(path: str | os.PathLike[str], verdict) -> str | None:
    """``verdict(p, kind)`` for a non-empty path, a path that cannot be reached said as such."""
    text = os.fspath(path)
    if not text.strip():
        return "is an empty path"
    p = Path(text)
    try:
        return verdict(p, _kind(p))
    except _Unreachable as exc:
        return str(exc)


def _as_file(p: Path, kind: str) -> str | None:
    if kind == "dir":
        return "is a folder (give a file path)"
    if kind == "other":
        return "exists and is not a regular file"
    return _writable_dir(p.parent) if kind == "file" else _creatable(p)


def _as_folder(p: Path, kind: str) -> str | None:
    if kind == "missing":
        return _creatable(p)
    if kind != "dir":
        return "exists and is not a folder"
    return _writable_dir(p) or _writable_dir(p.resolve().parent)


def file_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot receive a file (written beside it, then renamed over it), or None."""
    return _problem(path, _as_file)


def folder_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot become (or be replaced as) a folder of results, or None."""
    return _problem(path, _as_folder)


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
