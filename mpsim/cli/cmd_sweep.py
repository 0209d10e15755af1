"""``mpsim sweep``: profiles x models x modes (x policy values), in-process or on a Dask cluster."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from mpsim.atomic import write_text
from mpsim.cli.argtypes import count, csv_list, names, output_stem, real, seed
from mpsim.cli.output import add_output_flags, print_tables, write_outputs
from mpsim.distribute import map_tasks
from mpsim.errors import MpsimError
from mpsim.hw.profile import list_profiles, load_profile
from mpsim.limits import MAX_DATA_FRAMES, MAX_POLICY_VALUE, MAX_POLICY_VALUES, MAX_SWEEP_POINTS, MAX_WORKERS
from mpsim.models import resolve_model
from mpsim.cli.cmd_run import add_run_options, run_options
from mpsim.sweeps import run_point, tasks
from mpsim.views.sweep_tables import sweep_tables, sweep_units_table


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
    p.add_argument("--data-frames", type=count(1, MAX_DATA_FRAMES, "frames"), default=16,
                   help="data frames to evaluate for the policy (default 16)")
    p.add_argument("--seed", type=seed(), default=0, help="seed of the policy's data frames (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask scheduler (tcp://host:8786)")
    p.add_argument("--workers", type=count(1, MAX_WORKERS, "processes"),
                   help="run on a local Dask cluster of N worker processes")
    add_output_flags(p, "write the rows as JSON (schema mpsim.sweep/1: {schema, mpsim_version, rows, units})",
                     html=True)
    p.add_argument("--plot", metavar="STEM", type=output_stem,
                   help="write STEM.png and STEM.svg: throughput, latency and energy of every point (accuracy "
                        "curves with --policy)")
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
                 options=run_options(args), rates=rates, tolerance=args.tolerance, max_frames=args.max_frames,
                 data_frames=args.data_frames, seed=args.seed, report=True)
    with Progress(TextColumn("sweeping"), BarColumn(), MofNCompleteColumn(), console=Console(stderr=True),
                  transient=True, disable=args.quiet) as prog:
        task = prog.add_task("points", total=len(todo))
        results = map_tasks(run_point, todo, scheduler=args.scheduler, workers=args.workers,
                            progress=lambda i: prog.update(task, completed=i))
    rows = [row for rs in results for row in rs]
    reports = [row.pop("report", None) for row in rows]
    full, shown = sweep_tables(rows)
    units = sweep_units_table(rows, reports)
    print_tables([shown])
    write_outputs(args, [full, units], "mpsim.sweep/1", {"rows": rows, "units": units.records()})
    if args.html:
        from mpsim.views.html import sweep_page

        write_text(args.html, sweep_page(rows, [shown], reports))
    if args.plot:
        from mpsim.views.figures import policy_figure, save, sweep_figure

        fig = policy_figure(rows) if args.policy else sweep_figure(rows)
        for path in save(fig, args.plot):
            print(f"wrote {path}")
    return 0


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise MpsimError(f"--rates must be numbers or 'max', got '{text}'") from None
    if not value > 0 or value == float("inf"):
        raise MpsimError(f"--rates must be positive and finite, got {text}")
    return value
