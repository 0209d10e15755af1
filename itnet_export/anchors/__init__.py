"""Anchor models: the networks that published silicon measurements ran, for validating mpsim.

Each is a preset (``mpsim export --preset NAME``) and a built-in graph (``mpsim run --model
NAME``).  docs/anchors.md gives each model's source, published counts and the choices made
where the source is silent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch.nn as nn

from itnet_export.anchors.chipnets import TrueNorthCifarNet, YaoMnistCNN
from itnet_export.anchors.mobilenet import MobileNetV2
from itnet_export.anchors.resnet import ResNet9, resnet18, resnet50, resnext101_32x4d

IMAGENET = (1, 3, 224, 224)
CIFAR = (1, 3, 32, 32)


@dataclass(frozen=True)
class Anchor:
    build: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    source: str
    # The number formats the measured chip ran the network at (the graph itself is float).
    intended_precision: dict = field(default_factory=dict)

    def meta(self, name: str) -> dict:
        meta = {"preset": name, "family": "anchor", "source": self.source}
        if self.intended_precision:
            meta["intended_precision"] = dict(self.intended_precision)
        return meta


ANCHORS: dict[str, Anchor] = {
    "resnet18": Anchor(resnet18, IMAGENET, "He et al. 2016; torchvision resnet18"),
    "resnet50": Anchor(resnet50, IMAGENET, "ResNet-50 v1.5: torchvision resnet50, NVIDIA DeepLearningExamples"),
    "resnext101": Anchor(resnext101_32x4d, IMAGENET, "ResNeXt-101 32x4d: Xie et al. 2017; torchvision's ResNeXt rule"),
    "mobilenetv2": Anchor(MobileNetV2, IMAGENET, "MobileNetV2 1.0: Sandler et al. 2018; torchvision mobilenet_v2"),
    "mnist-cnn-yao": Anchor(
        YaoMnistCNN, (1, 1, 28, 28), "Yao et al. 2020, Nature 577:641 (five-layer memristor CNN, MNIST)",
        {"weights": "15 levels (differential pairs of 8-level memristors)", "activations": "8-bit inputs"}),
    "truenorth-cifar10": Anchor(
        TrueNorthCifarNet, CIFAR, "Esser et al. 2016, PNAS 113:11441, Table 1 (1-chip CIFAR-10 network)",
        {"weights": "trinary (-1, 0, 1)", "activations": "binary spikes (0, 1)"}),
    "resnet9-cifar10": Anchor(
        ResNet9, CIFAR, "DAWNBench ResNet-9 (Myrtle.ai, Page 2018), standing in for Le Gallo et al. 2023's ResNet-9"),
}
