"""PyTorch outputs of an exported model, for deciding early exits on PyTorch rather than the executor."""

from __future__ import annotations

import numpy as np
import torch

from itnet_export.cli import load_checkpoint
from itnet_export.presets import build_preset
from mpsim.errors import MpsimError
from mpsim.ir.graph import Graph


def torch_outputs_fn(g: Graph, checkpoint: str | None):
    """fn(x (1, C, H, W) numpy) -> list of numpy logits, from the preset named in the graph's meta."""
    preset = g.meta.get("preset")
    if not preset:
        raise MpsimError("the graph names no preset in its meta; --outputs torch cannot rebuild the model")
    model, _, _ = build_preset(preset)
    if checkpoint:
        load_checkpoint(model, checkpoint)
    elif g.meta.get("checkpoint"):
        raise MpsimError(f"the graph was exported from checkpoint '{g.meta['checkpoint']}': pass it with --checkpoint")
    model.eval()

    def outputs_of(x: np.ndarray) -> list[np.ndarray]:
        with torch.no_grad():
            out = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        return [o.numpy() for o in (out if isinstance(out, (list, tuple)) else [out])]

    return outputs_of
