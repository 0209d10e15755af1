"""``mpsim anytime``: sweep an early-exit policy and report what each setting buys on a chip."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from mpsim.anytime.frames import load_frames
from mpsim.anytime.plots import plot_sweep
from mpsim.anytime.policies import POLICIES
from mpsim.anytime.sweep import predict, sweep
from mpsim.atomic import write_text
from mpsim.cli.argtypes import count, csv_list, output_stem, real, seed
from mpsim.cli.output import add_output_flags, print_tables, stamp, write_outputs
from mpsim.views.anytime_tables import anytime_tables
from mpsim.views.run_tables import units_table
from mpsim.errors import MpsimError
from mpsim.hw.profile import load_profile
from mpsim.cli.cmd_run import add_run_options, run_options
from mpsim.limits import MAX_DATA_FRAMES, MAX_POLICY_VALUE, MAX_POLICY_VALUES
from mpsim.models import export_folder, resolve_export


def register(sub) -> None:
    p = sub.add_parser("anytime", help="sweep an early-exit policy: accuracy, latency, throughput, traffic")
    p.add_argument("--profile", default="ipu_m2000", help="hardware profile (name or YAML)")
    p.add_argument("--model", required=True, metavar="GRAPH",
                   help="export folder (or its graph.json) with weights.npz; a built-in name needs --outputs torch")
    p.add_argument("--data", default="digits",
                   help="digits, camvid or cityscapes (labelled, with --data-root), or a folder of unlabelled PNG frames")
    p.add_argument("--data-root", metavar="DIR", help="data set folder for camvid / cityscapes")
    p.add_argument("--data-frames", type=count(1, MAX_DATA_FRAMES, "frames"), default=32,
                   help="data frames to evaluate (default 32)")
    p.add_argument("--policy", choices=POLICIES, default="confidence")
    p.add_argument("--values", required=True, type=csv_list(real(0, MAX_POLICY_VALUE), max_items=MAX_POLICY_VALUES),
                   help="policy parameters to sweep, e.g. 0.5,0.8,0.95,1.1")
    p.add_argument("--budget-unit", choices=("macs", "seconds"), default="macs", help="unit of budget values")
    p.add_argument("--outputs", choices=("executor", "torch"), default="executor",
                   help="decide exits on the functional executor (profile numerics) or on PyTorch")
    p.add_argument("--checkpoint", metavar="FILE", help="with --outputs torch: the trained weights of the preset")
    add_run_options(p)
    p.add_argument("--seed", type=seed(), default=0, help="seed of the data frames and the hardware's random effects")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_output_flags(p, "write the points, the per-output curve and the full graph's report as JSON", html=True)
    p.add_argument("--plot", metavar="STEM", type=output_stem,
                   help="write STEM.png and STEM.svg: accuracy over latency, energy, MACs")
    p.set_defaults(func=run)


def _outputs_fn(args, g, folder, profile):
    if args.outputs == "torch":
        try:
            from itnet_export.reference import torch_outputs_fn
        except ImportError as exc:
            raise MpsimError(f"--outputs torch needs the PyTorch side: {exc}") from None
        return torch_outputs_fn(g, args.checkpoint)
    from mpsim.exec.executor import Executor
    from mpsim.exec.weights import load_weights

    from mpsim.exec.numerics import for_profile

    folder = export_folder(folder, args.model, "anytime (--outputs executor)")
    ex = Executor(g, load_weights(folder, g), numerics=for_profile(profile, seed=args.seed))
    return ex.run


def run(args) -> int:
    values = args.values
    profile = load_profile(args.profile)
    g, folder = resolve_export(args.model)
    (h, w) = g.tensors[g.inputs[0]].shape[-2:]
    images, labels = load_frames(args.data, args.data_root, args.data_frames, (h, w), args.seed)
    outputs_of = _outputs_fn(args, g, folder, profile)
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console,
                  transient=True, disable=args.quiet) as prog:
        t1 = prog.add_task("predicting", total=len(images))
        pr = predict(outputs_of, images, labels, progress=lambda i: prog.update(t1, completed=i))
        t2 = prog.add_task("simulating", total=len(values))
        res = sweep(g, profile, pr, args.policy, values, options=run_options(args), mode=args.mode,
                    engine=args.engine, frames=args.frames, tolerance=args.tolerance, max_frames=args.max_frames,
                    rate=args.rate, budget_unit=args.budget_unit, progress=lambda i: prog.update(t2, completed=i))
    res.update(seed=args.seed, data=args.data, outputs=args.outputs,
               trained=res["trained"] or (args.outputs == "torch" and bool(args.checkpoint)))
    if not res["trained"]:
        console.print("[yellow]note:[/yellow] untrained weights (the export records no checkpoint or training): "
                      "accuracies and exits are those of random weights")
    res = stamp("mpsim.anytime/1", res)
    tables = anytime_tables(res)
    print_tables(tables)
    write_outputs(args, tables + ([units_table(res["report"])] if res["report"].get("units") else []),
                  "mpsim.anytime/1", res)
    if args.html:
        from mpsim.views.html import anytime_page

        write_text(args.html, anytime_page(res))
    if args.plot:
        for path in plot_sweep(res, args.plot):
            print(f"wrote {path}")
    return 0
