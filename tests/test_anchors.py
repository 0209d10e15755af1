"""The anchor models (docs/anchors.md) against their published counts and an independent count.

Published figures: parameters as PyTorch counts them (weights, biases, batch-norm gamma and
beta; running statistics excluded), exact; MACs as the multiply-accumulates of conv2d and
linear layers (mpsim's convention, fvcore's for these layers), within 0.5 % of the rounded
published figure.  The built-in graphs (mpsim/models/NAME.json, what ``mpsim run`` uses) must
hold exactly what forward hooks on the PyTorch model count, and fold every batch norm into
its convolution (gamma and beta become one bias per channel).
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402

from itnet_export.anchors import ANCHORS  # noqa: E402
from itnet_export.anchors.chipnets import TRUENORTH_LAYERS  # noqa: E402
from itnet_export.builtin import BUILTIN_PRESETS  # noqa: E402
from itnet_export.exporter import to_graph  # noqa: E402
from itnet_export.presets import build_preset, preset_names  # noqa: E402
from mpsim.analysis.metrics import stats  # noqa: E402
from mpsim.cli.cmd_verify import compare  # noqa: E402
from mpsim.cli.main import main  # noqa: E402
from mpsim.exec.executor import run_graph  # noqa: E402
from mpsim.models import resolve_model  # noqa: E402

# name: (published parameters or None, published MACs or None)
PUBLISHED = {
    "resnet18": (11_689_512, 1.814e9),  # torchvision; fvcore 1.814e9
    "resnet50": (25_557_032, 4.09e9),  # torchvision ResNet-50 v1.5; fvcore 4.09e9
    "resnext101": (44_177_704, 7.99e9),  # ResNeXt-101 32x4d: 44.18 M parameters, 7.99 G MACs
    "mobilenetv2": (3_504_872, 300.8e6),  # torchvision mobilenet_v2; 300.8 M MACs
    "mnist-cnn-yao": (2_856, None),  # 936 conv weights (Yao 2020, Ext. Data Fig. 7) + FC 192 x 10
    "truenorth-cifar10": (None, None),
    "resnet9-cifar10": (None, None),
}

# Exact golden figures of the built-in graphs: (MACs, parameters after batch-norm folding).
GOLDEN = {
    "resnet18": (1_814_073_344, 11_684_712),
    "resnet50": (4_089_184_256, 25_530_472),
    "resnext101": (7_969_996_800, 44_108_776),
    "mobilenetv2": (300_774_272, 3_487_816),
    "mnist-cnn-yao": (92_928, 2_856),
    "truenorth-cifar10": (36_667_392, 1_324_228),
    "resnet9-cifar10": (379_261_952, 6_570_880),
}


@lru_cache(maxsize=None)
def torch_model(name: str):
    model, example, meta = build_preset(name)
    return model, example, meta


def hook_macs(model: nn.Module, example: torch.Tensor) -> tuple[int, int]:
    """(MACs, weight layers) of one forward pass, counted by hooks on a meta-device copy."""
    total, layers = [0], [0]

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            kh, kw = mod.kernel_size
            total[0] += out.numel() * (mod.in_channels // mod.groups) * kh * kw
        else:
            total[0] += out.numel() * mod.in_features
        layers[0] += 1

    meta = copy.deepcopy(model).to("meta")
    for m in meta.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.register_forward_hook(hook)
    with torch.no_grad():
        meta(example.to("meta"))
    return total[0], layers[0]


def test_every_anchor_is_a_preset_and_a_builtin():
    assert set(ANCHORS) == set(PUBLISHED) == set(GOLDEN)
    assert set(ANCHORS) <= set(preset_names()) and set(ANCHORS) <= set(BUILTIN_PRESETS)
    for name in ANCHORS:
        g = resolve_model(name)  # torch-free: the shipped JSON
        assert g.name == name and g.meta["family"] == "anchor" and g.meta["source"]


@pytest.mark.parametrize("name", sorted(ANCHORS))
def test_parameters_equal_the_published_count(name):
    model, _, _ = torch_model(name)
    published, _ = PUBLISHED[name]
    n = sum(p.numel() for p in model.parameters())
    if published is not None:
        assert n == published
    # The graph folds each batch norm into its convolution: gamma and beta become one bias.
    bn_channels = sum(m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert stats(resolve_model(name))["params"] == n - bn_channels == GOLDEN[name][1]


@pytest.mark.parametrize("name", sorted(ANCHORS))
def test_macs_equal_hooks_and_the_published_count(name):
    model, example, _ = torch_model(name)
    macs, layers = hook_macs(model, example)
    g = resolve_model(name)
    assert stats(g)["macs_per_output"] == [macs] == [GOLDEN[name][0]]
    assert sum(1 for n in g.nodes if n.op in ("conv2d", "linear")) == layers
    _, published = PUBLISHED[name]
    if published is not None:
        assert abs(macs / published - 1) <= 0.005


def test_resnet50_is_v1_5():
    """The stride sits on each stage's first 3x3 convolution (v1 puts it on the 1x1): the MACs
    differ by the 1x1 reductions run at full resolution, so 4.09 G pins v1.5."""
    g = resolve_model("resnet50")
    strided = {n.name: n.attrs["stride"] for n in g.nodes if n.op == "conv2d" and n.attrs["stride"] != [1, 1]}
    assert strided == {"conv1": [2, 2],
                       **{f"layer{i}.0.conv2": [2, 2] for i in (2, 3, 4)},
                       **{f"layer{i}.0.downsample.0": [2, 2] for i in (2, 3, 4)}}


def test_yao_cnn_follows_the_published_layers():
    g = resolve_model("mnist-cnn-yao")
    convs = [n for n in g.nodes if n.op == "conv2d"]
    assert [tuple(g.weights[n.params["weight"]].shape) for n in convs] == [(8, 1, 3, 3), (12, 8, 3, 3)]
    assert sum(g.weights[n.params["weight"]].numel for n in convs) == 936
    fc = next(n for n in g.nodes if n.op == "linear")
    assert g.tensors[fc.inputs[0]].shape == (1, 192) and g.tensors[fc.outputs[0]].shape == (1, 10)


def test_truenorth_layers_fit_a_core():
    """Every filter on one core: fan-in <= 128 (two axons per trinary weight), <= 256 neurons."""
    g = resolve_model("truenorth-cifar10")
    convs = [n for n in g.nodes if n.op == "conv2d"]
    assert len(convs) == len(TRUENORTH_LAYERS) == 15
    for n in convs:
        cout, cin_g, kh, kw = g.weights[n.params["weight"]].shape
        assert cin_g * kh * kw <= 128 and cout // n.attrs["groups"] <= 256, n.name
    assert g.tensors[convs[-1].outputs[0]].shape == (1, 2040, 2, 2)
    assert g.meta["intended_precision"] == {"weights": "trinary (-1, 0, 1)", "activations": "binary spikes (0, 1)"}


@pytest.mark.parametrize("name", ["mnist-cnn-yao", "truenorth-cifar10", "resnet9-cifar10", "mobilenetv2", "resnet18"])
def test_graph_computes_the_model(name):
    """The numba executor on the exported graph reproduces PyTorch (ceil-mode pooling, grouped
    and depthwise convolutions, clamp, the class-population readout)."""
    model, example, meta = torch_model(name)
    g, weights = to_graph(model, example, name, meta)
    with torch.no_grad():
        ref = model(example).numpy()
    (row,) = compare(run_graph(g, weights, example.numpy()), [ref])
    assert row["max_abs_err"] <= 1e-4 and row["argmax_agreement"] == 1.0, row


def test_stats_cli_takes_a_builtin_name(tmp_path, capsys):
    out = tmp_path / "stats.json"
    assert main(["stats", "resnet50", "--json", str(out)]) == 0
    s = json.loads(out.read_text())
    assert s["macs_per_output"] == [4_089_184_256] and s["params"] == 25_530_472
    assert s["depth_per_output"] == [50]
    assert main(["stats", "resnet5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no model 'resnet5'" in err


def test_export_cli_writes_an_anchor(tmp_path):
    out = tmp_path / "yao"
    assert main(["export", "--preset", "mnist-cnn-yao", "--out", str(out)]) == 0
    assert main(["verify", str(out)]) == 0
    assert json.loads((out / "graph.json").read_text())["meta"]["intended_precision"]["activations"] == "8-bit inputs"
    assert np.load(out / "reference.npz")["output_1"].shape == (1, 10)
