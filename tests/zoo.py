"""Small PyTorch models that exercise the exporter (shared by several test files).

Every model runs in milliseconds at 1x3x32x32.  Convolutions followed by batch norm are
built as ``nn.Sequential(conv, bn, ...)`` so that a test can find the pairs the exporter is
expected to fold (see ``folded_conv_bn_pairs``).  ``randomize_bn`` gives batch norms
non-trivial statistics so that folding changes the weights.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

INPUT_SHAPE = (1, 3, 32, 32)


def example_input(seed: int = 1, shape: tuple[int, ...] = INPUT_SHAPE) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm2d random affine parameters and running statistics."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
    return model


def folded_conv_bn_pairs(model: nn.Module) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
    """(conv, bn) pairs where bn directly follows conv inside an nn.Sequential: the pairs the
    exporter folds (in the models of this zoo and in ItNet, whose between-iteration batch
    norms live in ModuleLists instead)."""
    pairs = []
    for m in model.modules():
        if isinstance(m, nn.Sequential):
            kids = list(m.children())
            for a, b in zip(kids, kids[1:]):
                if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                    pairs.append((a, b))
    return pairs


def conv_bn_relu(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU())


# (a) U-Net-like encoder-decoder --------------------------------------------------------------

class EncoderDecoder(nn.Module):
    """Two max-pool downs, a bilinear (align_corners=True) and a nearest up-sampling, skip
    connections by concatenation, batch norm after every convolution."""

    def __init__(self, ch: int = 8, classes: int = 5) -> None:
        super().__init__()
        self.enc1 = nn.Sequential(conv_bn_relu(3, ch), conv_bn_relu(ch, ch))
        self.enc2 = conv_bn_relu(ch, 2 * ch)
        self.bottleneck = nn.Sequential(
            nn.Conv2d(2 * ch, 4 * ch, 3, 1, 1), nn.BatchNorm2d(4 * ch), nn.ReLU(),  # conv with bias
        )
        self.dec2 = conv_bn_relu(4 * ch + 2 * ch, 2 * ch)
        self.dec1 = conv_bn_relu(2 * ch + ch, ch, k=1)
        self.head = nn.Conv2d(ch, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)  # ch @ 32
        e2 = self.enc2(F.max_pool2d(e1, 2))  # 2ch @ 16
        b = self.bottleneck(F.max_pool2d(e2, 2))  # 4ch @ 8
        up2 = F.interpolate(b, scale_factor=2, mode="bilinear", align_corners=True)
        d2 = self.dec2(torch.cat([up2, e2], dim=1))  # 2ch @ 16
        up1 = F.interpolate(d2, scale_factor=2, mode="nearest")
        d1 = self.dec1(torch.cat([up1, e1], dim=1))  # ch @ 32
        return self.head(d1)


# (b) grouped / depthwise / dilated convolutions, channel shuffle, gating ---------------------

def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    n, c, h, w = x.shape
    x = x.view(n, groups, c // groups, h, w).transpose(1, 2)
    return x.reshape(n, c, h, w)


class ShuffleUnit(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        half = ch // 2
        self.pw = nn.Conv2d(half, half, 1, groups=2)  # grouped
        self.dw = nn.Conv2d(half, half, 3, 1, 2, dilation=2, groups=half)  # depthwise, dilated
        self.act = nn.PReLU(half)
        self.gate = nn.Conv2d(half, half, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        b = self.act(self.dw(self.pw(b)))
        b = b * torch.sigmoid(self.gate(b))  # sigmoid gating
        return channel_shuffle(torch.cat([a, b], dim=1), 2)


class ShuffleDilated(nn.Module):
    def __init__(self, ch: int = 16, classes: int = 7) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, ch, 3, 2, 1, bias=False), nn.BatchNorm2d(ch), nn.PReLU())
        self.unit = ShuffleUnit(ch)
        self.dilated = nn.Conv2d(ch, ch, 3, 1, 3, dilation=3, groups=4)
        self.down = nn.Conv2d(ch, 2 * ch, 5, 2, 2)  # strided + padded, 5x5
        self.branch_a = nn.Conv2d(ch, ch, 1)
        self.branch_b = nn.Conv2d(ch, ch, (1, 3), 1, (0, 1))  # non-square kernel
        self.fc = nn.Linear(2 * ch, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)  # 16 @ 16x16
        x = self.unit(x)
        x = F.hardswish(self.dilated(x))
        x = F.avg_pool2d(x, 2)  # 16 @ 8x8
        x = self.down(x)  # 32 @ 4x4
        a, b = torch.split(x, [16, 16], dim=1)
        x = torch.cat([self.branch_a(a), self.branch_b(b)], dim=1)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return torch.softmax(self.fc(x), dim=1)


# (c) an ItNet in miniature --------------------------------------------------------------------

class SharedLoopNet(nn.Module):
    """One conv block applied ``iterations`` times (the same parameters each time), a batch
    norm of its own before each application and a classifier of its own after it."""

    def __init__(self, ch: int = 8, classes: int = 5, iterations: int = 3) -> None:
        super().__init__()
        self.stem = conv_bn_relu(3, ch, stride=2)
        self.block = nn.Sequential(nn.Conv2d(ch, 2 * ch, 1), nn.ReLU(),
                                   nn.Conv2d(2 * ch, ch, 3, 1, 1, groups=2))
        self.norms = nn.ModuleList(nn.BatchNorm2d(ch) for _ in range(iterations))
        self.heads = nn.ModuleList(nn.Conv2d(ch, classes, 1) for _ in range(iterations))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        outs = []
        for bn, head in zip(self.norms, self.heads):
            x = x + self.block(bn(x))
            outs.append(head(x))
        return outs


# (d) an operator the exporter does not know ---------------------------------------------------

class _CumulativeBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(self.conv(x), dim=1)


class Unsupported(nn.Module):
    def __init__(self, ch: int = 4) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, ch, 3, 1, 1)
        self.features = nn.Sequential(nn.ReLU(), _CumulativeBlock(ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.stem(x))


class _Flip(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flip(x, dims=[3])


class UnsupportedMany(nn.Module):
    """Two ops the graph format lacks, one of them twice (and a known op after them)."""

    def __init__(self, ch: int = 4) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, ch, 3, 2, 1)
        self.decoder = nn.Sequential(nn.ReLU(), _Flip(), nn.ConvTranspose2d(ch, ch, 2, 2), _Flip())
        self.head = _CumulativeBlock(ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.decoder(self.stem(x)))


def build(name: str, seed: int = 0) -> nn.Module:
    """A zoo model with seeded weights and random batch-norm statistics, in eval mode."""
    torch.manual_seed(seed)
    model = {"EncoderDecoder": EncoderDecoder, "ShuffleDilated": ShuffleDilated,
             "SharedLoopNet": SharedLoopNet, "Unsupported": Unsupported,
             "UnsupportedMany": UnsupportedMany}[name]()
    return randomize_bn(model, seed).eval()
