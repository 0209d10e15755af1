"""ItNet (iterative networks) in PyTorch: data block, iterative block, classification blocks.

The paper's Figure 2 (layer details) is lost; docs/itnet-reconstruction.md records every
choice made here and the published figures it reproduces.  In short:

* data block: two stride-2 3x3 convolutions (BN + ReLU) down to 1/4, then one stride-2 3x3
  convolution per further scale, so the iterative block starts with a state at every scale;
* iterative block: per scale K inverted-bottleneck residual blocks (1x1 expand, ReLU6,
  depthwise 3x3, ReLU6, 1x1 project; expansion 3.35), then neighbouring scales exchange:
  a stride-2 3x3 convolution from the finer scale and a 1x1 convolution plus bilinear
  upsampling from the coarser one are added to each scale;
* batch normalisation between iterations (section 2.5): iteration n starts with its own
  BN per scale; there is no BN inside the iterative block;
* classification block n: 3x3 convolution to the classes on the 1/4 scale, bilinear
  upsampling to the input size.  Its weights are per iteration.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class ItNetConfig:
    width: int = 51  # f: channels of every scale
    scales: int = 3  # L
    iterations: int = 16  # N
    blocks: int = 1  # K: bottleneck residual blocks per scale and iteration
    expansion: float = 3.35
    shared: bool = True  # share the iterative block's weights across iterations
    num_classes: int = 11
    in_channels: int = 3
    input_size: tuple[int, int] = (360, 480)  # (H, W) of the images the model is built for

    @property
    def hidden(self) -> int:
        return max(1, int(self.expansion * self.width + 0.5))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["input_size"] = list(self.input_size)
        return d

    def with_(self, **changes) -> "ItNetConfig":
        return replace(self, **changes)


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class DataBlock(nn.Module):
    """Run once per image: down-scale by 4, then derive the coarser scales."""

    def __init__(self, cfg: ItNetConfig) -> None:
        super().__init__()
        f = cfg.width
        self.stem = nn.Sequential(_conv_bn_relu(cfg.in_channels, f), _conv_bn_relu(f, f))
        self.down = nn.ModuleList(_conv_bn_relu(f, f) for _ in range(cfg.scales - 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        states = [self.stem(x)]
        for conv in self.down:
            states.append(conv(states[-1]))
        return states


class InvertedResidual(nn.Module):
    """MobileNetV2-style bottleneck residual block, without normalisation (section 2.5)."""

    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.expand = nn.Conv2d(width, hidden, 1)
        self.depthwise = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)
        self.project = nn.Conv2d(hidden, width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self.expand(x))
        y = F.relu6(self.depthwise(y))
        return x + self.project(y)


class IterativeBlock(nn.Module):
    """One iteration: K bottlenecks per scale, then exchange between neighbouring scales."""

    def __init__(self, cfg: ItNetConfig) -> None:
        super().__init__()
        f, h = cfg.width, cfg.hidden
        self.scales = nn.ModuleList(
            nn.Sequential(*(InvertedResidual(f, h) for _ in range(cfg.blocks))) for _ in range(cfg.scales)
        )
        self.down = nn.ModuleList(nn.Conv2d(f, f, 3, 2, 1) for _ in range(cfg.scales - 1))
        self.up = nn.ModuleList(nn.Conv2d(f, f, 1) for _ in range(cfg.scales - 1))

    def forward(self, states: list[torch.Tensor]) -> list[torch.Tensor]:
        ys = [blk(s) for blk, s in zip(self.scales, states)]
        out = []
        for i, y in enumerate(ys):
            if i > 0:
                y = y + self.down[i - 1](ys[i - 1])
            if i + 1 < len(ys):
                coarse = self.up[i](ys[i + 1])
                y = y + F.interpolate(coarse, size=y.shape[-2:], mode="bilinear", align_corners=False)
            out.append(y)
        return out


class ClassificationBlock(nn.Module):
    def __init__(self, cfg: ItNetConfig) -> None:
        super().__init__()
        self.classify = nn.Conv2d(cfg.width, cfg.num_classes, 3, 1, 1)

    def forward(self, state: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return F.interpolate(self.classify(state), size=size, mode="bilinear", align_corners=False)


class ItNet(nn.Module):
    """Returns the semantic maps m_1..m_n (logits), n = ``iterations`` unless told to stop early."""

    def __init__(self, cfg: ItNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.data = DataBlock(cfg)
        n_blocks = 1 if cfg.shared else cfg.iterations
        self.iterative = nn.ModuleList(IterativeBlock(cfg) for _ in range(n_blocks))
        self.norms = nn.ModuleList(
            nn.ModuleList(nn.BatchNorm2d(cfg.width) for _ in range(cfg.scales)) for _ in range(cfg.iterations)
        )
        self.heads = nn.ModuleList(ClassificationBlock(cfg) for _ in range(cfg.iterations))

    def forward(self, x: torch.Tensor, iterations: int | None = None) -> list[torch.Tensor]:
        n_iter = self.cfg.iterations if iterations is None else iterations
        if not 1 <= n_iter <= self.cfg.iterations:
            raise ValueError(f"iterations must be in 1..{self.cfg.iterations}, got {n_iter}")
        size = (x.shape[-2], x.shape[-1])
        states = self.data(x)
        outputs = []
        for n in range(n_iter):
            states = [bn(s) for bn, s in zip(self.norms[n], states)]
            block = self.iterative[0 if self.cfg.shared else n]
            states = block(states)
            outputs.append(self.heads[n](states[0], size))
        return outputs
