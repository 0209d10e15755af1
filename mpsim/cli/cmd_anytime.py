"""``mpsim anytime``: sweep an early-exit policy and report what each setting buys on a chip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from mpsim.anytime.frames import load_frames
from mpsim.anytime.plots import plot_sweep
from mpsim.anytime.policies import POLICIES
from mpsim.anytime.sweep import predict, sweep
from mpsim.atomic import write_json
from mpsim.cli.argtypes import count, csv_list, output_file, output_stem, real, seed
from mpsim.errors import MpsimError
from mpsim.hw.profile import load_profile
from mpsim.cli.cmd_run import add_run_options, run_options
from mpsim.limits import MAX_DATA_FRAMES, MAX_POLICY_VALUE, MAX_POLICY_VALUES
from mpsim.models import export_folder, resolve_export


def register(sub) -> None:
    p = sub.add_parser("anytime", help="sweep an early-exit policy: accuracy, latency, throughput, traffic")
    p.add_argument("--profile", default="ipu_m2000", help="hardware profile (name or YAML)")
    p.add_argument("--model", required=True, metavar="DIR",
                   help="export folder with graph.json and weights.npz, or its graph.json "
                        "(a built-in name with --outputs torch)")
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
    p.add_argument("--seed", type=seed(), default=0)
    p.add_argument("--json", metavar="FILE", type=output_file, help="write the points as JSON")
    p.add_argument("--plot", metavar="STEM", type=output_stem, help="write STEM.png and STEM.svg")
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
                  transient=True) as prog:
        t1 = prog.add_task("predicting", total=len(images))
        pr = predict(outputs_of, images, labels, progress=lambda i: prog.update(t1, completed=i))
        t2 = prog.add_task("simulating", total=len(values))
        res = sweep(g, profile, pr, args.policy, values, options=run_options(args), mode=args.mode,
                    engine=args.engine, frames=args.frames, tolerance=args.tolerance, max_frames=args.max_frames,
                    rate=args.rate, budget_unit=args.budget_unit, progress=lambda i: prog.update(t2, completed=i))
    res.update(seed=args.seed, data=args.data, outputs=args.outputs)
    _print(res)
    if args.json:
        write_json(args.json, res)
    if args.plot:
        for path in plot_sweep(res, args.plot):
            print(f"wrote {path}")
    return 0


def _fmt(x, scale=1.0, unit="", digits=3):
    return "-" if x is None else f"{x * scale:.{digits}g}{unit}"


def _print(res) -> None:
    t = Table(title=f"{res['model']} on {res['profile']}: {res['policy']} policy ({res['accuracy_measure']})")
    for col in ("value", "acc", "exit", "lat mean", "lat p99", "frames/s", "MACs", "traffic"):
        t.add_column(col, justify="right")
    for p in res["points"]:
        traffic = None if p["traffic_bytes_per_frame"] is None else sum(p["traffic_bytes_per_frame"].values())
        t.add_row(f"{p['value']:g}", f"{p['accuracy']:.4f}", f"m_{p['mean_exit']:.2f}",
                  _fmt(p["mean_latency_s"], 1e6, " us"), _fmt(p["p99_latency_s"], 1e6, " us"),
                  _fmt(p["throughput_fps"], 1, ""), _fmt(p["macs_per_frame"], 1e-6, " M"),
                  _fmt(traffic, 1e-6, " MB"))
    Console().print(t)
    acc = res["per_output"]["accuracy"]
    Console().print(f"per output accuracy: " + ", ".join(f"m_{i + 1} {a:.3f}" for i, a in enumerate(acc)))
