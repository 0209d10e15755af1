"""``mpsim export``: build a preset model (or load a checkpoint) and write its graph.

This is the one command that needs torch; it is imported only when the command runs, so the
simulator core stays free of it.
"""

from __future__ import annotations

import argparse

from mpsim.errors import MpsimError


def parse_subnet(text: str) -> tuple[int, int]:
    """'L,C' -> (L, C): depth and width of a DNN sub-network, 1-based."""
    parts = text.replace(" ", "").split(",")
    try:
        l, c = (int(v) for v in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--subnet wants L,C (two integers, e.g. 14,12), not '{text}'") from None
    if l < 1 or c < 1:
        raise argparse.ArgumentTypeError(f"--subnet depth and width are 1-based, not '{text}'")
    return l, c


def register(sub) -> None:
    p = sub.add_parser("export", help="export a preset model to DIR/graph.json with weights and reference")
    p.add_argument("--preset", required=True, help="model preset (e.g. itnet-cityscapes, itnet-tiny)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--checkpoint", metavar="FILE", help="trained weights (state dict or mpsim checkpoint)")
    p.add_argument("--seed", type=int, default=0, help="seed for initial weights and the reference input")
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
