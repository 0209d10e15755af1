"""Write files so that a crash never leaves a half-written result behind.

* ``atomic_path(path)``: one file, written beside its target and renamed over it.
* ``atomic_files(paths)``: files that belong together (a figure's PNG and SVG), all written
  first, then renamed into place one right after the other.
* ``atomic_dir(path, owns)``: a set of files (an export, a catalog of exports) built in a
  temporary folder beside the target and swapped with it in one step (``renameat2`` with
  ``RENAME_EXCHANGE``), so a killed command leaves the old set or the new one, never a mix.

Temporary names are ``.NAME.PID.XXXXXXXX.tmp``.  A ``finally`` removes them after any error,
SIGINT or SIGTERM (the CLI turns SIGTERM into an exception); those of a process killed outright
are swept by the next write to the same target, once their PID is no longer alive.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import shutil
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from mpsim.errors import MpsimError


def _tmp_re(name: str) -> re.Pattern[str]:
    return re.compile(rf"^\.{re.escape(name)}\.(\d+)\.[A-Za-z0-9_]+(\.old)?\.tmp$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


def sweep_stale(target: str | os.PathLike[str]) -> None:
    """Remove the temporary files of ``target`` left by dead processes (restoring a set that a
    kill caught between the two renames of the fallback swap)."""
    target = Path(target)
    if not target.parent.is_dir():
        return
    pattern = _tmp_re(target.name)
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return
    for entry in entries:
        m = pattern.match(entry.name)
        if not m or _alive(int(m.group(1))):
            continue
        if m.group(2) and not target.exists() and not target.is_symlink():
            os.rename(entry, target)  # the old set, put back
        else:
            _remove(entry)


def _mode(path: str | os.PathLike[str], bits: int) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, bits & ~umask)  # mkstemp / mkdtemp make 0600 / 0700; results read like any file


def _tmp_prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}."


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success."""
    with _unrenamed(path) as (tmp, target):
        yield tmp
        os.replace(tmp, target)


@contextmanager
def atomic_files(paths: Sequence[str | os.PathLike[str]]) -> Iterator[list[Path]]:
    """Temporary paths for several files; all are renamed into place together, on success only."""
    with ExitStack() as stack:
        tmps = [stack.enter_context(_unrenamed(p)) for p in paths]
        yield [t for t, _ in tmps]
        for tmp, target in tmps:
            os.replace(tmp, target)


@contextmanager
def _unrenamed(path: str | os.PathLike[str]) -> Iterator[tuple[Path, Path]]:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(target), suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        _mode(tmp, 0o666)
        yield Path(tmp), target
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2); False where the system cannot."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), os.fspath(b))


def _swap_in(new: Path, target: Path) -> None:
    """Put folder ``new`` at ``target``; the old set, if any, ends up at ``new``."""
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        return
    old = Path(tempfile.mkdtemp(prefix=_tmp_prefix(target), suffix=".old.tmp", dir=target.parent))
    os.rmdir(old)
    os.rename(target, old)  # a kill here: the next write to target puts the old set back
    os.rename(new, target)
    os.rename(old, new)


def replaceable(target: str | os.PathLike[str], owns: Callable[[Path], bool] | None = None) -> None:
    """Raise one line if replacing folder ``target`` would delete something that is not part of
    the set (``owns(entry)`` says what is; None: the folder must be empty)."""
    t = Path(target)
    if not t.exists():
        return
    if not t.is_dir():
        raise MpsimError(f"{target}: exists and is not a folder")
    here = Path.cwd().resolve()
    real = t.resolve()
    if real == here or real in here.parents:
        raise MpsimError(f"{target}: is the current folder (or holds it); write the set to a folder of its own")
    foreign = sorted(e.name for e in t.iterdir() if not (owns and owns(e)))
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise MpsimError(f"{target}: holds {', '.join(foreign[:3])}{more}, which this command does not write; "
                         "it replaces the whole folder, so give an empty or a new one")


@contextmanager
def atomic_dir(path: str | os.PathLike[str], owns: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success it replaces ``path`` in one step.

    ``owns(entry)`` says which entries of an existing ``path`` belong to the set being
    replaced; anything else there makes this an error before any work (see ``replaceable``).
    """
    target = Path(path)
    if target.is_symlink():
        target = target.resolve()
    replaceable(target, owns)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(target), suffix=".tmp", dir=target.parent))
    try:
        _mode(tmp, 0o777)
        yield tmp
        _swap_in(tmp, target)
    finally:
        _remove(tmp)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
