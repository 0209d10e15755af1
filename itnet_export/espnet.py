"""An ESPNet-style efficient segmentation network: the conventional baseline ItNets are compared with.

After Mehta et al. 2018 (ESPNet-C with a light decoder): efficient spatial pyramid (ESP)
modules (a 1x1 reduction, K parallel dilated 3x3 convolutions, hierarchical feature fusion by
cumulative addition, concatenation, residual), input reinforcement by average-pooled copies of
the image, a 1x1 classifier at 1/8 scale and bilinear upsampling.  It is a feed-forward graph
with no loop: every layer holds its own weights, the opposite of an ItNet.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class ESPNetConfig:
    num_classes: int = 11
    input_size: tuple[int, int] = (360, 480)
    alpha2: int = 2  # ESP modules at 1/4 scale
    alpha3: int = 8  # ESP modules at 1/8 scale
    branches: int = 5  # K parallel dilations: 1, 2, 4, 8, 16
    in_channels: int = 3

    def to_dict(self) -> dict:
        return {**self.__dict__, "input_size": list(self.input_size)}


class BNPReLU(nn.Sequential):
    def __init__(self, c: int) -> None:
        super().__init__(nn.BatchNorm2d(c), nn.PReLU(c))


class ESP(nn.Module):
    """Reduce, split into dilated branches, fuse hierarchically, concatenate (+ residual)."""

    def __init__(self, cin: int, cout: int, branches: int, stride: int = 1) -> None:
        super().__init__()
        d = cout // branches
        first = cout - d * (branches - 1)
        self.reduce = nn.Conv2d(cin, d, 3 if stride == 2 else 1, stride, 1 if stride == 2 else 0, bias=False)
        widths = [first] + [d] * (branches - 1)
        self.branches = nn.ModuleList(
            nn.Conv2d(d, w, 3, 1, 2**k, dilation=2**k, bias=False) for k, w in enumerate(widths)
        )
        self.residual = stride == 1 and cin == cout
        self.act = BNPReLU(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.reduce(x)
        outs = [b(r) for b in self.branches]
        fused = [outs[0], outs[1]]
        for o in outs[2:]:
            fused.append(fused[-1] + o)  # hierarchical feature fusion removes gridding
        y = torch.cat(fused, 1)
        return self.act(x + y if self.residual else y)


class ESPNet(nn.Module):
    def __init__(self, cfg: ESPNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c, k = cfg.in_channels, cfg.branches
        self.level1 = nn.Sequential(nn.Conv2d(c, 16, 3, 2, 1, bias=False), BNPReLU(16))
        self.act1 = BNPReLU(16 + c)
        self.down2 = ESP(16 + c, 64, k, stride=2)
        self.level2 = nn.Sequential(*(ESP(64, 64, k) for _ in range(cfg.alpha2)))
        self.act2 = BNPReLU(128 + c)
        self.down3 = ESP(128 + c, 128, k, stride=2)
        self.level3 = nn.Sequential(*(ESP(128, 128, k) for _ in range(cfg.alpha3)))
        self.act3 = BNPReLU(256)
        self.classify = nn.Conv2d(256, cfg.num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        x2 = F.avg_pool2d(x, 3, 2, 1)  # input reinforcement at 1/2
        x4 = F.avg_pool2d(x2, 3, 2, 1)  # and at 1/4
        y1 = self.act1(torch.cat([self.level1(x), x2], 1))
        d2 = self.down2(y1)
        y2 = self.act2(torch.cat([self.level2(d2), d2, x4], 1))
        d3 = self.down3(y2)
        y3 = self.act3(torch.cat([self.level3(d3), d3], 1))
        return F.interpolate(self.classify(y3), size=size, mode="bilinear", align_corners=False)
