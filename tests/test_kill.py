"""Killed mid-write: the old result or the new one, never a mix, and no temporary files after SIGTERM.

* the mechanism (mpsim.atomic) in a child process held inside its write, then killed;
* ``mpsim export`` over an existing export, killed while its temporary folder exists;
* ``mpsim run --json`` killed during the run and at random moments (nightly);
* ``mpsim train`` (SIGTERM, then ``--resume``) is in tests/test_training.py beside its SIGKILL tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mpsim.atomic import atomic_dir, atomic_path, sweep_stale

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
MPSIM = [sys.executable, "-m", "mpsim"]


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp"))


HOLD = """
import sys, time
from pathlib import Path
from mpsim.atomic import atomic_dir, atomic_path
from mpsim.cli.main import _sigterm_unwinds
from mpsim.errors import Terminated

kind, target = sys.argv[1], Path(sys.argv[2])
with _sigterm_unwinds():
    try:
        if kind == "dir":
            with atomic_dir(target, owns=lambda e: True) as tmp:
                (tmp / "a.txt").write_text("new a")
                print("writing", flush=True)
                time.sleep(60)
                (tmp / "b.txt").write_text("new b")
        else:
            with atomic_path(target) as tmp:
                tmp.write_text('{"half": ')
                print("writing", flush=True)
                time.sleep(60)
    except Terminated:
        sys.exit(143)
"""


def _held_then_killed(kind: str, target: Path, sig: int) -> int:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, kind, str(target)], env=ENV, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(sig)
    return proc.wait(timeout=30)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT])
def test_a_set_killed_mid_write_stays_the_old_set(tmp_path, sig):
    target = tmp_path / "set"
    target.mkdir()
    (target / "a.txt").write_text("old a")
    (target / "b.txt").write_text("old b")
    rc = _held_then_killed("dir", target, sig)
    assert {p.name: p.read_text() for p in target.iterdir()} == {"a.txt": "old a", "b.txt": "old b"}
    if sig == signal.SIGKILL:
        assert rc == -9 and len(_temps(tmp_path)) == 1  # nothing can clean up after SIGKILL ...
        sweep_stale(target)  # ... so the next write to the same target does
    else:  # the CLI turns SIGTERM into exit 143; SIGINT is Python's KeyboardInterrupt
        assert rc == (143 if sig == signal.SIGTERM else -signal.SIGINT)
    assert _temps(tmp_path) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_file_killed_mid_write_stays_the_old_file(tmp_path, sig):
    target = tmp_path / "report.json"
    target.write_text('{"old": 1}\n')
    rc = _held_then_killed("file", target, sig)
    assert target.read_text() == '{"old": 1}\n'
    assert rc == (143 if sig == signal.SIGTERM else -9)
    with atomic_path(target) as tmp:  # the next write sweeps what SIGKILL left
        tmp.write_text('{"new": 1}\n')
    assert _temps(tmp_path) == [] and json.loads(target.read_text()) == {"new": 1}


def test_a_set_replaces_the_old_one_whole(tmp_path, monkeypatch):
    target = tmp_path / "set"
    target.mkdir()
    (target / "gone.txt").write_text("old")
    with atomic_dir(target, owns=lambda e: True) as tmp:
        (tmp / "a.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["a.txt"] and _temps(tmp_path) == []
    # where the system cannot exchange two paths in one step, two renames do it
    import mpsim.atomic as atomic

    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    with atomic_dir(target, owns=lambda e: True) as tmp:
        (tmp / "b.txt").write_text("newer")
    assert [p.name for p in target.iterdir()] == ["b.txt"] and _temps(tmp_path) == []


def test_an_old_set_caught_between_two_renames_is_put_back(tmp_path):
    """The fallback swap's window: the old set renamed away, the new one not yet in place."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    old = tmp_path / f".set.{dead}.abc123.old.tmp"
    old.mkdir()
    (old / "a.txt").write_text("old")
    sweep_stale(tmp_path / "set")
    assert (tmp_path / "set" / "a.txt").read_text() == "old" and _temps(tmp_path) == []


def test_a_failed_set_leaves_nothing(tmp_path):
    target = tmp_path / "set"
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "a.txt").write_text("new")
            raise RuntimeError("the work failed")
    assert not target.exists() and list(tmp_path.iterdir()) == []


# mpsim export over an existing export ------------------------------------------------------------

def _export_set(folder: Path) -> dict:
    """graph.json's text and every array of the two .npz files."""
    out = {"graph.json": (folder / "graph.json").read_text()}
    for name in ("weights.npz", "reference.npz"):
        with np.load(folder / name) as z:
            out[name] = {k: z[k] for k in z.files}
    return out


def _same(a: dict, b: dict) -> bool:
    return a["graph.json"] == b["graph.json"] and all(
        a[n].keys() == b[n].keys() and all(np.array_equal(a[n][k], b[n][k]) for k in a[n])
        for n in ("weights.npz", "reference.npz"))


@pytest.fixture(scope="module")
def two_exports(tmp_path_factory):
    """The itnet-tiny export with seed 0 (the old set) and with seed 1 (the new set)."""
    pytest.importorskip("torch")
    from mpsim.cli.main import main

    base = tmp_path_factory.mktemp("exports")
    for seed in (0, 1):
        assert main(["export", "--preset", "itnet-tiny", "--seed", str(seed), "--out", str(base / str(seed))]) == 0
    return _export_set(base / "0"), _export_set(base / "1"), base / "0"


def _kill_export_while_writing(out: Path, sig: int, delay: float = 0.0) -> int:
    """Start ``mpsim export --seed 1`` over ``out``; send ``sig`` once its temporary folder exists."""
    proc = subprocess.Popen(MPSIM + ["export", "--preset", "itnet-tiny", "--seed", "1", "--out", str(out)],
                            env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline and not any(
            p.name.startswith(f".{out.name}.{proc.pid}.") for p in out.parent.iterdir()):
        time.sleep(0.002)
    time.sleep(delay)
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(timeout=60)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_export_killed_while_overwriting_leaves_the_old_set(two_exports, tmp_path, sig):
    import shutil

    old, new, old_dir = two_exports
    out = tmp_path / "export"
    shutil.copytree(old_dir, out)
    rc = _kill_export_while_writing(out, sig)
    assert rc == (143 if sig == signal.SIGTERM else -9)
    assert _same(_export_set(out), old)  # the work was under way: the old set, whole
    if sig == signal.SIGTERM:
        assert _temps(tmp_path) == []
    # the next export replaces it whole (and sweeps what a SIGKILL left)
    from mpsim.cli.main import main

    assert main(["export", "--preset", "itnet-tiny", "--seed", "1", "--out", str(out)]) == 0
    assert _same(_export_set(out), new) and _temps(tmp_path) == []


@pytest.mark.slow
def test_export_killed_at_random_moments_is_old_or_new_never_a_mix(two_exports, tmp_path):
    import shutil

    old, new, old_dir = two_exports
    rng = np.random.default_rng(16)
    seen = set()
    for attempt in range(8):
        out = tmp_path / f"export{attempt}"
        shutil.copytree(old_dir, out)
        _kill_export_while_writing(out, signal.SIGKILL, delay=float(rng.uniform(0, 3.0)))
        got = _export_set(out)
        assert _same(got, old) or _same(got, new), f"attempt {attempt}: a mix of the two sets"
        seen.add("old" if _same(got, old) else "new")
    assert seen == {"old", "new"}  # the kills fell both before and after the swap


# mpsim run --json -----------------------------------------------------------------------------------

RUN = ["run", "--model", "itnet-tiny", "--profile", "ipu_gc200", "--placement", "pipelined", "--mode", "dataflow",
       "--engine", "simpy", "--quiet"]


def test_run_terminated_mid_run_leaves_the_old_report(tmp_path):
    out = tmp_path / "report.json"
    out.write_text('{"old": true}\n')
    proc = subprocess.Popen(MPSIM + [*RUN, "--frames", "100000", "--json", str(out)], env=ENV, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)  # well into the simulation (about 4 min of it)
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=60)
    assert rc == 143 and proc.stderr.read().strip() == "mpsim: terminated"
    assert out.read_text() == '{"old": true}\n' and _temps(tmp_path) == []


@pytest.mark.slow
def test_run_killed_at_random_moments_writes_a_whole_report_or_none(tmp_path):
    ref = tmp_path / "ref.json"
    assert subprocess.run(MPSIM + [*RUN, "--frames", "3000", "--json", str(ref)], env=ENV, cwd=ROOT,
                          capture_output=True).returncode == 0
    rng = np.random.default_rng(7)
    outcomes = set()
    for attempt in range(10):
        out = tmp_path / "report.json"
        out.write_text('{"old": true}\n')
        proc = subprocess.Popen(MPSIM + [*RUN, "--frames", "3000", "--json", str(out)], env=ENV, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(float(rng.uniform(1.0, 8.0)))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        text = out.read_text()
        assert text in ('{"old": true}\n', ref.read_text())  # byte for byte: same seed, same report
        outcomes.add(text == ref.read_text())
        sweep_stale(out)
        assert _temps(tmp_path) == []
    assert outcomes == {True, False}
