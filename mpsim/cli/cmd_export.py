"""``mpsim export``: write a model's graph.json with its weights and reference outputs.

Three sources: ``--preset NAME`` (the built-in models), ``--module FILE.py:FACTORY`` or
``--module package.module:FACTORY`` (any PyTorch module a callable builds, exported through
torch.export) and ``--onnx FILE`` (an ONNX file, no torch needed).  The PyTorch side is
imported only when a preset or a module is exported, so the simulator core stays free of it.
"""

from __future__ import annotations

import argparse
import json

from mpsim.atomic import write_json
from mpsim.cli.argtypes import count, csv_list, output_file, output_folder, seed
from mpsim.cli.output import stamp
from mpsim.errors import MpsimError, UnsupportedOperatorError
from mpsim.limits import MAX_SUBNET_INDEX, show


def parse_subnet(text: str) -> tuple[int, int]:
    """'L,C' -> (L, C): depth and width of a DNN sub-network, 1-based."""
    values = csv_list(count(1, MAX_SUBNET_INDEX))(text)
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"--subnet wants L,C (two integers, e.g. 14,12), not '{show(text)}'")
    return values[0], values[1]


def parse_shape(text: str) -> tuple[int, ...]:
    """'1x3x512x1024' -> (1, 3, 512, 1024): positive integers joined by 'x'."""
    try:
        dims = tuple(int(v) for v in text.lower().replace(" ", "").split("x"))
    except ValueError:
        dims = ()
    if not dims or any(d < 1 for d in dims):
        raise argparse.ArgumentTypeError(f"--input wants a shape like 1x3x512x1024 (positive integers), not '{text}'")
    return dims


def _json(kind: type, flag: str):
    def parse(text: str):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"{flag} is not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(value, kind):
            want = "a JSON list, e.g. '[64, 3]'" if kind is list else "a JSON object, e.g. '{\"classes\": 19}'"
            raise argparse.ArgumentTypeError(f"{flag} wants {want}, not {text!r}")
        return value
    return parse


def register(sub) -> None:
    p = sub.add_parser("export", help="export a preset, your own PyTorch module or an ONNX file to DIR/graph.json "
                                      "with weights and reference outputs")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", help="model preset (e.g. itnet-cityscapes, itnet-tiny)")
    src.add_argument("--module", metavar="FILE.py:FACTORY",
                     help="your model: a callable returning an nn.Module, as FILE.py:FACTORY or package.module:FACTORY")
    src.add_argument("--onnx", metavar="FILE", help="an ONNX model (reference outputs from onnxruntime)")
    p.add_argument("--out", required=True, metavar="DIR", type=output_folder,
                   help="output folder (replaced as a whole: empty, new, or an earlier export)")
    p.add_argument("--input", action="append", type=parse_shape, metavar="NxCxHxW",
                   help="shape of a model input, e.g. 1x3x512x1024; repeat for several inputs (--module: required; "
                        "--onnx: fixes dynamic dimensions)")
    p.add_argument("--args", type=_json(list, "--args"), default=[], metavar="JSON",
                   help="positional arguments of FACTORY as a JSON list")
    p.add_argument("--kwargs", type=_json(dict, "--kwargs"), default={}, metavar="JSON",
                   help="keyword arguments of FACTORY as a JSON object")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="trained weights: a state dict or a full checkpoint holding one (preset or module)")
    p.add_argument("--name", help="graph name (default: the preset, FACTORY or the ONNX file's stem)")
    p.add_argument("--seed", type=seed(), default=0, help="seed for initial weights and the reference input")
    p.add_argument("--subnet", type=parse_subnet, metavar="L,C",
                   help="dnn-* presets: export only sub-network (depth L, width C), 1-based")
    p.add_argument("--json", metavar="FILE", type=output_file,
                   help="also write a summary; on unsupported operators, every occurrence (op, module, node)")
    p.set_defaults(func=run)


def _check_flags(args) -> None:
    used = {"--input": args.input, "--args": args.args, "--kwargs": args.kwargs, "--checkpoint": args.checkpoint,
            "--subnet": args.subnet, "--name": args.name}
    allowed = {"preset": {"--checkpoint", "--subnet"},
               "module": {"--input", "--args", "--kwargs", "--checkpoint", "--name"}, "onnx": {"--input", "--name"}}
    source = "preset" if args.preset else "module" if args.module else "onnx"
    wrong = [flag for flag, value in used.items() if value and flag not in allowed[source]]
    if wrong:
        raise MpsimError(f"{', '.join(wrong)} does not apply to --{source}")


def _torch_side():
    try:
        from itnet_export import cli, user_model
    except ImportError as exc:  # torch missing
        raise MpsimError(f"export needs the PyTorch side: {exc} (pip install 'mpsim[torch]')") from None
    return cli, user_model


def run(args) -> int:
    _check_flags(args)
    try:
        if args.onnx:
            from mpsim.importers.onnx_import import import_onnx

            g = import_onnx(args.onnx, args.out, args.input, seed=args.seed, name=args.name)
        elif args.module:
            _, user_model = _torch_side()
            g = user_model.export_module(args.module, args.out, args.input, args.args, args.kwargs,
                                         checkpoint=args.checkpoint, seed=args.seed, name=args.name)
        else:
            cli, _ = _torch_side()
            extra = {"subnet": args.subnet} if args.subnet else {}
            g = cli.export_preset(args.preset, args.out, checkpoint=args.checkpoint, seed=args.seed, **extra)
    except UnsupportedOperatorError as exc:
        if args.json:
            write_json(args.json, stamp("mpsim.export/1", unsupported_report(exc)))
        raise
    print(f"wrote {args.out}/graph.json: {len(g.nodes)} nodes, {len(g.loops)} loop(s), {len(g.outputs)} outputs")
    if args.json:
        write_json(args.json, stamp("mpsim.export/1", {
            "exported": True, "graph": g.name, "out": str(args.out), "nodes": len(g.nodes), "loops": len(g.loops),
            "outputs": len(g.outputs), "ops": dict(sorted(_count(n.op for n in g.nodes).items()))}))
    return 0


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return out


def unsupported_report(exc: UnsupportedOperatorError) -> dict:
    """The --json form of an unsupported-operator error: per op its count and every place."""
    occurrences = list(getattr(exc, "occurrences", []) or [])
    ops: dict[str, dict] = {}
    for o in occurrences:
        entry = ops.setdefault(o["op"], {"op": o["op"], "count": 0, "first_module": o.get("module", ""),
                                         "modules": [], "reasons": []})
        entry["count"] += 1
        entry["modules"].append(o.get("module", ""))
        if o.get("reason") and o["reason"] not in entry["reasons"]:
            entry["reasons"].append(o["reason"])
    return {"exported": False, "error": str(exc),
            "unsupported": sorted(ops.values(), key=lambda e: -e["count"]), "occurrences": occurrences}
