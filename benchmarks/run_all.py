"""Run every benchmark of the project; write benchmarks/results/REPORT.md and the README summary.

``python benchmarks/run_all.py`` (``make bench``) runs them all; ``--quick`` skips the two
training demonstrations (several minutes each).  Each benchmark runs in its own process, so
one failing does not stop the others; the report says which failed.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results"
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from mpsim.atomic import write_text  # noqa: E402

BENCHMARKS = [  # (script, slow, what it measures)
    ("paper_table.py", False, "the ItNet paper's figures beside ours"),
    ("bench_export.py", False, "export + metrics of the Cityscapes ItNet"),
    ("bench_engines.py", False, "SimPy vs compiled engine, node firings per second"),
    ("bench_executor.py", False, "numba functional executor vs PyTorch eager"),
    ("simulated.py", False, "every profile x {ItNet shared, independent, ESPNet-style}"),
    ("validation.py", False, "every measured anchor simulated as measured: the validation table"),
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
        h = _load("engines.json")["head_to_head"]
        return (f"compiled {h['fast']['firings_per_s_cpu']:.3g} vs SimPy {h['simpy']['firings_per_s_cpu']:.3g} "
                f"firings/s (CPU time): {h['speedup_cpu']:.0f}x ({h['speedup_wall']:.0f}x wall); target 200x")

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the training demonstrations")
    ap.add_argument("--summary", action="store_true", help="run nothing: rebuild the report from results/")
    args = ap.parse_args()
    status = []
    for script, slow, what in BENCHMARKS:
        if args.summary:
            status.append((script, what, "not run (--summary)", 0.0))
            continue
        if slow and args.quick:
            status.append((script, what, "skipped (--quick)", 0.0))
            continue
        if not (HERE / script).exists():
            status.append((script, what, "missing", 0.0))
            continue
        print(f"== {script}: {what}", flush=True)
        t = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / script)], cwd=ROOT)
        status.append((script, what, "ok" if rc == 0 else f"failed (exit {rc})", time.perf_counter() - t))
    rows = _summaries()
    report = ["# Benchmark report", "", "Generated by `benchmarks/run_all.py` (`make bench`).", "",
              "| script | what | status | wall time |", "|---|---|---|---|"]
    report += [f"| {s} | {w} | {st} | {t:.0f} s |" for s, w, st, t in status]
    report += ["", "## Key figures", "", "| benchmark | result | file |", "|---|---|---|"]
    report += [f"| {b} | {r} | [{f}]({f}) |" for b, r, f in rows]
    report += ["", "![simulated](simulated.png)"]
    write_text(RESULTS / "REPORT.md", "\n".join(report) + "\n")
    update_readme(rows)
    print("\n".join(report))
    return 0 if all(st in ("ok", "skipped (--quick)", "not run (--summary)") for _, _, st, _ in status) else 1


if __name__ == "__main__":
    sys.exit(main())
