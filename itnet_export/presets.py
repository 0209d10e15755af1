"""Named models that ``mpsim export --preset`` and the benchmarks build.

Widths and input sizes follow the ItNet paper; docs/itnet-reconstruction.md explains each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn

from itnet_export.anchors import ANCHORS
from itnet_export.espnet import ESPNet, ESPNetConfig
from itnet_export.dnn.model import DNNConfig, DoublyNestedNet
from itnet_export.itnet import ItNet, ItNetConfig
from mpsim.errors import MpsimError

CAMVID = dict(num_classes=11, input_size=(360, 480))
CITYSCAPES = dict(num_classes=19, input_size=(512, 1024))

ITNET_PRESETS: dict[str, ItNetConfig] = {
    "itnet-camvid-independent": ItNetConfig(width=29, shared=False, **CAMVID),
    "itnet-camvid-shared": ItNetConfig(width=51, shared=True, **CAMVID),
    "itnet-cityscapes": ItNetConfig(width=29, shared=True, **CITYSCAPES),
    "itnet-tiny": ItNetConfig(width=12, scales=2, iterations=4, shared=True, num_classes=11, input_size=(64, 64)),
    "itnet-tiny-independent": ItNetConfig(
        width=12, scales=2, iterations=4, shared=False, num_classes=11, input_size=(64, 64)
    ),
}


# The conventional efficient baseline (no weight sharing, one output).
ESPNET_PRESETS: dict[str, ESPNetConfig] = {
    "espnet-camvid": ESPNetConfig(**CAMVID),
    "espnet-cityscapes": ESPNetConfig(**CITYSCAPES),
}


# Doubly nested networks (docs/dnn.md): 16 x 22 sub-networks at CIFAR size; a tiny one for tests.
DNN_PRESETS: dict[str, DNNConfig] = {
    "dnn-cifar10": DNNConfig(),
    "dnn-tiny": DNNConfig(groups=4, group_channels=(1, 2, 4), blocks_per_stage=1, input_size=(16, 16)),
}


@dataclass(frozen=True)
class Preset:
    name: str
    build: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    meta: dict


def _itnet_preset(name: str, cfg: ItNetConfig) -> Preset:
    h, w = cfg.input_size
    meta = {"preset": name, "family": "itnet", "config": cfg.to_dict()}
    return Preset(name, lambda: ItNet(cfg), (1, cfg.in_channels, h, w), meta)


def preset_names() -> list[str]:
    return sorted([*ITNET_PRESETS, *ESPNET_PRESETS, *DNN_PRESETS, *ANCHORS])


def get_preset(name: str) -> Preset:
    if name in ITNET_PRESETS:
        return _itnet_preset(name, ITNET_PRESETS[name])
    if name in ESPNET_PRESETS:
        cfg = ESPNET_PRESETS[name]
        h, w = cfg.input_size
        meta = {"preset": name, "family": "espnet", "config": cfg.to_dict()}
        return Preset(name, lambda: ESPNet(cfg), (1, cfg.in_channels, h, w), meta)
    if name in DNN_PRESETS:
        # Exported whole, a DNN gives its 16 depth-wise full-width outputs (l, C); one
        # sub-network (l, c) is exported with ``export_preset(..., subnet=(l, c))``.
        cfg = DNN_PRESETS[name]
        outs = [(l, cfg.groups) for l in range(1, cfg.depth + 1)]
        meta = {"preset": name, "family": "dnn", "config": cfg.to_dict(), "outputs": [list(o) for o in outs]}
        return Preset(name, lambda: DoublyNestedNet(cfg, outputs=outs), (1, cfg.in_channels, *cfg.input_size), meta)
    if name in ANCHORS:  # published networks that measured chips ran (docs/anchors.md)
        anchor = ANCHORS[name]
        return Preset(name, anchor.build, anchor.input_shape, anchor.meta(name))
    raise MpsimError(f"unknown preset '{name}' (known: {', '.join(preset_names())})")


def build_preset(name: str, seed: int = 0) -> tuple[nn.Module, torch.Tensor, dict]:
    """The preset's model (seeded initial weights, batch-norm statistics calibrated on the example
    input, eval mode), an example input and metadata."""
    p = get_preset(name)
    torch.manual_seed(seed)
    model = p.build()
    example = torch.rand(p.input_shape, generator=torch.Generator().manual_seed(seed + 1))
    return calibrate_batch_norm(model, example), example, dict(p.meta)


def calibrate_batch_norm(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """Set every batch norm's running statistics to the example's (a data-dependent
    initialisation); return the model in eval mode.

    With the default statistics (mean 0, variance 1) an untrained ItNet's activations grow
    through its iterations: the shared CamVid ItNet's logits reach 240, where float32 rounding
    alone moves them by 3e-4 (PyTorch against itself at another thread count).  Calibrated,
    every layer sees unit-scale activations, as in a trained network, and the reference outputs
    the exporter stores are numerically meaningful (logits within about 5).  A checkpoint
    loaded afterwards replaces these statistics.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average: a norm used several times averages its calls
    model.train()
    with torch.no_grad():
        model(example)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    return model.eval()
