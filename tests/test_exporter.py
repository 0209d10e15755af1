"""The generic exporter against what PyTorch itself measures (ItNet presets and the zoo).

Forward hooks on every nn.Conv2d / nn.Linear record each call's output shape and MACs
(conv: out.numel() * in_ch/groups * kh * kw; linear: out.numel() * in_features); the exported
graph, unrolled, must hold exactly that multiset of weight layers.  A small torch interpreter
of the graph format also checks that the exported graph computes the model's outputs.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from tests import zoo  # noqa: E402
from itnet_export.exporter import export, to_flat_graph  # noqa: E402
from itnet_export.presets import build_preset  # noqa: E402
from mpsim.analysis.metrics import macs_per_output, param_count, stats  # noqa: E402
from mpsim.cli.cmd_verify import compare  # noqa: E402
from mpsim.cli.main import main  # noqa: E402
from mpsim.errors import UnsupportedOperatorError  # noqa: E402
from mpsim.ir.graph import Graph  # noqa: E402
from mpsim.ir.loops import fold, unroll  # noqa: E402
from mpsim.ir.serialize import load_graph  # noqa: E402
from mpsim.ir.validate import validate  # noqa: E402


# Export once per model ---------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    trips: int | None  # trip count of the one loop; None: no loop expected
    shared: str | None  # attribute of the weight-shared module (counted once, run `trips` times)
    between_bns: int  # batch_norm nodes that must survive (per iteration for shared models)
    numerics: bool = True  # run the graph interpreter (skipped for the big preset)


CASES = {
    "itnet-tiny": Case("itnet-tiny", 4, "iterative", 2),
    "itnet-tiny-independent": Case("itnet-tiny-independent", None, None, 2 * 4),
    "itnet-camvid-shared": Case("itnet-camvid-shared", 16, "iterative", 3, numerics=False),
    "EncoderDecoder": Case("EncoderDecoder", None, None, 0),
    "ShuffleDilated": Case("ShuffleDilated", None, None, 0),
    "SharedLoopNet": Case("SharedLoopNet", 3, "block", 1),
}


@dataclass
class Exported:
    case: Case
    model: nn.Module
    example: torch.Tensor
    flat: Graph
    folded: Graph
    weights: dict
    calls: list  # (module path, output shape, MACs) of every conv/linear call
    output_shapes: list  # shapes of the model's outputs
    outputs: list | None  # the model's outputs (torch tensors), when case.numerics


@lru_cache(maxsize=None)
def exported(name: str) -> Exported:
    case = CASES[name]
    if name.startswith("itnet"):
        model, example, _ = build_preset(name)
    else:
        model, example = zoo.build(name), zoo.example_input()
    flat, weights = to_flat_graph(model, example, name=name)
    calls = []

    def hook(path):
        def fn(mod, inp, out):
            if isinstance(mod, nn.Conv2d):
                kh, kw = mod.kernel_size
                macs = out.numel() * (mod.in_channels // mod.groups) * kh * kw
            else:
                macs = out.numel() * mod.in_features
            calls.append((path, tuple(out.shape), macs))
        return fn

    # Shapes and MACs only: run a copy on the meta device (no arithmetic; the big preset's
    # forward pass would take seconds).
    meta = copy.deepcopy(model).to("meta")
    for p, m in meta.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.register_forward_hook(hook(p))
    with torch.no_grad():
        shapes = [tuple(o.shape) for o in _as_list(meta(example.to("meta")))]
    outs = None
    if case.numerics:
        with torch.no_grad():
            outs = _as_list(model(example))
    return Exported(case, model, example, flat, fold(flat), weights, calls, shapes, outs)


def _as_list(out) -> list:
    return [out] if isinstance(out, torch.Tensor) else list(out)


ALL = list(CASES)


# A reference interpreter of the graph format (torch functional) ------------------------------

def _pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def run_graph(g: Graph, weights: dict, x: torch.Tensor) -> list[torch.Tensor]:
    u = unroll(g)
    env = {u.inputs[0]: x}
    w = {k: torch.from_numpy(np.asarray(v)) for k, v in weights.items()}
    for n in u.nodes:
        a, p = n.attrs, {r: w[name] for r, name in n.params.items()}
        ins = [env[t] for t in n.inputs]
        if n.op == "conv2d":
            y = F.conv2d(ins[0], p["weight"], p.get("bias"), a["stride"], a["padding"], a["dilation"], a["groups"])
        elif n.op == "linear":
            y = F.linear(ins[0], p["weight"], p.get("bias"))
        elif n.op == "batch_norm":
            shape = (1, -1) + (1,) * (ins[0].dim() - 2)
            y = ins[0] * p["scale"].view(shape) + p["shift"].view(shape)
        elif n.op == "prelu":
            y = F.prelu(ins[0], p["weight"])
        elif n.op in ("relu", "relu6", "sigmoid", "hardswish"):
            y = {"relu": F.relu, "relu6": F.relu6, "sigmoid": torch.sigmoid, "hardswish": F.hardswish}[n.op](ins[0])
        elif n.op == "clamp":
            y = torch.clamp(ins[0], a["min"], a["max"])
        elif n.op in ("add", "mul"):
            other = ins[1] if len(ins) > 1 else a["scalar"]
            y = ins[0] + other if n.op == "add" else ins[0] * other
        elif n.op == "cat":
            y = torch.cat(ins, a["axis"])
        elif n.op == "split":
            y = torch.split(ins[0], a["sizes"], a["axis"])
        elif n.op == "reshape":
            y = ins[0].reshape(a["shape"])
        elif n.op == "permute":
            y = ins[0].permute(a["dims"])
        elif n.op == "max_pool2d":
            y = F.max_pool2d(ins[0], a["kernel"], a["stride"], a["padding"], a.get("dilation", 1),
                             a.get("ceil_mode", False))
        elif n.op == "avg_pool2d":
            y = F.avg_pool2d(ins[0], a["kernel"], a["stride"], a["padding"], a.get("ceil_mode", False),
                             a.get("count_include_pad", True))
        elif n.op == "adaptive_avg_pool2d":
            y = F.adaptive_avg_pool2d(ins[0], a["output_size"])
        elif n.op == "interpolate":
            align = a["align_corners"] if a["mode"] == "bilinear" else None
            y = F.interpolate(ins[0], size=_pair(a["size"]), mode=a["mode"], align_corners=align)
        elif n.op == "softmax":
            y = torch.softmax(ins[0], a["axis"])
        elif n.op == "mean":
            y = ins[0].mean(dim=a["axes"], keepdim=a.get("keepdim", False))
        else:  # pragma: no cover - a new op needs a line here
            raise AssertionError(f"interpreter lacks op {n.op}")
        ys = list(y) if isinstance(y, (tuple, list)) else [y]
        for t, v in zip(n.outputs, ys):
            assert tuple(v.shape) == u.tensors[t].shape, (n.name, t)
            env[t] = v
    return [env[o.tensor] for o in sorted(u.outputs, key=lambda o: o.index)]


# Shapes, MACs, loops ----------------------------------------------------------------------------

def _weight_layers(g: Graph, with_module: bool) -> Counter:
    u = unroll(g)
    return Counter(((n.module,) if with_module else ()) + (u.tensors[n.outputs[0]].shape, n.macs)
                   for n in u.nodes if n.op in ("conv2d", "linear"))


@pytest.mark.parametrize("name", ALL)
def test_weight_layers_match_forward_hooks(name):
    e = exported(name)
    assert e.calls, "the model has no conv/linear layers?"
    # Folded graph, unrolled: (output shape, MACs) of every call.
    assert _weight_layers(e.folded, False) == Counter((s, m) for _, s, m in e.calls)
    # The flat export also names the module of every call.
    assert _weight_layers(e.flat, True) == Counter(e.calls)


@pytest.mark.parametrize("name", ALL)
def test_total_macs_and_output_shapes(name):
    e = exported(name)
    total = sum(m for _, _, m in e.calls)
    u = unroll(e.folded)
    assert sum(n.macs for n in u.nodes) == total
    assert sum(n.macs for n in e.flat.nodes) == total
    per, cum = macs_per_output(e.folded)
    assert (per, cum) == macs_per_output(e.flat)
    assert len(per) == len(e.output_shapes)
    if len(per) == 1:
        assert per == cum == [total]
    shapes = [u.tensors[o.tensor].shape for o in sorted(e.folded.outputs, key=lambda o: o.index)]
    assert shapes == e.output_shapes


def test_itnet_dead_down_conv_is_outside_every_output():
    """ItNet's last iteration also runs the down-sampling convolution into the coarse scale,
    which no output reads: the graph holds it (torch runs it) but no output's MACs count it."""
    e = exported("itnet-tiny")
    total = sum(m for _, _, m in e.calls)
    _, cum = macs_per_output(e.folded)
    assert total - cum[-1] == 768 * 12 * 9  # 12x8x8 output, 12 in-channels, 3x3


@pytest.mark.parametrize("name", ALL)
def test_folding_finds_the_loops(name):
    e = exported(name)
    validate(e.flat)
    validate(e.folded)
    if e.case.trips is None:
        assert e.folded.loops == ()
        assert e.folded == e.flat
    else:
        assert len(e.folded.loops) == 1
        assert e.folded.loops[0].trip_count == e.case.trips
        assert fold(unroll(e.folded)) == e.folded


def _expected_params(model: nn.Module) -> int:
    """model.parameters() (shared modules once), minus the affine parameters of each batch norm
    folded into its convolution, plus the bias that folding gives a bias-free convolution.
    Between-iteration batch norms keep 2C numbers (gamma, beta -> scale, shift)."""
    total = sum(p.numel() for p in model.parameters())
    for conv, bn in zoo.folded_conv_bn_pairs(model):
        total -= bn.weight.numel() + bn.bias.numel()
        if conv.bias is None:
            total += conv.out_channels
    return total


@pytest.mark.parametrize("name", ALL)
def test_params_count_shared_weights_once(name):
    e = exported(name)
    expected = _expected_params(e.model)
    assert param_count(e.folded) == param_count(e.flat) == expected
    assert sum(int(np.prod(a.shape)) for a in e.weights.values()) == expected
    # Per node, a shared weight counts once per iteration that reads it.
    per_node = sum(n.param_count for n in unroll(e.folded).nodes)
    shared = sum(p.numel() for p in getattr(e.model, e.case.shared).parameters()) if e.case.shared else 0
    assert per_node == expected + ((e.case.trips or 1) - 1) * shared


def test_params_pinned():
    # itnet-tiny (f=12, hidden=40, L=2, N=4, 11 classes), batch norms folded where they follow a conv:
    #   data block: 3*12*9 + 12 + 2 * (12*12*9 + 12)                       =  2952
    #   iterative block (shared): 2 scales x (12*40+40 + 40*9+40 + 40*12+12) = 2824,
    #     + down 12*12*9+12 + up 12*12+12                                   =  4288
    #   between-iteration BN: 4 iterations x 2 scales x (12 + 12)          =   192
    #   heads: 4 x (12*11*9 + 11)                                           =  4796   -> 12228
    assert param_count(exported("itnet-tiny").folded) == 12228
    # SharedLoopNet (ch=8, 5 classes, 3 iterations):
    #   stem 3*8*9 + 8 (folded bias) = 224; block 8*16+16 + 16/2*8*9+8 = 728;
    #   BN 3 x 16 = 48; heads 3 x (8*5+5) = 135                           -> 1135
    assert param_count(exported("SharedLoopNet").folded) == 1135


@pytest.mark.parametrize("name", ALL)
def test_batch_norm_folding(name):
    e = exported(name)
    bns = [n for n in e.folded.nodes if n.op == "batch_norm"]
    assert len(bns) == e.case.between_bns
    for n in bns:
        assert set(n.params) == {"scale", "shift"}
        if e.case.trips is None:
            assert not e.folded.weight_groups
        else:  # between-iteration BN: a weight group with one member per iteration
            assert e.folded.loop_of.get(n.name) == e.folded.loops[0].name
            for ref in n.params.values():
                members = e.folded.weight_groups[ref]
                assert len(members) == e.case.trips == len(set(members))


def test_folded_batch_norm_values():
    """Each folded conv+BN computes what conv followed by BN computes in torch."""
    e = exported("EncoderDecoder")
    pairs = zoo.folded_conv_bn_pairs(e.model)
    assert len(pairs) == 6
    names = {m: p for p, m in e.model.named_modules()}
    seen = {}
    hooks = [conv.register_forward_hook(lambda m, i, o: seen.__setitem__(("in", m), i[0])) for conv, _ in pairs]
    hooks += [bn.register_forward_hook(lambda m, i, o: seen.__setitem__(("out", m), o)) for _, bn in pairs]
    with torch.no_grad():
        e.model(e.example)
    for h in hooks:
        h.remove()
    for conv, bn in pairs:
        node = e.folded.node_by_name[names[conv]]
        w = torch.from_numpy(e.weights[node.params["weight"]])
        b = torch.from_numpy(e.weights[node.params["bias"]])
        got = F.conv2d(seen[("in", conv)], w, b, conv.stride, conv.padding, conv.dilation, conv.groups)
        torch.testing.assert_close(got, seen[("out", bn)], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", [n for n in ALL if CASES[n].numerics])
def test_graph_computes_the_model(name):
    """The numba executor on every architecture here: max abs error <= 1e-4, argmax >= 99.99 %."""
    e = exported(name)
    got = run_graph(e.folded, e.weights, e.example)
    assert len(got) == len(e.outputs)
    for row in compare([np.asarray(a) for a in got], [np.asarray(b) for b in e.outputs]):
        assert row["max_abs_err"] <= 1e-4 and row["argmax_agreement"] >= 0.9999, row


# Exporter corner cases ------------------------------------------------------------------------

@pytest.mark.parametrize("model, headline", [
    ("Unsupported", "1 unsupported operator(s), 1 occurrence(s): aten.cumsum.default x1 (first at features.1)"),
    ("UnsupportedMany", "2 unsupported operator(s), 3 occurrence(s): aten.flip.default x2 (first at decoder.1); "
                        "aten.cumsum.default x1 (first at head)"),
])
def test_unsupported_operator_names_op_count_and_module(model, headline):
    """One line: each distinct op with its namespace, count and first module; every
    occurrence on the error for --json."""
    with pytest.raises(UnsupportedOperatorError) as info:
        to_flat_graph(zoo.build(model), zoo.example_input())
    msg = str(info.value)
    assert msg.startswith(headline) and "\n" not in msg
    assert len(info.value.occurrences) == int(headline.split(", ")[1].split()[0])
    if model == "UnsupportedMany":
        assert [(o["op"], o["module"]) for o in info.value.occurrences] == [
            ("aten.flip.default", "decoder.1"), ("aten.flip.default", "decoder.3"), ("aten.cumsum.default", "head")]


def test_failed_export_leaves_nothing_behind(tmp_path):
    """The reference outputs are written while the graph is traced; when tracing fails, no file
    (nor a new, empty folder) is left, and an earlier export in the folder stays whole."""
    with pytest.raises(UnsupportedOperatorError):
        export(zoo.build("Unsupported"), zoo.example_input(), tmp_path / "new")
    assert not (tmp_path / "new").exists()
    old = tmp_path / "old"
    export(zoo.build("EncoderDecoder"), zoo.example_input(), old)
    before = {f.name: f.read_bytes() for f in old.iterdir()}
    with pytest.raises(UnsupportedOperatorError):
        export(zoo.build("Unsupported"), zoo.example_input(), old)
    assert {f.name: f.read_bytes() for f in old.iterdir()} == before
    assert sorted(before) == ["graph.json", "reference.npz", "weights.npz"]


class _SharedBN(nn.Module):
    """A shared block whose own batch norm runs every iteration (same module each time)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 1)
        self.block = nn.Sequential(nn.Conv2d(4, 4, 3, 1, 1), nn.BatchNorm2d(4), nn.ReLU())

    def forward(self, x):
        x = torch.relu(self.stem(x))
        outs = []
        for _ in range(3):
            x = self.block(x)
            outs.append(x)
        return outs


def test_batch_norm_module_reused_is_one_weight():
    model = zoo.randomize_bn(_SharedBN()).eval()
    x = zoo.example_input(shape=(1, 3, 8, 8))
    flat, weights = to_flat_graph(model, x)
    g = fold(flat)
    # The BN follows a shared conv, so it stays a node; its scale/shift are one weight each.
    assert sum(n.op == "batch_norm" for n in flat.nodes) == 3
    assert param_count(g) == sum(p.numel() for p in model.parameters()) == 4 * 3 + 4 + 4 * 4 * 9 + 4 + 8
    assert len(g.loops) == 1 and g.loops[0].trip_count == 3 and not g.weight_groups
    for a, b in zip(run_graph(g, weights, x), model(x)):
        torch.testing.assert_close(a, b.detach(), rtol=1e-4, atol=1e-5)


class _ConvAlsoOutput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        y = self.conv(x)
        return y, self.bn(y)


def test_batch_norm_not_folded_into_a_conv_whose_output_is_returned():
    model = zoo.randomize_bn(_ConvAlsoOutput()).eval()
    x = zoo.example_input(shape=(1, 3, 8, 8))
    g, weights = to_flat_graph(model, x)
    assert [n.op for n in g.nodes] == ["conv2d", "batch_norm"]
    for a, b in zip(run_graph(g, weights, x), model(x)):
        torch.testing.assert_close(a, b.detach(), rtol=1e-4, atol=1e-5)


# Files and the CLI ----------------------------------------------------------------------------

def test_export_writes_files_that_round_trip(tmp_path):
    model, x = zoo.build("SharedLoopNet"), zoo.example_input()
    g = export(model, x, tmp_path / "out", name="shared-loop")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["graph.json", "reference.npz", "weights.npz"]
    assert load_graph(tmp_path / "out") == g
    assert load_graph(tmp_path / "out" / "graph.json") == g
    with np.load(tmp_path / "out" / "weights.npz") as w:
        assert set(w.files) == set(g.weights)
        for k in w.files:
            assert w[k].shape == g.weights[k].shape
    with np.load(tmp_path / "out" / "reference.npz") as r:
        assert set(r.files) == {"input", "output_1", "output_2", "output_3"}
        np.testing.assert_array_equal(r["input"], x.numpy())
        u = unroll(g)
        for o in g.outputs:
            assert r[f"output_{o.index}"].shape == u.tensors[o.tensor].shape


TINY_STATS = {
    "params": 12228,
    "macs_per_output": [1482240, 1996800, 2511360, 3025920],
    "macs_cumulative": [1482240, 2300928, 3119616, 3938304],
    "graph_size_bytes": {"folded": 503824, "unrolled": 1397008},
    "depth_per_output": [8, 11, 16, 19],
    "state_bytes": 15360,
}
# Hand check of the less obvious figures (f=12, hidden=40, 64x64 input; scale 0 is 16x16, scale 1 8x8):
#   per-iteration conv MACs: scale 0 bottleneck 337920, scale 1 84480, up 9216, down 82944,
#   head 304128; data block 746496.  m_1 = data + both bottlenecks + up + head = 1482240;
#   each further m_n adds one iteration (431616 + down 82944) = +514560.
#   depth: data 2 (+1 coarse); iteration 1: scale 0 = max(2+3, 3+3+1) = 7, head -> 8; then +3 / +5.
#   state: 12x16x16 + 12x8x8 floats = 3840 x 4 = 15360 bytes.


def test_cli_export_then_stats(tiny_dir, tmp_path, capsys):
    assert sorted(p.name for p in tiny_dir.iterdir()) == ["graph.json", "reference.npz", "weights.npz"]
    out = tmp_path / "stats.json"
    assert main(["stats", str(tiny_dir), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == "mpsim.stats/1" and doc["graph"] == "itnet-tiny"
    data = {k: doc[k] for k in TINY_STATS}
    assert data == TINY_STATS
    assert "12,228" in capsys.readouterr().out
    g = load_graph(tiny_dir)
    assert {k: stats(g)[k] for k in TINY_STATS} == TINY_STATS
    # The CLI export and the in-process export of the same preset agree.
    mine = exported("itnet-tiny").folded
    assert (g.nodes, g.loops, g.tensors, g.weights, g.weight_groups) == (
        mine.nodes, mine.loops, mine.tensors, mine.weights, mine.weight_groups)


def test_cli_reference_matches_graph(tiny_dir):
    g = load_graph(tiny_dir)
    with np.load(tiny_dir / "weights.npz") as w:
        weights = {k: w[k] for k in w.files}
    with np.load(tiny_dir / "reference.npz") as r:
        x = torch.from_numpy(r["input"])
        refs = [r[f"output_{i + 1}"] for i in range(len(g.outputs))]
    for a, b in zip(run_graph(g, weights, x), refs):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-4, atol=1e-4)


def test_cli_export_unknown_preset_is_one_line(tmp_path, capsys):
    assert main(["export", "--preset", "no-such-net", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-net" in err and "Traceback" not in err
