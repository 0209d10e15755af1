"""``mpsim stats GRAPH``: the paper's static metrics of a graph (a file, a folder or a built-in model)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from mpsim.analysis.metrics import stats
from mpsim.atomic import write_json
from mpsim.cli.argtypes import output_file
from mpsim.models import resolve_model


def register(sub) -> None:
    p = sub.add_parser("stats", help="parameters, MACs, graph size, depth and state of a graph")
    p.add_argument("graph", help="built-in model name, graph.json, or a folder that holds one")
    p.add_argument("--json", metavar="FILE", type=output_file, help="also write the figures as JSON")
    p.set_defaults(func=run)


def _mb(b: int) -> str:
    return f"{b / 1e6:,.2f} MB"


def run(args) -> int:
    g = resolve_model(args.graph)
    s = stats(g)
    console = Console()
    head = Table(title=f"{g.name}: graph metrics", show_header=False)
    head.add_row("parameters (shared counted once)", f"{s['params']:,}")
    head.add_row("graph size, folded", _mb(s["graph_size_bytes"]["folded"]))
    head.add_row("graph size, unrolled", _mb(s["graph_size_bytes"]["unrolled"]))
    head.add_row("loop-carried state", _mb(s["state_bytes"]))
    head.add_row("nodes folded / unrolled", f"{s['nodes']['folded']} / {s['nodes']['unrolled']}")
    for lp in s["loops"]:
        head.add_row(f"loop {lp['name']}", f"{lp['body_nodes']} body nodes x {lp['trip_count']} iterations")
    console.print(head)
    per = Table(title="anytime outputs")
    for col in ("output", "MACs (m_n alone)", "MACs (m_1..m_n)", "depth (conv layers)"):
        per.add_column(col, justify="right")
    for i, (m, c, d) in enumerate(zip(s["macs_per_output"], s["macs_cumulative"], s["depth_per_output"])):
        per.add_row(f"m_{i + 1}", f"{m / 1e9:.4f} G", f"{c / 1e9:.4f} G", str(d))
    console.print(per)
    if args.json:
        keys = ("params", "macs_per_output", "macs_cumulative", "graph_size_bytes", "depth_per_output", "state_bytes")
        write_json(args.json, {k: s[k] for k in keys})
    return 0
