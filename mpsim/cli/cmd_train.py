"""``mpsim train``: train an ItNet preset with the joint multi-output loss, then export it.

Needs the PyTorch side (``itnet_export``), imported only when the command runs.  Writes
DIR/checkpoint.pt (every epoch and every --checkpoint-every batches, atomically),
DIR/metrics.json and DIR/export/graph.json.  ``--resume`` continues a killed run exactly.
"""

from __future__ import annotations

import argparse
import os
import signal

from mpsim import limits
from mpsim.cli.argtypes import count, csv_list, output_folder, real, seed
from mpsim.errors import MpsimError

LOSSES = ("uniform", "thinned", "increasing", "single", "late")
MAX_LOSS_WEIGHT = 1e6


def _loss(text: str) -> str:
    """A loss preset, or comma-separated weights a_n, each finite in [0, 1e6]."""
    if text in LOSSES:
        return text
    if not any(c.isdigit() for c in text):
        raise argparse.ArgumentTypeError(f"unknown loss '{text[:40]}' (presets: {', '.join(LOSSES)}; "
                                         "or comma-separated weights)")
    csv_list(real(0, MAX_LOSS_WEIGHT))(text)
    return text


def add_training_flags(p, grid: bool = False) -> None:
    """Flags shared by ``mpsim train`` and ``mpsim grid`` (defaults None: see TrainConfig)."""
    p.add_argument("--dataset", choices=("digits", "camvid", "cityscapes"), default=None,
                   help="data set (default: digits, built in; camvid/cityscapes need --data-root)")
    p.add_argument("--data-root", metavar="DIR", default=None, help="data folder (camvid: SegNet layout; "
                   "cityscapes: leftImg8bit/ and gtFine/)")
    p.add_argument("--epochs", type=count(1, limits.MAX_EPOCHS), default=None, help="epochs (default: 10)")
    p.add_argument("--batch-size", type=count(1, limits.MAX_BATCH_SIZE), default=None, help="batch size (default: 16)")
    p.add_argument("--seed", type=seed(), default=None, help="seed of weights, data order, augmentation (default: 0)")
    p.add_argument("--loss", default=None, metavar="PRESET", type=_loss,
                   help=f"loss weights a_n: {', '.join(LOSSES)} (default: uniform) or N comma-separated numbers")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default=None, help="optimiser (default: adam)")
    p.add_argument("--lr", type=real(0, limits.MAX_LR, open_lo=True), default=None,
                   help="learning rate (default: 1e-3 adam, 0.05 sgd)")
    p.add_argument("--weight-decay", type=real(0, 1), default=None, help="weight decay (default: 0)")
    p.add_argument("--momentum", type=real(0, 1, open_hi=True), default=None, help="SGD momentum (default: 0.9)")
    p.add_argument("--schedule", choices=("cosine", "step", "none"), default=None,
                   help="learning-rate schedule over all steps (default: cosine)")
    p.add_argument("--max-batches", type=count(1, limits.MAX_BATCHES), default=None, metavar="N",
                   help="at most N training and N validation batches per epoch (smoke tests)")
    p.add_argument("--train-size", type=count(1, limits.MAX_IMAGES), default=None, metavar="N",
                   help="use the first N training images (digits: generate N scenes; default 2048)")
    p.add_argument("--val-size", type=count(1, limits.MAX_IMAGES), default=None, metavar="N",
                   help="use the first N validation images (digits: default 256)")
    p.add_argument("--threads", type=count(1, limits.MAX_THREADS), default=None,
                   help="torch threads, fixed for determinism (default: 1" + ("" if grid else "; results can "
                   "differ between thread counts") + ")")
    p.add_argument("--loader-workers", type=count(0, limits.MAX_LOADER_WORKERS), default=None,
                   help="DataLoader worker processes (default: 0)")


TRAIN_KEYS = ("dataset", "data_root", "epochs", "batch_size", "seed", "loss", "optimizer", "lr", "weight_decay",
              "momentum", "schedule", "max_batches", "train_size", "val_size", "threads", "loader_workers")


def explicit_settings(args, keys=TRAIN_KEYS) -> dict:
    """The training settings given on the command line (None = not given)."""
    out = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    if out.get("data_root") is not None:
        out["data_root"] = os.path.abspath(out["data_root"])
    return out


def register(sub) -> None:
    p = sub.add_parser("train", help="train an ItNet (joint loss over all outputs), evaluate every output, export it")
    p.add_argument("--preset", default=None, help="model preset (default: itnet-tiny)")
    p.add_argument("--out", required=True, metavar="DIR", type=output_folder,
                   help="run folder: checkpoint.pt, metrics.json, export/")
    p.add_argument("--resume", action="store_true", help="continue the run in DIR (its settings are kept)")
    add_training_flags(p)
    p.add_argument("--width", type=count(1, limits.MAX_WIDTH), default=None, help="override the preset's width f")
    p.add_argument("--scales", type=count(1, limits.MAX_SCALES), default=None, help="override the preset's scales L")
    p.add_argument("--iterations", type=count(1, limits.MAX_ITERATIONS), default=None,
                   help="override the preset's iterations N")
    p.add_argument("--blocks", type=count(1, limits.MAX_BLOCKS), default=None, help="override the preset's blocks K")
    p.add_argument("--checkpoint-every", type=count(0, limits.MAX_BATCHES), default=None, metavar="N",
                   help="also checkpoint every N batches (default: 25; 0: only after each epoch)")
    p.add_argument("--no-export", action="store_true", help="do not export the trained model")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    # Testing aid: SIGKILL this process after N optimiser steps (a crash at a chosen point).
    p.add_argument("--crash-after-batches", type=count(1, limits.MAX_BATCHES), default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        from itnet_export.training.trainer import CHECKPOINT, resolve_config, train
    except ImportError as exc:  # torch missing
        raise MpsimError(f"train needs the PyTorch side: {exc} (pip install 'mpsim[torch]')") from None
    out = args.out
    if args.resume and not os.path.isfile(os.path.join(out, CHECKPOINT)):
        raise MpsimError(f"--resume: {out} holds no training run to resume (no {CHECKPOINT}); "
                         "leave out --resume to start one")
    explicit = explicit_settings(args)
    if args.preset is not None:
        explicit["preset"] = args.preset
    model = {k: getattr(args, k) for k in ("width", "scales", "iterations", "blocks") if getattr(args, k) is not None}
    if model:
        explicit["model"] = model
    if args.checkpoint_every is not None:
        explicit["checkpoint_every"] = args.checkpoint_every
    if args.no_export:
        explicit["export"] = False
    cfg = resolve_config(explicit, out, args.resume)

    on_batch = None
    if args.crash_after_batches is not None:
        limit = args.crash_after_batches
        seen = [0]

        def on_batch(epoch, batch, step, loss):  # noqa: ARG001
            seen[0] += 1
            if seen[0] >= limit:
                os.kill(os.getpid(), signal.SIGKILL)

    metrics = train(cfg, out, resume=args.resume, progress=not args.quiet, log=print, on_batch=on_batch)
    mious = ", ".join(f"{v:.3f}" for v in metrics["miou_per_output"])
    from mpsim.fmt import macs

    print(f"mIoU per output [{mious}], AUC {metrics['auc']:.4f}, MACs of m_N alone "
          f"{macs(metrics['macs_per_output'][-1])}")
    print(f"wrote {out}/metrics.json" + (f" and {out}/{metrics['export']}" if metrics["export"] else ""))
    return 0
