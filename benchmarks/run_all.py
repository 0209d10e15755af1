"""Run every benchmark of the project; write benchmarks/results/REPORT.md and the README summary.

``python benchmarks/run_all.py`` (``make bench``) runs them all; ``--quick`` skips the two
training demonstrations (several minutes each); ``--summary`` runs nothing and rebuilds the
report.  Each benchmark runs in its own process, so one failing does not stop the others; the
report says which failed.  Every real run is recorded in results/runs.json (status, wall time,
date), and a benchmark not run this time keeps its last real entry: the report always shows
runs as they really ran.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results"
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from mpsim.atomic import write_json, write_text  # noqa: E402

BENCHMARKS = [  # (script, slow, what it measures)
    ("paper_table.py", False, "the ItNet paper's figures beside ours"),
    ("bench_export.py", False, "export + metrics of the Cityscapes ItNet"),
    ("bench_engines.py", False, "SimPy vs compiled engine, node firings per second"),
    ("bench_executor.py", False, "numba functional executor vs PyTorch eager"),
    ("simulated.py", False, "every profile x {ItNet shared, independent, ESPNet-style}"),
    ("validation.py", False, "every measured anchor simulated as measured: the validation table"),
    ("memory_sweep.py", False, "one GC200's in-processor memory swept 10 MB to 4 GB: what fitting buys"),
    ("train_demo.py", True, "tiny ItNets trained on the offline digits scenes"),
    ("dnn_demo.py", True, "the doubly nested network trained on digits, accuracy grid"),
    ("fuzz_loaders.py", False, "mutated graphs and profiles: a clean rejection or a valid result each"),
]


def _load(name: str):
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def _summaries() -> list[tuple[str, str, str]]:
    """(benchmark, key figure, file) for the README table; robust to missing results."""
    rows = []

    def add(bench, fn, file):
        try:
            rows.append((bench, fn(), file))
        except Exception as exc:  # a result from an older format, or missing
            rows.append((bench, f"not available ({type(exc).__name__})", file))

    def paper():
        t = _load("paper_table.json")
        met = sum(1 for r in t if r["ok"])
        checked = sum(1 for r in t if r["ok"] is not None)
        return f"{met} of {checked} checked figures within target (MACs 2.068 G / 6.056 G; graph size 494.6 / 78.5 MB)"

    def export():
        e = _load("export.json")
        return f"{e['export_plus_metrics_s']:.1f} s export + metrics ({e['capture_and_translate_s']:.1f} s capture)"

    def engines():
        e = _load("engines.json")
        return "; ".join(f"{m}: compiled {h['compiled']['firings_per_s_cpu']:.3g} vs SimPy "
                         f"{h['simpy']['firings_per_s_cpu']:.3g} firings/s (CPU time), {h['speedup_cpu']:.0f}x "
                         f"({h['speedup_wall']:.0f}x wall)" for m, h in e["head_to_head"].items()) + \
            f"; target {e['target']}x"

    def executor():
        e = _load("executor.json")
        rows_ = e if isinstance(e, list) else e.get("results", [e])
        return "; ".join(f"{r['model']}: numba/torch {r['ratio']:.2f}" for r in rows_)

    def simulated():
        s = _load("simulated.json")
        fits = sum(1 for r in s if r["fits"])
        best = max((r for r in s if r["throughput_fps"]), key=lambda r: r["throughput_fps"])
        return f"{len(s)} points, {fits} fit; fastest {best['model']} on {best['profile']} {best['throughput_fps']:.3g} frames/s"

    def validation():
        s = _load("validation_summary.json")["summary"]
        return (f"{s['within_band']} of {s['simulated']} anchors within band; held-out median abs error "
                f"{100 * s['held_out_median_abs_error']:.0f} % ({s['held_out_within_band']} of {s['held_out']} in band)")

    def train():
        t = _load("train_demo.json")
        runs = t["runs"] if isinstance(t, dict) and "runs" in t else t
        return "; ".join(f"{r['preset']}: mIoU m_1 {r['miou_per_output'][0]:.3f} -> m_N {r['miou_per_output'][-1]:.3f}, "
                         f"AUC {r['auc']:.3f}" for r in runs)

    def dnn():
        d = _load("dnn_accuracy.json")
        return f"full network accuracy {d['accuracy'][-1][-1]:.3f}" if "accuracy" in d else "see file"

    add("paper table", paper, "paper_table.md")
    add("export", export, "export.json")
    add("engines", engines, "engines.json")
    add("executor", executor, "executor.json")
    add("simulated", simulated, "simulated.md")
    add("validation", validation, "validation.md")

    def memory():
        rows_ = _load("memory_sweep.json")
        top = max(r["memory_bytes"] for r in rows_)

        def at(model, style):
            return next(r for r in rows_ if r["model"] == model and r["placement"] == style and r["memory_bytes"] == top)

        def fit(model):
            return min(r["memory_bytes"] for r in rows_ if r["model"] == model and r["placement"] == "pipelined bsp"
                       and r["fits"]) / 1e6

        shared = "itnet-camvid-shared"
        return (f"pipelined from {fit(shared):.0f} MB (shared ItNet) / {fit('itnet-camvid-independent'):.0f} MB "
                f"(independent); shared at 4 GB, chip-bound: pipelined dataflow {at(shared, 'pipelined dataflow')['chip_bound_fps']:,.0f}, "
                f"sequential {at(shared, 'sequential')['chip_bound_fps']:,.0f}, pipelined bsp "
                f"{at(shared, 'pipelined bsp')['chip_bound_fps']:,.0f} frames/s")

    add("memory sweep", memory, "memory_sweep.md")
    add("training demo", train, "train_demo.json")
    add("doubly nested network", dnn, "dnn_accuracy.json")

    def fuzz():
        f = _load("fuzz.json")
        return "; ".join(f"{f[k]['mutants']:,} {k}: {f[k]['outcomes'].get('rejected', 0):,} rejected, "
                         f"{f[k]['outcomes'].get('valid', 0):,} valid, {len(f[k]['crashes'])} crashes"
                         for k in ("graphs", "profiles"))

    add("loader fuzz", fuzz, "fuzz.json")
    return rows


def update_readme(rows) -> None:
    readme = ROOT / "README.md"
    table = ["| benchmark | result | file |", "|---|---|---|"]
    table += [f"| {b} | {r} | [{f}](benchmarks/results/{f}) |" for b, r, f in rows]
    block = "<!-- bench:start -->\n" + "\n".join(table) + "\n<!-- bench:end -->"
    text = readme.read_text()
    if "<!-- bench:start -->" in text:
        text = re.sub(r"<!-- bench:start -->.*?<!-- bench:end -->", lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    write_text(readme, text)


RUNS = RESULTS / "runs.json"


def _run(script: str) -> dict:
    """Run one benchmark in its own process; its status, wall time and date."""
    print(f"== {script}", flush=True)
    t = time.perf_counter()
    rc = subprocess.call([sys.executable, str(HERE / script)], cwd=ROOT)
    return {"status": "ok" if rc == 0 else f"failed (exit {rc})", "wall_s": round(time.perf_counter() - t, 1),
            "date": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
            "cpus": os.cpu_count()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the training demonstrations")
    ap.add_argument("--summary", action="store_true", help="run nothing: rebuild the report from results/")
    ap.add_argument("--only", metavar="SCRIPT,..", help="run only these (e.g. bench_executor.py); the others keep "
                                                         "their last runs")
    args = ap.parse_args()
    only = None if not args.only else {s.strip() for s in args.only.split(",")}
    runs = _load(RUNS.name) or {}
    failed = []
    for script, slow, _ in BENCHMARKS:
        if args.summary or (slow and args.quick) or (only is not None and script not in only):
            continue
        if not (HERE / script).exists():
            runs[script] = {"status": "missing", "wall_s": None, "date": time.strftime("%Y-%m-%d")}
        else:
            runs[script] = _run(script)
        if runs[script]["status"] != "ok":
            failed.append(script)
        write_json(RUNS, runs)  # after each, so that an interrupted run keeps what it measured
    rows = _summaries()
    report = ["# Benchmark report", "", "Generated by `benchmarks/run_all.py` (`make bench`); each row is the "
              "benchmark's last real run (results/runs.json).", "",
              "| script | what | status | wall time | run on |", "|---|---|---|---|---|"]
    for script, _, what in BENCHMARKS:
        r = runs.get(script) or {"status": "never run", "wall_s": None, "date": "-"}
        wall = "-" if r.get("wall_s") is None else f"{r['wall_s']:.0f} s"
        where = r["date"] if not r.get("cpus") else f"{r['date']} ({r['cpus']} CPUs)"
        report.append(f"| {script} | {what} | {r['status']} | {wall} | {where} |")
    report += ["", "## Key figures", "", "| benchmark | result | file |", "|---|---|---|"]
    report += [f"| {b} | {r} | [{f}]({f}) |" for b, r, f in rows]
    report += ["", "![simulated: throughput, latency and energy of every profile x model](simulated.png)"]
    write_text(RESULTS / "REPORT.md", "\n".join(report) + "\n")
    update_readme(rows)
    print("\n".join(report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
