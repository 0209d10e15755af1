"""The doubly nested network (DNN): a ResNet-32-like anytime net, sliceable in depth and width.

Choices the paper leaves open are recorded in docs/dnn.md; in short:

* channels are split into ``groups`` (C = 22) channel groups; a stage's channels per group
  are ``group_channels`` (1, 2, 4: 22 / 44 / 88 channels, ResNet-32's 16 / 32 / 64 scaled up
  to multiples of 22);
* every convolution after the input convolution is *channel-causal*: output group i reads
  input groups 1..i only.  It is an ordinary convolution whose weight is multiplied by a fixed
  block-lower-triangular 0/1 mask (a buffer), so gradients stay causal and ``torch.export``
  folds ``weight * mask`` into one plain convolution weight.  The input convolution reads the
  whole image (the image is not split into groups);
* residual blocks are ResNet's basic block (3x3 conv, BN, ReLU, 3x3 conv, BN, add, ReLU);
  when the shape changes (stride 2, channels x2) the shortcut is a causal 1x1 convolution +
  BN (option B), otherwise the identity;
* output locations: after the input convolution and after each of the 15 residual blocks
  (L = 16).  At each depth, one FC per channel group maps the group's global-average-pooled
  features to the classes; sub-network (l, c) outputs the *average* of FCs 1..c;
* joint loss: sum_{l,c} lambda(l, c) CE_{l,c} / sum lambda (uniform lambda by default).

Depths and widths are 1-based everywhere in the public API: (l, c) in [1, L] x [1, C].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Iterable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from mpsim.errors import MpsimError


@dataclass(frozen=True)
class DNNConfig:
    groups: int = 22  # C: width locations
    group_channels: tuple[int, ...] = (1, 2, 4)  # channels per group in each stage
    blocks_per_stage: int = 5
    strides: tuple[int, ...] = (1, 2, 2)
    num_classes: int = 10
    in_channels: int = 3
    input_size: tuple[int, int] = (32, 32)
    causal: bool = True  # False: the plain (brute-force slicing) baseline, masks all ones

    def __post_init__(self) -> None:
        if len(self.group_channels) != len(self.strides):
            raise ValueError("group_channels and strides need one entry per stage")
        if self.groups < 1 or self.blocks_per_stage < 0 or min(self.group_channels) < 1:
            raise ValueError("groups, blocks_per_stage and group_channels must be positive")

    @property
    def depth(self) -> int:
        """L: output locations along depth (input convolution + every residual block)."""
        return 1 + self.blocks_per_stage * len(self.strides)

    @property
    def widths(self) -> list[int]:
        return [self.groups * g for g in self.group_channels]

    def depth_group_channels(self, l: int) -> int:
        """Channels per group of the features at output location l (1-based)."""
        if l == 1:
            return self.group_channels[0]
        return self.group_channels[(l - 2) // self.blocks_per_stage]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["group_channels"] = list(self.group_channels)
        d["strides"] = list(self.strides)
        d["input_size"] = list(self.input_size)
        return d

    def with_(self, **changes) -> "DNNConfig":
        return replace(self, **changes)


def causal_mask(groups: int, in_per_group: int, out_per_group: int, causal: bool = True) -> torch.Tensor:
    """(groups*out, groups*in, 1, 1) 0/1 mask: output group i sees input groups 0..i."""
    gi = torch.arange(groups).repeat_interleave(in_per_group)
    go = torch.arange(groups).repeat_interleave(out_per_group)
    m = (gi[None, :] <= go[:, None]) if causal else torch.ones(len(go), len(gi), dtype=torch.bool)
    return m.to(torch.float32)[:, :, None, None]


class CausalConv2d(nn.Conv2d):
    """A convolution between channel-grouped feature maps; output group i reads groups <= i.

    ``in_per_group=None`` marks the input convolution: every output group reads the whole
    input (an image is not split into groups).  The mask is a buffer, not a parameter.
    """

    def __init__(self, groups: int, in_per_group: int | None, out_per_group: int, kernel_size: int,
                 stride: int = 1, causal: bool = True, in_channels: int | None = None) -> None:
        cin = in_channels if in_per_group is None else groups * in_per_group
        super().__init__(cin, groups * out_per_group, kernel_size, stride, kernel_size // 2, bias=False)
        self.channel_groups = groups
        self.in_per_group = in_per_group
        self.out_per_group = out_per_group
        self.causal = causal
        if in_per_group is None:
            mask = torch.ones(groups * out_per_group, cin, 1, 1)
        else:
            mask = causal_mask(groups, in_per_group, out_per_group, causal)
        self.register_buffer("mask", mask)
        self._init_causal()

    def _init_causal(self) -> None:
        """He init with each output channel's *effective* fan-in (the inputs its mask keeps)."""
        with torch.no_grad():
            k = self.kernel_size[0] * self.kernel_size[1]
            fan_in = self.mask[:, :, 0, 0].sum(1).clamp(min=1) * k
            std = torch.sqrt(2.0 / fan_in)
            self.weight.normal_()
            self.weight.mul_(std[:, None, None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, None)

    def sliced(self, c: int) -> "CausalConv2d":
        """The same layer restricted to the first c channel groups (input and output)."""
        new = CausalConv2d.__new__(CausalConv2d)
        nn.Conv2d.__init__(new, self.in_channels if self.in_per_group is None else c * self.in_per_group,
                           c * self.out_per_group, self.kernel_size, self.stride, self.padding, bias=False)
        new.channel_groups, new.in_per_group, new.out_per_group, new.causal = (
            c, self.in_per_group, self.out_per_group, self.causal)
        o, i = new.out_channels, new.in_channels
        new.register_buffer("mask", self.mask[:o, :i].clone())
        with torch.no_grad():
            new.weight.copy_(self.weight[:o, :i])
        return new


def sliced_bn(bn: nn.BatchNorm2d, n: int) -> nn.BatchNorm2d:
    new = nn.BatchNorm2d(n, eps=bn.eps, momentum=bn.momentum)
    with torch.no_grad():
        new.weight.copy_(bn.weight[:n])
        new.bias.copy_(bn.bias[:n])
        new.running_mean.copy_(bn.running_mean[:n])
        new.running_var.copy_(bn.running_var[:n])
        new.num_batches_tracked.copy_(bn.num_batches_tracked)
    return new


class Stem(nn.Module):
    """Input convolution (3x3, all image channels) + BN + ReLU: output location 1."""

    def __init__(self, cfg: DNNConfig, groups: int | None = None) -> None:
        super().__init__()
        c = cfg.groups if groups is None else groups
        self.conv = CausalConv2d(c, None, cfg.group_channels[0], 3, 1, cfg.causal, in_channels=cfg.in_channels)
        self.bn = nn.BatchNorm2d(self.conv.out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))

    def sliced(self, c: int) -> "Stem":
        new = Stem.__new__(Stem)
        nn.Module.__init__(new)
        new.conv = self.conv.sliced(c)
        new.bn = sliced_bn(self.bn, new.conv.out_channels)
        new.relu = nn.ReLU()
        return new


class CausalBlock(nn.Module):
    """ResNet basic block with channel-causal convolutions and a causal shortcut."""

    def __init__(self, groups: int, gin: int, gout: int, stride: int, causal: bool = True) -> None:
        super().__init__()
        self.conv1 = CausalConv2d(groups, gin, gout, 3, stride, causal)
        self.bn1 = nn.BatchNorm2d(groups * gout)
        self.relu1 = nn.ReLU()
        self.conv2 = CausalConv2d(groups, gout, gout, 3, 1, causal)
        self.bn2 = nn.BatchNorm2d(groups * gout)
        self.relu2 = nn.ReLU()
        if stride != 1 or gin != gout:
            self.shortcut = nn.Sequential(CausalConv2d(groups, gin, gout, 1, stride, causal),
                                          nn.BatchNorm2d(groups * gout))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu1(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu2(y + self.shortcut(x))

    def sliced(self, c: int) -> "CausalBlock":
        new = CausalBlock.__new__(CausalBlock)
        nn.Module.__init__(new)
        new.conv1 = self.conv1.sliced(c)
        new.bn1 = sliced_bn(self.bn1, new.conv1.out_channels)
        new.relu1 = nn.ReLU()
        new.conv2 = self.conv2.sliced(c)
        new.bn2 = sliced_bn(self.bn2, new.conv2.out_channels)
        new.relu2 = nn.ReLU()
        if isinstance(self.shortcut, nn.Identity):
            new.shortcut = nn.Identity()
        else:
            conv = self.shortcut[0].sliced(c)
            new.shortcut = nn.Sequential(conv, sliced_bn(self.shortcut[1], conv.out_channels))
        return new


def _pool(x: torch.Tensor) -> torch.Tensor:
    return x.mean(dim=(2, 3))


class DoublyNestedNet(nn.Module):
    """The full DNN.  ``forward(x)`` gives all L x C outputs as a (B, L, C, classes) tensor;
    ``forward(x, subnets=[(l, c), ...])`` gives a tuple with the selected ones only (the path
    ``torch.export`` captures); ``extract(l, c)`` builds the standalone sub-network."""

    def __init__(self, cfg: DNNConfig = DNNConfig(), outputs: Sequence[tuple[int, int]] | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.stem = Stem(cfg)
        blocks = []
        gin = cfg.group_channels[0]
        for stage, (g, s) in enumerate(zip(cfg.group_channels, cfg.strides)):
            for b in range(cfg.blocks_per_stage):
                blocks.append(CausalBlock(cfg.groups, gin, g, s if b == 0 else 1, cfg.causal))
                gin = g
        self.blocks = nn.ModuleList(blocks)
        # FC heads: at depth l, head_weight[l][k] maps group k's pooled features to the classes.
        self.head_weight = nn.ParameterList()
        self.head_bias = nn.ParameterList()
        for l in range(1, cfg.depth + 1):
            g = cfg.depth_group_channels(l)
            bound = 1.0 / g ** 0.5
            self.head_weight.append(nn.Parameter(torch.empty(cfg.groups, cfg.num_classes, g).uniform_(-bound, bound)))
            self.head_bias.append(nn.Parameter(torch.empty(cfg.groups, cfg.num_classes).uniform_(-bound, bound)))
        self.outputs = None if outputs is None else [self.check_subnet(l, c) for l, c in outputs]

    # -- sub-network indexing -------------------------------------------------------------

    def check_subnet(self, l: int, c: int) -> tuple[int, int]:
        L, C = self.cfg.depth, self.cfg.groups
        if not (isinstance(l, int) and isinstance(c, int) and 1 <= l <= L and 1 <= c <= C):
            raise MpsimError(f"sub-network ({l}, {c}) is outside the {L} x {C} grid (1-based depth, width)")
        return l, c

    def features(self, x: torch.Tensor, depth: int | None = None) -> list[torch.Tensor]:
        """Feature maps at output locations 1..depth."""
        depth = self.cfg.depth if depth is None else depth
        feats = [self.stem(x)]
        for blk in self.blocks[: depth - 1]:
            feats.append(blk(feats[-1]))
        return feats

    def head_linear(self, l: int, c: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(weight, bias) of one linear layer equal to the average of FCs 1..c at depth l."""
        w = self.head_weight[l - 1][:c]  # (c, K, g)
        b = self.head_bias[l - 1][:c]
        return w.permute(1, 0, 2).reshape(w.shape[1], -1) / c, b.mean(0)

    def forward(self, x: torch.Tensor, subnets: Sequence[tuple[int, int]] | None = None):
        subnets = self.outputs if subnets is None else [self.check_subnet(l, c) for l, c in subnets]
        if subnets is None:
            return self.all_logits(x)
        feats = self.features(x, max(l for l, _ in subnets))
        pooled: dict[int, torch.Tensor] = {}
        outs = []
        for l, c in subnets:
            if l not in pooled:
                pooled[l] = _pool(feats[l - 1])
            p = pooled[l]
            n = c * self.cfg.depth_group_channels(l)
            if n < p.shape[1]:
                p = torch.split(p, [n, p.shape[1] - n], dim=1)[0]
            w, b = self.head_linear(l, c)
            outs.append(F.linear(p, w, b))
        return tuple(outs)

    def all_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, C, classes): output of every sub-network (l, c)."""
        C = self.cfg.groups
        count = torch.arange(1, C + 1, dtype=x.dtype, device=x.device)[None, :, None]
        rows = []
        for l, f in enumerate(self.features(x), start=1):
            p = _pool(f).reshape(f.shape[0], C, -1)  # (B, C, g)
            z = torch.einsum("bcg,ckg->bck", p, self.head_weight[l - 1]) + self.head_bias[l - 1]
            rows.append(z.cumsum(1) / count)
        return torch.stack(rows, 1)

    # -- extraction -----------------------------------------------------------------------

    def extract(self, l: int, c: int) -> "DNNSubnet":
        """Sub-network (l, c) as a standalone, smaller module (same mode as this model)."""
        l, c = self.check_subnet(l, c)
        sub = DNNSubnet(self.cfg, l, c, self.stem.sliced(c), [b.sliced(c) for b in self.blocks[: l - 1]],
                        *self.head_linear(l, c))
        return sub.train(self.training)


class DNNSubnet(nn.Module):
    """Sub-network (l, c): the first c channel groups, depth up to l, one linear head equal to
    the average of FCs 1..c at depth l.  Output: (B, classes)."""

    def __init__(self, cfg: DNNConfig, l: int, c: int, stem: Stem, blocks: Iterable[nn.Module],
                 head_w: torch.Tensor, head_b: torch.Tensor) -> None:
        super().__init__()
        self.cfg, self.l, self.c = cfg, l, c
        self.stem = stem
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(head_w.shape[1], head_w.shape[0])
        with torch.no_grad():
            self.head.weight.copy_(head_w)
            self.head.bias.copy_(head_b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for blk in self.blocks:
            x = blk(x)
        return self.head(_pool(x))


def lambda_grid(cfg: DNNConfig, kind: str = "uniform") -> torch.Tensor:
    """Loss weights lambda(l, c) as an (L, C) tensor: 'uniform', 'depth' (grows with l),
    'width' (grows with c) or 'last' (only (L, C): plain single-output training)."""
    L, C = cfg.depth, cfg.groups
    if kind == "uniform":
        return torch.ones(L, C)
    if kind == "depth":
        return torch.arange(1, L + 1, dtype=torch.float32)[:, None].expand(L, C).clone()
    if kind == "width":
        return torch.arange(1, C + 1, dtype=torch.float32)[None, :].expand(L, C).clone()
    if kind == "last":
        lam = torch.zeros(L, C)
        lam[-1, -1] = 1.0
        return lam
    raise MpsimError(f"unknown loss weighting '{kind}' (known: uniform, depth, width, last)")


def joint_loss(logits: torch.Tensor, target: torch.Tensor, lam: torch.Tensor | None = None) -> torch.Tensor:
    """Paper eq. (2): sum_{l,c} lambda(l,c) CE_{l,c} / sum lambda, for (B, L, C, K) logits."""
    B, L, C, K = logits.shape
    ce = F.cross_entropy(logits.reshape(-1, K), target.repeat_interleave(L * C), reduction="none")
    ce = ce.reshape(B, L, C).mean(0)
    lam = torch.ones(L, C, device=logits.device) if lam is None else lam.to(logits.device)
    return (lam * ce).sum() / lam.sum()
