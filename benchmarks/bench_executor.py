"""Numba executor vs PyTorch eager on the CamVid ItNets (one 480x360 frame, all outputs).

For each model: export it, warm both sides up, then time them alternately (so that load from
other processes hits both alike) and keep the best of ``--repeats`` runs each.  JIT compile
time is measured on a cold numba cache (a fresh NUMBA_CACHE_DIR, set before numba loads):
``compile_s`` = first call (prepare + first run) minus a steady-state run; ``warm_start_s`` is
the same first call in a new process once the cache is filled.  torch keeps its default
thread count.  Results: benchmarks/results/executor.json (written atomically).

    .venv/bin/python benchmarks/bench_executor.py [--repeats 5] [--models a,b] [--warm-cache]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "executor.json"
MODELS = ["itnet-camvid-shared", "itnet-camvid-independent"]
TARGET = 2.0  # numba / torch, on itnet-camvid-shared

_WARM_START = """
import sys, time
t0 = time.perf_counter()
from mpsim.exec import Executor, load_reference, load_weights
from mpsim.ir.serialize import load_graph
g = load_graph(sys.argv[1]); w = load_weights(sys.argv[1], g); x, _ = load_reference(sys.argv[1])
t1 = time.perf_counter()
Executor(g, w).run(x)
print(time.perf_counter() - t1, t1 - t0)
"""


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5, help="timed runs per side (best is kept)")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated presets")
    p.add_argument("--warm-cache", action="store_true", help="keep numba's usual cache (compile_s is then a cache load)")
    p.add_argument("--out", default=str(RESULTS), help="result file")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = _args(argv)
    tmp = tempfile.mkdtemp(prefix="bench-executor-")
    if not args.warm_cache:
        os.environ["NUMBA_CACHE_DIR"] = os.path.join(tmp, "numba-cache")  # before numba loads

    import numpy as np
    import torch

    from itnet_export.exporter import export
    from itnet_export.presets import build_preset
    from mpsim.analysis.metrics import stats
    from mpsim.atomic import write_json
    from mpsim.cli.cmd_verify import compare
    from mpsim.exec import Executor, load_reference, load_weights
    from mpsim.ir.serialize import load_graph

    results = []
    for name in [m for m in args.models.split(",") if m]:
        model, example, meta = build_preset(name)
        d = os.path.join(tmp, name)
        export(model, example, d, name=name, meta=meta)
        g = load_graph(d)
        w = load_weights(d, g)
        x, refs = load_reference(d, len(g.outputs))

        t0 = time.perf_counter()
        ex = Executor(g, w)
        outs = ex.run(x)
        first_call = time.perf_counter() - t0
        rows = compare(outs, refs)
        with torch.no_grad():
            model(example)  # warm-up
            torch_times, numba_times = [], []
            for _ in range(args.repeats):
                t = time.perf_counter()
                model(example)
                torch_times.append(time.perf_counter() - t)
                t = time.perf_counter()
                ex.run(x)
                numba_times.append(time.perf_counter() - t)
        torch_s, numba_s = min(torch_times), min(numba_times)
        warm = subprocess.run([sys.executable, "-c", _WARM_START, d], capture_output=True, text=True,
                              env=dict(os.environ), check=True).stdout.split()
        res = {
            "model": name,
            "torch_s": round(torch_s, 4),
            "numba_s": round(numba_s, 4),
            "ratio": round(numba_s / torch_s, 3),
            "compile_s": round(max(0.0, first_call - numba_s), 2),
            "first_call_s": round(first_call, 2),
            "warm_start_s": round(float(warm[0]), 3),
            "torch_runs_s": [round(t, 4) for t in torch_times],
            "numba_runs_s": [round(t, 4) for t in numba_times],
            "macs": int(stats(g)["macs_cumulative"][-1]),  # what m_1..m_N need
            "max_abs_err": max(r["max_abs_err"] for r in rows),
            "min_argmax_agreement": min(r["argmax_agreement"] for r in rows),
            "fp32_acceptance": all(r["passed"] for r in rows),
        }
        results.append(res)
        print(f"{name}: torch {torch_s * 1e3:.0f} ms, numba {numba_s * 1e3:.0f} ms, ratio {res['ratio']:.2f}, "
              f"compile {res['compile_s']:.1f} s (warm-cache start {res['warm_start_s']:.2f} s), "
              f"max abs err {res['max_abs_err']:.3g}, argmax agreement >= {res['min_argmax_agreement']:.6f}")

    doc = {
        "benchmark": "executor",
        "what": "one forward pass, all anytime outputs, batch 1; best of repeats",
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "numba_threads": __import__("numba").get_num_threads(),
        "repeats": args.repeats,
        "cold_cache": not args.warm_cache,
        "target_ratio": TARGET,
        "results": results,
    }
    write_json(args.out, doc)
    print(f"wrote {args.out}")
    shared = [r for r in results if r["model"] == "itnet-camvid-shared"]
    if shared and shared[0]["ratio"] > TARGET:
        print(f"itnet-camvid-shared: ratio {shared[0]['ratio']:.2f} is above the target {TARGET}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
