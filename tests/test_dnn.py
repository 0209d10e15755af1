"""The doubly nested network (itnet_export.dnn, ``mpsim dnn``, ``mpsim export --subnet``).

Causality of the channel-causal convolutions, exact extraction of sub-networks, the joint
loss, the CIFAR-10 / SVHN loaders on fixture files in the official formats, the resource maps
(golden values, monotonicity, agreement with exported graphs), the budget choice, the catalog
and the CLI.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from itnet_export.dnn import data as dnn_data  # noqa: E402
from tests.zoo import randomize_bn  # noqa: E402
from itnet_export.dnn.budget import best_under_budget  # noqa: E402
from itnet_export.dnn.catalog import catalog  # noqa: E402
from itnet_export.dnn.model import (CausalConv2d, DNNConfig, DoublyNestedNet, causal_mask, joint_loss,  # noqa: E402
                                    lambda_grid)
from itnet_export.dnn.resources import KEYS, graph_resources, resource_maps, subnet_resources  # noqa: E402
from itnet_export.exporter import to_flat_graph  # noqa: E402
from mpsim.cli.main import main  # noqa: E402
from mpsim.errors import MpsimError  # noqa: E402
from mpsim.ir.serialize import load_graph  # noqa: E402
from mpsim.ir.validate import validate  # noqa: E402

CIFAR = DNNConfig()
TINY = DNNConfig(groups=4, group_channels=(1, 2, 4), blocks_per_stage=1, input_size=(16, 16))
SUBNETS = [(1, 1), (1, 22), (2, 5), (6, 7), (7, 22), (12, 3), (14, 12), (16, 1), (16, 22)]

# Pinned resource-map entries at 32x32x3 (dense MACs, exported-form params, float32 bytes).
GOLDEN = {
    (1, 1): (27_658, 48, 4_096),
    (16, 22): (130_460_528, 879_218, 90_112),
    (5, 22): (36_292_828, 35_870, 90_112),
    (14, 12): (33_657_312, 179_242, 49_152),
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small batches: one torch thread is as fast as two, and far faster on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return randomize_bn(DoublyNestedNet(CIFAR)).eval()


@pytest.fixture(scope="module")
def x():
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def all_logits(net, x):
    with torch.no_grad():
        return net(x)


# Model -------------------------------------------------------------------------------------

def test_config_shape():
    assert CIFAR.depth == 16 and CIFAR.groups == 22
    assert CIFAR.widths == [22, 44, 88]
    assert [CIFAR.depth_group_channels(l) for l in (1, 6, 7, 11, 12, 16)] == [1, 1, 2, 2, 4, 4]


def test_causal_mask_is_block_lower_triangular():
    m = causal_mask(3, 2, 1)[:, :, 0, 0]
    assert m.tolist() == [[1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]]
    assert causal_mask(3, 2, 1, causal=False).min() == 1


def test_causal_conv_ignores_later_groups_and_gradients_stay_causal():
    torch.manual_seed(0)
    conv = CausalConv2d(5, 2, 3, 3, stride=2)
    x = torch.randn(2, 10, 8, 8)
    for c in range(1, 5):
        x2 = x.clone()
        x2[:, 2 * c:] = torch.randn_like(x2[:, 2 * c:]) * 5  # groups > c change
        y, y2 = conv(x), conv(x2)
        assert torch.equal(y[:, :3 * c], y2[:, :3 * c])
        assert not torch.allclose(y[:, 3 * c:], y2[:, 3 * c:])
    conv(x).sum().backward()
    assert torch.all(conv.weight.grad[conv.mask.expand_as(conv.weight) == 0] == 0)
    assert "mask" in dict(conv.named_buffers()) and "mask" not in dict(conv.named_parameters())


def test_network_causality(net, x):
    """Perturb channel groups > c of a block's output: groups <= c downstream and every
    output (l, c') with c' <= c stay exactly the same."""
    c, at = 7, 4  # perturb the output of block 4 (output location 5)
    g = CIFAR.depth_group_channels(at + 1)

    def perturb(mod, inp, out):
        out = out.clone()
        out[:, c * g:] += 3.0 * torch.randn_like(out[:, c * g:])
        return out

    h = net.blocks[at - 1].register_forward_hook(perturb)
    try:
        with torch.no_grad():
            changed = net(x)
            feats_changed = net.features(x)
    finally:
        h.remove()
    with torch.no_grad():
        base = net(x)
        feats = net.features(x)
    assert torch.equal(changed[:, :, :c], base[:, :, :c])
    assert not torch.allclose(changed[:, at:, c:], base[:, at:, c:])
    for l in range(at + 1, CIFAR.depth + 1):
        k = c * CIFAR.depth_group_channels(l)
        assert torch.equal(feats_changed[l - 1][:, :k], feats[l - 1][:, :k])


def test_all_logits_match_selected_outputs(net, x, all_logits):
    assert all_logits.shape == (3, 16, 22, 10)
    outs = net(x, subnets=SUBNETS)
    for (l, c), o in zip(SUBNETS, outs):
        torch.testing.assert_close(o, all_logits[:, l - 1, c - 1], atol=1e-5, rtol=1e-5)


def test_output_is_average_of_group_fcs(net, x, all_logits):
    l, c = 9, 5
    with torch.no_grad():
        p = net.features(x, l)[-1].mean((2, 3)).reshape(3, 22, -1)
        fcs = [p[:, k] @ net.head_weight[l - 1][k].T + net.head_bias[l - 1][k] for k in range(c)]
    torch.testing.assert_close(torch.stack(fcs).mean(0), all_logits[:, l - 1, c - 1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("l,c", SUBNETS)
def test_extract_equals_full_network(net, x, all_logits, l, c):
    sub = net.extract(l, c)
    assert not sub.training
    with torch.no_grad():
        y = sub(x)
    assert torch.allclose(y, all_logits[:, l - 1, c - 1], atol=1e-5)
    n_params = sum(p.numel() for p in sub.parameters())
    assert n_params <= sum(p.numel() for p in net.parameters())
    assert len(sub.blocks) == l - 1
    assert sub.stem.conv.out_channels == c * CIFAR.group_channels[0]


def test_extract_of_plain_network_is_brute_force_slicing():
    """Without causal masks the slice differs from the full network's (l, c) output."""
    torch.manual_seed(0)
    plain = randomize_bn(DoublyNestedNet(CIFAR.with_(causal=False))).eval()
    xx = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        full = plain(xx)
        assert torch.allclose(plain.extract(16, 22)(xx), full[:, -1, -1], atol=1e-5)
        assert not torch.allclose(plain.extract(16, 8)(xx), full[:, -1, 7], atol=1e-3)


def test_extract_rejects_out_of_grid(net):
    for l, c in [(0, 1), (17, 1), (1, 0), (1, 23)]:
        with pytest.raises(MpsimError, match="outside the 16 x 22 grid"):
            net.extract(l, c)


def test_joint_loss_weighted_mean_of_cross_entropies():
    torch.manual_seed(0)
    logits = torch.randn(5, 4, 3, 7)
    y = torch.randint(0, 7, (5,))
    ce = torch.stack([torch.stack([F.cross_entropy(logits[:, l, c], y) for c in range(3)]) for l in range(4)])
    torch.testing.assert_close(joint_loss(logits, y), ce.mean())
    lam = torch.rand(4, 3)
    torch.testing.assert_close(joint_loss(logits, y, lam), (lam * ce).sum() / lam.sum())
    last = lambda_grid(DNNConfig(groups=3, blocks_per_stage=1), "last")
    torch.testing.assert_close(joint_loss(logits, y, last), ce[-1, -1])
    with pytest.raises(MpsimError):
        lambda_grid(CIFAR, "nope")


def test_training_is_seeded_and_deterministic():
    from itnet_export.dnn.train import Normalizer, TrainConfig, evaluate_grid, train_dnn

    data = dnn_data.load_digits32("train").subset(48)
    norm = Normalizer.fit(data)
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        m = DoublyNestedNet(TINY)
        hist = train_dnn(m, data, norm, TrainConfig(epochs=1, batch_size=16, seed=3), log=None)
        runs.append((hist, evaluate_grid(m, data.subset(16), norm), m.state_dict()))
    assert runs[0][0] == runs[1][0]
    assert np.array_equal(runs[0][1], runs[1][1]) and runs[0][1].shape == (4, 4)
    assert all(torch.equal(runs[0][2][k], runs[1][2][k]) for k in runs[0][2])


def test_checkpoint_round_trip_and_export(tmp_path):
    from itnet_export.dnn.train import load_dnn, save_dnn

    torch.manual_seed(5)
    m = randomize_bn(DoublyNestedNet(CIFAR), 5).eval()
    path = tmp_path / "dnn.pt"
    save_dnn(path, m, epoch=3, metrics={"acc": 0.5})
    m2 = load_dnn(path)
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), m2.state_dict().values()))
    out = tmp_path / "sub"
    assert main(["export", "--preset", "dnn-cifar10", "--subnet", "3,4", "--checkpoint", str(path),
                 "--out", str(out)]) == 0
    ref = np.load(out / "reference.npz")
    with torch.no_grad():
        want = m.extract(3, 4)(torch.from_numpy(ref["input"]))
    np.testing.assert_allclose(ref["output_1"], want.numpy(), atol=1e-5)
    with pytest.raises(MpsimError, match="does not match"):
        load_dnn(path, DoublyNestedNet(TINY))


# Data --------------------------------------------------------------------------------------

def test_cifar10_fixture_round_trip(tmp_path):
    folder = dnn_data.write_cifar10_fixture(tmp_path, per_batch=3)
    train = dnn_data.load_cifar10(tmp_path, "train")
    test = dnn_data.load_cifar10(folder, "test")  # the folder itself works too
    assert train.images.shape == (15, 3, 32, 32) and train.images.dtype == np.uint8
    assert test.images.shape == (3, 3, 32, 32) and test.labels.dtype == np.int64
    assert train.classes[0] == "airplane" and len(train.classes) == 10
    with open(folder / "data_batch_2", "rb") as fh:
        raw = pickle.load(fh, encoding="bytes")
    row = raw[b"data"][1]  # CIFAR layout: 1024 red, 1024 green, 1024 blue, row-major
    assert np.array_equal(train.images[4, 0].ravel(), row[:1024])
    assert np.array_equal(train.images[4, 2, 5], row[2048 + 5 * 32:2048 + 6 * 32])
    assert train.labels[4] == raw[b"labels"][1]


def test_cifar10_errors_are_one_line(tmp_path):
    with pytest.raises(MpsimError, match="no such folder"):
        dnn_data.load_cifar10(tmp_path / "nope")
    folder = dnn_data.write_cifar10_fixture(tmp_path)
    (folder / "data_batch_3").unlink()
    with pytest.raises(MpsimError, match="data_batch_3: missing CIFAR-10 file"):
        dnn_data.load_cifar10(tmp_path, "train")
    (folder / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(MpsimError, match="test_batch: not a CIFAR-10 pickle") as e:
        dnn_data.load_cifar10(tmp_path, "test")
    assert "\n" not in str(e.value)
    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, fh)
    with pytest.raises(MpsimError, match="N x 3072 uint8"):
        dnn_data.load_cifar10(tmp_path, "test")
    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, fh)
    with pytest.raises(MpsimError, match="2 images but 1 labels"):
        dnn_data.load_cifar10(tmp_path, "test")
    with pytest.raises(MpsimError, match="unknown split"):
        dnn_data.load_cifar10(tmp_path, "val")


def test_svhn_fixture_round_trip(tmp_path):
    from scipy.io import loadmat

    dnn_data.write_svhn_fixture(tmp_path, n=6)
    train = dnn_data.load_svhn(tmp_path, "train")
    raw = loadmat(tmp_path / "train_32x32.mat")
    assert train.images.shape == (6, 3, 32, 32) and train.images.dtype == np.uint8
    assert np.array_equal(train.images[2, 1], raw["X"][:, :, 1, 2])
    want = raw["y"].ravel().astype(np.int64) % 10
    assert np.array_equal(train.labels, want) and train.labels[0] == 0  # label 10 is digit 0
    assert len(dnn_data.load_svhn(tmp_path, "test")) == 6


def test_svhn_errors_are_one_line(tmp_path):
    from scipy.io import savemat

    with pytest.raises(MpsimError, match="no such folder"):
        dnn_data.load_svhn(tmp_path / "nope")
    with pytest.raises(MpsimError, match="train_32x32.mat: missing SVHN file"):
        dnn_data.load_svhn(tmp_path)
    (tmp_path / "train_32x32.mat").write_bytes(b"garbage")
    with pytest.raises(MpsimError, match="not a readable MATLAB file"):
        dnn_data.load_svhn(tmp_path)
    savemat(tmp_path / "test_32x32.mat", {"X": np.zeros((32, 32, 3, 2), np.uint8)})
    with pytest.raises(MpsimError, match="without 'X' and 'y'"):
        dnn_data.load_svhn(tmp_path, "test")
    savemat(tmp_path / "test_32x32.mat", {"X": np.zeros((28, 28, 3, 2), np.uint8), "y": np.ones((2, 1))})
    with pytest.raises(MpsimError, match="32 x 32 x 3 x N uint8"):
        dnn_data.load_svhn(tmp_path, "test")


def test_digits32_demo_set():
    tr, te = dnn_data.load_digits32("train"), dnn_data.load_digits32("test")
    assert len(tr) + len(te) == 1797 and len(te) == 539
    assert tr.images.shape[1:] == (3, 32, 32) and tr.images.dtype == np.uint8
    assert np.array_equal(tr.images[:, 0], tr.images[:, 2])
    assert set(np.bincount(te.labels)) <= set(range(50, 57))
    again = dnn_data.load_digits32("test")
    assert np.array_equal(te.images, again.images) and np.array_equal(te.labels, again.labels)
    with pytest.raises(MpsimError, match="needs a data folder"):
        dnn_data.load_dataset("cifar10", "train")


# Resource maps -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def maps():
    return resource_maps(CIFAR)


def test_resource_map_shape_and_golden_values(maps):
    for k in KEYS:
        assert len(maps[k]) == 16 and all(len(r) == 22 for r in maps[k])
    for (l, c), want in GOLDEN.items():
        assert tuple(maps[k][l - 1][c - 1] for k in KEYS) == want, (l, c)
    nz = resource_maps(CIFAR, nonzero=True)
    assert nz["macs"][15][21] == 68_486_000 and nz["macs"][0][0] == maps["macs"][0][0]
    assert nz["max_fmap_bytes"] == maps["max_fmap_bytes"]


def test_resource_maps_monotonic(maps):
    for k in KEYS:
        a = np.asarray(maps[k])
        assert np.all(np.diff(a, axis=0) >= 0) and np.all(np.diff(a, axis=1) >= 0), k
    for k in ("macs", "params"):
        a = np.asarray(maps[k])
        assert np.all(np.diff(a, axis=0) > 0) and np.all(np.diff(a, axis=1) > 0), k


def test_resource_maps_agree_with_modules_and_exported_graphs(net, maps):
    x1 = torch.rand(1, 3, 32, 32)
    for l, c in [(1, 1), (2, 5), (7, 22), (14, 12), (16, 22)]:
        want = {k: maps[k][l - 1][c - 1] for k in KEYS}
        assert subnet_resources(net.extract(l, c), (1, 3, 32, 32)) == want
        g, _ = to_flat_graph(net.extract(l, c), x1)
        assert graph_resources(g) == want, (l, c)


def test_tiny_maps_match_exported_graphs():
    torch.manual_seed(0)
    m = DoublyNestedNet(TINY).eval()
    maps = resource_maps(TINY)
    for l in range(1, TINY.depth + 1):
        for c in range(1, TINY.groups + 1):
            g, _ = to_flat_graph(m.extract(l, c), torch.rand(1, 3, 16, 16))
            assert graph_resources(g) == {k: maps[k][l - 1][c - 1] for k in KEYS}


# Budget and catalog ------------------------------------------------------------------------

def test_best_under_budget_picks_narrower_deeper():
    macs = [[1, 2, 4], [2, 4, 8], [3, 6, 12]]
    acc = [[0.1, 0.2, 0.3], [0.2, 0.4, 0.5], [0.3, 0.6, 0.9]]
    r = best_under_budget(macs, acc, 6)
    assert (r["best"]["l"], r["best"]["c"], r["best"]["name"]) == (3, 2, "D3W2")
    assert (r["best_depth_only"]["l"], r["best_depth_only"]["c"]) == (1, 3)
    assert r["gain"] == pytest.approx(0.3) and r["feasible"] == 7
    assert best_under_budget(macs, acc, 3)["best_depth_only"] is None
    with pytest.raises(MpsimError, match="no sub-network fits"):
        best_under_budget(macs, acc, 0.5)
    with pytest.raises(MpsimError, match="expected 3 x 3"):
        best_under_budget(macs, [[0.1, 0.2]], 6)


def test_catalog_entries(maps):
    acc = np.linspace(0, 1, 352).reshape(16, 22)
    cat = catalog(CIFAR, acc)
    assert len(cat) == 352 and cat[0]["name"] == "D1W1" and cat[-1]["name"] == "D16W22"
    e = next(d for d in cat if (d["l"], d["c"]) == (14, 12))
    assert (e["macs"], e["params"], e["max_fmap_bytes"]) == GOLDEN[(14, 12)]
    assert e["accuracy"] == pytest.approx(acc[13, 11]) and not e["depth_only"]
    assert sum(d["depth_only"] for d in cat) == 16
    assert all(d["accuracy"] is None for d in catalog(DoublyNestedNet(TINY)))
    json.dumps(cat)  # plain data


# CLI ---------------------------------------------------------------------------------------

def test_cli_grid_json_is_16_by_22(tmp_path, capsys):
    out = tmp_path / "grid.json"
    assert main(["dnn", "grid", "--json", str(out), "--plot", str(tmp_path / "maps")]) == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == "mpsim.dnn-grid/1" and doc["preset"] == "dnn-cifar10"
    d = {k: doc[k] for k in ("macs", "params", "max_fmap_bytes")}
    for k in d:
        assert len(d[k]) == 16 and all(len(r) == 22 for r in d[k])
    assert d["macs"][13][11] == GOLDEN[(14, 12)][0]
    assert (tmp_path / "maps.png").stat().st_size > 0 and (tmp_path / "maps.svg").exists()


def test_cli_budget(tmp_path, capsys):
    grid = tmp_path / "grid.json"
    assert main(["dnn", "grid", "--json", str(grid)]) == 0
    macs = np.asarray(json.loads(grid.read_text())["macs"], dtype=float)
    acc = np.clip(np.log(macs) / np.log(macs.max()), 0, 1)  # accuracy grows with MACs
    acc_file = tmp_path / "acc.json"
    acc_file.write_text(json.dumps({"accuracy": acc.tolist()}))
    capsys.readouterr()
    res = tmp_path / "budget.json"
    assert main(["dnn", "budget", "--macs", "24e6", "--accuracy", str(acc_file), "--grid", str(grid),
                 "--json", str(res), "--plot", str(tmp_path / "budget")]) == 0
    text = capsys.readouterr().out
    r = json.loads(res.read_text())
    assert r["best_depth_only"]["name"] == "D3W22" and "D3W22" in text
    assert r["best"]["macs"] <= 24e6 and r["best"]["accuracy"] >= r["best_depth_only"]["accuracy"]
    assert (tmp_path / "budget.png").exists()
    assert main(["dnn", "budget", "--macs", "24e6", "--accuracy", str(acc_file)]) == 0  # measures the model
    capsys.readouterr()
    assert main(["dnn", "budget", "--macs", "10", "--accuracy", str(acc_file), "--grid", str(grid)]) == 2
    assert "no sub-network fits" in capsys.readouterr().err
    acc_file.write_text(json.dumps({"accuracy": [[0.5] * 3]}))
    assert main(["dnn", "budget", "--macs", "24e6", "--accuracy", str(acc_file), "--grid", str(grid)]) == 2
    err = capsys.readouterr().err
    assert "expected 16 x 22" in err and err.count("\n") == 1


def test_cli_catalog_and_unknown_preset(tmp_path, capsys):
    out = tmp_path / "cat.json"
    assert main(["dnn", "catalog", "--preset", "dnn-tiny", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == "mpsim.dnn-catalog/1" and len(doc["subnets"]) == 16
    assert main(["dnn", "grid", "--preset", "itnet-tiny"]) == 2
    assert "unknown DNN preset" in capsys.readouterr().err


def test_export_subnet_macs_equal_map(tmp_path, maps):
    out = tmp_path / "d14w12"
    assert main(["export", "--preset", "dnn-cifar10", "--subnet", "14,12", "--out", str(out)]) == 0
    g = load_graph(out / "graph.json")
    validate(g)
    assert len(g.outputs) == 1 and g.meta["subnet"] == [14, 12]
    assert tuple(g.tensors[g.outputs[0].tensor].shape) == (1, 10)
    assert tuple(g.tensors[g.inputs[0]].shape) == (1, 3, 32, 32)
    assert graph_resources(g) == {k: maps[k][13][11] for k in KEYS}
    convs = [n for n in g.nodes if n.op == "conv2d"]
    assert len(convs) == 1 + 2 * 13 + 2  # stem, 13 blocks, 2 shortcut convolutions
    assert max(g.tensors[n.outputs[0]].shape[1] for n in convs) == 12 * 4
    ref = np.load(out / "reference.npz")
    got = interpret(g, dict(np.load(out / "weights.npz")), ref["input"])
    np.testing.assert_allclose(got, ref["output_1"], atol=1e-4, rtol=1e-4)


def interpret(g, weights: dict, x: np.ndarray) -> np.ndarray:
    """A minimal torch interpreter of the ops a DNN sub-network exports to (single output)."""
    env = {g.inputs[0]: torch.from_numpy(x)}
    w = {k: torch.from_numpy(np.asarray(v)) for k, v in weights.items()}
    for n in g.nodes:
        a, p = n.attrs, {r: w[name] for r, name in n.params.items()}
        ins = [env[t] for t in n.inputs]
        if n.op == "conv2d":
            outs = [F.conv2d(ins[0], p["weight"], p.get("bias"), a["stride"], a["padding"], a["dilation"],
                             a["groups"])]
        elif n.op == "batch_norm":
            outs = [ins[0] * p["scale"].view(1, -1, 1, 1) + p["shift"].view(1, -1, 1, 1)]
        elif n.op == "relu":
            outs = [F.relu(ins[0])]
        elif n.op == "add":
            outs = [ins[0] + ins[1]]
        elif n.op == "mean":
            outs = [ins[0].mean(dim=tuple(a["axes"]), keepdim=bool(a.get("keepdim", False)))]
        elif n.op == "split":
            outs = list(torch.split(ins[0], list(a["sizes"]), dim=a["axis"]))
        elif n.op == "linear":
            outs = [F.linear(ins[0], p["weight"], p.get("bias"))]
        else:
            raise AssertionError(f"unexpected op {n.op}")
        env.update(zip(n.outputs, outs))
    return env[g.outputs[0].tensor].numpy()


def test_export_whole_dnn_preset_has_depth_outputs(tmp_path):
    out = tmp_path / "tiny"
    assert main(["export", "--preset", "dnn-tiny", "--out", str(out)]) == 0
    g = load_graph(out / "graph.json")
    assert len(g.outputs) == TINY.depth
    from mpsim.analysis.metrics import macs_per_output

    maps = resource_maps(TINY)
    assert macs_per_output(g)[0] == [maps["macs"][l][-1] for l in range(TINY.depth)]


def test_export_subnet_errors(tmp_path, capsys):
    assert main(["export", "--preset", "dnn-cifar10", "--subnet", "17,1", "--out", str(tmp_path / "a")]) == 2
    assert "outside the 16 x 22 grid" in capsys.readouterr().err
    assert main(["export", "--preset", "itnet-tiny", "--subnet", "1,1", "--out", str(tmp_path / "b")]) == 2
    assert "has no sub-networks" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["export", "--preset", "dnn-cifar10", "--subnet", "3", "--out", str(tmp_path / "c")])
    assert e.value.code == 2


def test_cli_modules_do_not_import_torch():
    code = ("import sys, mpsim.cli.cmd_dnn, mpsim.cli.cmd_export, itnet_export.dnn.budget; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# Plots and the demo ------------------------------------------------------------------------

def test_figures(tmp_path, maps):
    from itnet_export.dnn import plots

    acc = np.random.default_rng(0).random((16, 22))
    r = best_under_budget(maps["macs"], acc, 24e6)
    written = (plots.accuracy_figure(acc, tmp_path / "acc", macs=maps["macs"], budget=r)
               + plots.slicing_figure({"a": acc[-1], "b": acc[0]}, tmp_path / "slice.png"))
    assert sorted(p.name for p in written) == ["acc.png", "acc.svg", "slice.png", "slice.svg"]
    assert all(p.stat().st_size > 1000 for p in written)


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    sys.path.insert(0, "benchmarks")
    try:
        import dnn_demo
    finally:
        sys.path.pop(0)
    argv = ["--epochs", "1", "--baseline-epochs", "1", "--train-size", "64", "--test-size", "32",
            "--out", str(tmp_path)]
    assert dnn_demo.main(argv) == 0
    d = json.loads((tmp_path / "dnn_accuracy.json").read_text())
    assert np.asarray(d["accuracy"]).shape == (16, 22)
    assert len(d["slicing"]["bf_sliced"]) == 22 and d["budget"]["dense"]["best"]["macs"] <= 24e6
    for name in ("dnn_accuracy", "dnn_budget", "dnn_budget_nonzero", "dnn_resources", "dnn_slicing"):
        assert (tmp_path / f"{name}.png").exists() and (tmp_path / f"{name}.svg").exists()
