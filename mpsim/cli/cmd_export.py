"""``mpsim export``: build a preset model (or load a checkpoint) and write its graph.

This is the one command that needs torch; it is imported only when the command runs, so the
simulator core stays free of it.
"""

from __future__ import annotations

from mpsim.errors import MpsimError


def register(sub) -> None:
    p = sub.add_parser("export", help="export a preset model to DIR/graph.json with weights and reference")
    p.add_argument("--preset", required=True, help="model preset (e.g. itnet-cityscapes, itnet-tiny)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--checkpoint", metavar="FILE", help="trained weights (state dict or mpsim checkpoint)")
    p.add_argument("--seed", type=int, default=0, help="seed for initial weights and the reference input")
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        from itnet_export.cli import export_preset
    except ImportError as exc:  # torch missing
        raise MpsimError(f"export needs the PyTorch side: {exc} (pip install 'mpsim[torch]')") from None
    g = export_preset(args.preset, args.out, checkpoint=args.checkpoint, seed=args.seed)
    print(f"wrote {args.out}/graph.json: {len(g.nodes)} nodes, {len(g.loops)} loop(s), {len(g.outputs)} outputs")
    return 0
