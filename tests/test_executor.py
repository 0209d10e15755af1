"""The functional executor (mpsim.exec) against PyTorch: whole exports, and every op alone."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from mpsim.cli.cmd_verify import compare
from mpsim.cli.main import main
from mpsim.errors import MpsimError
from mpsim.exec import Executor, load_reference, load_weights, run_graph
from mpsim.ir.builder import GraphBuilder
from mpsim.ir.serialize import load_graph

torch = pytest.importorskip("torch")
F = torch.nn.functional

RNG = np.random.default_rng(0)


def _rand(*shape, lo=-1.0, hi=1.0) -> np.ndarray:
    return RNG.uniform(lo, hi, size=shape).astype(np.float32)


def _t(a: np.ndarray) -> "torch.Tensor":
    return torch.from_numpy(np.ascontiguousarray(a))


# Whole exports ----------------------------------------------------------------------------------

def _export(tmp_path_factory, preset: str):
    from itnet_export.cli import export_preset

    out = tmp_path_factory.mktemp(preset)
    export_preset(preset, str(out))
    return out


@pytest.fixture(scope="module")
def tiny_independent_dir(tmp_path_factory):
    return _export(tmp_path_factory, "itnet-tiny-independent")


@pytest.fixture(scope="module")
def camvid_shared_dir(tmp_path_factory):
    return _export(tmp_path_factory, "itnet-camvid-shared")


def _load(d):
    g = load_graph(d)
    w = load_weights(d, g)
    x, refs = load_reference(d, len(g.outputs))
    return g, w, x, refs


def _check_against_reference(d) -> None:
    g, w, x, refs = _load(d)
    outs = Executor(g, w).run(x)
    assert len(outs) == len(refs) == len(g.outputs)
    for row in compare(outs, refs):
        # The bound: absolute 1e-4 on the logits, argmax agreement >= 99.99 %.
        assert row["argmax_agreement"] >= 0.9999, row
        assert row["max_abs_err"] <= 1e-4, row
        assert row["passed"], row


def test_itnet_tiny_matches_reference(tiny_dir):
    assert load_graph(tiny_dir).loops  # the folded graph runs as a loop
    _check_against_reference(tiny_dir)


def test_itnet_tiny_independent_matches_reference(tiny_independent_dir):
    _check_against_reference(tiny_independent_dir)


def test_itnet_camvid_shared_matches_reference(camvid_shared_dir):
    _check_against_reference(camvid_shared_dir)


@pytest.mark.parametrize("which", ["shared", "independent"])
def test_early_exit_returns_the_first_outputs(which, tiny_dir, tiny_independent_dir):
    d = tiny_dir if which == "shared" else tiny_independent_dir
    g, w, x, _ = _load(d)
    ex = Executor(g, w)
    full = ex.run(x)
    two = ex.run(x, iterations=2)
    assert len(two) == 2
    for a, b in zip(two, full[:2]):
        np.testing.assert_array_equal(a, b)
    assert [i for i, _ in ex.stream(x, iterations=3)] == [1, 2, 3]
    with pytest.raises(MpsimError, match="iterations"):
        ex.run(x, iterations=len(g.outputs) + 1)


class _Counting:
    """Numerics hook that changes nothing but counts what it sees."""

    fuse = False

    def __init__(self) -> None:
        self.weights: list[str] = []
        self.acts = 0

    def weight(self, node, role, name, array):
        self.weights.append(name)
        return array

    def activation(self, node, tensor, array):
        self.acts += 1
        return array


def test_early_exit_computes_less_and_numerics_hook(tiny_dir):
    g, w, x, refs = _load(tiny_dir)
    hook = _Counting()
    ex = Executor(g, w, numerics=hook)
    assert sorted(set(hook.weights)) == sorted(g.weights)  # every member of every group, once
    full = ex.run(x)
    n_full = hook.acts
    hook.acts = 0
    ex.run(x, iterations=1)
    assert 0 < hook.acts < n_full / 2
    plain = Executor(g, w).run(x)
    for a, b in zip(full, plain):  # an identity hook changes nothing (fused or not)
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


class _ZeroConvs(_Counting):
    """A hook that replaces every convolution by its own implementation (zeros)."""

    fuse = True  # even where fusion is allowed, a replaced node is not fused away

    def layer(self, ex, node):
        if node.op != "conv2d":
            return None
        shape = ex.graph.tensors[node.outputs[0]].shape
        assert ex.param(node, "weight")  # the hook can read the node's weights

        def fn(args, it):
            return [np.zeros(shape, np.float32)]

        return fn


def test_numerics_layer_hook_replaces_nodes(tiny_dir):
    g, w, x, _ = _load(tiny_dir)
    outs = Executor(g, w, numerics=_ZeroConvs()).run(x)
    for o in outs:  # every output is an interpolated convolution: all zeros now
        assert o.shape == (1, 11, 64, 64) and not o.any()


def test_add_of_two_convolutions_is_fused_once():
    """y = relu(conv_a(x)) + conv_b(x): both convolutions could absorb the add; one does."""
    x, wa, wb = _rand(1, 4, 6, 7), _rand(4, 4, 3, 3), _rand(4, 4, 1, 1)
    b = GraphBuilder("two-branches")
    xi = b.input("x", x.shape)
    b.weight("wa", wa.shape)
    b.weight("wb", wb.shape)
    conv = {"stride": [1, 1], "dilation": [1, 1], "groups": 1}
    (a,) = b.node("conv2d", [xi], {**conv, "padding": [1, 1]}, {"weight": "wa"})
    (a,) = b.node("relu", [a])
    (c,) = b.node("conv2d", [xi], {**conv, "padding": [0, 0]}, {"weight": "wb"})
    (y,) = b.node("add", [a, c])
    b.output(y)
    ex = Executor(b.build(), {"wa": wa, "wb": wb})
    steps = [s for kind, s in ex._items if kind == "step"]
    assert sorted(n.op for s in steps for n in s.nodes) == ["add", "conv2d", "conv2d", "relu"]
    (got,) = ex.run(x)
    _close(got, F.relu(F.conv2d(_t(x), _t(wa), padding=1)) + F.conv2d(_t(x), _t(wb)), 5e-6)


def test_same_input_same_output(tiny_dir):
    g, w, x, _ = _load(tiny_dir)
    ex = Executor(g, w)
    for a, b in zip(ex.run(x), ex.run(x.copy())):
        np.testing.assert_array_equal(a, b)


def test_bad_input_and_missing_weight_are_one_line_errors(tiny_dir):
    g, w, x, _ = _load(tiny_dir)
    with pytest.raises(MpsimError, match="expects"):
        Executor(g, w).run(x[:, :, :-1])
    name = sorted(g.weights)[0]
    partial = {k: v for k, v in w.items() if k != name}
    with pytest.raises(MpsimError, match="lacks 1 weight") as exc:
        Executor(g, partial)
    assert name in str(exc.value) and "\n" not in str(exc.value)


# mpsim verify -----------------------------------------------------------------------------------

def test_verify_cli_json(tiny_dir, tmp_path, capsys):
    out = tmp_path / "verify.json"
    assert main(["verify", str(tiny_dir), "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["passed"] is True
    assert [o["index"] for o in data["outputs"]] == [1, 2, 3, 4]
    for o in data["outputs"]:
        assert {"index", "max_abs_err", "argmax_agreement"} <= set(o)
        assert o["max_abs_err"] <= 1e-4 and o["argmax_agreement"] >= 0.9999
    assert "passes" in capsys.readouterr().out


def test_verify_reports_a_mismatch_with_exit_1(tiny_dir, tmp_path, capsys):
    d = tmp_path / "export"
    shutil.copytree(tiny_dir, d)
    ref = dict(np.load(d / "reference.npz"))
    ref["output_2"] = ref["output_2"] + np.float32(0.01)
    np.savez(d / "reference.npz", **ref)
    out = tmp_path / "verify.json"
    assert main(["verify", str(d), "--json", str(out)]) == 1
    data = json.loads(out.read_text())
    assert data["passed"] is False
    assert [o["passed"] for o in data["outputs"]] == [True, False, True, True]
    assert data["outputs"][1]["max_abs_err"] == pytest.approx(0.01, rel=1e-3)
    assert "fails" in capsys.readouterr().out


def test_compare_has_numpy_allclose_semantics():
    ref = np.array([[1000.0, 1.0, 0.0, -2.0]], np.float32)
    allowed = 1e-4 + 1e-5 * np.abs(ref.astype(np.float64))
    inside = (ref + 0.9 * allowed).astype(np.float32)
    (row,) = compare([inside], [ref])
    assert row["allclose"] and row["passed"] and row["max_abs_err"] == pytest.approx(0.9 * 0.0101, rel=1e-3)
    outside = ref.copy()
    outside[0, 2] = 1.2e-4  # beyond atol where the reference is 0
    (row,) = compare([outside], [ref])
    assert not row["allclose"] and not row["passed"] and row["max_rel_err"] == 0.0
    (row,) = compare([outside], [ref], atol=2e-4)
    assert row["passed"]
    (row,) = compare([ref * np.float32(1 + 1e-3)], [ref], atol=0.0, rtol=1e-3 * 1.001)
    assert row["passed"] and row["max_rel_err"] == pytest.approx(1e-3, rel=1e-3)


def test_verify_rtol_and_atol_flags(tiny_dir, tmp_path, capsys):
    """Outputs 2e-4 off relatively: fail by default and with --rtol 1e-4 --atol 0, pass with
    --rtol 3e-4 --atol 0."""
    d = tmp_path / "export"
    shutil.copytree(tiny_dir, d)
    g, w, x, _ = _load(d)
    outs = Executor(g, w).run(x)
    np.savez(d / "reference.npz", input=x, **{f"output_{i + 1}": o * np.float32(1 + 2e-4) for i, o in enumerate(outs)})
    out = tmp_path / "v.json"
    assert main(["verify", str(d)]) == 1
    assert main(["verify", str(d), "--rtol", "1e-4", "--atol", "0"]) == 1
    assert main(["verify", str(d), "--rtol", "3e-4", "--atol", "0", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["criteria"] == {"atol": 0.0, "rtol": 3e-4, "min_argmax_agreement": 0.9999}
    assert all(r["max_rel_err"] == pytest.approx(2e-4, rel=0.01) for r in data["outputs"])
    capsys.readouterr()
    for bad, why in ((["--rtol", "-1"], "out of range"), (["--atol", "nan"], "not a finite number")):
        with pytest.raises(SystemExit) as exc:
            main(["verify", str(d), *bad])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and why in err and bad[0] in err


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_verify_bad_weights_is_exit_2_one_line(damage, tiny_dir, tmp_path, capsys):
    d = tmp_path / "export"
    d.mkdir()
    for f in ("graph.json", "reference.npz"):
        shutil.copy(tiny_dir / f, d / f)
    if damage == "corrupt":
        (d / "weights.npz").write_bytes(b"PK\x03\x04 not really a zip")
    capsys.readouterr()
    assert main(["verify", str(d)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "weights.npz" in err


def test_executor_does_not_import_torch():
    code = "import mpsim.exec.executor, mpsim.cli.cmd_verify, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# One op at a time -------------------------------------------------------------------------------

def _run_op(op, xs, attrs=None, params=None, n_out=1):
    """Build a one-node graph (inputs x0.., weights p.<role>) and run it."""
    b = GraphBuilder("one-op")
    names = [b.input(f"x{i}", x.shape) for i, x in enumerate(xs)]
    params = params or {}
    pn = {role: b.weight(f"p.{role}", arr.shape) for role, arr in params.items()}
    outs = b.node(op, names, attrs or {}, pn)
    assert len(outs) == n_out
    for t in outs:
        b.output(t)
    g = b.build()
    got = run_graph(g, {f"p.{r}": a for r, a in params.items()}, {n: x for n, x in zip(names, xs)})
    for t, arr in zip(outs, got):
        assert arr.shape == g.tensors[t].shape and arr.dtype == np.float32
    return got


def _close(got, ref, tol=2e-6):
    ref = ref.detach().numpy() if hasattr(ref, "detach") else ref
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)


CONV_CASES = [
    # (N, Cin, H, W, Cout, kernel, stride, padding, dilation, groups, bias)
    (2, 6, 11, 13, 9, (3, 2), (2, 1), (1, 2), (2, 1), 3, True),  # grouped + dilated + strided (direct)
    (1, 8, 9, 10, 8, (3, 3), (2, 2), (1, 1), (1, 1), 8, True),  # depthwise, strided
    (1, 8, 9, 10, 16, (3, 3), (1, 1), (1, 1), (1, 1), 8, False),  # depthwise with multiplier 2
    (1, 32, 8, 9, 16, (3, 3), (1, 2), (2, 1), (2, 1), 2, True),  # grouped with wide groups (im2col)
    (2, 5, 12, 11, 7, (3, 3), (2, 2), (1, 1), (1, 1), 1, False),  # dense, strided
    (1, 3, 10, 12, 4, (5, 5), (1, 1), (2, 2), (1, 1), 1, True),  # dense 5x5
    (1, 6, 9, 11, 5, (1, 1), (2, 3), (0, 0), (1, 1), 1, True),  # 1x1 strided
    (1, 6, 7, 7, 5, (1, 1), (1, 1), (1, 1), (1, 1), 1, True),  # 1x1 padded
    (2, 6, 7, 8, 6, (1, 1), (1, 1), (0, 0), (1, 1), 3, True),  # grouped 1x1
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d(case):
    n, cin, h, w, cout, k, s, p, d, g, bias = case
    x = _rand(n, cin, h, w)
    wt = _rand(cout, cin // g, *k)
    params = {"weight": wt}
    if bias:
        params["bias"] = _rand(cout)
    attrs = {"stride": list(s), "padding": list(p), "dilation": list(d), "groups": g}
    (got,) = _run_op("conv2d", [x], attrs, params)
    ref = F.conv2d(_t(x), _t(wt), _t(params["bias"]) if bias else None, s, p, d, g)
    _close(got, ref, 5e-6)


@pytest.mark.parametrize("act", ["relu", "relu6", "clamp", "sigmoid", "hardswish"])
@pytest.mark.parametrize("kind", ["pointwise", "depthwise", "dense"])
def test_conv_fused_with_activation_and_residual(act, kind):
    """conv -> activation -> add(x, .) runs as one fused kernel and still matches PyTorch."""
    c = 6
    x = _rand(1, c, 9, 10, lo=-3, hi=3)
    k, g = {"pointwise": (1, 1), "depthwise": (3, c), "dense": (3, 1)}[kind]
    wt = _rand(c, c // g, k, k)
    bias = _rand(c)
    b = GraphBuilder("fused")
    xi = b.input("x", x.shape)
    b.weight("w", wt.shape)
    b.weight("b", bias.shape)
    (y,) = b.node("conv2d", [xi], {"stride": [1, 1], "padding": [k // 2] * 2, "dilation": [1, 1], "groups": g},
                  {"weight": "w", "bias": "b"})
    attrs = {"min": -0.5, "max": 0.75} if act == "clamp" else {}
    (y,) = b.node(act, [y], attrs)
    (y,) = b.node("add", [xi, y])
    b.output(y)
    graph = b.build()
    ex = Executor(graph, {"w": wt, "b": bias})
    assert any(len(s.nodes) == 3 for kind_, s in ex._items if kind_ == "step")  # fused
    (got,) = ex.run(x)
    r = F.conv2d(_t(x), _t(wt), _t(bias), 1, k // 2, 1, g)
    r = {"relu": F.relu, "relu6": F.relu6, "sigmoid": torch.sigmoid, "hardswish": F.hardswish,
         "clamp": lambda v: torch.clamp(v, -0.5, 0.75)}[act](r)
    _close(got, _t(x) + r, 5e-6)


def test_conv_output_read_twice_is_not_fused_away():
    x = _rand(1, 4, 6, 6)
    wt = _rand(4, 4, 1, 1)
    b = GraphBuilder("pinned")
    xi = b.input("x", x.shape)
    b.weight("w", wt.shape)
    (c,) = b.node("conv2d", [xi], {"stride": [1, 1], "padding": [0, 0], "dilation": [1, 1], "groups": 1},
                  {"weight": "w"})
    (r,) = b.node("relu", [c])
    b.output(c)
    b.output(r)
    got_c, got_r = run_graph(b.build(), {"w": wt}, x)
    ref = F.conv2d(_t(x), _t(wt))
    _close(got_c, ref)
    _close(got_r, F.relu(ref))


def test_linear():
    x, wt, bias = _rand(2, 5, 7), _rand(4, 7), _rand(4)
    (got,) = _run_op("linear", [x], {}, {"weight": wt, "bias": bias})
    _close(got, F.linear(_t(x), _t(wt), _t(bias)))
    (got,) = _run_op("linear", [x[0]], {}, {"weight": wt})
    _close(got, F.linear(_t(x[0]), _t(wt)))


def test_batch_norm():
    x, scale, shift = _rand(2, 3, 4, 5), _rand(3), _rand(3)
    (got,) = _run_op("batch_norm", [x], {}, {"scale": scale, "shift": shift})
    _close(got, _t(x) * _t(scale)[None, :, None, None] + _t(shift)[None, :, None, None])


@pytest.mark.parametrize("channels", [3, 1])
def test_prelu(channels):
    x, wt = _rand(2, 3, 4, 5), _rand(channels, lo=0, hi=0.5)
    (got,) = _run_op("prelu", [x], {}, {"weight": wt})
    np.testing.assert_array_equal(got, F.prelu(_t(x), _t(wt)).numpy())


@pytest.mark.parametrize("op, attrs, ref", [
    ("relu", {}, F.relu),
    ("relu6", {}, F.relu6),
    ("sigmoid", {}, torch.sigmoid),
    ("hardswish", {}, F.hardswish),
    ("clamp", {"min": -0.2, "max": 0.4}, lambda v: torch.clamp(v, -0.2, 0.4)),
    ("clamp", {"min": None, "max": 0.1}, lambda v: torch.clamp(v, max=0.1)),
    ("clamp", {"min": 0.1, "max": None}, lambda v: torch.clamp(v, min=0.1)),
])
def test_unary(op, attrs, ref):
    x = _rand(2, 3, 5, 7, lo=-8, hi=8)
    (got,) = _run_op(op, [x], attrs)
    _close(got, ref(_t(x)))


@pytest.mark.parametrize("op", ["add", "mul"])
@pytest.mark.parametrize("sa, sb", [
    ((2, 3, 4, 5), (2, 3, 4, 5)),
    ((2, 3, 4, 5), (1, 3, 1, 1)),
    ((2, 3, 1, 5), (1, 1, 4, 1)),
    ((3, 4, 5), (2, 3, 4, 5)),
    ((2, 1, 3, 1, 2), (2, 4, 1, 5, 1)),
])
def test_binary_broadcasting(op, sa, sb):
    a, b = _rand(*sa), _rand(*sb)
    (got,) = _run_op(op, [a, b])
    ref = _t(a) + _t(b) if op == "add" else _t(a) * _t(b)
    np.testing.assert_array_equal(got, ref.numpy())


@pytest.mark.parametrize("op, scalar", [("add", 0.1), ("mul", -2.5), ("mul", 1 / 3)])
def test_scalar_add_mul(op, scalar):
    x = _rand(2, 3, 4, 5)
    (got,) = _run_op(op, [x], {"scalar": scalar})
    ref = _t(x) + scalar if op == "add" else _t(x) * scalar
    np.testing.assert_array_equal(got, ref.numpy())


def test_cat_split_reshape():
    a, b, c = _rand(2, 1, 3, 4), _rand(2, 3, 3, 4), _rand(2, 2, 3, 4)
    (got,) = _run_op("cat", [a, b, c], {"axis": 1})
    np.testing.assert_array_equal(got, np.concatenate([a, b, c], axis=1))
    (got,) = _run_op("cat", [a, a], {"axis": -1})
    np.testing.assert_array_equal(got, np.concatenate([a, a], axis=-1))
    x = _rand(2, 6, 3, 4)
    parts = _run_op("split", [x], {"axis": 1, "sizes": [1, 3, 2]}, n_out=3)
    for got, ref in zip(parts, torch.split(_t(x), [1, 3, 2], dim=1)):
        np.testing.assert_array_equal(got, ref.numpy())
    (got,) = _run_op("reshape", [x], {"shape": [2, 72]})
    np.testing.assert_array_equal(got, x.reshape(2, 72))


def test_channel_shuffle_permute():
    x = _rand(2, 6, 3, 4)
    b = GraphBuilder("shuffle")
    xi = b.input("x", x.shape)
    (y,) = b.node("reshape", [xi], {"shape": [2, 2, 3, 3, 4]})
    (y,) = b.node("permute", [y], {"dims": [0, 2, 1, 3, 4]})
    (y,) = b.node("reshape", [y], {"shape": [2, 6, 3, 4]})
    b.output(y)
    (got,) = run_graph(b.build(), {}, x)
    ref = _t(x).view(2, 2, 3, 3, 4).transpose(1, 2).contiguous().view(2, 6, 3, 4)
    np.testing.assert_array_equal(got, ref.numpy())


@pytest.mark.parametrize("shape, k, s, p, d, ceil", [
    ((1, 2, 10, 11), 3, 2, 1, 2, True),
    ((2, 3, 7, 7), 2, 2, 0, 1, True),
    ((1, 2, 9, 8), (3, 2), (2, 3), (1, 1), (1, 1), False),
])
def test_max_pool2d(shape, k, s, p, d, ceil):
    x = _rand(*shape)
    pair = lambda v: list(v) if isinstance(v, tuple) else [v, v]  # noqa: E731
    attrs = {"kernel": pair(k), "stride": pair(s), "padding": pair(p), "dilation": pair(d), "ceil_mode": ceil}
    (got,) = _run_op("max_pool2d", [x], attrs)
    np.testing.assert_array_equal(got, F.max_pool2d(_t(x), k, s, p, d, ceil_mode=ceil).numpy())


@pytest.mark.parametrize("shape, k, s, p, ceil, include", [
    ((1, 2, 10, 11), 3, 2, 1, True, False),
    ((1, 2, 10, 11), 3, 2, 1, True, True),
    ((2, 3, 7, 8), 2, 3, 0, True, True),
    ((1, 2, 9, 8), (3, 2), (2, 1), (1, 1), False, False),
])
def test_avg_pool2d(shape, k, s, p, ceil, include):
    x = _rand(*shape)
    pair = lambda v: list(v) if isinstance(v, tuple) else [v, v]  # noqa: E731
    attrs = {"kernel": pair(k), "stride": pair(s), "padding": pair(p), "ceil_mode": ceil,
             "count_include_pad": include}
    (got,) = _run_op("avg_pool2d", [x], attrs)
    _close(got, F.avg_pool2d(_t(x), k, s, p, ceil_mode=ceil, count_include_pad=include))


@pytest.mark.parametrize("out", [(4, 3), (1, 1), (13, 10)])
def test_adaptive_avg_pool2d(out):
    x = _rand(2, 3, 13, 10)
    (got,) = _run_op("adaptive_avg_pool2d", [x], {"output_size": list(out)})
    _close(got, F.adaptive_avg_pool2d(_t(x), out))


INTERP_CASES = [
    # (mode, in HxW, size or None, scale or None, align_corners)
    ("bilinear", (7, 9), (17, 20), None, False),
    ("bilinear", (7, 9), (17, 20), None, True),
    ("bilinear", (12, 15), (5, 7), None, False),
    ("bilinear", (12, 15), (5, 7), None, True),
    ("bilinear", (7, 9), None, 1.7, False),
    ("bilinear", (13, 11), None, 0.6, False),
    ("bilinear", (7, 9), None, 2.0, True),
    ("bilinear", (6, 8), (6, 16), None, False),
    ("nearest", (5, 7), (12, 15), None, False),
    ("nearest", (12, 15), (5, 7), None, False),
    ("nearest", (5, 7), (10, 14), None, False),
    ("nearest", (5, 7), None, 2.5, False),
    ("nearest", (12, 15), None, 0.4, False),
]


@pytest.mark.parametrize("mode, hw, size, scale, align", INTERP_CASES)
def test_interpolate(mode, hw, size, scale, align):
    x = _rand(2, 3, *hw)
    kw = {"align_corners": align} if mode == "bilinear" else {}
    if size is not None:
        ref = F.interpolate(_t(x), size=size, mode=mode, **kw)
    else:
        ref = F.interpolate(_t(x), scale_factor=scale, mode=mode, **kw)
    attrs = {"mode": mode, "size": list(ref.shape[-2:]), "align_corners": align,
             "scales": [scale, scale] if scale is not None else None}
    (got,) = _run_op("interpolate", [x], attrs)
    if mode == "nearest":
        np.testing.assert_array_equal(got, ref.numpy())
    else:
        _close(got, ref)


@pytest.mark.parametrize("shape, axis", [((2, 5, 3, 4), 1), ((3, 4, 6), -1), ((4, 7), 0)])
def test_softmax(shape, axis):
    x = _rand(*shape, lo=-5, hi=5)
    (got,) = _run_op("softmax", [x], {"axis": axis})
    _close(got, torch.softmax(_t(x), dim=axis))


@pytest.mark.parametrize("axes, keep", [([2, 3], True), ([1], False), ([-1], False), ([0, 2], True)])
def test_mean(axes, keep):
    x = _rand(2, 3, 4, 5)
    (got,) = _run_op("mean", [x], {"axes": axes, "keepdim": keep})
    _close(got, torch.mean(_t(x), dim=axes, keepdim=keep))


def test_without_threadpoolctl_numba_runs_single_threaded(tiny_dir, monkeypatch):
    import numba

    import mpsim.exec.executor as exe

    g, w, x, _ = _load(tiny_dir)
    ex = Executor(g, w)
    ref = ex.run(x)
    monkeypatch.setattr(exe, "_BLAS_CONTROLLER", None)
    before = numba.get_num_threads()
    for a, b in zip(ex.run(x), ref):  # BLAS may now use its threads: equal up to rounding
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert numba.get_num_threads() == before  # restored


def test_two_convolutions_feeding_one_add_are_both_computed():
    """A ResNet projection shortcut: conv(x) + conv'(x).  Each conv could fuse the add; only
    the first may, or the other branch is never computed (a KeyError once)."""
    from mpsim.exec.executor import Executor
    from mpsim.ir.builder import GraphBuilder

    b = GraphBuilder("proj")
    x = b.input("x", (1, 2, 6, 6))
    attrs = {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "groups": 1}
    b.weight("wa", (3, 2, 3, 3))
    b.weight("wb", (3, 2, 1, 1))
    a = b.node("conv2d", [x], attrs, {"weight": "wa"}, name="a")[0]
    c = b.node("conv2d", [x], {**attrs, "padding": [0, 0]}, {"weight": "wb"}, name="b")[0]
    b.output(b.node("add", [a, c])[0])
    g = b.build()
    rng = np.random.default_rng(0)
    w = {"wa": rng.normal(size=(3, 2, 3, 3)).astype(np.float32), "wb": rng.normal(size=(3, 2, 1, 1)).astype(np.float32)}
    xin = rng.normal(size=(1, 2, 6, 6)).astype(np.float32)
    fused = Executor(g, w).run(xin)[0]
    plain = Executor(g, w, fuse=False).run(xin)[0]
    np.testing.assert_allclose(fused, plain, atol=1e-5)
    assert np.abs(plain).max() > 0.1


# Ops of imported models (docs/import.md) --------------------------------------------------------

CONV_T_CASES = [
    # (N, Cin, H, W, Cout, kernel, stride, padding, output_padding, dilation, groups, bias)
    (1, 4, 5, 6, 6, (3, 3), (2, 2), (1, 1), (1, 1), (1, 1), 1, True),  # ENet / ERFNet upsampler
    (2, 6, 4, 5, 4, (2, 2), (2, 2), (0, 0), (0, 0), (1, 1), 2, False),  # grouped, U-Net's 2x2
    (1, 3, 4, 4, 3, (4, 4), (2, 2), (0, 0), (0, 0), (1, 1), 3, False),  # depthwise (FCN's bilinear)
    (1, 4, 5, 3, 2, (3, 2), (3, 1), (2, 0), (2, 0), (2, 1), 1, True),  # strided, dilated, asymmetric
]


@pytest.mark.parametrize("case", CONV_T_CASES)
def test_conv_transpose2d(case):
    n, cin, h, w, cout, k, s, p, op, d, g, bias = case
    x, wt = _rand(n, cin, h, w), _rand(cin, cout // g, *k)
    params = {"weight": wt, **({"bias": _rand(cout)} if bias else {})}
    attrs = {"stride": list(s), "padding": list(p), "output_padding": list(op), "dilation": list(d), "groups": g}
    (got,) = _run_op("conv_transpose2d", [x], attrs, params)
    ref = F.conv_transpose2d(_t(x), _t(wt), _t(params["bias"]) if bias else None, s, p, op, g, d)
    _close(got, ref, 5e-6)


def test_max_pool_indices_and_unpool():
    """Indices are per plane (PyTorch's), ties take the first maximum, unpooling scatters back."""
    x = np.round(_rand(2, 3, 9, 8) * 3) / 3  # many ties
    b = GraphBuilder("unpool")
    xi = b.input("x", x.shape)
    attrs = {"kernel": [3, 2], "stride": [2, 2], "padding": [1, 0], "dilation": [1, 1], "ceil_mode": True,
             "indices": True}
    y, idx = b.node("max_pool2d", [xi], attrs)
    assert b.tensors[idx].dtype == "int64"
    (u,) = b.node("max_unpool2d", [y, idx], {"output_size": [9, 8]})
    for t in (y, idx, u):
        b.output(t)
    got_y, got_i, got_u = run_graph(b.build(), {}, x)
    ref_y, ref_i = F.max_pool2d(_t(x), (3, 2), 2, (1, 0), ceil_mode=True, return_indices=True)
    np.testing.assert_array_equal(got_y, ref_y.numpy())
    np.testing.assert_array_equal(got_i, ref_i.numpy())
    np.testing.assert_array_equal(got_u, F.max_unpool2d(ref_y, ref_i, (3, 2), 2, (1, 0), output_size=(9, 8)).numpy())


def test_max_unpool_index_out_of_range_is_one_line():
    b = GraphBuilder("bad-unpool")
    x, i = b.input("x", (1, 1, 2, 2)), b.input("i", (1, 1, 2, 2), "int64")
    b.output(b.node("max_unpool2d", [x, i], {"output_size": [2, 2]})[0])
    with pytest.raises(MpsimError, match="outside the 2x2 output"):
        run_graph(b.build(), {}, {"x": _rand(1, 1, 2, 2), "i": np.array([[[[0, 1], [2, 4]]]])})


@pytest.mark.parametrize("op, attrs, ref", [
    ("hardsigmoid", {}, F.hardsigmoid),
    ("silu", {}, F.silu),
    ("gelu", {}, F.gelu),
    ("gelu", {"approximate": "tanh"}, lambda v: F.gelu(v, approximate="tanh")),
    ("tanh", {}, torch.tanh),
    ("erf", {}, torch.erf),
    ("leaky_relu", {"negative_slope": 0.2}, lambda v: F.leaky_relu(v, 0.2)),
    ("pow", {"exponent": 2.0}, lambda v: v.pow(2)),
    ("pow", {"exponent": 3.0}, lambda v: v.pow(3)),
])
def test_new_unary(op, attrs, ref):
    x = _rand(2, 3, 5, 7, lo=-6, hi=6)
    (got,) = _run_op(op, [x], attrs)
    _close(got, ref(_t(x)), 1e-5)


def test_sqrt_and_fractional_pow():
    x = _rand(2, 3, 4, lo=-1, hi=4)  # negative values: NaN, as in PyTorch
    (got,) = _run_op("sqrt", [x])
    np.testing.assert_allclose(got, torch.sqrt(_t(x)).numpy(), rtol=1e-6, equal_nan=True)
    (got,) = _run_op("pow", [x], {"exponent": 1.5})
    np.testing.assert_allclose(got, _t(x).pow(1.5).numpy(), rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("act", ["silu", "gelu", "hardsigmoid", "leaky_relu", "tanh"])
def test_conv_fused_with_new_activations(act):
    x, wt, bias = _rand(1, 4, 7, 8, lo=-2, hi=2), _rand(6, 4, 3, 3), _rand(6)
    b = GraphBuilder("fused-new")
    xi = b.input("x", x.shape)
    b.weight("w", wt.shape)
    b.weight("b", bias.shape)
    (y,) = b.node("conv2d", [xi], {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "groups": 1},
                  {"weight": "w", "bias": "b"})
    (y,) = b.node(act, [y], {"negative_slope": 0.1} if act == "leaky_relu" else {})
    b.output(y)
    ex = Executor(b.build(), {"w": wt, "b": bias})
    assert any(len(s.nodes) == 2 for kind, s in ex._items if kind == "step")  # fused into the epilogue
    ref = F.conv2d(_t(x), _t(wt), _t(bias), 1, 1)
    ref = {"silu": F.silu, "gelu": F.gelu, "hardsigmoid": F.hardsigmoid, "tanh": torch.tanh,
           "leaky_relu": lambda v: F.leaky_relu(v, 0.1)}[act](ref)
    _close(ex.run(x)[0], ref, 5e-6)


@pytest.mark.parametrize("op", ["sub", "div"])
@pytest.mark.parametrize("sa, sb", [((2, 3, 4, 5), (2, 3, 4, 5)), ((2, 3, 4, 5), (1, 3, 1, 1)),
                                    ((3, 4, 5), (2, 3, 4, 5)), ((2, 1, 3, 1, 2), (2, 4, 1, 5, 1))])
def test_sub_div_broadcasting(op, sa, sb):
    a, b = _rand(*sa), _rand(*sb, lo=0.5, hi=2)
    (got,) = _run_op(op, [a, b])
    np.testing.assert_array_equal(got, (_t(a) - _t(b) if op == "sub" else _t(a) / _t(b)).numpy())


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("reverse", [False, True])
def test_constant_operands(op, reverse):
    """A scalar attribute, or a constant weight 'other' that broadcasts (and widens), either side."""
    x, c = _rand(2, 3, 4, lo=0.5, hi=2), _rand(5, 1, 3, 1, lo=0.5, hi=2)
    fn = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}[op]
    (got,) = _run_op(op, [x], {"scalar": 0.7, "reverse": reverse})
    np.testing.assert_array_equal(got, (fn(torch.tensor(0.7), _t(x)) if reverse else fn(_t(x), 0.7)).numpy())
    (got,) = _run_op(op, [x], {"reverse": reverse}, {"other": c})
    assert got.shape == (5, 2, 3, 4)
    np.testing.assert_array_equal(got, (fn(_t(c), _t(x)) if reverse else fn(_t(x), _t(c))).numpy())


@pytest.mark.parametrize("mode, pads", [
    ("constant", [[0, 0], [1, 2], [0, 3], [2, 1]]),  # channels too (ENet's zero channels)
    ("constant", [[0, 0], [0, 0], [-1, 2], [1, -2]]),  # negative: crops
    ("reflect", [[0, 0], [0, 0], [2, 1], [3, 0]]),
    ("replicate", [[0, 0], [0, 0], [1, 3], [2, 2]]),
    ("circular", [[0, 0], [0, 0], [1, 2], [2, 1]]),
])
def test_pad(mode, pads):
    x = _rand(2, 3, 5, 6)
    (got,) = _run_op("pad", [x], {"pads": pads, "mode": mode, "value": 0.5})
    axes = pads if mode == "constant" else pads[2:]  # PyTorch pads the last axes, last axis first
    flat = [v for pair in reversed(axes) for v in pair]
    kw = {"value": 0.5} if mode == "constant" else {}
    np.testing.assert_array_equal(got, F.pad(_t(x), flat, mode=mode, **kw).numpy())


def test_slice_expand_matmul_sum():
    x = _rand(2, 7, 5)
    (got,) = _run_op("slice", [x], {"axis": 1, "start": 1, "end": 6, "step": 2})
    np.testing.assert_array_equal(got, x[:, 1:6:2])
    (got,) = _run_op("expand", [_rand(3, 1, 5)], {"shape": [2, 3, 4, 5]})
    assert got.shape == (2, 3, 4, 5) and np.all(got == got[:1, :, :1])
    a, b = _rand(2, 3, 4, 6), _rand(3, 6, 5)
    (got,) = _run_op("matmul", [a, b])
    _close(got, _t(a) @ _t(b))
    (got,) = _run_op("sum", [a], {"axes": [1, 3], "keepdim": True})
    _close(got, _t(a).sum(dim=[1, 3], keepdim=True), 1e-6)


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_and_group_norm(affine):
    x = _rand(2, 6, 5, 4, lo=-3, hi=5)
    p = {"weight": _rand(5, 4), "bias": _rand(5, 4)} if affine else {}
    (got,) = _run_op("layer_norm", [x], {"axis": 2, "eps": 1e-5}, p)
    _close(got, F.layer_norm(_t(x), (5, 4), *(_t(v) for v in p.values())), 1e-5)
    p = {"weight": _rand(6), "bias": _rand(6)} if affine else {}
    (got,) = _run_op("group_norm", [x], {"groups": 3, "eps": 1e-5}, p)
    _close(got, F.group_norm(_t(x), 3, *(_t(v) for v in p.values())), 1e-5)
