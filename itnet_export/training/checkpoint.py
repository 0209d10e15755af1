"""Atomic training checkpoints: save and restore everything a run needs to continue exactly.

A checkpoint is one ``torch.save`` file holding a dict::

    {"format": "mpsim-checkpoint", "version": 1,
     "model": state_dict, "optimizer": state_dict | None, "scheduler": state_dict | None,
     "epoch": int, "rng": {"python": ..., "numpy": ..., "torch": ..., "cuda": [...]},
     "metrics": dict, **extra}

Only tensors, numbers, strings, lists, tuples and dicts are stored, so the file loads with
``torch.load(..., weights_only=True)``: ``itnet_export.cli.load_checkpoint`` (``mpsim export
--checkpoint``) reads the ``model`` entry of it like a plain state dict.

The file is written beside its target and renamed over it (``mpsim.atomic.atomic_path``), so a
run killed at any moment leaves either the previous checkpoint or the new one, never half a file.
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

from mpsim.atomic import atomic_path
from mpsim.errors import MpsimError

FORMAT = "mpsim-checkpoint"
VERSION = 1


# RNG states ----------------------------------------------------------------------------------

def rng_states() -> dict[str, Any]:
    """The states of Python's, NumPy's and torch's global generators (CUDA too, when present)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what ``rng_states`` returned."""
    py = states["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = states["numpy"]
    keys = n["keys"].numpy() if isinstance(n["keys"], torch.Tensor) else np.asarray(n["keys"])
    np.random.set_state((n["kind"], keys.astype(np.uint32), int(n["pos"]), int(n["has_gauss"]),
                         float(n["cached_gaussian"])))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


# Save / load ----------------------------------------------------------------------------------

def save_checkpoint(path: str | os.PathLike[str], model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None = None, scheduler: Any = None,
                    epoch: int = 0, metrics: dict | None = None, **extra: Any) -> None:
    """Write a checkpoint atomically (temporary file, fsync, rename).

    ``extra`` entries (plain data: the run's configuration, the position inside an epoch, ...)
    are stored at the top level beside the standard keys.
    """
    reserved = {"format", "version", "model", "optimizer", "scheduler", "epoch", "rng", "metrics"}
    clash = reserved & set(extra)
    if clash:
        raise ValueError(f"extra checkpoint keys clash with reserved ones: {sorted(clash)}")
    obj = {
        "format": FORMAT,
        "version": VERSION,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "epoch": int(epoch),
        "rng": rng_states(),
        "metrics": metrics or {},
        **extra,
    }
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint dict at ``path`` (nothing restored); MpsimError if it is not one."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MpsimError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated or foreign file
        raise MpsimError(f"{path}: not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise MpsimError(f"{path}: not an mpsim training checkpoint")
    if obj.get("version") != VERSION:
        raise MpsimError(f"{path}: checkpoint version {obj.get('version')} is not supported (want {VERSION})")
    return obj


def load_checkpoint(path: str | os.PathLike[str], model: torch.nn.Module | None = None,
                    optimizer: torch.optim.Optimizer | None = None, scheduler: Any = None,
                    restore_rng: bool = True) -> dict[str, Any]:
    """Read a checkpoint and restore it into the given objects; returns the whole dict.

    Pass the model, optimiser and scheduler built exactly as for the original run; with
    ``restore_rng`` the global Python, NumPy and torch generators continue where they stopped.
    """
    obj = read_checkpoint(path)
    try:
        if model is not None:
            model.load_state_dict(obj["model"])
        if optimizer is not None:
            if obj.get("optimizer") is None:
                raise MpsimError(f"{os.fspath(path)}: holds no optimizer state")
            optimizer.load_state_dict(obj["optimizer"])
        if scheduler is not None:
            if obj.get("scheduler") is None:
                raise MpsimError(f"{os.fspath(path)}: holds no scheduler state")
            scheduler.load_state_dict(obj["scheduler"])
    except (RuntimeError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MpsimError(f"{os.fspath(path)}: does not match this run ({first})") from None
    if restore_rng and obj.get("rng"):
        set_rng_states(obj["rng"])
    return obj
