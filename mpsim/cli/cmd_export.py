"""``mpsim export``: build a preset model (or load a checkpoint) and write its graph.

This is the one command that needs torch; it is imported only when the command runs, so the
simulator core stays free of it.
"""

from __future__ import annotations

import argparse

from mpsim.cli.argtypes import count, csv_list, output_folder, seed
from mpsim.errors import MpsimError
from mpsim.limits import MAX_SUBNET_INDEX, show


def parse_subnet(text: str) -> tuple[int, int]:
    """'L,C' -> (L, C): depth and width of a DNN sub-network, 1-based."""
    values = csv_list(count(1, MAX_SUBNET_INDEX))(text)
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"--subnet wants L,C (two integers, e.g. 14,12), not '{show(text)}'")
    return values[0], values[1]


def register(sub) -> None:
    p = sub.add_parser("export", help="export a preset model to DIR/graph.json with weights and reference")
    p.add_argument("--preset", required=True, help="model preset (e.g. itnet-cityscapes, itnet-tiny)")
    p.add_argument("--out", required=True, metavar="DIR", type=output_folder,
                   help="output folder (replaced as a whole: empty, new, or an earlier export)")
    p.add_argument("--checkpoint", metavar="FILE", help="trained weights (state dict or mpsim checkpoint)")
    p.add_argument("--seed", type=seed(), default=0, help="seed for initial weights and the reference input")
    p.add_argument("--subnet", type=parse_subnet, metavar="L,C",
                   help="dnn-* presets: export only sub-network (depth L, width C), 1-based")
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        from itnet_export.cli import export_preset
    except ImportError as exc:  # torch missing
        raise MpsimError(f"export needs the PyTorch side: {exc} (pip install 'mpsim[torch]')") from None
    extra = {"subnet": args.subnet} if getattr(args, "subnet", None) else {}
    g = export_preset(args.preset, args.out, checkpoint=args.checkpoint, seed=args.seed, **extra)
    print(f"wrote {args.out}/graph.json: {len(g.nodes)} nodes, {len(g.loops)} loop(s), {len(g.outputs)} outputs")
    return 0
