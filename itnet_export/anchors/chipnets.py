"""Networks that measured chips ran: Yao et al. 2020's MNIST CNN and an Esser et al. 2016 TrueNorth CIFAR-10 net.

Each class docstring names its source and every choice made where the source is silent
(docs/anchors.md repeats them).  The graphs are float; the precision each chip ran at is in
``INTENDED_PRECISION`` (exported into the graph's ``meta``) for the simulator's numerics.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class YaoMnistCNN(nn.Module):
    """The five-layer memristor CNN of Yao et al. 2020 (Nature 577:641), MNIST 28x28.

    Published (Fig. 2a and Methods as summarised from the full text: C1 1x3x3x8, C3 8x3x3x12,
    two pooling layers, FC 192x10, 8-bit inputs as pulse trains, weights as 15-level
    differential conductance pairs; Extended Data Fig. 7 caption: 936 convolution weights =
    8 x 1 x 3 x 3 + 12 x 8 x 3 x 3).  So C1 -> 8@26x26 on a 28x28 image and 192 = 12 x 4 x 4.

    Assumptions (not found in the sources read):
    * pooling is max pooling, 3x3 stride 3 after C1 (26 -> 9) and 2x2 stride 2 after C3
      (7 -> 4), both with ceil mode: the one split that gives the published 192 FC inputs and
      divides the 9 pooled rows into the three equal parts the paper's three replicated C1
      convolvers process (the other, 2x2 then 3x3, leaves 13 rows);
    * ReLU after C1 and C3 (the ARM core applies the activation; its type is not given);
    * no biases: the 936 + 1,920 weights are all conductances in the arrays.
    """

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, bias=False)
        self.s2 = nn.MaxPool2d(3, 3, ceil_mode=True)
        self.c3 = nn.Conv2d(8, 12, 3, bias=False)
        self.s4 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.fc = nn.Linear(192, 10, bias=False)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.s2(self.relu(self.c1(x)))
        x = self.s4(self.relu(self.c3(x)))
        return self.fc(torch.flatten(x, 1))


# (features, kernel, stride, groups) of each layer: Esser et al. 2016, Table 1, the 1-chip CIFAR-10 net.
TRUENORTH_LAYERS = (
    (12, 3, 1, 1),
    (252, 4, 2, 2),
    (256, 1, 1, 2),
    (256, 2, 2, 8),
    (512, 3, 1, 32),
    (512, 1, 1, 4),
    (512, 1, 1, 4),
    (512, 2, 2, 16),
    (1024, 3, 1, 64),
    (1024, 1, 1, 8),
    (1024, 1, 1, 8),
    (1024, 2, 2, 32),
    (1024, 1, 1, 8),
    (1024, 1, 1, 8),
    (2040, 1, 1, 8),
)


class TrueNorthCifarNet(nn.Module):
    """A TrueNorth CIFAR-10 network after Esser et al. 2016 (PNAS 113:11441), 32x32x3 input.

    Fifteen convolution layers with the (features, kernel, stride, groups) of
    ``TRUENORTH_LAYERS``; pooling is a strided 2x2 convolution (TrueNorth has no pooling
    unit).  Groups keep every filter on one core: fan-in (in/groups x k x k) <= 128 because a
    trinary weight uses two of a core's 256 axons, and features per group <= 256 neurons
    (the last layer's 2040 = 8 x 255).  Deployed, weights are trinary (-1, 0, 1) and
    activations binary spikes; here they are float, with clamp(x, 0, 1) standing for the
    binary threshold (its training surrogate) and a folded batch norm for each neuron's
    threshold/leak.  Readout: the 2040 output features are split evenly over the 10 classes
    (204 each) and averaged with the spatial positions, as Esser's class-population vote.

    Assumptions: padding k // 2 (4x4 stride 2 and 2x2 stride 2 with padding 1 and 0 keep the
    halvings exact: 32 -> 16 -> 8 -> 4 -> 2); the 1-chip column of the table; the layer table
    was taken from the paper as recalled, and could not be re-read in the stored copies
    (docs/anchors.md says what to check).
    """

    def __init__(self, num_classes: int = 10, layers=TRUENORTH_LAYERS) -> None:
        super().__init__()
        blocks, cin = [], 3
        for features, k, s, g in layers:
            pad = 1 if k == 4 else k // 2 if k % 2 else 0
            blocks.append(nn.Sequential(nn.Conv2d(cin, features, k, s, pad, groups=g, bias=False),
                                        nn.BatchNorm2d(features)))
            cin = features
        self.layers = nn.ModuleList(blocks)
        self.num_classes = num_classes
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = torch.clamp(layer(x), 0.0, 1.0)
        x = torch.flatten(self.pool(x), 1)
        return x.reshape(x.shape[0], self.num_classes, -1).mean(2)
