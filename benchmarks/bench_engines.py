"""SimPy against compiled, head to head: node firings per second on the Cityscapes ItNet, per mode.

Measures, in one run (docs/engines.md quotes the figures):

* firings/s of the SimPy engines and of the compiled engine on ``itnet-cityscapes`` placed on
  ``ipu_m2000`` with the pipelined placement (every unit owns its tiles), in **dataflow** mode
  (SimPy: ``simpy_engine``) and in **bsp** mode (SimPy: ``tick_engine``), over 2,000 frames, wall
  clock and CPU time (``time.process_time``: on a shared machine the CPU time is the steadier
  figure); for each mode one SimPy run and the median of 10 compiled runs made during it (one
  after every 10 % of its frames, their time taken out of its own), so both see the same machine;
* the compiled engine's JIT cost: a cold compile (a fresh process and an empty numba cache), the
  first call of a fresh process that loads the cache, and a steady call, on a tiny plan;
* the compiled engine's cost per frame at 1e3, 1e4 and 1e5 frames in both modes (it should stay
  flat: memory and work per frame do not grow with the frame count);
* the wall time of whole ``mpsim run`` processes: the default run (converged; sequential placement,
  bsp), the same with ``--placement pipelined``, and 100,000 frames of pipelined dataflow.

Writes benchmarks/results/engines.json.  Run: ``python benchmarks/bench_engines.py``
(about a minute; ``--quick`` for a smoke run of a few seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mpsim.atomic import write_json
from mpsim.hw.profile import load_profile
from mpsim.mapping.placement import RunOptions
from mpsim.models import resolve_model
from mpsim.sim.simulate import make_plan, run_engine

RESULTS = Path(__file__).parent / "results"
MODEL, PROFILE, PLACEMENT = "itnet-cityscapes", "ipu_m2000", "pipelined"
MODES = ("dataflow", "bsp")
TARGET = 300  # the bar: compiled / SimPy firings per second, in every mode

# Run in a fresh interpreter: import, first call of each mode (compile or cache load), second call.
_JIT_PROBE = """
import json, time
t0 = time.perf_counter()
from mpsim.hw.profile import load_profile
from mpsim.mapping.placement import RunOptions
from mpsim.models import resolve_model
from mpsim.sim.simulate import make_plan, run_engine
p = load_profile("ipu_m2000")
_, plan = make_plan(resolve_model("itnet-tiny"), p, RunOptions(placement="pipelined"))
t1 = time.perf_counter()
out = {"import_s": t1 - t0}
for mode in ("dataflow", "bsp"):
    a = time.perf_counter()
    run_engine(plan, p, mode, "compiled", 3, None)
    b = time.perf_counter()
    run_engine(plan, p, mode, "compiled", 3, None)
    out[mode] = {"first_call_s": b - a, "steady_call_s": time.perf_counter() - b}
print(json.dumps(out))
"""


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def head_to_head(plan, p, mode: str, frames: int, repeats: int) -> dict:
    def compiled():
        return run_engine(plan, p, mode, "compiled", frames, None)

    compiled()  # compile or load the cache outside the timing
    # The VM's speed drifts by tens of percent within seconds, so the compiled runs are spread
    # over the SimPy run: one after every 1/repeats of its frames, from its progress callback,
    # their time taken out of the SimPy figure.  Both engines see the same conditions.
    fast: list = []
    due = [frames * (k + 1) // repeats for k in range(repeats)]

    def interleave(done: int) -> None:
        while due and done >= due[0]:
            due.pop(0)
            fast.append(_timed(compiled))

    slow = _timed(lambda: run_engine(plan, p, mode, "simpy", frames, None, progress=interleave))
    slow = (slow[0], slow[1] - sum(f[1] for f in fast), slow[2] - sum(f[2] for f in fast))
    r_fast, r_slow = fast[0][0], slow[0]
    assert r_fast.firings == r_slow.firings and r_fast.t_last == r_slow.t_last, "the engines disagree"
    assert r_fast.end_time == r_slow.end_time and r_fast.steps == r_slow.steps, "the engines disagree"
    n = r_fast.firings
    wall, cpu = float(np.median([f[1] for f in fast])), float(np.median([f[2] for f in fast]))
    out = {
        "frames": frames,
        "firings": n,
        "steps": r_fast.steps,
        "simpy": {"wall_s": slow[1], "cpu_s": slow[2], "firings_per_s_wall": n / slow[1],
                  "firings_per_s_cpu": n / slow[2]},
        "compiled": {"wall_s": wall, "cpu_s": cpu, "runs": len(fast), "statistic": "median",
                     "firings_per_s_wall": n / wall, "firings_per_s_cpu": n / cpu},
    }
    out["speedup_wall"] = out["compiled"]["firings_per_s_wall"] / out["simpy"]["firings_per_s_wall"]
    out["speedup_cpu"] = out["compiled"]["firings_per_s_cpu"] / out["simpy"]["firings_per_s_cpu"]
    return out


def jit_costs() -> dict:
    """Cold compile and cached load, each in its own process, with a private numba cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        runs = []
        for _ in range(2):
            res = subprocess.run([sys.executable, "-c", _JIT_PROBE], env=env, capture_output=True, text=True,
                                 check=True)
            runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
    cold, cached = runs
    out = {"plan": "itnet-tiny on ipu_m2000 (pipelined), 3 frames", "import_s": cached["import_s"]}
    for mode in MODES:
        out[mode] = {
            "cold_compile_s": cold[mode]["first_call_s"] - cold[mode]["steady_call_s"],
            "cached_load_s": cached[mode]["first_call_s"] - cached[mode]["steady_call_s"],
            "steady_call_s": cached[mode]["steady_call_s"],
        }
    return out


def scaling(plan, p, mode: str, sizes: list[int]) -> list[dict]:
    rows = []
    for n in sizes:
        r, wall, cpu = _timed(lambda: run_engine(plan, p, mode, "compiled", n, None))
        rows.append({"frames": n, "wall_s": wall, "cpu_s": cpu, "us_per_frame_wall": 1e6 * wall / n,
                     "us_per_frame_cpu": 1e6 * cpu / n, "firings_per_s_cpu": r.firings / cpu})
    return rows


def cli_runs(frames: int) -> list[dict]:
    """Whole processes (imports, cache loads, convergence, report): what a user waits for."""
    runs = [[], ["--placement", "pipelined"],
            ["--placement", "pipelined", "--mode", "dataflow", "--frames", str(frames)]]
    out = []
    for extra in runs:
        cmd = [sys.executable, "-m", "mpsim", "run", "--profile", PROFILE, *extra, "--quiet"]
        with tempfile.TemporaryDirectory() as tmp:
            w = time.perf_counter()
            subprocess.run([*cmd, "--json", str(Path(tmp) / "r.json")], check=True, capture_output=True)
            wall = time.perf_counter() - w
            rep = json.loads((Path(tmp) / "r.json").read_text())
        out.append({"command": " ".join(["mpsim run --profile", PROFILE, *extra, "--quiet"]), "wall_s": wall,
                    "engine": rep["engine"], "mode": rep["mode"], "placement": rep["placement"],
                    "frames": rep["frames"], "firings": rep["firings"]})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, a smoke test of the script")
    ap.add_argument("--out", default=str(RESULTS / "engines.json"))
    args = ap.parse_args(argv)
    frames, sizes, cli_frames, repeats = (100, [100, 1000], 2000, 2) if args.quick else (
        2000, [1000, 10000, 100000], 100000, 10)
    p = load_profile(PROFILE)
    _, plan = make_plan(resolve_model(MODEL), p, RunOptions(placement=PLACEMENT))
    assert plan.strategy == PLACEMENT
    res = {
        "model": MODEL, "profile": PROFILE, "placement": PLACEMENT, "modes": list(MODES), "target": TARGET,
        "firings_per_frame": int(plan.trips.sum()), "machine": {
            "python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
        "jit": jit_costs(),
        "head_to_head": {mode: head_to_head(plan, p, mode, frames, repeats) for mode in MODES},
        "scaling": {mode: scaling(plan, p, mode, sizes) for mode in MODES},
        "cli": cli_runs(cli_frames),
    }
    res["machine"]["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    write_json(args.out, res)
    j = res["jit"]
    print(f"{MODEL} on {PROFILE} ({PLACEMENT} placement)")
    for mode in MODES:
        h = res["head_to_head"][mode]
        print(f"  {mode}: {h['frames']} frames, {h['firings']:,} firings")
        for k in ("simpy", "compiled"):
            print(f"    {k:8s} {h[k]['firings_per_s_wall']:>14,.0f} firings/s wall "
                  f"{h[k]['firings_per_s_cpu']:>14,.0f} firings/s CPU")
        print(f"    speed-up: {h['speedup_wall']:.0f}x wall, {h['speedup_cpu']:.0f}x CPU (target {TARGET}x)")
        print(f"    JIT: cold compile {j[mode]['cold_compile_s']:.1f} s, cached load {j[mode]['cached_load_s']:.2f} s")
        for row in res["scaling"][mode]:
            print(f"    {row['frames']:>7,d} frames: {row['us_per_frame_cpu']:7.1f} us/frame CPU, "
                  f"{row['us_per_frame_wall']:7.1f} us/frame wall")
    for run in res["cli"]:
        print(f"  {run['command']}: {run['wall_s']:.1f} s wall ({run['engine']} engine, {run['mode']}, "
              f"{run['frames']:,} frames)")
    print(f"load average at the end: {res['machine']['load_average_end']}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
