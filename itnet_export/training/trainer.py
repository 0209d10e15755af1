"""Train an ItNet with the joint multi-output loss; evaluate every output; export the result.

``train(cfg, out_dir)`` is what ``mpsim train`` and every grid point of ``mpsim grid`` run.
It writes to ``out_dir``:

* ``checkpoint.pt`` - atomically, at the end of every epoch and every ``checkpoint_every``
  batches (``itnet_export.training.checkpoint``);
* ``metrics.json`` - after every epoch (``"finished": false``) and at the end;
* ``export/`` - the trained model in the graph format (``graph.json``, ``weights.npz``,
  ``reference.npz`` on the first validation image), unless ``export`` is off.

Exact resumption.  Given the same configuration, a run is a pure function of its seed: the
order of the training samples in epoch e is a permutation seeded by (seed, e), the random
augmentation of sample i in epoch e by (seed, e, i) (``itnet_export.data.common``), and the
model is initialised from the seeded global generators.  The checkpoint holds the model,
optimiser and scheduler state, the global RNG states, the position (epoch, batch) and the
running loss of the epoch in progress, so a run killed at any point (even mid-epoch, even
while writing a checkpoint) and resumed with ``resume=True`` replays the batches since the
last checkpoint and ends with bit-identical weights and metrics.  Deterministic algorithms
are switched on and the number of threads is fixed (``threads``) for the duration of the run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from itnet_export.data import NUM_CLASSES, get_dataset
from itnet_export.itnet import ItNet, ItNetConfig
from itnet_export.training.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from itnet_export.training.loss import joint_loss, loss_weights
from itnet_export.training.metrics import CHANCE_MIOU_CAMVID, auc, confusion_matrix, mean_iou, pixel_accuracy
from mpsim.atomic import write_json
from mpsim.errors import MpsimError

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.json"
EXPORT_DIR = "export"

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("cosine", "step", "none")
DEFAULT_LR = {"adam": 1e-3, "sgd": 0.05}
MODEL_KEYS = ("width", "scales", "iterations", "blocks", "shared", "expansion")
# Settings that may change when a run is resumed: they do not affect the numbers.
RESUMABLE_CHANGES = ("export", "checkpoint_every", "loader_workers")


@dataclass
class TrainConfig:
    preset: str = "itnet-tiny"
    dataset: str = "digits"
    data_root: str | None = None
    epochs: int = 10
    batch_size: int = 16
    seed: int = 0
    loss: str = "uniform"
    optimizer: str = "adam"
    lr: float | None = None  # None: DEFAULT_LR[optimizer]
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd only
    schedule: str = "cosine"  # per batch: cosine to 0 / x0.1 at 1/3 and 2/3 of the steps / constant
    max_batches: int | None = None  # cap on training and validation batches per epoch
    train_size: int | None = None  # use the first N training images (digits: N scenes)
    val_size: int | None = None
    val_batch_size: int | None = None  # None: batch_size
    threads: int = 1
    checkpoint_every: int = 25  # batches; 0: only at the end of each epoch
    loader_workers: int = 0
    export: bool = True
    model: dict = field(default_factory=dict)  # ItNetConfig overrides (MODEL_KEYS)
    data_options: dict = field(default_factory=dict)  # extra get_dataset options, e.g. {"size": [256, 512]}
    auc_anchor: float = CHANCE_MIOU_CAMVID

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        def positive(name: str, value, allow_none: bool = False) -> None:
            if value is None and allow_none:
                return
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise MpsimError(f"--{name.replace('_', '-')} must be a positive integer, not {value!r}")

        for name in ("epochs", "batch_size", "threads"):
            positive(name, getattr(self, name))
        for name in ("max_batches", "train_size", "val_size", "val_batch_size"):
            positive(name, getattr(self, name), allow_none=True)
        if self.checkpoint_every < 0 or self.loader_workers < 0:
            raise MpsimError("--checkpoint-every and --loader-workers must be >= 0")
        if self.optimizer not in OPTIMIZERS:
            raise MpsimError(f"unknown optimizer '{self.optimizer}' (known: {', '.join(OPTIMIZERS)})")
        if self.schedule not in SCHEDULES:
            raise MpsimError(f"unknown schedule '{self.schedule}' (known: {', '.join(SCHEDULES)})")
        if self.lr is None:
            self.lr = DEFAULT_LR[self.optimizer]
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise MpsimError(f"--lr must be positive, not {self.lr}")
        if self.weight_decay < 0:
            raise MpsimError(f"--weight-decay must be >= 0, not {self.weight_decay}")
        unknown = set(self.model) - set(MODEL_KEYS)
        if unknown:
            raise MpsimError(f"unknown model override(s) {sorted(unknown)} (known: {', '.join(MODEL_KEYS)})")
        if self.dataset not in NUM_CLASSES:
            raise MpsimError(f"unknown data set '{self.dataset}' (known: {', '.join(NUM_CLASSES)})")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise MpsimError(f"unknown training setting(s): {', '.join(sorted(unknown))}")
        return cls(**d)


# Configuration ---------------------------------------------------------------------------------

def model_config(cfg: TrainConfig, num_classes: int, input_size: tuple[int, int]) -> ItNetConfig:
    """The preset's ItNetConfig with ``cfg.model`` overrides, the data set's classes and size."""
    from itnet_export.presets import ITNET_PRESETS, get_preset

    if cfg.preset not in ITNET_PRESETS:
        get_preset(cfg.preset)  # raises the one-line "unknown preset" error
    base = ITNET_PRESETS[cfg.preset]
    try:
        mc = base.with_(**cfg.model, num_classes=num_classes, input_size=tuple(input_size))
    except TypeError as exc:
        raise MpsimError(f"bad model override: {exc}") from None
    for k in ("width", "scales", "iterations", "blocks"):
        if not isinstance(getattr(mc, k), int) or getattr(mc, k) < 1:
            raise MpsimError(f"model {k} must be a positive integer, not {getattr(mc, k)!r}")
    return mc


def resolve_config(explicit: dict[str, Any], out_dir: str | os.PathLike[str], resume: bool) -> TrainConfig:
    """Merge settings given explicitly (e.g. CLI flags) with a resumed run's stored ones.

    Without ``resume`` the result is ``TrainConfig(**explicit)``.  With ``resume`` and a
    checkpoint in ``out_dir``, the checkpoint's settings are the base; an explicit setting that
    contradicts one of them is an error (except ``RESUMABLE_CHANGES``).
    """
    ckpt = Path(out_dir) / CHECKPOINT
    if not (resume and ckpt.is_file()):
        return TrainConfig.from_dict(explicit)
    stored = read_checkpoint(ckpt).get("config") or {}
    merged = dict(stored)
    for key, value in explicit.items():
        if key in RESUMABLE_CHANGES:
            merged[key] = value
            continue
        if key in stored and _norm(stored[key]) != _norm(value):
            flag = "--" + key.replace("_", "-")
            raise MpsimError(f"{flag} {value!r} differs from the resumed run's {stored[key]!r} ({ckpt})")
        merged[key] = value
    return TrainConfig.from_dict(merged)


def _norm(v: Any) -> Any:
    return json.loads(json.dumps(v))


def _config_differences(a: dict, b: dict) -> list[str]:
    keys = sorted((set(a) | set(b)) - set(RESUMABLE_CHANGES))
    return [k for k in keys if _norm(a.get(k)) != _norm(b.get(k))]


# Determinism -------------------------------------------------------------------------------------

@contextmanager
def deterministic(threads: int) -> Iterator[None]:
    """Deterministic algorithms and a fixed thread count, restored afterwards."""
    prev_threads = torch.get_num_threads()
    prev_det = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(prev_threads)
        torch.use_deterministic_algorithms(prev_det, warn_only=prev_warn)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_order(seed: int, epoch: int, n: int) -> list[int]:
    """The order of the training samples in ``epoch``: a permutation seeded by (seed, epoch)."""
    s = int(np.random.SeedSequence([seed, epoch, 0x5EED]).generate_state(1, dtype=np.uint64)[0] % 2**63)
    return torch.randperm(n, generator=torch.Generator().manual_seed(s)).tolist()


def batches_of(order: list[int], batch_size: int, drop_last: bool, cap: int | None) -> list[list[int]]:
    stop = len(order) - (len(order) % batch_size if drop_last else 0)
    out = [order[i:i + batch_size] for i in range(0, stop, batch_size)]
    return out[:cap] if cap is not None else out


@lru_cache(maxsize=64)
def macs_per_output(mc: ItNetConfig) -> tuple[int, ...]:
    """MACs of each output m_n alone (exported graph, ``mpsim.analysis.metrics``)."""
    from itnet_export.exporter import to_flat_graph
    from mpsim.analysis.metrics import macs_per_output as graph_macs

    h, w = mc.input_size
    with torch.random.fork_rng(devices=[]):
        g, _ = to_flat_graph(ItNet(mc).eval(), torch.zeros(1, mc.in_channels, h, w))
    return tuple(graph_macs(g)[0])


# Building blocks ----------------------------------------------------------------------------------

def build_optimizer(cfg: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def build_scheduler(cfg: TrainConfig, optimizer: torch.optim.Optimizer, total_steps: int):
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.MultiStepLR(
            optimizer, milestones=[max(1, total_steps // 3), max(2, 2 * total_steps // 3)], gamma=0.1)
    return None


def _loader(dataset, batches: list[list[int]], workers: int):
    from torch.utils.data import DataLoader

    return DataLoader(dataset, batch_sampler=batches, num_workers=workers)


def _data_error(exc: BaseException) -> MpsimError:
    """A one-line MpsimError from an error raised while loading data (possibly in a worker)."""
    if isinstance(exc, MpsimError) and "\n" not in str(exc):
        return exc
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "MpsimError: " in ln:
            return MpsimError(ln.split("MpsimError: ", 1)[1])
    return MpsimError(f"loading data failed: {lines[-1] if lines else type(exc).__name__}")


def _iterate(loader) -> Iterator:
    it = iter(loader)
    while True:
        try:
            batch = next(it)
        except StopIteration:
            return
        except MpsimError as exc:
            raise _data_error(exc) from None
        except Exception as exc:
            if "MpsimError" in str(exc):
                raise _data_error(exc) from None
            raise
        yield batch


@torch.no_grad()
def evaluate(model: ItNet, dataset, batch_size: int, max_batches: int | None = None,
             workers: int = 0) -> dict[str, list]:
    """Per-output mIoU and pixel accuracy (and confusion matrices) on ``dataset``."""
    was_training = model.training
    model.eval()
    n_out, k = model.cfg.iterations, model.cfg.num_classes
    confs = [torch.zeros(k, k, dtype=torch.int64) for _ in range(n_out)]
    batches = batches_of(list(range(len(dataset))), batch_size, False, max_batches)
    for x, y in _iterate(_loader(dataset, batches, workers)):
        for n, logits in enumerate(model(x)):
            confs[n] += confusion_matrix(logits.argmax(1), y, k, dataset.ignore_index)
    model.train(was_training)
    return {
        "miou_per_output": [mean_iou(c) for c in confs],
        "pixel_accuracy_per_output": [pixel_accuracy(c) for c in confs],
        "confusion": [c.tolist() for c in confs],
    }


# The run ----------------------------------------------------------------------------------------

def _datasets(cfg: TrainConfig):
    opts = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.data_options.items()}
    try:
        train = get_dataset(cfg.dataset, "train", cfg.data_root, seed=cfg.seed, max_items=cfg.train_size, **opts)
        val = get_dataset(cfg.dataset, "val", cfg.data_root, seed=cfg.seed, max_items=cfg.val_size, **opts)
    except TypeError as exc:
        raise MpsimError(f"bad data set option for {cfg.dataset}: {exc}") from None
    if train.num_classes != val.num_classes:  # pragma: no cover - same class per data set
        raise MpsimError("training and validation splits disagree on the classes")
    return train, val


def _progress(enabled: bool):
    """A rich progress bar on stderr, only when stderr is a terminal (logs stay plain otherwise)."""
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return None
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console, transient=False)


def train(cfg: TrainConfig, out_dir: str | os.PathLike[str], resume: bool = False, progress: bool = False,
          log: Callable[[str], None] | None = None,
          on_batch: Callable[[int, int, int, float], None] | None = None) -> dict[str, Any]:
    """Run (or resume) a training run; returns the final metrics (also in ``out_dir/metrics.json``).

    ``on_batch(epoch, batch, step, loss)`` is called after every optimiser step, after any
    checkpoint of that step was written (tests use it to simulate a crash).
    """
    log = log or (lambda s: None)
    out = Path(out_dir)
    ckpt_path = out / CHECKPOINT
    if ckpt_path.exists() and not resume:
        raise MpsimError(f"{out}: holds a training run already (pass --resume to continue it, or another --out)")
    if out.exists() and not out.is_dir():
        raise MpsimError(f"{out}: is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(f".{CHECKPOINT}.*.tmp"):  # left by a run killed while writing a checkpoint
        stale.unlink(missing_ok=True)
    if resume and not ckpt_path.exists():
        log(f"no checkpoint in {out}: starting a new run")

    with deterministic(cfg.threads):
        train_ds, val_ds = _datasets(cfg)
        mc = model_config(cfg, train_ds.num_classes, val_ds.image_size())
        macs = list(macs_per_output(mc))
        weights = loss_weights(cfg.loss, mc.iterations)
        vbs = cfg.val_batch_size or cfg.batch_size
        drop_last = len(train_ds) > cfg.batch_size
        steps_per_epoch = len(batches_of(list(range(len(train_ds))), cfg.batch_size, drop_last, cfg.max_batches))
        total_steps = steps_per_epoch * cfg.epochs

        seed_everything(cfg.seed)
        model = ItNet(mc)
        optimizer = build_optimizer(cfg, model)
        scheduler = build_scheduler(cfg, optimizer, total_steps)
        epoch, start_batch, loss_sum, history = 0, 0, 0.0, []
        if ckpt_path.exists():
            stored = read_checkpoint(ckpt_path)
            diff = _config_differences(stored.get("config") or {}, cfg.to_dict())
            if diff:
                raise MpsimError(f"{ckpt_path}: was written with other settings ({', '.join(diff)}); "
                                 "resume with the same ones or use another --out")
            ck = load_checkpoint(ckpt_path, model, optimizer, scheduler)
            epoch, start_batch = int(ck["epoch"]), int(ck["batch"])
            loss_sum, history = float(ck["loss_sum"]), list(ck["metrics"].get("history", []))
            log(f"resuming {out} at epoch {epoch + 1}, batch {start_batch}" if epoch < cfg.epochs
                else f"resuming {out}: training finished, finishing up")

        def checkpoint(ep: int, batch: int, running: float) -> None:
            save_checkpoint(ckpt_path, model, optimizer, scheduler, epoch=ep, metrics={"history": history},
                            batch=batch, loss_sum=running, config=cfg.to_dict(), model_config=mc.to_dict())

        bar = _progress(progress)
        task = None
        if bar is not None:
            bar.start()
            task = bar.add_task("training", total=total_steps, completed=epoch * steps_per_epoch + start_batch,
                                loss="-")
        say = (lambda s: bar.console.print(s, markup=False, highlight=False)) if bar is not None else log
        try:
            while epoch < cfg.epochs:
                train_ds.set_epoch(epoch)
                batches = batches_of(epoch_order(cfg.seed, epoch, len(train_ds)), cfg.batch_size, drop_last,
                                     cfg.max_batches)
                model.train()
                b = start_batch
                for x, y in _iterate(_loader(train_ds, batches[start_batch:], cfg.loader_workers)):
                    loss = joint_loss(model(x), y, weights, train_ds.ignore_index)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    if scheduler is not None:
                        scheduler.step()
                    value = float(loss.detach())
                    if not math.isfinite(value):
                        raise MpsimError(f"training diverged at epoch {epoch + 1}, batch {b + 1} (loss {value}); "
                                         "try a smaller --lr")
                    loss_sum += value
                    b += 1
                    if cfg.checkpoint_every and b % cfg.checkpoint_every == 0 and b < len(batches):
                        checkpoint(epoch, b, loss_sum)
                    if task is not None:
                        bar.update(task, advance=1, description=f"epoch {epoch + 1}/{cfg.epochs}",
                                   loss=f"{loss_sum / max(b, 1):.3f}")
                    if on_batch is not None:
                        on_batch(epoch, b, epoch * steps_per_epoch + b, value)
                result = evaluate(model, val_ds, vbs, cfg.max_batches, cfg.loader_workers)
                entry = {
                    "epoch": epoch + 1,
                    "train_loss": loss_sum / max(len(batches), 1),
                    "miou_per_output": result["miou_per_output"],
                    "pixel_accuracy_per_output": result["pixel_accuracy_per_output"],
                    "auc": auc(result["miou_per_output"], macs, (0.0, cfg.auc_anchor)),
                }
                history.append(entry)
                epoch, start_batch, loss_sum = epoch + 1, 0, 0.0
                checkpoint(epoch, 0, 0.0)
                say(_epoch_line(entry, cfg.epochs))
                write_json(out / METRICS, _metrics(cfg, mc, macs, weights, history, finished=False, export=None))
        finally:
            if bar is not None:
                bar.stop()

        if not history:  # pragma: no cover - epochs >= 1
            raise MpsimError("no epoch was trained")
        export_rel = None
        if cfg.export:
            from itnet_export.exporter import export

            model.eval()
            example = val_ds[0][0].unsqueeze(0)
            meta = {"preset": cfg.preset, "family": "itnet", "config": mc.to_dict(),
                    "training": {"dataset": cfg.dataset, "epochs": cfg.epochs, "seed": cfg.seed, "loss": cfg.loss,
                                 "miou_per_output": history[-1]["miou_per_output"]}}
            export(model, example, out / EXPORT_DIR, name=cfg.preset, meta=meta)
            export_rel = f"{EXPORT_DIR}/graph.json"
        metrics = _metrics(cfg, mc, macs, weights, history, finished=True, export=export_rel)
        write_json(out / METRICS, metrics)
        return metrics


def _epoch_line(e: dict, epochs: int) -> str:
    mious = " ".join(f"{v:.3f}" for v in e["miou_per_output"])
    return (f"epoch {e['epoch']}/{epochs}: loss {e['train_loss']:.4f}, mIoU per output [{mious}], "
            f"pixel acc (last) {e['pixel_accuracy_per_output'][-1]:.3f}, AUC {e['auc']:.4f}")


def _metrics(cfg: TrainConfig, mc: ItNetConfig, macs: list[int], weights: list[float], history: list[dict],
             finished: bool, export: str | None) -> dict[str, Any]:
    last = history[-1]
    miou = last["miou_per_output"]
    return {
        "finished": finished,
        "preset": cfg.preset,
        "dataset": cfg.dataset,
        "miou_per_output": miou,
        "pixel_accuracy_per_output": last["pixel_accuracy_per_output"],
        "macs_per_output": macs,
        "auc": last["auc"],
        "auc_anchor": [0.0, cfg.auc_anchor],
        "peak_miou": max(miou),
        "epochs": last["epoch"],
        "loss_weights": weights,
        "model": mc.to_dict(),
        "train": cfg.to_dict(),
        "history": history,
        "export": export,
    }
