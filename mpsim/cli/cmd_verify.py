"""``mpsim verify DIR``: run an export through the functional executor and compare with its reference.

DIR holds graph.json, weights.npz and reference.npz (written by ``mpsim export``: PyTorch's
outputs for a preset or ``--module``, onnxruntime's for ``--onnx``).  Per anytime output it
reports the largest absolute and relative differences to the reference and the argmax
agreement (the fraction of pixels whose argmax over the class axis, axis 1, matches the
reference's).

fp32 acceptance, per output, with ``numpy.allclose`` semantics: every element satisfies
``|out - ref| <= atol + rtol * |ref|`` (``--atol``, default 1e-4; ``--rtol``, default 1e-5,
numpy's own), and argmax agreement >= 0.9999 (``--min-agreement``).  The absolute term covers
outputs of a trained network's scale, the relative one large outputs, where float32 rounding
grows with the values (a ResNet-101 DeepLab with logits up to 1.2e5 differs from PyTorch by
2e-6 relative).  Exit code 0 when every output passes, 1 when one does not, 2 on a bad input.
"""

from __future__ import annotations

import time

import numpy as np
from rich.console import Console

from mpsim.cli.argtypes import count, probability, real, seed
from mpsim.cli.output import add_output_flags, print_tables, write_outputs
from mpsim.errors import MpsimError
from mpsim.fmt import ratio
from mpsim.limits import MAX_DATA_FRAMES, MAX_TOLERANCE
from mpsim.models import export_folder, resolve_export
from mpsim.views.table import Column, TableView

ATOL = 1e-4
RTOL = 1e-5
MIN_AGREEMENT = 0.9999


def register(sub) -> None:
    p = sub.add_parser("verify", help="run an export with the numba executor and compare with its PyTorch reference")
    p.add_argument("dir", metavar="DIR",
                   help="export folder (graph.json, weights.npz, reference.npz) or its graph.json")
    add_output_flags(p, "also write the comparison as JSON")
    p.add_argument("--atol", type=real(0, MAX_TOLERANCE), default=ATOL,
                   help=f"absolute tolerance: |out - ref| <= atol + rtol*|ref| per element (default {ATOL:g})")
    p.add_argument("--rtol", type=real(0, MAX_TOLERANCE), default=RTOL,
                   help=f"relative tolerance, numpy.allclose semantics (default {RTOL:g})")
    p.add_argument("--min-agreement", type=probability(), default=MIN_AGREEMENT,
                   help=f"least argmax agreement per output (default {MIN_AGREEMENT:g})")
    p.add_argument("--profile", help="run with this profile's numerics (fp16, int8, analog crossbars) and report "
                                     "how far each output moves from fp32")
    p.add_argument("--data", help="with --profile: also the mIoU per output on labelled frames "
                                  "(digits, camvid, cityscapes)")
    p.add_argument("--data-root", metavar="DIR", help="data set folder for camvid / cityscapes")
    p.add_argument("--data-frames", type=count(1, MAX_DATA_FRAMES, "frames"), default=16,
                   help="labelled frames for --data (default 16)")
    p.add_argument("--seed", type=seed(), default=0, help="seed of the hardware's random effects (noise, faults)")
    p.set_defaults(func=run)


def argmax_agreement(out: np.ndarray, ref: np.ndarray) -> float:
    """Fraction of positions whose argmax over axis 1 (the classes) equals the reference's."""
    if out.ndim < 2:
        return float(np.argmax(out) == np.argmax(ref))
    return float(np.mean(np.argmax(out, axis=1) == np.argmax(ref, axis=1)))


def compare(outs: list[np.ndarray], refs: list[np.ndarray], atol: float = ATOL,
            min_agreement: float = MIN_AGREEMENT, rtol: float = RTOL) -> list[dict]:
    """Per output: the largest absolute and relative errors, argmax agreement, and whether it
    passes (``numpy.allclose(out, ref, rtol, atol)`` and agreement >= ``min_agreement``)."""
    rows = []
    for i, (o, r) in enumerate(zip(outs, refs)):
        if o.shape != r.shape:
            raise MpsimError(f"output {i + 1} has shape {list(o.shape)}, the reference {list(r.shape)}")
        o64, r64 = o.astype(np.float64), r.astype(np.float64)
        diff = np.abs(o64 - r64)
        err = float(np.max(diff)) if o.size else 0.0
        nonzero = r64 != 0
        rel = float(np.max(diff[nonzero] / np.abs(r64[nonzero]))) if np.any(nonzero) else 0.0
        scale = float(np.max(np.abs(r))) if r.size else 0.0
        agree = argmax_agreement(o, r)
        outside = ~np.isclose(o64, r64, rtol=rtol, atol=atol)
        close = not bool(np.any(outside))
        rows.append({
            "index": i + 1,
            "max_abs_err": err,
            "max_rel_err": rel,
            "allclose": close,
            "outside_tolerance": float(np.mean(outside)) if o.size else 0.0,
            "argmax_agreement": agree,
            "max_abs_ref": scale,
            "passed": bool(close and agree >= min_agreement),
        })
    return rows


def run(args) -> int:
    if args.profile:
        return run_hardware(args)
    if args.data:
        raise MpsimError("--data goes with --profile")
    from mpsim.exec import Executor, load_reference, load_weights

    g, folder = resolve_export(args.dir)
    folder = export_folder(folder, args.dir, "verify")
    weights = load_weights(folder, g)
    x, refs = load_reference(folder, len(g.outputs))
    t0 = time.perf_counter()
    ex = Executor(g, weights)
    t1 = time.perf_counter()
    outs = ex.run(x)
    t2 = time.perf_counter()
    rows = compare(outs, refs, args.atol, args.min_agreement, args.rtol)
    passed = all(r["passed"] for r in rows)

    console = Console()
    source = "onnxruntime" if g.meta.get("source") == "onnx" else "PyTorch"
    table = TableView("outputs", f"{g.name}: numba executor vs {source} reference",
                      [Column("index", "output", lambda i: f"m_{i}"), Column("max_abs_ref", "max |ref|", ratio, True),
                       Column("max_abs_err", "max abs err", ratio, True),
                       Column("max_rel_err", "max rel err", ratio, True),
                       Column("argmax_agreement", "argmax agreement", lambda v: f"{100 * v:.4f} %", True),
                       Column("passed", "fp32", lambda ok: "pass" if ok else "FAIL", True)], rows)
    print_tables([table], console)
    verdict = "[green]passes[/green]" if passed else "[red]fails[/red]"
    console.print(
        f"fp32 acceptance (|err| <= {args.atol:g} + {args.rtol:g} * |ref| everywhere, argmax agreement >= "
        f"{args.min_agreement:g} for every output): {verdict}  "
        f"(prepare {t1 - t0:.2f} s, run {t2 - t1:.2f} s)"
    )
    write_outputs(args, [table], "mpsim.verify/1", {
        "graph": g.name,
        "passed": passed,
        "criteria": {"atol": args.atol, "rtol": args.rtol, "min_argmax_agreement": args.min_agreement},
        "outputs": rows,
    })
    return 0 if passed else 1


def run_hardware(args) -> int:
    """The export under a profile's numerics: distance from fp32 per output, and mIoU if asked."""
    from mpsim.anytime.accuracy import ExitAccuracy
    from mpsim.anytime.frames import load_frames
    from mpsim.exec import Executor, load_reference, load_weights
    from mpsim.exec.numerics import for_profile
    from mpsim.hw.profile import load_profile

    profile = load_profile(args.profile)
    g, folder = resolve_export(args.dir)
    folder = export_folder(folder, args.dir, "verify")
    weights = load_weights(folder, g)
    x, refs = load_reference(folder, len(g.outputs))
    fp32 = Executor(g, weights)
    numerics = for_profile(profile, seed=args.seed)
    hw = Executor(g, weights, numerics=numerics)
    base, outs = fp32.run(x), hw.run(x)
    rows = []
    for i, (o, b, r) in enumerate(zip(outs, base, refs)):
        diff = np.abs(o.astype(np.float64) - b.astype(np.float64))
        rows.append({"index": i + 1, "max_abs_err": float(diff.max()), "mean_abs_err": float(diff.mean()),
                     "argmax_agreement": argmax_agreement(o, b),
                     "max_abs_err_vs_reference": float(np.max(np.abs(o.astype(np.float64) - r)))})
    miou = None
    if args.data:
        (h, w) = g.tensors[g.inputs[0]].shape[-2:]
        images, labels = load_frames(args.data, args.data_root, args.data_frames, (h, w), args.seed)
        n_classes = int(base[0].shape[1])
        per = {}
        for label, ex in (("fp32", fp32), ("hardware", hw)):
            preds = np.stack([np.stack([o[0].argmax(axis=0) for o in ex.run(im)]) for im in images])
            per[label] = ExitAccuracy(preds, None if labels is None else np.stack(labels), n_classes).per_output()
        miou = per
    name = "fp32" if numerics is None else numerics.name
    cols = [Column("index", "output", lambda i: f"m_{i}"), Column("max_abs_err", "max abs err", ratio, True),
            Column("mean_abs_err", "mean abs err", ratio, True),
            Column("argmax_agreement", "argmax agreement", lambda v: f"{100 * v:.2f} %", True)]
    if miou:
        cols += [Column("miou_fp32", "mIoU fp32", lambda v: f"{v:.4f}", True),
                 Column("miou_hardware", "mIoU hardware", lambda v: f"{v:.4f}", True)]
        for k, r in enumerate(rows):
            r.update(miou_fp32=miou["fp32"][k], miou_hardware=miou["hardware"][k])
    table = TableView("outputs", f"{g.name} on {profile.name} ({name}): outputs against fp32", cols, rows)
    print_tables([table])
    write_outputs(args, [table], "mpsim.verify-hardware/1",
                  {"graph": g.name, "profile": profile.name, "numerics": name, "seed": args.seed,
                   "outputs": rows, "miou_per_output": miou,
                   "accuracy_measure": None if not miou else ("mIoU" if args.data in ("digits", "camvid", "cityscapes")
                                                              else "agreement with the last output")})
    return 0
