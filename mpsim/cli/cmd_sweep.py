"""``mpsim sweep``: profiles x models x modes (x policy values), in-process or on a Dask cluster."""

from __future__ import annotations

import csv
import io

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from mpsim.atomic import write_json, write_text
from mpsim.cli.argtypes import count, csv_list, names, output_file, real
from mpsim.distribute import map_tasks
from mpsim.errors import MpsimError
from mpsim.hw.profile import list_profiles, load_profile
from mpsim.limits import MAX_FRAMES, MAX_POLICY_VALUE, MAX_POLICY_VALUES, MAX_SWEEP_POINTS, MAX_WORKERS
from mpsim.models import resolve_model
from mpsim.cli.cmd_run import add_run_options, run_options
from mpsim.sweeps import run_point, tasks

COLUMNS = ("profile", "model", "mode", "policy", "value", "fits", "strategy", "throughput_fps",
           "first_latency_last_s", "mean_latency_last_s", "mean_latency_s", "accuracy",
           "traffic_bytes_per_frame", "energy_j_per_frame")


def register(sub) -> None:
    p = sub.add_parser("sweep", help="simulate every profile x model x mode and write one results table")
    p.add_argument("--profiles", type=names(), default=",".join(list_profiles()),
                   help="comma-separated (default: all built-in)")
    p.add_argument("--models", type=names(), default="itnet-camvid-shared,itnet-camvid-independent,espnet-camvid",
                   help="comma-separated built-in models or export folders")
    p.add_argument("--modes", type=names(), default="default",
                   help="comma-separated modes; 'default' = each profile's own")
    add_run_options(p, single=False)
    p.add_argument("--rates", type=names(), default="max",
                   help="offered frames per second, comma-separated ('max': as fast as accepted); "
                        "one row each, the latency-throughput curve (default max)")
    p.add_argument("--policy", choices=("deadline", "confidence", "budget"),
                   help="also sweep an exit policy (models must be export folders with weights)")
    p.add_argument("--values", type=csv_list(real(0, MAX_POLICY_VALUE), max_items=MAX_POLICY_VALUES),
                   help="policy values, comma-separated")
    p.add_argument("--data", default="digits", help="frames for the policy (see mpsim anytime)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask scheduler (tcp://host:8786)")
    p.add_argument("--workers", type=count(1, MAX_WORKERS, "processes"),
                   help="run on a local Dask cluster of N worker processes")
    p.add_argument("--json", metavar="FILE", type=output_file, help="write the rows as JSON")
    p.add_argument("--csv", metavar="FILE", type=output_file, help="write the rows as CSV")
    p.set_defaults(func=run)


def run(args) -> int:
    profiles, models, modes = args.profiles, args.models, args.modes
    for name in profiles:
        load_profile(name)  # fail fast, with one line, before any work is sent out
    for name in models:
        resolve_model(name)
    values = None
    if args.policy:
        if not args.values:
            raise MpsimError("--policy needs --values")
        values = args.values
    rates = [None if r == "max" else _rate(r) for r in args.rates]
    points = len(profiles) * len(models) * len(modes) * len(values or [None]) * len(rates)
    if points > MAX_SWEEP_POINTS:
        raise MpsimError(f"the sweep has {points:,} points, more than the limit of {MAX_SWEEP_POINTS:,}")
    todo = tasks(profiles, models, modes, args.frames, args.engine, args.policy, values, args.data,
                 options=run_options(args), rates=rates, tolerance=args.tolerance, max_frames=args.max_frames)
    with Progress(TextColumn("sweeping"), BarColumn(), MofNCompleteColumn(), console=Console(stderr=True),
                  transient=True) as prog:
        task = prog.add_task("points", total=len(todo))
        results = map_tasks(run_point, todo, scheduler=args.scheduler, workers=args.workers,
                            progress=lambda i: prog.update(task, completed=i))
    rows = [row for rs in results for row in rs]
    _print(rows)
    if args.json:
        write_json(args.json, rows)
    if args.csv:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=[c for c in COLUMNS if any(c in r for r in rows)], extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        write_text(args.csv, buf.getvalue())
    return 0


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise MpsimError(f"--rates must be numbers or 'max', got '{text}'") from None
    if not value > 0 or value == float("inf"):
        raise MpsimError(f"--rates must be positive and finite, got {text}")
    return value


def _g(x, scale=1.0):
    return "-" if x is None else f"{x * scale:.4g}"


def _print(rows) -> None:
    t = Table(title="sweep")
    for col in ("profile", "model", "mode", "fits", "frames/s", "latency m_N (us)", "traffic/frame (MB)", "energy (mJ)"):
        t.add_column(col)
    for r in rows:
        fits = "yes" if r.get("fits") else ("infeasible" if r.get("feasible") is False else "no")
        t.add_row(r["profile"], r["model"], r["mode"] + (f" {r['policy']}={r['value']:g}" if r.get("policy") else ""),
                  fits, _g(r.get("throughput_fps")),
                  _g(r.get("first_latency_last_s", r.get("mean_latency_s")), 1e6),
                  _g(r.get("traffic_bytes_per_frame"), 1e-6), _g(r.get("energy_j_per_frame"), 1e3))
    Console().print(t)
