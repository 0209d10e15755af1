"""``mpsim grid``: grid search over ItNet (L, N, K) with the paper's width rule and selection.

Every point gets the largest width f whose last output costs fewer than --budget-macs MACs at
the preset's input size, is trained like ``mpsim train`` (short: --epochs, --max-batches) and
scored by its AUC.  Points whose peak mIoU is <= the family's best peak - 0.02 are dropped,
the rest ranked by AUC within each family (shared, independent), and the (L, N, K) with the
lowest average rank across the families is selected (paper, 3.1).  Runs in-process, on a
LocalCluster (--workers N) or on a Dask scheduler (--scheduler ADDRESS).
"""

from __future__ import annotations

import os

from mpsim import limits
from mpsim.cli.argtypes import count, csv_list, output_folder, real
from mpsim.errors import MpsimError


def _families(text: str) -> list[str]:
    import argparse

    vals = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in vals if v not in ("shared", "independent")]
    if bad or not vals:
        raise argparse.ArgumentTypeError(f"families must be shared and/or independent, not '{text}'")
    return list(dict.fromkeys(vals))


def register(sub) -> None:
    from mpsim.cli.cmd_train import add_training_flags

    p = sub.add_parser("grid", help="grid search over ItNet scales/iterations/blocks (width rule, AUC ranking)")
    p.add_argument("--preset", default="itnet-tiny", help="base preset: input size, classes (default: itnet-tiny)")
    p.add_argument("--scales", type=csv_list(count(1, limits.MAX_SCALES), unique=True),
                   default=[1, 2, 3], metavar="L,..", help="scales L (default: 1,2,3)")
    p.add_argument("--iterations", type=csv_list(count(1, limits.MAX_ITERATIONS), unique=True),
                   default=[2, 4], metavar="N,..", help="iterations N (default: 2,4)")
    p.add_argument("--blocks", type=csv_list(count(1, limits.MAX_BLOCKS), unique=True), default=[1, 2], metavar="K,..",
                   help="blocks K (default: 1,2)")
    p.add_argument("--families", type=_families, default=["shared", "independent"],
                   help="shared and/or independent weights (default: both)")
    p.add_argument("--budget-macs", type=real(0, limits.MAX_MACS, open_lo=True), default=2.2e9, metavar="MACS",
                   help="width rule: last output under this many MACs at the preset's input size (default: 2.2e9; "
                        "for itnet-tiny use a small budget, e.g. 3e6)")
    p.add_argument("--margin", type=real(0, 1), default=0.02,
                   help="discard peak mIoU <= best peak - MARGIN (default: 0.02)")
    add_training_flags(p, grid=True)
    p.add_argument("--out", metavar="DIR", type=output_folder,
                   help="keep every point's run in DIR/POINT (re-running resumes them)")
    from mpsim.cli.output import add_output_flags

    add_output_flags(p, "write points, ranking and selection as JSON")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="run the points on this Dask scheduler (tcp://host:port)")
    where.add_argument("--workers", type=count(1, limits.MAX_WORKERS, "processes"), metavar="N",
                       help="run the points on a local Dask cluster of N processes")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        from itnet_export.training.grid import expand, run_grid, select
        from itnet_export.training.trainer import TrainConfig
    except ImportError as exc:
        raise MpsimError(f"grid needs the PyTorch side: {exc} (pip install 'mpsim[torch]')") from None
    from rich.console import Console

    from mpsim.cli.cmd_train import explicit_settings

    train = {"preset": args.preset, **explicit_settings(args)}
    train.setdefault("threads", 1)
    TrainConfig.from_dict(train)  # validate the flags before anything runs
    points = expand(args.scales, args.iterations, args.blocks, args.families)
    console = Console()
    where = ("in-process" if not (args.scheduler or args.workers) else
             f"on {args.scheduler}" if args.scheduler else f"on a LocalCluster of {args.workers} workers")
    console.print(f"grid: {len(points)} point(s) {where}, budget {args.budget_macs:,.0f} MACs")

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("grid"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), disable=args.quiet) as progress:
        task = progress.add_task("grid", total=len(points))
        results = run_grid(points, train, args.budget_macs, out=args.out, scheduler=args.scheduler,
                           workers=args.workers, progress=lambda done: progress.update(task, completed=done))
    outcome = select(results, margin=args.margin)
    from mpsim.cli.output import print_tables, write_outputs

    tables = grid_tables(outcome)
    print_tables(tables, console)
    s = outcome["selected"]
    if s is None:
        console.print("selected: none (no configuration survives the discard rule in every family)")
    else:
        widths = ", ".join(f"{f} f={w}" for f, w in s["widths"].items())
        console.print(f"selected: L={s['scales']}, N={s['iterations']}, K={s['blocks']} "
                      f"(average rank {s['average_rank']:.1f}; {widths})")
    write_outputs(args, tables, "mpsim.grid/1",
                  {"settings": {"train": train, "budget_macs": args.budget_macs, "scales": args.scales,
                                "iterations": args.iterations, "blocks": args.blocks, "families": args.families},
                   **outcome})
    if args.json:
        console.print(f"wrote {os.fspath(args.json)}")
    return 0


def grid_tables(outcome) -> list:
    """The points (main table) and the average rank of each (L, N, K) across the families."""
    from mpsim.fmt import macs
    from mpsim.views.table import Column, TableView

    num = lambda v: "-" if v is None else str(v)  # noqa: E731
    t = TableView("points", "grid search (paper 3.1): mIoU of m_1, m_N and the best output; AUC over MACs",
                  [Column("family", "family", lambda v: "indep." if v == "independent" else v),
                   Column("config", "L,N,K", save=False), Column("scales", "L", show=False),
                   Column("iterations", "N", show=False), Column("blocks", "K", show=False),
                   Column("width", "f", num, True), Column("macs", "MACs", macs, True),
                   Column("miou_first", "m_1", lambda v: f"{v:.3f}", True),
                   Column("miou_last", "m_N", lambda v: f"{v:.3f}", True),
                   Column("peak_miou", "peak", lambda v: f"{v:.3f}", True),
                   Column("auc", "AUC", lambda v: f"{v:.4f}", True),
                   Column("rank", "rank", lambda v: "dropped" if v is None else str(v), True)])
    for p in outcome["points"]:
        t.add(family=p["family"], config=f"{p['scales']},{p['iterations']},{p['blocks']}", scales=p["scales"],
              iterations=p["iterations"], blocks=p["blocks"], width=p["width"],
              macs=p["macs_per_output"][-1], miou_first=p["miou_per_output"][0], miou_last=p["miou_per_output"][-1],
              peak_miou=p["peak_miou"], auc=p["auc"], rank=None if p["discarded"] else p["rank"])
    r = TableView("ranking", "average rank across families",
                  [Column("scales", "L", num, True), Column("iterations", "N", num, True),
                   Column("blocks", "K", num, True)]
                  + [Column(f, f, num, True) for f in outcome["families"]]
                  + [Column("average_rank", "average rank", lambda v: "-" if v is None else f"{v:.1f}", True)])
    for row in outcome["ranking"]:
        r.add(scales=row["scales"], iterations=row["iterations"], blocks=row["blocks"],
              average_rank=row["average_rank"], **{f: row["ranks"][f] for f in outcome["families"]})
    return [t, r]
