"""Training and evaluation of the DNN (joint loss over all L x C outputs) and the baselines
of the paper's Fig. 4: brute-force (BF) slicing of a plain full-width network, and BF slicing
followed by re-training only the classifier (fine-tuning).

Everything is seeded: the initial weights, the batch order and the augmentation draw from
generators built from ``TrainConfig.seed``; with the same thread count the results repeat
bit for bit on CPU.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from itnet_export.dnn.data import ImageSet
from itnet_export.dnn.model import DNNConfig, DNNSubnet, DoublyNestedNet, joint_loss, lambda_grid
from mpsim.errors import MpsimError


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 12
    batch_size: int = 16
    optimizer: str = "adam"  # adam (AdamW, decoupled decay) | sgd (Nesterov momentum)
    lr: float = 0.02  # peak of a cosine schedule with one warm-up epoch (docs/dnn.md: why so high)
    momentum: float = 0.9
    weight_decay: float = 1e-4
    loss_weights: str = "uniform"  # lambda(l, c): uniform | depth | width | last
    shift: int = 2  # random translation by up to this many pixels (zero padding); 0: off
    flip: bool = False  # random horizontal flips (CIFAR-10: yes; digits, SVHN: no)
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Normalizer:
    """Per-channel mean / std of the training images (in [0, 1]); applied outside the model,
    so an exported sub-network expects normalised input."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, data: ImageSet) -> "Normalizer":
        x = data.images.astype(np.float64) / 255.0
        return cls(tuple(float(v) for v in x.mean((0, 2, 3))),
                   tuple(float(max(v, 1e-3)) for v in x.std((0, 2, 3))))

    def __call__(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(images).to(torch.float32) / 255.0
        m = torch.tensor(self.mean)[None, :, None, None]
        s = torch.tensor(self.std)[None, :, None, None]
        return (x - m) / s


def _augment(x: torch.Tensor, cfg: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    if cfg.shift:
        s = cfg.shift
        h, w = x.shape[-2:]
        padded = F.pad(x, (s, s, s, s))
        offs = torch.randint(0, 2 * s + 1, (x.shape[0], 2), generator=gen)
        x = torch.stack([padded[i, :, a:a + h, b:b + w] for i, (a, b) in enumerate(offs.tolist())])
    if cfg.flip:
        flip = torch.rand(x.shape[0], generator=gen) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    return x


def _lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return 0.5 * peak * (1 + math.cos(math.pi * t))


def train_dnn(model: DoublyNestedNet, data: ImageSet, norm: Normalizer, cfg: TrainConfig = TrainConfig(),
              log: Callable[[str], None] | None = print) -> list[float]:
    """Train all L x C outputs jointly (paper, eq. 2); returns the mean loss of every epoch."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    lam = lambda_grid(model.cfg, cfg.loss_weights)
    x_all, y_all = norm(data.images), torch.as_tensor(data.labels)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and not n.startswith("head_")]
    rest = [p for n, p in model.named_parameters() if not (p.ndim > 1 and not n.startswith("head_"))]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    if cfg.optimizer == "adam":
        opt = torch.optim.AdamW(groups, lr=cfg.lr)
    elif cfg.optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    else:
        raise MpsimError(f"unknown optimizer '{cfg.optimizer}' (known: adam, sgd)")
    steps_per_epoch = math.ceil(len(data) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    history: list[float] = []
    step = 0
    model.train()
    for epoch in range(cfg.epochs):
        t0 = time.time()
        order = torch.randperm(len(data), generator=gen)
        losses = []
        for i in range(0, len(data), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            if len(idx) < 2:  # batch norm needs two samples
                continue
            x = _augment(x_all[idx], cfg, gen)
            for grp in opt.param_groups:
                grp["lr"] = _lr_at(step, total, steps_per_epoch, cfg.lr)
            loss = joint_loss(model(x), y_all[idx], lam)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            step += 1
        history.append(float(np.mean(losses)))
        if log:
            log(f"epoch {epoch + 1}/{cfg.epochs}: loss {history[-1]:.4f} ({time.time() - t0:.1f} s)")
    model.eval()
    return history


@torch.no_grad()
def evaluate_grid(model: DoublyNestedNet, data: ImageSet, norm: Normalizer, batch: int = 256) -> np.ndarray:
    """Accuracy (fraction correct) of every sub-network: an (L, C) array."""
    model.eval()
    correct = None
    for i in range(0, len(data), batch):
        logits = model(norm(data.images[i:i + batch]))  # (B, L, C, K)
        hit = (logits.argmax(-1) == torch.as_tensor(data.labels[i:i + batch])[:, None, None]).sum(0)
        correct = hit if correct is None else correct + hit
    return correct.numpy() / len(data)


@torch.no_grad()
def evaluate_module(module: nn.Module, data: ImageSet, norm: Normalizer, batch: int = 256) -> float:
    module.eval()
    hits = 0
    for i in range(0, len(data), batch):
        out = module(norm(data.images[i:i + batch]))
        hits += int((out.argmax(-1) == torch.as_tensor(data.labels[i:i + batch])).sum())
    return hits / len(data)


@torch.no_grad()
def pooled_features(sub: DNNSubnet, data: ImageSet, norm: Normalizer, batch: int = 256) -> np.ndarray:
    """The global-average-pooled features that feed ``sub``'s classifier."""
    sub.eval()
    out = []
    for i in range(0, len(data), batch):
        x = sub.stem(norm(data.images[i:i + batch]))
        for blk in sub.blocks:
            x = blk(x)
        out.append(x.mean(dim=(2, 3)))
    return torch.cat(out).numpy()


def width_slicing(model: DoublyNestedNet, train: ImageSet, test: ImageSet, norm: Normalizer,
                  depth: int | None = None, finetune: bool = True, seed: int = 0) -> dict[str, list[float]]:
    """Accuracy of extract(depth, c) for every width c ('sliced'); with ``finetune``, also after
    re-fitting only the classifier of each slice on the training set ('finetuned': multinomial
    logistic regression on the pooled features, the rest of the network fixed)."""
    depth = model.cfg.depth if depth is None else depth
    threads = torch.get_num_threads()
    # Narrow slices and a small logistic regression: one thread each for torch and BLAS is
    # faster than two (and far faster when other processes hold the cores).
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return _width_slicing(model, train, test, norm, depth, finetune, seed)
    finally:
        torch.set_num_threads(threads)


def _width_slicing(model, train, test, norm, depth, finetune, seed) -> dict[str, list[float]]:
    sliced, tuned = [], []
    for c in range(1, model.cfg.groups + 1):
        sub = model.extract(depth, c)
        f_te = pooled_features(sub, test, norm)
        with torch.no_grad():
            pred = sub.head(torch.from_numpy(f_te)).argmax(-1).numpy()
        sliced.append(float((pred == test.labels).mean()))
        if finetune:
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler

            f_tr = pooled_features(sub, train, norm)
            clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=1.0, random_state=seed))
            clf.fit(f_tr, train.labels)
            tuned.append(float((clf.predict(f_te) == test.labels).mean()))
    out = {"sliced": sliced}
    if finetune:
        out["finetuned"] = tuned
    return out


def plain_config(cfg: DNNConfig) -> DNNConfig:
    """The brute-force baseline: same layers and widths, no causal masks."""
    return cfg.with_(causal=False)


# Checkpoints -------------------------------------------------------------------------------
# The shared atomic format of itnet_export.training.checkpoint; the DNN's config travels as an
# extra entry so that ``load_dnn`` can rebuild the model without being told its shape.

def save_dnn(path: str | os.PathLike[str], model: DoublyNestedNet, epoch: int = 0,
             metrics: dict | None = None, **extra) -> None:
    """Atomically write a checkpoint (loadable by ``mpsim export --checkpoint``)."""
    from itnet_export.training.checkpoint import save_checkpoint

    save_checkpoint(path, model, epoch=epoch, metrics=metrics or {}, dnn_config=model.cfg.to_dict(), **extra)


def load_dnn(path: str | os.PathLike[str], model: DoublyNestedNet | None = None) -> DoublyNestedNet:
    """The model saved by ``save_dnn`` (built from the stored config when ``model`` is None)."""
    from itnet_export.training.checkpoint import read_checkpoint

    obj = read_checkpoint(path)
    if model is None:
        c = obj.get("dnn_config")
        if not isinstance(c, dict):
            raise MpsimError(f"{path}: holds no DNN config; pass the model to load into")
        model = DoublyNestedNet(DNNConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in c.items()}))
    try:
        model.load_state_dict(obj["model"])
    except RuntimeError as exc:
        raise MpsimError(f"{path}: does not match the model ({str(exc).strip().splitlines()[0]})") from None
    return model.eval()
