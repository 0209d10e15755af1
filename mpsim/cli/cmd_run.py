"""``mpsim run``: map a graph onto a profile, stream frames through it, print the report."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from mpsim.fmt import count as fmt_count
from mpsim.fmt import fraction, percent, seconds
from mpsim.fmt import rate as fmt_rate
from mpsim.views.table import Column, TableView

from mpsim.atomic import write_text
from mpsim.cli.argtypes import count, output_file, output_stem, real, seed
from mpsim.errors import MpsimError
from mpsim.hw.profile import load_profile
from mpsim.hw.precision import PRECISIONS
from mpsim.limits import (MAX_BATCH_SIZE, MAX_BUDGET_FRAMES, MAX_FRAMES, MAX_RATE, MAX_SECONDS, MAX_TOTAL_TILES,
                          MAX_TRACE_FRAMES, check_int)
from mpsim.models import DEFAULT_MODEL, resolve_model
from mpsim.cli.output import add_output_flags, print_tables, write_outputs
from mpsim.cli.view import print_report
from mpsim.mapping.placement import HOST_OUTPUTS, STYLES, RunOptions
from mpsim.sim.simulate import ENGINES, MODES, simulate
from mpsim.sim.steady import DEFAULT_MAX_FRAMES, DEFAULT_TOLERANCE, START_FRAMES
from mpsim.sim.report import SCHEMA
from mpsim.sim.trace import write_trace
from mpsim.views.run_tables import report_tables


def register(sub) -> None:
    p = sub.add_parser("run", help="simulate a graph on a hardware profile and report fit, latency, throughput, traffic")
    p.add_argument("--profile", default="ipu_m2000", help="built-in profile name or a YAML file (default ipu_m2000)")
    p.add_argument("--model", default=DEFAULT_MODEL, metavar="GRAPH",
                   help=f"built-in model name, graph.json or export folder (default {DEFAULT_MODEL})")
    add_run_options(p)
    p.add_argument("--seed", type=seed(), default=0, help="seed for every random choice (recorded in the report)")
    add_output_flags(p, "write the report as JSON (schema mpsim.report/2, docs/semantics.md)", html=True)
    p.add_argument("--trace", metavar="FILE", type=output_file,
                   help="write a Chrome trace (opens in Perfetto) of the first frames")
    p.add_argument("--trace-frames", type=count(0, MAX_TRACE_FRAMES, "frames"), default=4,
                   help="frames to include in the trace (default 4)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--budget-trace", metavar="FILE",
                   help="free tiles or bytes over time (CSV time_s,tiles or JSON); --model is then a catalog of "
                        "sub-networks (doubly nested network) and each frame gets the best one that fits")
    p.add_argument("--deadline", type=real(0, MAX_SECONDS, open_lo=True, unit="s"),
                   help="with --budget-trace: latency limit per frame in seconds")
    p.add_argument("--plot", metavar="STEM", type=output_stem,
                   help="write STEM.png and STEM.svg: latency per anytime output (with --budget-trace: the budget "
                        "and the accuracy over time)")
    p.set_defaults(func=run)


def add_run_options(p, single: bool = True) -> None:
    """The flags that say how a graph runs: shared by run, sweep and anytime (``single``: one
    mode and one offered rate; sweep takes lists of them instead)."""
    p.add_argument("--placement", choices=STYLES, help="placement style (default: the profile's)")
    p.add_argument("--replicas", type=replicas_arg, default=None, metavar="auto|N",
                   help="replicas on the spare chips: auto or a number (default auto)")
    p.add_argument("--batch", type=count(1, MAX_BATCH_SIZE, "images"), default=1, help="images per frame (default 1)")
    p.add_argument("--precision", choices=tuple(PRECISIONS),
                   help="number format, one the profile lists (default: the profile's)")
    p.add_argument("--host-output", choices=HOST_OUTPUTS, default="labels",
                   help="what returns to the host per output: class labels or whole tensors (default labels)")
    if single:
        p.add_argument("--mode", choices=MODES, help="execution mode of a pipelined placement (default: the profile's)")
        p.add_argument("--rate", type=real(0, MAX_RATE, open_lo=True, unit="frames/s"),
                       help="offered frames per second (default: as fast as the graph accepts)")
    p.add_argument("--engine", choices=ENGINES + ("fast",), default="auto",
                   help="simulation engine (default auto: the compiled engine; simpy: the readable reference)")
    p.add_argument("--frames", type=count(1, MAX_FRAMES, "frames"),
                   help="simulate exactly this many frames (default: until steady)")
    p.add_argument("--tolerance", type=real(0, 1, open_lo=True), default=DEFAULT_TOLERANCE,
                   help=f"steady state: 95 %% CI half-width / mean (default {DEFAULT_TOLERANCE:g})")
    p.add_argument("--max-frames", type=count(START_FRAMES, MAX_FRAMES, "frames"), default=DEFAULT_MAX_FRAMES,
                   help=f"cap on frames while converging (default {DEFAULT_MAX_FRAMES:,})")


def replicas_arg(text: str) -> int | None:
    """``auto`` (None: fill the spare chips) or a whole number of replicas."""
    return None if text == "auto" else count(1, MAX_TOTAL_TILES, "replicas")(text)


def run_options(args) -> RunOptions:
    return RunOptions(placement=args.placement, replicas=args.replicas, batch=args.batch, precision=args.precision,
                      host_output=args.host_output)


def run(args) -> int:
    profile = load_profile(args.profile)
    if args.budget_trace:
        if args.html or args.trace:
            raise MpsimError("--html and --trace go with a plain run, not with --budget-trace")
        return run_budget(args, profile)
    if args.deadline is not None:
        raise MpsimError("--deadline goes with --budget-trace")
    graph = resolve_model(args.model)
    console = Console(stderr=True)
    progress = Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=console, transient=True, disable=args.quiet)
    with progress:
        task = progress.add_task("frames", total=None)
        rep, result, plan = simulate(
            graph, profile, run_options(args), mode=args.mode, engine=args.engine, frames=args.frames,
            rate=args.rate, tolerance=args.tolerance, max_frames=args.max_frames,
            trace_frames=args.trace_frames if args.trace else 0,
            progress=lambda done, of: progress.update(task, completed=done, total=of),
        )
    rep["seed"] = args.seed
    st = rep.get("steady_state")
    if st and st["overloaded"]:
        console.print(f"[yellow]warning:[/yellow] overloaded: {fmt_rate(args.rate)} offered, "
                      f"{fmt_rate(rep['throughput_fps'])} completed; the queue and the latency grow without bound")
    elif st and not st["converged"]:
        console.print(f"[yellow]warning:[/yellow] not converged: the 95 % intervals are wider than "
                      f"{percent(st['tolerance'])} after {fmt_count(st['frames'])} frames (leave --frames out, or "
                      "raise --max-frames)")
    print_report(rep)
    write_outputs(args, report_tables(rep), SCHEMA, rep)
    if args.html:
        from mpsim.views.html import run_page

        write_text(args.html, run_page(rep))
    if args.plot and rep.get("steady_state"):
        from mpsim.views.figures import latency_figure, save

        for path in save(latency_figure(rep), args.plot):
            print(f"wrote {path}")
    if args.trace and result is not None:
        write_trace(args.trace, result, plan)
    return 0


def run_budget(args, profile) -> int:
    """Doubly nested model under a changing budget: a sub-network per frame."""
    from mpsim.anytime.budget import load_catalog, load_trace, plot_budget, simulate_budget

    if args.deadline is None or args.deadline <= 0:
        raise MpsimError("--budget-trace needs a positive --deadline (seconds)")
    if args.model == DEFAULT_MODEL:
        raise MpsimError("--budget-trace needs --model DIR, a catalog of sub-networks (catalog.json)")
    subnets = load_catalog(args.model)
    frames = 200 if args.frames is None else args.frames  # frames of the trace: one sub-network each
    check_int(frames, "--frames (with --budget-trace)", 1, MAX_BUDGET_FRAMES, "frames")
    unit, times, values = load_trace(args.budget_trace)
    rate = args.rate or 1.0 / args.deadline
    console = Console(stderr=True)
    with Progress(TextColumn("choosing"), BarColumn(), MofNCompleteColumn(), console=console, transient=True,
                  disable=args.quiet) as progress:
        task = progress.add_task("frames", total=frames)
        res = simulate_budget(subnets, profile, unit, times, values, deadline=args.deadline, frames=frames,
                              rate=rate, engine=args.engine, progress=lambda i: progress.update(task, completed=i))
    res["seed"] = args.seed
    table = budget_table(res, unit, args.deadline)
    print_tables([table])
    Console().print(f"frames served {fmt_count(res['served'])} of {fmt_count(res['frames'])}; mean accuracy "
                    f"{fraction(res['mean_accuracy'], 4)}; mean latency {seconds(res['mean_latency_s'])}")
    write_outputs(args, [table], "mpsim.budget/1", res)
    if args.plot:
        for path in plot_budget(res, args.plot):
            print(f"wrote {path}")
    return 0


def budget_table(res: dict, unit: str, deadline: float) -> TableView:
    t = TableView("segments", f"sub-network chosen per budget segment on {res.get('profile', '')} "
                  f"(deadline {seconds(deadline)})",
                  [Column("from_s", "from", seconds, True), Column("budget", f"free {unit}", fmt_count, True),
                   Column("frames", "frames", fmt_count, True),
                   Column("subnet", "sub-network", lambda v: v or "dropped"),
                   Column("accuracy", "accuracy", lambda v: fraction(v, 4), True),
                   Column("latency_s", "latency", seconds, True)])
    for s in res["segments"]:
        t.add(**{c.key: s.get(c.key) for c in t.columns})
    return t
