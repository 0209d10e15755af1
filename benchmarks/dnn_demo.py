"""Doubly nested network demo: train the 16 x 22 DNN (preset dnn-cifar10) on CPU, measure the
accuracy of every sub-network, and reproduce the paper's figures on it.

Default data: scikit-learn's bundled handwritten digits upscaled to 32x32x3 (offline, real
images; ``--dataset cifar10|svhn --data-root DIR`` for the real data sets, which take far
longer than the demo's budget on a CPU).  Writes to benchmarks/results/:

* dnn_accuracy.json  accuracy grid (rows: depth l = 1..16, columns: width c = 1..22, fractions),
                     the Fig. 4 curves, the Fig. 5 budget comparison, settings and timings;
* dnn_grid.json      resource maps (as ``mpsim dnn grid --json``);
* dnn_accuracy.{png,svg}  accuracy heat map;  dnn_budget[_nonzero].{png,svg}  Fig. 5 (24 M MACs,
                          dense count / kept weights only);
* dnn_resources.{png,svg} Fig. 3;  dnn_slicing.{png,svg}  Fig. 4.

Seeded and deterministic for a given thread count (default 2).  About 7 minutes on 2 idle
cores: run ``python benchmarks/dnn_demo.py``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="digits32", choices=("digits32", "cifar10", "svhn"))
    p.add_argument("--data-root", help="folder of the CIFAR-10 / SVHN files")
    p.add_argument("--epochs", type=int, default=12, help="epochs of the DNN")
    p.add_argument("--baseline-epochs", type=int, default=6, help="epochs of the plain baseline (it converges faster)")
    p.add_argument("--train-size", type=int, help="use only the first N training images")
    p.add_argument("--test-size", type=int, help="use only the first N test images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--budget", type=float, default=24e6, help="MAC budget of the Fig. 5 comparison")
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    p.add_argument("--checkpoint", type=Path, help="also save the trained DNN here (mpsim export --checkpoint)")
    p.add_argument("--no-baseline", action="store_true", help="skip the brute-force slicing baseline")
    return p.parse_args(argv)


def fmt_grid(acc: np.ndarray) -> str:
    rows = []
    for l in range(acc.shape[0] - 1, -1, -1):
        rows.append(f"  l={l + 1:2d} " + " ".join(f"{100 * v:3.0f}" for v in acc[l]))
    rows.append("       " + " ".join(f"{c:3d}" for c in range(1, acc.shape[1] + 1)) + "   (width c)")
    return "\n".join(rows)


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    try:
        return run(args)
    finally:  # when called from Python (tests), leave the process as it was
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def run(args) -> int:
    import torch

    from itnet_export.dnn import plots
    from itnet_export.dnn.budget import best_under_budget
    from itnet_export.dnn.data import load_dataset
    from itnet_export.dnn.model import DoublyNestedNet
    from itnet_export.dnn.resources import resource_maps
    from itnet_export.dnn.train import (Normalizer, TrainConfig, evaluate_grid, evaluate_module, plain_config,
                                        save_dnn, train_dnn, width_slicing)
    from itnet_export.presets import DNN_PRESETS
    from mpsim.atomic import write_json

    t_start = time.time()
    cfg = DNN_PRESETS["dnn-cifar10"]
    train = load_dataset(args.dataset, "train", args.data_root, args.seed).subset(args.train_size)
    test = load_dataset(args.dataset, "test", args.data_root, args.seed).subset(args.test_size)
    norm = Normalizer.fit(train)
    tcfg = TrainConfig(epochs=args.epochs, seed=args.seed, flip=args.dataset == "cifar10")
    print(f"data: {train.name} {len(train)} / {test.name} {len(test)} images; {args.threads} threads", flush=True)

    maps = resource_maps(cfg)
    maps_nz = resource_maps(cfg, nonzero=True)
    timings = {}

    print(f"training the DNN ({cfg.depth} x {cfg.groups} outputs, uniform lambda)", flush=True)
    torch.manual_seed(args.seed)
    dnn = DoublyNestedNet(cfg)
    t = time.time()
    history = train_dnn(dnn, train, norm, tcfg)
    timings["train_dnn_s"] = time.time() - t
    t = time.time()
    acc = evaluate_grid(dnn, test, norm)
    timings["evaluate_grid_s"] = time.time() - t
    if args.checkpoint:
        save_dnn(args.checkpoint, dnn, epoch=args.epochs, metrics={"accuracy_full": float(acc[-1, -1])},
                 normalizer={"mean": list(norm.mean), "std": list(norm.std)})

    curves = {"DNN width slices (l = 16)": acc[-1].tolist()}
    baseline = None
    if not args.no_baseline:
        print("training the plain baseline (no causal masks, one output) for brute-force slicing", flush=True)
        torch.manual_seed(args.seed)
        plain = DoublyNestedNet(plain_config(cfg))
        t = time.time()
        pcfg = TrainConfig(**{**tcfg.to_dict(), "loss_weights": "last", "epochs": args.baseline_epochs})
        plain_hist = train_dnn(plain, train, norm, pcfg)
        timings["train_plain_s"] = time.time() - t
        t = time.time()
        sl = width_slicing(plain, train, test, norm, finetune=True, seed=args.seed)
        timings["slicing_s"] = time.time() - t
        baseline = {"plain_full_accuracy": evaluate_module(plain.extract(cfg.depth, cfg.groups), test, norm),
                    "bf_sliced": sl["sliced"], "bf_finetuned": sl["finetuned"], "loss_history": plain_hist,
                    "train_config": pcfg.to_dict()}
        curves["brute-force slicing"] = sl["sliced"]
        curves["BF slicing + fine-tuned classifier"] = sl["finetuned"]

    budget = {"dense": best_under_budget(maps["macs"], acc, args.budget),
              "nonzero": best_under_budget(maps_nz["macs"], acc, args.budget)}
    timings["total_s"] = time.time() - t_start

    result = {
        "dataset": train.name.rsplit("-", 1)[0],
        "preset": "dnn-cifar10",
        "rows": f"depth l = 1..{cfg.depth}",
        "columns": f"width c = 1..{cfg.groups}",
        "accuracy": acc.round(6).tolist(),
        "n_train": len(train),
        "n_test": len(test),
        "train_config": tcfg.to_dict(),
        "normalizer": {"mean": list(norm.mean), "std": list(norm.std)},
        "loss_history": history,
        "summary": {
            "full": float(acc[-1, -1]), "best": float(acc.max()), "mean": float(acc.mean()),
            "smallest_D1W1": float(acc[0, 0]),
            "depth_only_column": acc[:, -1].tolist(),
            "last_row": acc[-1].tolist(),
        },
        "slicing": baseline,
        "budget": budget,
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "environment": {"threads": args.threads, "torch": torch.__version__, "python": platform.python_version(),
                        "machine": platform.machine()},
    }
    out = args.out
    write_json(out / "dnn_accuracy.json", result)
    write_json(out / "dnn_grid.json", maps)
    ds = result["dataset"]
    plots.accuracy_figure(acc, out / "dnn_accuracy", f"DNN on {ds}: test accuracy (%) of every sub-network")
    for kind, m, suffix in (("dense", maps, ""), ("nonzero", maps_nz, "_nonzero")):
        count = "dense MACs" if kind == "dense" else "MACs of the weights the causal masks keep"
        plots.accuracy_figure(acc, out / f"dnn_budget{suffix}", f"sub-networks within {args.budget / 1e6:g} M "
                              f"MACs ({count}; {ds})", m["macs"], budget[kind])
    plots.resource_maps_figure(maps, out / "dnn_resources",
                               "dnn-cifar10 (32x32x3): resources of the 16 x 22 sub-networks")
    plots.slicing_figure(curves, out / "dnn_slicing", f"widths at full depth ({result['dataset']})")

    print(fmt_grid(acc))
    print(f"accuracy: full network {100 * acc[-1, -1]:.1f} %, best {100 * acc.max():.1f} %, "
          f"mean over the grid {100 * acc.mean():.1f} %")
    for kind, r in budget.items():
        b, d = r["best"], r["best_depth_only"]
        line = f"budget {args.budget / 1e6:g} M MACs ({kind}): best {b['name']} {100 * b['accuracy']:.1f} % " \
               f"({b['macs'] / 1e6:.1f} M)"
        if d:
            line += f" vs depth-only {d['name']} {100 * d['accuracy']:.1f} % ({d['macs'] / 1e6:.1f} M): " \
                    f"{100 * r['gain']:+.1f} points"
        print(line)
    if baseline:
        print("width c:          " + " ".join(f"{c:3d}" for c in range(1, cfg.groups + 1)))
        print("DNN (l=16):       " + " ".join(f"{100 * v:3.0f}" for v in acc[-1]))
        print("BF slicing:       " + " ".join(f"{100 * v:3.0f}" for v in baseline["bf_sliced"]))
        print("BF + fine-tuning: " + " ".join(f"{100 * v:3.0f}" for v in baseline["bf_finetuned"]))
    print(f"timings: {result['timings']}")
    print(f"wrote {out / 'dnn_accuracy.json'} and figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
