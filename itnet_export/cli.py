"""Glue between ``mpsim export`` and the PyTorch side."""

from __future__ import annotations

import os

import torch

from itnet_export.exporter import export
from itnet_export.presets import build_preset
from mpsim.errors import MpsimError
from mpsim.ir.graph import Graph


_STATE_KEYS = ("model", "state_dict", "model_state_dict", "net", "network")


def load_checkpoint(model: torch.nn.Module, path: str) -> None:
    """Load a state dict, or a full checkpoint holding one under 'model', 'state_dict',
    'model_state_dict', 'net' or 'network' (an mpsim training checkpoint uses 'model');
    a 'module.' prefix (DataParallel) is dropped."""
    if not os.path.isfile(path):
        raise MpsimError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign file
        raise MpsimError(f"{path}: not a readable checkpoint ({type(exc).__name__})") from None
    state = None
    if isinstance(obj, dict):
        state = next((obj[k] for k in _STATE_KEYS if isinstance(obj.get(k), dict)), obj)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise MpsimError(f"{path}: holds no state dict")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise MpsimError(f"{path}: does not match the model ({first})") from None


def export_preset(preset: str, out_dir: str, checkpoint: str | None = None, seed: int = 0,
                  subnet: tuple[int, int] | None = None) -> Graph:
    """Export a preset; ``subnet=(l, c)`` (1-based depth, width; DNN presets only) exports that
    sub-network alone, with the (l, c) logits as its single output."""
    model, example, meta = build_preset(preset, seed=seed)
    if checkpoint:
        load_checkpoint(model, checkpoint)
        meta["checkpoint"] = os.path.basename(checkpoint)
    name = preset
    if subnet is not None:
        if not hasattr(model, "extract"):
            raise MpsimError(f"preset '{preset}' has no sub-networks (--subnet is for the dnn-* presets)")
        l, c = subnet
        model = model.extract(l, c)
        meta.pop("outputs", None)
        meta["subnet"] = [l, c]
        name = f"{preset}-d{l}w{c}"
    return export(model.eval(), example, out_dir, name=name, meta=meta)
