"""``mpsim run``: map a graph onto a profile, stream frames through it, print the report."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mpsim.atomic import write_json
from mpsim.hw.profile import load_profile
from mpsim.models import DEFAULT_MODEL, resolve_model
from mpsim.sim.report import print_report
from mpsim.sim.simulate import ENGINES, MODES, simulate
from mpsim.sim.trace import write_trace


def register(sub) -> None:
    p = sub.add_parser("run", help="simulate a graph on a hardware profile and report fit, latency, throughput, traffic")
    p.add_argument("--profile", default="ipu_m2000", help="built-in profile name or a YAML file (default ipu_m2000)")
    p.add_argument("--model", default=DEFAULT_MODEL, metavar="GRAPH",
                   help=f"built-in model name, graph.json or export folder (default {DEFAULT_MODEL})")
    p.add_argument("--frames", type=int, default=200, help="frames to stream (default 200)")
    p.add_argument("--mode", choices=MODES, help="execution mode (default: the profile's)")
    p.add_argument("--rate", type=float, help="offered frames per second (default: as fast as the graph accepts)")
    p.add_argument("--seed", type=int, default=0, help="seed for every random choice (recorded in the report)")
    p.add_argument("--engine", choices=ENGINES, default="simpy", help="simulation engine (default simpy)")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON")
    p.add_argument("--trace", metavar="FILE", help="write a Chrome trace (opens in Perfetto) of the first frames")
    p.add_argument("--trace-frames", type=int, default=4, help="frames to include in the trace (default 4)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    profile = load_profile(args.profile)
    graph = resolve_model(args.model)
    console = Console(stderr=True)
    progress = Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=console, transient=True, disable=args.quiet or args.frames < 50)
    with progress:
        task = progress.add_task("frames", total=args.frames)
        rep, result, plan = simulate(
            graph, profile, mode=args.mode, engine=args.engine, frames=args.frames, rate=args.rate,
            trace_frames=args.trace_frames if args.trace else 0,
            progress=lambda done: progress.update(task, completed=done),
        )
    rep["seed"] = args.seed
    print_report(rep)
    if args.json:
        write_json(args.json, rep)
    if args.trace and result is not None:
        write_trace(args.trace, result, plan)
    return 0
