"""``mpsim dnn``: the doubly nested network's L x C sub-networks (docs/dnn.md).

* ``mpsim dnn grid [--json FILE] [--plot BASE]``: resource maps (MACs, parameters, largest
  feature map), rows = depth l, columns = width c;
* ``mpsim dnn budget --macs 24e6 --accuracy FILE``: the most accurate sub-network within a
  MAC budget vs the best depth-only (full-width) one (the paper's Fig. 5);
* ``mpsim dnn catalog --json FILE``: every sub-network with its resources (and accuracy).

The resource maps are measured on the PyTorch model, imported only when needed;
``budget --grid FILE`` (a grid JSON written before) runs without torch.
"""

from __future__ import annotations

from mpsim.atomic import write_json
from mpsim.cli.argtypes import output_folder, output_stem, real
from mpsim.cli.output import add_output_flags, print_tables, stamp, write_outputs
from mpsim.errors import MpsimError
from mpsim import fmt
from mpsim.limits import MAX_MACS
from mpsim.views.table import Column, TableView

GRID_KEYS = ("macs", "params", "max_fmap_bytes")


def register(sub) -> None:
    p = sub.add_parser("dnn", help="doubly nested network: resource maps, best sub-network under a budget")
    dsub = p.add_subparsers(dest="dnn_command", metavar="ACTION")
    dsub.required = True

    g = dsub.add_parser("grid", help="MACs, parameters and largest feature map of every sub-network")
    _preset_arg(g)
    add_output_flags(g, 'write {"macs", "params", "max_fmap_bytes"}: L x C grids (CSV: one row per sub-network)')
    g.add_argument("--plot", metavar="BASE", type=output_stem, help="write heat maps to BASE.png and BASE.svg")
    g.add_argument("--nonzero", action="store_true",
                   help="count only the weights the causal masks keep (default: dense, as exported)")
    g.set_defaults(func=run_grid)

    b = dsub.add_parser("budget", help="best sub-network within a MAC budget vs the best depth-only one")
    _preset_arg(b)
    b.add_argument("--macs", required=True, type=real(0, MAX_MACS, open_lo=True, unit="MACs"), metavar="N",
                   help="MAC budget, e.g. 24e6")
    b.add_argument("--accuracy", required=True, metavar="FILE",
                   help='accuracy grid JSON (an object with "accuracy": L x C fractions, or a bare grid)')
    b.add_argument("--grid", metavar="FILE", help="resource grid JSON from `mpsim dnn grid --json` (no torch)")
    b.add_argument("--nonzero", action="store_true", help="MACs of the causal masks' kept weights only")
    add_output_flags(b, "write the result as JSON (CSV: the best and the best depth-only sub-network)")
    b.add_argument("--plot", metavar="BASE", type=output_stem,
                   help="write the accuracy map with the budget (BASE.png/.svg)")
    b.set_defaults(func=run_budget)

    c = dsub.add_parser("catalog", help="every sub-network with its resources (and accuracy) as JSON")
    _preset_arg(c)
    c.add_argument("--accuracy", metavar="FILE", help="accuracy grid JSON to attach")
    add_output_flags(c, "write the catalog as JSON ({schema, mpsim_version, preset, subnets}; without graphs: "
                        "for `run --budget-trace` use --export)")
    c.add_argument("--export", metavar="DIR", type=output_folder,
                   help="export the sub-networks on the accuracy/MACs Pareto front as graphs, with DIR/catalog.json "
                        "for `mpsim run --model DIR --budget-trace ...` (needs --accuracy)")
    c.add_argument("--checkpoint", metavar="FILE", help="trained weights for --export")
    c.set_defaults(func=run_catalog)


def _preset_arg(p) -> None:
    p.add_argument("--preset", default="dnn-cifar10", help="DNN preset (dnn-cifar10, dnn-tiny)")


def _torch_side():
    try:
        from itnet_export.dnn import resources
        from itnet_export.presets import DNN_PRESETS
    except ImportError as exc:
        raise MpsimError(f"dnn needs the PyTorch side: {exc} (pip install 'mpsim[torch]')") from None
    return resources, DNN_PRESETS


def _config(preset: str):
    _, presets = _torch_side()
    if preset not in presets:
        raise MpsimError(f"unknown DNN preset '{preset}' (known: {', '.join(sorted(presets))})")
    return presets[preset]


def _maps(preset: str, nonzero: bool) -> dict:
    resources, _ = _torch_side()
    return resources.resource_maps(_config(preset), nonzero=nonzero)


def grid_tables(preset: str, maps: dict, nonzero: bool) -> tuple[TableView, TableView]:
    """(every sub-network's resources: CSV, a MACs map over a few widths: terminal)."""
    L, C = len(maps["macs"]), len(maps["macs"][0])
    full = TableView("subnets", f"{preset}: resources of every sub-network",
                     [Column("l", "l", fmt.count, True), Column("c", "c", fmt.count, True),
                      Column("macs", "MACs", fmt.macs, True), Column("params", "parameters", fmt.count, True),
                      Column("max_fmap_bytes", "largest map", fmt.nbytes, True)])
    for l in range(L):
        for c in range(C):
            full.add(l=l + 1, c=c + 1, **{k: maps[k][l][c] for k in GRID_KEYS})
    cols = sorted({1, max(1, C // 4), max(1, C // 2), max(1, 3 * C // 4), C})
    shown = TableView("macs", f"{preset}: MACs of sub-network (depth l, width c), {L} x {C}"
                      + (" (kept weights only)" if nonzero else ""),
                      [Column("l", "l", fmt.count, True)] + [Column(f"c{c}", f"c={c}", fmt.macs, True) for c in cols])
    for l in range(1, L + 1):
        shown.add(l=l, **{f"c{c}": maps["macs"][l - 1][c - 1] for c in cols})
    return full, shown


def run_grid(args) -> int:
    maps = _maps(args.preset, args.nonzero)
    L, C = len(maps["macs"]), len(maps["macs"][0])
    full, shown = grid_tables(args.preset, maps, args.nonzero)
    print_tables([shown])
    full_net = {k: maps[k][L - 1][C - 1] for k in GRID_KEYS}
    print(f"full network (l={L}, c={C}): {fmt.macs(full_net['macs'])}, {fmt.count(full_net['params'])} "
          f"parameters, largest map {fmt.nbytes(full_net['max_fmap_bytes'])}")
    write_outputs(args, [full], "mpsim.dnn-grid/1", {"preset": args.preset, **{k: maps[k] for k in GRID_KEYS}})
    if args.json:
        print(f"wrote {args.json}")
    if args.plot:
        from itnet_export.dnn.plots import resource_maps_figure

        paths = resource_maps_figure(maps, args.plot, f"{args.preset}: resources of the {L} x {C} sub-networks")
        print("wrote " + ", ".join(map(str, paths)))
    return 0


def run_budget(args) -> int:
    from itnet_export.dnn.budget import best_under_budget, load_grid_file

    if args.grid:
        if args.nonzero:
            raise MpsimError("--nonzero measures the model; it cannot be combined with --grid")
        macs = load_grid_file(args.grid, "macs")
    else:
        macs = _maps(args.preset, args.nonzero)["macs"]
    acc = load_grid_file(args.accuracy, "accuracy")
    r = best_under_budget(macs, acc, args.macs)
    b, d = r["best"], r["best_depth_only"]
    print(f"budget {args.macs:,.0f} MACs: {r['feasible']} of {len(macs) * len(macs[0])} sub-networks fit")
    print(f"best sub-network:       {b['name']} (l={b['l']}, c={b['c']}): {100 * b['accuracy']:.2f} %, "
          f"{b['macs']:,} MACs")
    if d:
        print(f"best depth-only output: {d['name']} (l={d['l']}, c={d['c']}): {100 * d['accuracy']:.2f} %, "
              f"{d['macs']:,} MACs")
        print(f"gain: {100 * r['gain']:+.2f} percentage points")
    else:
        print("best depth-only output: none fits (even the first full-width output is over budget)")
    best = TableView("best", f"best sub-networks within {fmt.macs(args.macs)}",
                     [Column("kind", "kind"), Column("name", "sub-network"), Column("l", "l", fmt.count, True),
                      Column("c", "c", fmt.count, True),
                      Column("accuracy", "accuracy", lambda v: f"{100 * v:.2f} %", True),
                      Column("macs", "MACs", fmt.macs, True)])
    for kind, e in (("best", b), ("best depth-only", d)):
        if e:
            best.add(kind=kind, **e)
    write_outputs(args, [best], "mpsim.dnn-budget/1", r)
    if args.json:
        print(f"wrote {args.json}")
    if args.plot:
        from itnet_export.dnn.plots import accuracy_figure

        paths = accuracy_figure(acc, args.plot, f"accuracy (%) within {args.macs / 1e6:g} M MACs", macs, r)
        print("wrote " + ", ".join(map(str, paths)))
    return 0


def run_catalog(args) -> int:
    try:
        from itnet_export.dnn.catalog import catalog
    except ImportError as exc:
        raise MpsimError(f"dnn needs the PyTorch side: {exc} (pip install 'mpsim[torch]')") from None
    entries = catalog(_config(args.preset), args.accuracy)
    if args.export:
        export_catalog(args, entries)
    table = TableView("subnets", f"{args.preset}: sub-networks",
                      [Column(k, k) for k in dict.fromkeys(k for e in entries for k in e)], list(entries))
    write_outputs(args, [table], "mpsim.dnn-catalog/1", {"preset": args.preset, "subnets": entries})
    if args.json or args.csv:
        print(f"wrote {args.json or args.csv}: {len(entries)} sub-networks")
    else:
        print(f"{args.preset}: {len(entries)} sub-networks; smallest {entries[0]['name']} "
              f"({entries[0]['macs']:,} MACs), largest {entries[-1]['name']} ({entries[-1]['macs']:,} MACs)")
    return 0


def pareto(entries: list[dict]) -> list[dict]:
    """Sub-networks no other beats with fewer or equal MACs and higher accuracy, cheapest first."""
    front, best = [], -1.0
    for e in sorted(entries, key=lambda e: (e["macs"], -e["accuracy"])):
        if e["accuracy"] > best:
            front.append(e)
            best = e["accuracy"]
    return front


def _owns_catalog(entry) -> bool:
    """What a catalog folder may hold when a new catalog replaces it: catalog.json and exports."""
    from mpsim.models import owns_export

    if entry.name == "catalog.json" or owns_export(entry):
        return True
    return entry.is_dir() and not entry.is_symlink() and all(owns_export(e) for e in entry.iterdir())


def export_catalog(args, entries: list[dict]) -> None:
    """DIR/<name>/graph.json for each Pareto sub-network, and DIR/catalog.json listing them.

    The catalog is a set: it is built in a temporary folder that replaces DIR in one step."""
    from itnet_export.cli import export_preset
    from mpsim.atomic import atomic_dir

    if args.accuracy is None:
        raise MpsimError("--export needs --accuracy: the simulator picks sub-networks by accuracy")
    chosen = pareto(entries)
    listed = []
    with atomic_dir(args.export, owns=_owns_catalog) as out:
        for e in chosen:
            export_preset(args.preset, str(out / e["name"]), checkpoint=args.checkpoint, subnet=(e["l"], e["c"]))
            listed.append({**e, "graph": f"{e['name']}/graph.json"})
        write_json(out / "catalog.json", stamp("mpsim.dnn-catalog/1", {"preset": args.preset, "subnets": listed}))
    print(f"wrote {args.export}/catalog.json: {len(listed)} sub-networks on the accuracy/MACs Pareto front")
