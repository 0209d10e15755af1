"""Public architectures written from their papers, small enough for the default test suite.

Each keeps the structure and the operators of the published network (the layer types, how
branches meet, how resolution changes) at a reduced width and depth and a 32x32 or 64x64
input.  ``MatMul`` wraps the activation-by-activation products of attention so that forward
hooks can count their MACs like those of convolutions and linear layers.  ``build(name)``
gives a seeded model in eval mode with random normalisation statistics and affine parameters.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class MatMul(nn.Module):
    """``a @ b`` as a module (for forward hooks)."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a @ b


def cbr(cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, dilation * (k // 2), dilation, groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


# 1. SegNet (Badrinarayanan et al., TPAMI 2017) -------------------------------------------------

class SegNet(nn.Module):
    """VGG-style encoder whose max-pooling indices drive the decoder's max-unpooling."""

    def __init__(self, classes: int = 5, widths=(8, 16, 32)) -> None:
        super().__init__()
        self.enc = nn.ModuleList()
        self.dec = nn.ModuleList()
        cin = 3
        for w in widths:
            self.enc.append(nn.Sequential(cbr(cin, w), cbr(w, w)))
            cin = w
        outs = list(widths[:-1][::-1]) + [widths[0]]
        for w, o in zip(widths[::-1], outs):
            self.dec.append(nn.Sequential(cbr(w, w), cbr(w, o)))
        self.classifier = nn.Conv2d(widths[0], classes, 3, 1, 1)

    def forward(self, x):
        indices, sizes = [], []
        for block in self.enc:
            x = block(x)
            sizes.append(x.shape[-2:])
            x, idx = F.max_pool2d(x, 2, 2, return_indices=True)
            indices.append(idx)
        for block, idx, size in zip(self.dec, indices[::-1], sizes[::-1]):
            x = F.max_unpool2d(x, idx, 2, 2, output_size=size)
            x = block(x)
        return self.classifier(x)


# 2. ENet (Paszke et al., 2016) -----------------------------------------------------------------

class ENetInitial(nn.Module):
    def __init__(self, out: int = 16) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, out - 3, 3, 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(out)
        self.act = nn.PReLU(out)

    def forward(self, x):
        return self.act(self.bn(torch.cat([self.conv(x), F.max_pool2d(x, 2, 2)], 1)))


class ENetBottleneck(nn.Module):
    """Regular, dilated, asymmetric (5x1 then 1x5) or downsampling (max pooling with indices,
    zero channels to pad the shortcut) bottleneck with spatial dropout."""

    def __init__(self, cin: int, cout: int, kind: str = "regular", dilation: int = 1, p: float = 0.1) -> None:
        super().__init__()
        mid = cout // 4
        self.kind = kind
        first = 2 if kind == "down" else 1
        self.reduce = nn.Sequential(nn.Conv2d(cin, mid, first, first, bias=False), nn.BatchNorm2d(mid), nn.PReLU(mid))
        if kind == "asymmetric":
            main = [nn.Conv2d(mid, mid, (5, 1), 1, (2, 0), bias=False), nn.Conv2d(mid, mid, (1, 5), 1, (0, 2))]
        else:
            main = [nn.Conv2d(mid, mid, 3, 1, dilation, dilation, bias=False)]
        self.main = nn.Sequential(*main, nn.BatchNorm2d(mid), nn.PReLU(mid))
        self.expand = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.drop = nn.Dropout2d(p)
        self.out = nn.PReLU(cout)
        self.pad = cout - cin

    def forward(self, x):
        ext = self.drop(self.expand(self.main(self.reduce(x))))
        if self.kind == "down":
            x, idx = F.max_pool2d(x, 2, 2, return_indices=True)
            n, _, h, w = x.shape
            x = torch.cat([x, torch.zeros(n, self.pad, h, w)], 1)  # zero channels, created in forward
            return self.out(x + ext), idx
        return self.out(x + ext)


class ENetUpsample(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        mid = cin // 4
        self.main = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.ext = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
            nn.ConvTranspose2d(mid, mid, 3, 2, 1, output_padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
            nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.Dropout2d(0.1))

    def forward(self, x, idx):
        main = F.max_unpool2d(self.main(x), idx, 2, 2)
        return F.relu(main + self.ext(x))


class ENet(nn.Module):
    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.initial = ENetInitial(16)
        self.down1 = ENetBottleneck(16, 32, "down", p=0.01)
        self.stage1 = nn.Sequential(ENetBottleneck(32, 32), ENetBottleneck(32, 32, "asymmetric"))
        self.down2 = ENetBottleneck(32, 64, "down")
        self.stage2 = nn.Sequential(ENetBottleneck(64, 64, dilation=2), ENetBottleneck(64, 64, "asymmetric"),
                                    ENetBottleneck(64, 64, dilation=4))
        self.up2 = ENetUpsample(64, 32)
        self.up1 = ENetUpsample(32, 16)
        self.full = nn.ConvTranspose2d(16, classes, 3, 2, 1, output_padding=1)

    def forward(self, x):
        x = self.initial(x)
        x, i1 = self.down1(x)
        x = self.stage1(x)
        x, i2 = self.down2(x)
        x = self.stage2(x)
        x = self.up1(self.up2(x, i2), i1)
        return self.full(x)


# 3. U-Net (Ronneberger et al., MICCAI 2015) ----------------------------------------------------

class UNet(nn.Module):
    """Two 3x3 convolutions per level, max pooling down, 2x2 transposed convolution up,
    skip connections by concatenation (padded convolutions: no cropping)."""

    def __init__(self, classes: int = 2, base: int = 8, depth: int = 3) -> None:
        super().__init__()
        self.downs = nn.ModuleList()
        self.ups = nn.ModuleList()
        self.upconvs = nn.ModuleList()
        cin = 3
        for d in range(depth):
            self.downs.append(nn.Sequential(cbr(cin, base << d), cbr(base << d, base << d)))
            cin = base << d
        self.bottom = nn.Sequential(cbr(cin, cin * 2), cbr(cin * 2, cin * 2))
        for d in reversed(range(depth)):
            self.upconvs.append(nn.ConvTranspose2d(base << (d + 1), base << d, 2, 2))
            self.ups.append(nn.Sequential(cbr(base << (d + 1), base << d), cbr(base << d, base << d)))
        self.out = nn.Conv2d(base, classes, 1)

    def forward(self, x):
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottom(x)
        for upconv, up, skip in zip(self.upconvs, self.ups, skips[::-1]):
            x = up(torch.cat([skip, upconv(x)], 1))
        return self.out(x)


# 4. DeepLabv3 with ASPP (Chen et al., 2017) ----------------------------------------------------

class ASPP(nn.Module):
    """1x1, three atrous 3x3 branches and image-level pooling, concatenated and projected."""

    def __init__(self, cin: int, cout: int, rates=(2, 4, 6)) -> None:
        super().__init__()
        self.branches = nn.ModuleList([cbr(cin, cout, 1)] + [cbr(cin, cout, 3, dilation=r) for r in rates])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False),
                                  nn.BatchNorm2d(cout), nn.ReLU())
        self.project = nn.Sequential(cbr(cout * (len(rates) + 2), cout, 1), nn.Dropout(0.5))

    def forward(self, x):
        feats = [b(x) for b in self.branches]
        feats.append(F.interpolate(self.pool(x), size=x.shape[-2:], mode="bilinear", align_corners=False))
        return self.project(torch.cat(feats, 1))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1, norm=None) -> None:
        super().__init__()
        norm = norm or nn.BatchNorm2d
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, dilation, dilation, bias=False)
        self.n1 = norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, dilation, dilation, bias=False)
        self.n2 = norm(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), norm(cout))

    def forward(self, x):
        y = self.n2(self.conv2(F.relu(self.n1(self.conv1(x)))))
        return F.relu(y + (x if self.short is None else self.short(x)))


class DeepLabV3(nn.Module):
    """Output stride 8: a small residual backbone whose last stage is dilated, then ASPP."""

    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.stem = cbr(3, 16, stride=2)
        self.layer1 = BasicBlock(16, 16)
        self.layer2 = BasicBlock(16, 32, stride=2)
        self.layer3 = BasicBlock(32, 32, stride=2)
        self.layer4 = BasicBlock(32, 32, dilation=2)
        self.aspp = ASPP(32, 16)
        self.head = nn.Conv2d(16, classes, 1)

    def forward(self, x):
        size = x.shape[-2:]
        y = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return F.interpolate(self.head(self.aspp(y)), size=size, mode="bilinear", align_corners=False)


# 5. MobileNetV3-Small (Howard et al., ICCV 2019) -----------------------------------------------

class SqueezeExcite(nn.Module):
    def __init__(self, ch: int, squeeze: int, gate=nn.Hardsigmoid, act=nn.ReLU) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(ch, squeeze, 1)
        self.act = act()
        self.fc2 = nn.Conv2d(squeeze, ch, 1)
        self.gate = gate()

    def forward(self, x):
        return x * self.gate(self.fc2(self.act(self.fc1(F.adaptive_avg_pool2d(x, 1)))))


class InvertedResidualV3(nn.Module):
    def __init__(self, cin: int, exp: int, cout: int, k: int, se: bool, act, stride: int) -> None:
        super().__init__()
        layers = []
        if exp != cin:
            layers += [nn.Conv2d(cin, exp, 1, bias=False), nn.BatchNorm2d(exp), act()]
        layers += [nn.Conv2d(exp, exp, k, stride, k // 2, groups=exp, bias=False), nn.BatchNorm2d(exp), act()]
        if se:
            layers.append(SqueezeExcite(exp, max(8, exp // 4)))
        layers += [nn.Conv2d(exp, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y


class MobileNetV3Small(nn.Module):
    # (kernel, expansion, out, SE, activation, stride): the paper's table 2, first rows, halved
    CONFIG = [(3, 16, 16, True, nn.ReLU, 2), (3, 36, 24, False, nn.ReLU, 2), (3, 44, 24, False, nn.ReLU, 1),
              (5, 48, 40, True, nn.Hardswish, 2), (5, 120, 40, True, nn.Hardswish, 1)]

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        layers = [nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish())]
        cin = 16
        for k, exp, out, se, act, s in self.CONFIG:
            layers.append(InvertedResidualV3(cin, exp, out, k, se, act, s))
            cin = out
        layers.append(nn.Sequential(nn.Conv2d(cin, 96, 1, bias=False), nn.BatchNorm2d(96), nn.Hardswish()))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(96, 128), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(128, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


# 6. ShuffleNetV2 (Ma et al., ECCV 2018) --------------------------------------------------------

def channel_shuffle(x, groups: int = 2):
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous().view(n, c, h, w)


class ShuffleV2Unit(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        half = cout // 2
        if stride == 2:
            self.left = nn.Sequential(nn.Conv2d(cin, cin, 3, 2, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
                                      nn.Conv2d(cin, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU())
        src = cin if stride == 2 else half
        self.right = nn.Sequential(
            nn.Conv2d(src, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(),
            nn.Conv2d(half, half, 3, stride, 1, groups=half, bias=False), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU())

    def forward(self, x):
        if self.stride == 1:
            a, b = x.chunk(2, dim=1)
            out = torch.cat([a, self.right(b)], 1)
        else:
            out = torch.cat([self.left(x), self.right(x)], 1)
        return channel_shuffle(out)


class ShuffleNetV2(nn.Module):
    def __init__(self, classes: int = 10, widths=(24, 48, 96), repeats=(2, 2, 2)) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 24, 3, 2, 1, bias=False), nn.BatchNorm2d(24), nn.ReLU())
        units, cin = [], 24
        for w, r in zip(widths[1:], repeats):
            units.append(ShuffleV2Unit(cin, w, 2))
            units += [ShuffleV2Unit(w, w, 1) for _ in range(r - 1)]
            cin = w
        self.stages = nn.Sequential(*units)
        self.conv5 = nn.Sequential(nn.Conv2d(cin, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU())
        self.fc = nn.Linear(128, classes)

    def forward(self, x):
        x = F.max_pool2d(self.stem(x), 3, 2, 1)
        return self.fc(self.conv5(self.stages(x)).mean([2, 3]))


# 7. HRNet (Sun et al., CVPR 2019) --------------------------------------------------------------

class HRFusion(nn.Module):
    """Exchange between branches: strided 3x3 convolutions down, 1x1 convolution and nearest
    upsampling by a scale factor up, summed per resolution."""

    def __init__(self, widths) -> None:
        super().__init__()
        self.n = len(widths)
        self.paths = nn.ModuleDict()
        for i, wi in enumerate(widths):  # target
            for j, wj in enumerate(widths):  # source
                if j > i:
                    self.paths[f"{j}to{i}"] = nn.Sequential(nn.Conv2d(wj, wi, 1, bias=False), nn.BatchNorm2d(wi))
                elif j < i:
                    steps, c = [], wj
                    for k in range(i - j):
                        last = k == i - j - 1
                        steps += [nn.Conv2d(c, wi if last else c, 3, 2, 1, bias=False), nn.BatchNorm2d(wi if last else c)]
                        if not last:
                            steps.append(nn.ReLU())
                    self.paths[f"{j}to{i}"] = nn.Sequential(*steps)

    def forward(self, xs):
        outs = []
        for i in range(self.n):
            y = xs[i]
            for j in range(self.n):
                if j > i:
                    y = y + F.interpolate(self.paths[f"{j}to{i}"](xs[j]), scale_factor=2 ** (j - i), mode="nearest")
                elif j < i:
                    y = y + self.paths[f"{j}to{i}"](xs[j])
            outs.append(F.relu(y))
        return outs


class HRNet(nn.Module):
    def __init__(self, classes: int = 5, widths=(8, 16, 32)) -> None:
        super().__init__()
        self.stem = nn.Sequential(cbr(3, 16, stride=2), cbr(16, widths[0]))
        self.trans1 = cbr(widths[0], widths[1], stride=2)
        self.stage2 = nn.ModuleList([BasicBlock(widths[0], widths[0]), BasicBlock(widths[1], widths[1])])
        self.fuse2 = HRFusion(widths[:2])
        self.trans2 = cbr(widths[1], widths[2], stride=2)
        self.stage3 = nn.ModuleList([BasicBlock(w, w) for w in widths])
        self.fuse3 = HRFusion(widths)
        self.head = nn.Sequential(cbr(sum(widths), sum(widths), 1), nn.Conv2d(sum(widths), classes, 1))

    def forward(self, x):
        x = self.stem(x)
        xs = [x, self.trans1(x)]
        xs = self.fuse2([b(v) for b, v in zip(self.stage2, xs)])
        xs = xs + [self.trans2(xs[1])]
        xs = self.fuse3([b(v) for b, v in zip(self.stage3, xs)])
        size = xs[0].shape[-2:]
        ups = [xs[0]] + [F.interpolate(v, size=size, mode="bilinear", align_corners=False) for v in xs[1:]]
        return self.head(torch.cat(ups, 1))  # HRNetV2: all resolutions concatenated


# 8. Vision Transformer (Dosovitskiy et al., ICLR 2021) -----------------------------------------

class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.qk = MatMul()
        self.av = MatMul()
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = self.drop((self.qk(q, k.transpose(-2, -1)) * self.scale).softmax(dim=-1))
        return self.proj(self.av(attn, v).transpose(1, 2).reshape(b, n, c))


class ViTBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Dropout(0.1), nn.Linear(mlp, dim), nn.Dropout(0.1))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, classes: int = 10, image: int = 32, patch: int = 4, dim: int = 32, depth: int = 2,
                 heads: int = 4) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, dim, patch, patch)
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, (image // patch) ** 2 + 1, dim) * 0.02)
        self.drop = nn.Dropout(0.1)
        self.blocks = nn.Sequential(*[ViTBlock(dim, heads, 2 * dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1)  # class token: a constant
        x = self.blocks(self.drop(x + self.pos))
        return self.head(self.norm(x)[:, 0])


# 9. EfficientNet-B0 (Tan & Le, ICML 2019) ------------------------------------------------------

class StochasticDepth(nn.Module):
    """Drop-path: identity at inference."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape[0], 1, 1, 1) >= self.p
        return x * keep / (1 - self.p)


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, expand: int, k: int, stride: int, drop: float) -> None:
        super().__init__()
        mid = cin * expand
        layers = []
        if expand != 1:
            layers += [nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.SiLU()]
        layers += [nn.Conv2d(mid, mid, k, stride, k // 2, groups=mid, bias=False), nn.BatchNorm2d(mid), nn.SiLU(),
                   SqueezeExcite(mid, max(1, cin // 4), gate=nn.Sigmoid, act=nn.SiLU),
                   nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout
        self.drop = StochasticDepth(drop)

    def forward(self, x):
        y = self.block(x)
        return x + self.drop(y) if self.residual else y


class EfficientNetB0(nn.Module):
    # (expansion, out, repeats, stride, kernel): the paper's table 1, first stages, halved
    CONFIG = [(1, 8, 1, 1, 3), (6, 12, 2, 2, 3), (6, 20, 2, 2, 5), (6, 40, 1, 2, 3)]

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        layers = [nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.SiLU())]
        cin = 16
        for e, out, r, s, k in self.CONFIG:
            for i in range(r):
                layers.append(MBConv(cin, out, e, k, s if i == 0 else 1, 0.1))
                cin = out
        layers.append(nn.Sequential(nn.Conv2d(cin, 160, 1, bias=False), nn.BatchNorm2d(160), nn.SiLU()))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(160, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


# 10. ConvNeXt (Liu et al., CVPR 2022) ----------------------------------------------------------

class ChannelsFirstLayerNorm(nn.Module):
    """The official ConvNeXt code's layer norm over the channels of N x C x H x W."""

    def __init__(self, ch: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ch))
        self.bias = nn.Parameter(torch.zeros(ch))
        self.eps = eps

    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pw1 = nn.Linear(dim, 4 * dim)  # on N x H x W x C: linear layers on rank-4 input
        self.act = nn.GELU()
        self.pw2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(1e-1 * torch.ones(dim))  # layer scale
        self.drop = StochasticDepth(0.1)

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.gamma * self.pw2(self.act(self.pw1(self.norm(y))))
        return x + self.drop(y.permute(0, 3, 1, 2))


class ConvNeXt(nn.Module):
    def __init__(self, classes: int = 10, dims=(16, 32), depths=(1, 1)) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dims[0], 4, 4), ChannelsFirstLayerNorm(dims[0]))
        stages = []
        for i, (d, n) in enumerate(zip(dims, depths)):
            if i:
                stages.append(nn.Sequential(ChannelsFirstLayerNorm(dims[i - 1]), nn.Conv2d(dims[i - 1], d, 2, 2)))
            stages += [ConvNeXtBlock(d) for _ in range(n)]
        self.stages = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = nn.Linear(dims[-1], classes)

    def forward(self, x):
        return self.head(self.norm(self.stages(self.stem(x)).mean([-2, -1])))


# 11. MLP-Mixer (Tolstikhin et al., NeurIPS 2021) -----------------------------------------------

class MixerBlock(nn.Module):
    def __init__(self, tokens: int, dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.token_mlp = nn.Sequential(nn.Linear(tokens, 2 * tokens), nn.GELU(), nn.Linear(2 * tokens, tokens))
        self.norm2 = nn.LayerNorm(dim)
        self.channel_mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = x + self.token_mlp(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mlp(self.norm2(x))


class MLPMixer(nn.Module):
    def __init__(self, classes: int = 10, image: int = 32, patch: int = 4, dim: int = 32, depth: int = 2) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, dim, patch, patch)
        tokens = (image // patch) ** 2
        self.blocks = nn.Sequential(*[MixerBlock(tokens, dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.blocks(self.stem(x).flatten(2).transpose(1, 2))
        return self.head(self.norm(x).mean(dim=1))


# 12. CycleGAN's ResNet generator (Johnson et al. 2016; Zhu et al., ICCV 2017) ------------------

class ResnetBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), nn.InstanceNorm2d(ch), nn.ReLU(),
                                   nn.Dropout(0.5), nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), nn.InstanceNorm2d(ch))

    def forward(self, x):
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, ngf: int = 8, blocks: int = 2) -> None:
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), nn.InstanceNorm2d(ngf, affine=True), nn.ReLU()]
        for i in range(2):
            c = ngf << i
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1), nn.InstanceNorm2d(2 * c), nn.ReLU()]
        layers += [ResnetBlock(4 * ngf) for _ in range(blocks)]
        for i in (2, 1):
            c = ngf << i
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(c // 2),
                       nn.ReLU()]
        layers += [nn.ReplicationPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


# 13. FCN-8s (Long et al., CVPR 2015) -----------------------------------------------------------

class FCN8s(nn.Module):
    """VGG-style trunk; score layers at pool3, pool4 and the top, fused by 2x and 8x upsampling
    with grouped (one filter per class) transposed convolutions, crops by slicing."""

    def __init__(self, classes: int = 4) -> None:
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2, ceil_mode=True))
        self.block2 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2, ceil_mode=True))
        self.block3 = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2, ceil_mode=True))
        self.block4 = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2, ceil_mode=True))
        self.fc = nn.Sequential(nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Dropout2d(),
                                nn.Conv2d(64, 64, 1), nn.ReLU(), nn.Dropout2d())
        self.score_fr = nn.Conv2d(64, classes, 1)
        self.score_pool3 = nn.Conv2d(16, classes, 1)
        self.score_pool4 = nn.Conv2d(32, classes, 1)
        self.up2 = nn.ConvTranspose2d(classes, classes, 4, 2, bias=False, groups=classes)
        self.up_pool4 = nn.ConvTranspose2d(classes, classes, 4, 2, bias=False, groups=classes)
        self.up8 = nn.ConvTranspose2d(classes, classes, 16, 8, bias=False, groups=classes)

    def forward(self, x):
        h, w = x.shape[-2:]
        p3 = self.block3(self.block2(self.block1(x)))
        p4 = self.block4(p3)
        up = self.up2(self.score_fr(self.fc(p4)))  # 2 * n + 2
        s4 = self.score_pool4(p4)
        up = self.up_pool4(up[:, :, 1:1 + s4.shape[2], 1:1 + s4.shape[3]] + s4)
        s3 = self.score_pool3(p3)
        up = self.up8(up[:, :, 1:1 + s3.shape[2], 1:1 + s3.shape[3]] + s3)
        return up[:, :, 4:4 + h, 4:4 + w]


# 14. ResNet with group normalisation (Wu & He, ECCV 2018) --------------------------------------

class GNResNet(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        gn = lambda c: nn.GroupNorm(4, c)  # noqa: E731
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), gn(16), nn.ReLU())
        self.layers = nn.Sequential(BasicBlock(16, 16, norm=gn), BasicBlock(16, 32, 2, norm=gn),
                                    BasicBlock(32, 64, 2, norm=gn))
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1).flatten(1))


# 15. ERFNet (Romera et al., T-ITS 2018) --------------------------------------------------------

class ERFDownsampler(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout - cin, 3, 2, 1)
        self.pool = nn.MaxPool2d(2, 2)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(torch.cat([self.conv(x), self.pool(x)], 1)))


class NonBottleneck1D(nn.Module):
    def __init__(self, ch: int, dilation: int, p: float) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(ch, ch, (3, 1), 1, (1, 0))
        self.c2 = nn.Conv2d(ch, ch, (1, 3), 1, (0, 1))
        self.bn1 = nn.BatchNorm2d(ch)
        self.c3 = nn.Conv2d(ch, ch, (3, 1), 1, (dilation, 0), (dilation, 1))
        self.c4 = nn.Conv2d(ch, ch, (1, 3), 1, (0, dilation), (1, dilation))
        self.bn2 = nn.BatchNorm2d(ch)
        self.drop = nn.Dropout2d(p)

    def forward(self, x):
        y = F.relu(self.bn1(self.c2(F.relu(self.c1(x)))))
        y = self.drop(self.bn2(self.c4(F.relu(self.c3(y)))))
        return F.relu(y + x)


class ERFNet(nn.Module):
    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.encoder = nn.Sequential(ERFDownsampler(3, 16), ERFDownsampler(16, 32), NonBottleneck1D(32, 1, 0.03),
                                     NonBottleneck1D(32, 2, 0.3), NonBottleneck1D(32, 4, 0.3))
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(32, 16, 3, 2, 1, output_padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            NonBottleneck1D(16, 1, 0))
        self.output = nn.ConvTranspose2d(16, classes, 2, 2)

    def forward(self, x):
        return self.output(self.decoder(self.encoder(x)))


# Registry --------------------------------------------------------------------------------------

MODELS = {
    "segnet": (SegNet, (1, 3, 32, 32)),
    "enet": (ENet, (1, 3, 32, 32)),
    "unet": (UNet, (1, 3, 32, 32)),
    "deeplabv3-aspp": (DeepLabV3, (1, 3, 32, 32)),
    "mobilenetv3-small": (MobileNetV3Small, (1, 3, 64, 64)),
    "shufflenetv2": (ShuffleNetV2, (1, 3, 32, 32)),
    "hrnet": (HRNet, (1, 3, 32, 32)),
    "vit": (ViT, (1, 3, 32, 32)),
    "efficientnet-b0": (EfficientNetB0, (1, 3, 32, 32)),
    "convnext": (ConvNeXt, (1, 3, 32, 32)),
    "mlp-mixer": (MLPMixer, (1, 3, 32, 32)),
    "cyclegan-generator": (ResnetGenerator, (1, 3, 32, 32)),
    "fcn8s": (FCN8s, (1, 3, 32, 32)),
    "gn-resnet": (GNResNet, (1, 3, 32, 32)),
    "erfnet": (ERFNet, (1, 3, 32, 32)),
}


def randomize_norms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random running statistics for batch norms and random affine parameters for every
    normalisation layer, so that folding and normalising change the numbers."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
            if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d, ChannelsFirstLayerNorm)) \
                    and getattr(m, "weight", None) is not None:
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return model


def build(name: str, seed: int = 0, shape: tuple[int, ...] | None = None) -> tuple[nn.Module, torch.Tensor]:
    """(model in eval mode, seeded uniform [0, 1) example input of its size, or ``shape``)."""
    cls, default = MODELS[name]
    shape = shape or default
    torch.manual_seed(seed)
    model = randomize_norms(cls(), seed).eval()
    return model, torch.rand(shape, generator=torch.Generator().manual_seed(seed + 1))
