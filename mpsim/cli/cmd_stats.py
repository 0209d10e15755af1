"""``mpsim stats GRAPH``: the paper's static metrics of a graph (a file, a folder or a built-in model)."""

from __future__ import annotations

from mpsim.analysis.metrics import stats
from mpsim.cli.output import add_output_flags, print_tables, write_outputs
from mpsim.fmt import count, macs, nbytes
from mpsim.models import resolve_model
from mpsim.views.table import Cell, Column, TableView


def register(sub) -> None:
    p = sub.add_parser("stats", help="parameters, MACs, graph size, depth and state of a graph")
    p.add_argument("graph", help="built-in model name, graph.json, or a folder that holds one")
    add_output_flags(p, "also write the figures as JSON")
    p.set_defaults(func=run)


def stats_tables(name: str, s: dict) -> list[TableView]:
    """Per anytime output (the main table) and the graph's own figures."""
    per = TableView("outputs", "anytime outputs",
                    [Column("output", "output"), Column("macs", "MACs of m_n alone", macs, True),
                     Column("macs_cumulative", "MACs of m_1..m_n", macs, True),
                     Column("depth", "depth (conv layers)", count, True)])
    for i, (m, c, d) in enumerate(zip(s["macs_per_output"], s["macs_cumulative"], s["depth_per_output"])):
        per.add(output=f"m_{i + 1}", macs=m, macs_cumulative=c, depth=d)
    head = TableView("graph", f"{name}: graph metrics", [Column("figure", "figure"), Column("value", "value")],
                     show_header=False)

    def row(key, label, raw, text):
        head.add(figure=Cell(key, label), value=Cell(raw, text))

    row("params", "parameters (shared counted once)", s["params"], count(s["params"]))
    row("graph_size_folded_bytes", "graph size, folded", s["graph_size_bytes"]["folded"],
        nbytes(s["graph_size_bytes"]["folded"]))
    row("graph_size_unrolled_bytes", "graph size, unrolled", s["graph_size_bytes"]["unrolled"],
        nbytes(s["graph_size_bytes"]["unrolled"]))
    row("state_bytes", "loop-carried state", s["state_bytes"], nbytes(s["state_bytes"]))
    row("nodes", "nodes folded / unrolled", s["nodes"]["folded"], f"{s['nodes']['folded']} / {s['nodes']['unrolled']}")
    for lp in s["loops"]:
        row(f"loop.{lp['name']}", f"loop {lp['name']}", lp["trip_count"],
            f"{lp['body_nodes']} body nodes x {lp['trip_count']} iterations")
    return [per, head]


def run(args) -> int:
    g = resolve_model(args.graph)
    s = stats(g)
    tables = stats_tables(g.name, s)
    print_tables(tables[::-1])
    keys = ("params", "macs_per_output", "macs_cumulative", "graph_size_bytes", "depth_per_output", "state_bytes",
            "nodes", "loops")
    write_outputs(args, tables, "mpsim.stats/1", {"graph": g.name, **{k: s[k] for k in keys}})
    return 0
