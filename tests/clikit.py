"""Running the CLI in-process and holding it to the bad-input promise (one line, exit 2)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml

from hwprofiles import profile_dir
from mpsim.cli.main import main
from mpsim.models import MODEL_DIR

TINY_GRAPH = json.loads((MODEL_DIR / "itnet-tiny.json").read_text())
GC200 = yaml.safe_load((profile_dir() / "ipu_gc200.yaml").read_text())


def cli(argv: list[str], capsys) -> tuple[int, list[str]]:
    """(exit code, stderr lines) of ``mpsim ARGV``; a usage error's SystemExit is an exit code."""
    capsys.readouterr()
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:
        rc = exc.code
    return rc, capsys.readouterr().err.strip().splitlines()


def assert_rejected(argv: list[str], capsys, *words: str) -> str:
    """Exit 2, exactly one line on stderr that holds every one of ``words``, no traceback."""
    rc, err = cli(argv, capsys)
    assert rc == 2, (argv, rc, err)
    assert len(err) == 1, (argv, err)
    assert "Traceback" not in err[0]
    for w in words:
        assert w in err[0], (w, err[0])
    return err[0]


def snapshot(paths: list[Path]) -> dict[str, bytes | None]:
    """Bytes of each path (None: absent), to show that a rejected command wrote nothing."""
    return {str(p): (p.read_bytes() if p.is_file() else None) for p in paths}


def graph_file(tmp_path: Path, mutate=None, name: str = "graph.json") -> Path:
    """itnet-tiny's graph.json, changed by ``mutate(dict)`` (which may return a replacement)."""
    d = copy.deepcopy(TINY_GRAPH)
    if mutate is not None:
        d = mutate(d) or d
    path = tmp_path / name
    path.write_text(d if isinstance(d, str) else json.dumps(d))
    return path


def profile_file(tmp_path: Path, mutate=None, name: str = "chip.yaml") -> Path:
    """ipu_gc200's profile, changed by ``mutate(dict)``."""
    d = copy.deepcopy(GC200)
    if mutate is not None:
        d = mutate(d) or d
    path = tmp_path / name
    path.write_text(d if isinstance(d, str) else yaml.safe_dump(d, sort_keys=False))
    return path
