"""The two dataflow engines, head to head: node firings per second on the Cityscapes ItNet.

Measures, in one run (docs/engines.md quotes the figures):

* firings/s of the SimPy engine and of the compiled engine on ``itnet-cityscapes`` mapped on
  ``ipu_m2000`` (spatial plan, dataflow mode) over 2,000 frames, wall clock and CPU time
  (``time.process_time``: on a shared machine the CPU time is the steadier figure); one
  SimPy run, the median of 10 compiled runs made during it (every 10 % of its frames, their
  time taken out of its own);
* the compiled engine's JIT cost: a cold compile (a fresh process and an empty numba cache),
  the first call of a fresh process that loads the cache, and a steady call, on a tiny plan;
* the compiled engine's cost per frame at 1e3, 1e4 and 1e5 frames (it should stay flat:
  memory and work per frame do not grow with the frame count);
* the wall time of ``mpsim run --engine fast --mode dataflow --frames 100000`` (CLI, whole process).

Writes benchmarks/results/engines.json.  Run: ``python benchmarks/bench_engines.py``
(about 2 minutes; ``--quick`` for a smoke run of a few seconds).
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
from mpsim.models import resolve_model
from mpsim.sim.simulate import make_plan

RESULTS = Path(__file__).parent / "results"
MODEL, PROFILE = "itnet-cityscapes", "ipu_m2000"

# Run in a fresh interpreter: import, first call (compile or cache load), second call.
_JIT_PROBE = """
import json, time
t0 = time.perf_counter()
from mpsim.sim.fast_engine import simulate_fast
from mpsim.hw.profile import load_profile
from mpsim.models import resolve_model
from mpsim.sim.simulate import make_plan
_, plan = make_plan(resolve_model("itnet-tiny"), load_profile("ipu_m2000"))
t1 = time.perf_counter()
simulate_fast(plan, 3)
t2 = time.perf_counter()
simulate_fast(plan, 3)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_call_s": t2 - t1, "steady_call_s": t3 - t2}))
"""


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def engines(plan, frames: int, repeats: int) -> dict:
    from mpsim.sim.fast_engine import simulate_fast
    from mpsim.sim.simpy_engine import simulate_dataflow

    simulate_fast(plan, 3)  # compile or load the cache outside the timing
    # The VM's speed drifts by tens of percent within seconds, so the compiled runs are spread
    # over the SimPy run: one after every 1/repeats of its frames, from its progress callback,
    # their time taken out of the SimPy figure.  Both engines see the same conditions.
    fast: list = []
    due = [frames * (k + 1) // repeats for k in range(repeats)]

    def interleave(done: int) -> None:
        while due and done >= due[0]:
            due.pop(0)
            fast.append(_timed(lambda: simulate_fast(plan, frames)))

    slow = _timed(lambda: simulate_dataflow(plan, frames, progress=interleave))
    slow = (slow[0], slow[1] - sum(f[1] for f in fast), slow[2] - sum(f[2] for f in fast))
    r_fast, r_slow = fast[0][0], slow[0]
    assert r_fast.firings == r_slow.firings and r_fast.t_last == r_slow.t_last, "the engines disagree"
    n = r_fast.firings
    wall, cpu = float(np.median([f[1] for f in fast])), float(np.median([f[2] for f in fast]))
    out = {
        "frames": frames,
        "firings": n,
        "simpy": {"wall_s": slow[1], "cpu_s": slow[2], "firings_per_s_wall": n / slow[1],
                  "firings_per_s_cpu": n / slow[2]},
        "fast": {"wall_s": wall, "cpu_s": cpu, "runs": len(fast), "statistic": "median",
                 "firings_per_s_wall": n / wall, "firings_per_s_cpu": n / cpu},
    }
    out["speedup_wall"] = out["fast"]["firings_per_s_wall"] / out["simpy"]["firings_per_s_wall"]
    out["speedup_cpu"] = out["fast"]["firings_per_s_cpu"] / out["simpy"]["firings_per_s_cpu"]
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
    return {
        "plan": "itnet-tiny on ipu_m2000, 3 frames",
        "cold_compile_s": cold["first_call_s"] - cold["steady_call_s"],
        "cached_load_s": cached["first_call_s"] - cached["steady_call_s"],
        "import_s": cached["import_s"],
        "steady_call_s": cached["steady_call_s"],
    }


def scaling(plan, sizes: list[int]) -> list[dict]:
    from mpsim.sim.fast_engine import simulate_fast

    rows = []
    for n in sizes:
        r, wall, cpu = _timed(lambda: simulate_fast(plan, n))
        rows.append({"frames": n, "wall_s": wall, "cpu_s": cpu, "us_per_frame_wall": 1e6 * wall / n,
                     "us_per_frame_cpu": 1e6 * cpu / n, "firings_per_s_cpu": r.firings / cpu})
    return rows


def cli_run(frames: int) -> dict:
    cmd = [sys.executable, "-m", "mpsim", "run", "--profile", PROFILE, "--model", MODEL, "--engine", "fast",
           "--mode", "dataflow", "--frames", str(frames), "--quiet"]
    w = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return {"command": "mpsim run --profile ipu_m2000 --engine fast --mode dataflow "
                       f"--frames {frames} --quiet", "wall_s": time.perf_counter() - w}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, a smoke test of the script")
    ap.add_argument("--out", default=str(RESULTS / "engines.json"))
    args = ap.parse_args(argv)
    frames, sizes, cli_frames, repeats = (200, [100, 1000], 2000, 2) if args.quick else (
        2000, [1000, 10000, 100000], 100000, 10)
    _, plan = make_plan(resolve_model(MODEL), load_profile(PROFILE))
    assert plan.strategy == "spatial"
    res = {
        "model": MODEL, "profile": PROFILE, "mode": "dataflow", "strategy": plan.strategy,
        "firings_per_frame": int(plan.trips.sum()), "machine": {
            "python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
        "jit": jit_costs(),
        "head_to_head": engines(plan, frames, repeats),
        "scaling": scaling(plan, sizes),
        "cli": cli_run(cli_frames),
    }
    write_json(args.out, res)
    h, j = res["head_to_head"], res["jit"]
    print(f"{MODEL} on {PROFILE} (dataflow), {h['frames']} frames, {h['firings']:,} firings")
    for k in ("simpy", "fast"):
        print(f"  {k:6s} {h[k]['firings_per_s_wall']:>14,.0f} firings/s wall "
              f"{h[k]['firings_per_s_cpu']:>14,.0f} firings/s CPU")
    print(f"  speed-up: {h['speedup_wall']:.0f}x wall, {h['speedup_cpu']:.0f}x CPU")
    print(f"  JIT: cold compile {j['cold_compile_s']:.1f} s, cached load {j['cached_load_s']:.2f} s "
          f"(import {j['import_s']:.2f} s)")
    for row in res["scaling"]:
        print(f"  {row['frames']:>7,d} frames: {row['us_per_frame_cpu']:7.1f} us/frame CPU, "
              f"{row['us_per_frame_wall']:7.1f} us/frame wall")
    print(f"  {res['cli']['command']}: {res['cli']['wall_s']:.1f} s wall")
    print(f"load average at the end: {res['machine']['load_average']}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
