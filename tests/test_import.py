"""Bringing your own model: public architectures through torch.export and through ONNX, the
`mpsim export --module / --onnx` command line end to end, and its one-line errors.

For every zoo model (tests/public_zoo.py): forward hooks on nn.Conv2d, nn.ConvTranspose2d,
nn.Linear and the zoo's MatMul module count each call's MACs independently of the graph
format (conv: out.numel() * in/groups * kh * kw; transposed conv: in.numel() * out/groups *
kh * kw; linear: out.numel() * in_features; matmul: out.numel() * K); both exported graphs
must hold exactly that multiset, `mpsim verify` must pass on both (the numba executor against
PyTorch's outputs and against onnxruntime's), and the simulator must accept both.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import subprocess
import sys
import textwrap
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
import torch.nn as nn  # noqa: E402

from itnet_export.exporter import export  # noqa: E402
from mpsim.analysis.metrics import graph_size_bytes, stats  # noqa: E402
from mpsim.cli.main import main  # noqa: E402
from mpsim.hw.profile import load_profile  # noqa: E402
from mpsim.ir.loops import unroll  # noqa: E402
from mpsim.ir.serialize import load_graph  # noqa: E402
from mpsim.sim.simulate import simulate  # noqa: E402
from tests import public_zoo as Z  # noqa: E402

# The hooks' total per model (pinned: a change to a zoo model or to a MAC rule shows here).
ZOO_MACS = {
    "segnet": 5_898_240, "enet": 1_040_128, "unet": 9_183_232, "deeplabv3-aspp": 3_065_600,
    "mobilenetv3-small": 1_337_632, "shufflenetv2": 379_328, "hrnet": 3_225_600, "vit": 1_704_384,
    "efficientnet-b0": 819_744, "convnext": 419_648, "mlp-mixer": 1_671_488, "cyclegan-generator": 5_947_392,
    "fcn8s": 846_848, "gn-resnet": 12_501_632, "erfnet": 3_759_872,
}


def hook_macs(model: nn.Module, x) -> tuple[Counter, object]:
    """MACs of every conv / transposed conv / linear / matmul call, and the model's output."""
    calls: Counter = Counter()

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            calls[out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]] += 1
        elif isinstance(m, nn.ConvTranspose2d):
            calls[inp[0].numel() * (m.out_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]] += 1
        elif isinstance(m, nn.Linear):
            calls[out.numel() * m.in_features] += 1
        elif isinstance(m, Z.MatMul):
            calls[out.numel() * inp[0].shape[-1]] += 1

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        out = model(x)
    for h in handles:
        h.remove()
    return calls, out


def graph_macs(g) -> Counter:
    return Counter(n.macs for n in unroll(g).nodes if n.macs)


def onnx_file(model, x, path: Path, dynamo: bool = True) -> Path:
    """torch.onnx.export, quietly (the dynamo exporter prints its progress)."""
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), str(path), dynamo=dynamo)
    finally:
        logging.disable(logging.NOTSET)
    return path


class _Zoo:
    """Each zoo model exported once per session, both ways, through the command line."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.done: dict[str, dict] = {}

    def get(self, name: str) -> dict:
        if name not in self.done:
            model, x = Z.build(name)
            calls, _ = hook_macs(model, x)
            d = self.root / name
            export(model, x, d / "torch", name=name)
            onnx = onnx_file(model, x, d / f"{name}.onnx")
            assert main(["export", "--onnx", str(onnx), "--out", str(d / "onnx"), "--seed", "3"]) == 0
            self.done[name] = {"calls": calls, "torch": d / "torch", "onnx": d / "onnx"}
        return self.done[name]


@pytest.fixture(scope="session")
def zoo(tmp_path_factory):
    return _Zoo(tmp_path_factory.mktemp("zoo"))


def test_the_zoo_has_at_least_twelve_architectures():
    assert len(Z.MODELS) >= 12 and set(Z.MODELS) == set(ZOO_MACS)


@pytest.mark.parametrize("name", list(Z.MODELS))
def test_zoo_macs_equal_forward_hooks_on_both_paths(name, zoo):
    e = zoo.get(name)
    assert sum(m * k for m, k in e["calls"].items()) == ZOO_MACS[name]
    for path in ("torch", "onnx"):
        g = load_graph(e[path])
        assert graph_macs(g) == e["calls"], path  # call by call, not only the total
        assert stats(g)["macs_cumulative"][-1] == ZOO_MACS[name]
    # The same weight layers with the same tensors: the same graph size both ways.
    assert graph_size_bytes(load_graph(e["torch"])) == graph_size_bytes(load_graph(e["onnx"]))


@pytest.mark.parametrize("path", ["torch", "onnx"])
@pytest.mark.parametrize("name", list(Z.MODELS))
def test_zoo_verify_passes(name, path, zoo, tmp_path, capsys):
    report = tmp_path / "verify.json"
    assert main(["verify", str(zoo.get(name)[path]), "--json", str(report)]) == 0
    data = json.loads(report.read_text())
    assert data["passed"] and data["criteria"] == {"atol": 1e-4, "rtol": 1e-5, "min_argmax_agreement": 0.9999}
    for row in data["outputs"]:
        assert row["allclose"] and row["max_abs_err"] < 1e-5 and row["argmax_agreement"] == 1.0, row
    assert ("onnxruntime reference" if path == "onnx" else "PyTorch reference") in capsys.readouterr().out


@pytest.mark.parametrize("name", list(Z.MODELS))
def test_zoo_simulates_on_digital_and_analog_profiles(name, zoo):
    for path in ("torch", "onnx"):
        g = load_graph(zoo.get(name)[path])
        for profile in ("ipu_m2000", "memristor_yao2020"):
            rep, _, _ = simulate(g, load_profile(profile), frames=8)
            assert rep["frames"] == 8 and rep["throughput_fps"] > 0, (path, profile)


def test_torchscript_onnx_exporter_path(tmp_path):
    """The older TorchScript-based torch.onnx exporter writes other patterns (Gemm, MatMul +
    Add for 3-d linear layers, opset-17 nodes): they import and verify too."""
    for name in ("vit", "mobilenetv3-small", "cyclegan-generator"):
        model, x = Z.build(name)
        calls, _ = hook_macs(model, x)
        f = onnx_file(model, x, tmp_path / f"{name}.onnx", dynamo=False)
        out = tmp_path / name
        assert main(["export", "--onnx", str(f), "--out", str(out)]) == 0
        assert graph_macs(load_graph(out)) == calls
        assert main(["verify", str(out)]) == 0


# The command line, end to end -----------------------------------------------------------------

USER_FILE = '''
import torch
import torch.nn as nn


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class UNet(nn.Module):
    def __init__(self, classes=3, base=4):
        super().__init__()
        self.d1, self.d2, self.mid = block(3, base), block(base, 2 * base), block(2 * base, 4 * base)
        self.t2 = nn.ConvTranspose2d(4 * base, 2 * base, 2, 2)
        self.u2 = block(4 * base, 2 * base)
        self.t1 = nn.ConvTranspose2d(2 * base, base, 2, 2)
        self.u1 = block(2 * base, base)
        self.out = nn.Conv2d(base, classes, 1)

    def forward(self, x):
        a = self.d1(x)
        b = self.d2(nn.functional.max_pool2d(a, 2))
        m = self.mid(nn.functional.max_pool2d(b, 2))
        y = self.u2(torch.cat([b, self.t2(m)], 1))
        return self.out(self.u1(torch.cat([a, self.t1(y)], 1)))


def make_unet(classes=3, base=4):
    return UNet(classes, base)


def two_inputs():
    class Fuse(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 4, 3, padding=1)
            self.b = nn.Conv2d(1, 4, 1)

        def forward(self, image, depth):
            return torch.relu(self.a(image)) * torch.sigmoid(self.b(depth))
    return Fuse()


def boom():
    raise ValueError("no weights for you")


def not_a_model():
    return 42


def flipped():
    class Flip(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            y = torch.flip(self.conv(x), dims=[2])
            return torch.flip(torch.cumsum(y, 1), dims=[3])
    return Flip()
'''


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("user")
    (d / "my_models.py").write_text(USER_FILE)
    return d


def _unet_calls(user_dir, shape=(1, 3, 256, 256)):
    sys.path.insert(0, str(user_dir))
    try:
        import importlib

        mod = importlib.import_module("my_models")
        torch.manual_seed(0)
        model = mod.make_unet().eval()
    finally:
        sys.path.remove(str(user_dir))
    return model, hook_macs(model, torch.rand(shape))[0]


def test_cli_module_and_onnx_unet_stats_verify_run(user_dir, tmp_path, capsys):
    """The issue's "done when": a UNet in a user's file, exported by --module and by --onnx,
    accepted by stats, verify and run."""
    mod_out, onnx_out = tmp_path / "unet-module", tmp_path / "unet-onnx"
    assert main(["export", "--module", f"{user_dir}/my_models.py:make_unet", "--input", "1x3x256x256",
                 "--out", str(mod_out)]) == 0
    model, calls = _unet_calls(user_dir)
    onnx = onnx_file(model, torch.rand(1, 3, 256, 256), tmp_path / "model.onnx")
    assert main(["export", "--onnx", str(onnx), "--out", str(onnx_out)]) == 0
    for d in (mod_out, onnx_out):
        assert sorted(p.name for p in d.iterdir()) == ["graph.json", "reference.npz", "weights.npz"]
        st = tmp_path / f"{d.name}.stats.json"
        assert main(["stats", str(d), "--json", str(st)]) == 0
        s = json.loads(st.read_text())
        # By hand (256x256, base 4): d1 7,077,888 + 9,437,184; d2 4,718,592 + 9,437,184; mid 4,718,592 +
        # 9,437,184; t2 (16x64x64 inputs x 8 x 2x2) 2,097,152; u2 18,874,368 + 9,437,184; t1 2,097,152;
        # u1 18,874,368 + 9,437,184; out 786,432.
        assert s["macs_per_output"] == [sum(m * k for m, k in calls.items())] == [106_430_464]
        assert main(["verify", str(d)]) == 0
        rep = tmp_path / f"{d.name}.run.json"
        assert main(["run", "--profile", "ipu_m2000", "--model", str(d), "--frames", "20", "--quiet",
                     "--json", str(rep)]) == 0
        assert json.loads(rep.read_text())["throughput_fps"] > 0
    meta = load_graph(mod_out).meta
    assert meta["source"] == "module" and meta["inputs"] == [[1, 3, 256, 256]] and load_graph(mod_out).name == "make_unet"
    assert load_graph(onnx_out).meta["source"] == "onnx"


def test_cli_module_from_a_package_with_args_kwargs_and_checkpoint(tmp_path):
    """package.module:FACTORY with --args / --kwargs; --checkpoint as a full checkpoint whose
    state dict has DataParallel's 'module.' prefix: the export computes with those weights."""
    torch.manual_seed(5)
    trained = Z.UNet(3, base=4).eval()
    state = {f"module.{k}": v for k, v in trained.state_dict().items()}
    ck = tmp_path / "ck.pt"
    torch.save({"epoch": 7, "state_dict": state, "optimizer": {}}, ck)
    out = tmp_path / "out"
    assert main(["export", "--module", "tests.public_zoo:UNet", "--args", "[3]", "--kwargs", '{"base": 4}',
                 "--input", "1x3x32x32", "--checkpoint", str(ck), "--out", str(out), "--seed", "2"]) == 0
    ref = np.load(out / "reference.npz")
    with torch.no_grad():
        expected = trained(torch.from_numpy(ref["input"])).numpy()
    np.testing.assert_array_equal(ref["output_1"], expected)
    assert load_graph(out).meta["checkpoint"] == "ck.pt" and load_graph(out).meta["kwargs"] == {"base": 4}
    assert main(["verify", str(out)]) == 0


def test_cli_module_with_two_inputs(user_dir, tmp_path):
    out = tmp_path / "two"
    assert main(["export", "--module", f"{user_dir}/my_models.py:two_inputs", "--input", "1x3x8x8",
                 "--input", "1x1x8x8", "--out", str(out)]) == 0
    g = load_graph(out)
    assert [g.tensors[t].shape for t in g.inputs] == [(1, 3, 8, 8), (1, 1, 8, 8)]
    assert set(np.load(out / "reference.npz").files) == {f"input.{g.inputs[0]}", f"input.{g.inputs[1]}", "output_1"}
    assert main(["verify", str(out)]) == 0


def test_cli_unsupported_operators_headline_json_and_nothing_written(user_dir, tmp_path, capsys):
    out, report = tmp_path / "never", tmp_path / "unsupported.json"
    assert main(["export", "--module", f"{user_dir}/my_models.py:flipped", "--input", "1x3x8x8",
                 "--out", str(out), "--json", str(report)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("mpsim export: error: 2 unsupported operator(s), 3 occurrence(s): "
                          "aten.flip.default x2 (first at model); aten.cumsum.default x1 (first at model)")
    assert not out.exists()
    data = json.loads(report.read_text())
    assert data["exported"] is False and data["schema"] == "mpsim.export/1" and data["mpsim_version"]
    assert [(u["op"], u["count"]) for u in data["unsupported"]] == [("aten.flip.default", 2),
                                                                    ("aten.cumsum.default", 1)]
    assert [o["op"] for o in data["occurrences"]] == ["aten.flip.default", "aten.cumsum.default", "aten.flip.default"]


def test_cli_unsupported_onnx_operator(tmp_path, capsys):
    class Cum(nn.Module):
        def forward(self, x):
            return torch.cumsum(x, 1) * 2

    f = onnx_file(Cum().eval(), torch.rand(1, 3, 4, 4), tmp_path / "cum.onnx")
    assert main(["export", "--onnx", str(f), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ai.onnx.CumSum x1" in err and not (tmp_path / "out").exists()


def test_onnx_import_does_not_need_torch(tmp_path):
    f = onnx_file(Z.build("fcn8s")[0], Z.build("fcn8s")[1], tmp_path / "fcn.onnx")
    code = (f"import sys; from mpsim.cli.main import main; "
            f"assert main(['export', '--onnx', {str(f)!r}, '--out', {str(tmp_path / 'o')!r}]) == 0; "
            f"assert main(['verify', {str(tmp_path / 'o')!r}]) == 0; assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_onnx_dynamic_batch_needs_input(tmp_path, capsys):
    model, x = Z.build("fcn8s")
    f = tmp_path / "dyn.onnx"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(f), dynamo=False, input_names=["image"],
                          dynamic_axes={"image": {0: "batch"}})
    assert main(["export", "--onnx", str(f), "--out", str(tmp_path / "a")]) == 2
    assert "dynamic dimension 'batch': give its shape with --input" in capsys.readouterr().err
    assert main(["export", "--onnx", str(f), "--input", "2x3x32x32", "--out", str(tmp_path / "b")]) == 0
    assert load_graph(tmp_path / "b").tensors["image"].shape == (2, 3, 32, 32)
    assert main(["verify", str(tmp_path / "b")]) == 0


# Bad input: one line, exit 2, nothing written ---------------------------------------------------

def _bad_cases(user_dir, tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07 this is not a protobuf")
    truncated = tmp_path / "truncated.onnx"
    good = onnx_file(Z.build("fcn8s")[0], Z.build("fcn8s")[1], tmp_path / "good.onnx")
    truncated.write_bytes(good.read_bytes()[:300])
    f = f"{user_dir}/my_models.py"
    return {
        "missing file": (["--module", f"{user_dir}/nope.py:make_unet", "--input", "1x3x8x8"], "nope.py: no such file"),
        "no colon": (["--module", f, "--input", "1x3x8x8"], "--module wants FILE.py:FACTORY"),
        "bad factory": (["--module", f"{f}:make_unet2", "--input", "1x3x8x8"], "has no 'make_unet2' (it defines"),
        "missing package": (["--module", "no_such_pkg.models:f", "--input", "1x3x8x8"],
                            "module 'no_such_pkg.models' could not be imported (ModuleNotFoundError"),
        "bad json": (["--module", f"{f}:make_unet", "--input", "1x3x8x8", "--args", "[3,"], "--args is not valid JSON"),
        "json not a list": (["--module", f"{f}:make_unet", "--input", "1x3x8x8", "--args", '{"a": 1}'],
                            "--args wants a JSON list"),
        "json not an object": (["--module", f"{f}:make_unet", "--input", "1x3x8x8", "--kwargs", "[1]"],
                               "--kwargs wants a JSON object"),
        "bad shape": (["--module", f"{f}:make_unet", "--input", "1x3xfoo"], "--input wants a shape like"),
        "zero dim": (["--module", f"{f}:make_unet", "--input", "1x0x8x8"], "--input wants a shape like"),
        "no input": (["--module", f"{f}:make_unet"], "--module needs --input"),
        "factory raises": (["--module", f"{f}:boom", "--input", "1x3x8x8"], "raised ValueError: no weights for you"),
        "not a module": (["--module", f"{f}:not_a_model", "--input", "1x3x8x8"], "returned a int, not a torch.nn.Module"),
        "wrong kwargs": (["--module", f"{f}:make_unet", "--input", "1x3x8x8", "--kwargs", '{"depth": 2}'],
                         "raised TypeError"),
        "forward fails": (["--module", f"{f}:make_unet", "--input", "1x5x8x8"],
                          "the model's forward failed on input(s) 1x5x8x8: RuntimeError"),
        "bad checkpoint": (["--module", f"{f}:make_unet", "--input", "1x3x8x8", "--checkpoint", str(garbage)],
                           "not a readable checkpoint"),
        "flag for another source": (["--preset", "itnet-tiny", "--input", "1x3x8x8"], "--input does not apply to --preset"),
        "malformed onnx": (["--onnx", str(garbage)], "garbage.onnx: not a valid ONNX model"),
        "truncated onnx": (["--onnx", str(truncated)], "truncated.onnx: not a valid ONNX model"),
        "missing onnx": (["--onnx", str(tmp_path / "none.onnx")], "none.onnx: no such ONNX file"),
        "onnx input count": (["--onnx", str(good), "--input", "1x3x32x32", "--input", "1x3x32x32"],
                             "the model has 1 input(s), --input gives 2"),
        "onnx input shape": (["--onnx", str(good), "--input", "1x3x64x64"], "is 1x3x32x32 in the model"),
    }


def _exit_code(argv: list[str]) -> int:
    """main's return code, or the code of the SystemExit argparse raises on a bad flag value."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code)


def test_bad_input_is_one_line_exit_2_nothing_written(user_dir, tmp_path, capsys):
    for case, (argv, message) in _bad_cases(user_dir, tmp_path).items():
        out = tmp_path / "out" / case.replace(" ", "-")
        capsys.readouterr()
        assert _exit_code(["export", *argv, "--out", str(out)]) == 2, case
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, (case, err)
        assert message in err, (case, err)
        assert not out.exists(), case


def test_user_file_imports_its_neighbours(tmp_path):
    """A model file may import a module beside it (the folder is on sys.path while it loads)."""
    (tmp_path / "layers.py").write_text("import torch.nn as nn\ndef head():\n    return nn.Conv2d(3, 2, 1)\n")
    (tmp_path / "net.py").write_text(textwrap.dedent("""
        import torch.nn as nn
        from layers import head
        def build():
            return nn.Sequential(head(), nn.ReLU())
    """))
    assert main(["export", "--module", f"{tmp_path}/net.py:build", "--input", "1x3x4x4",
                 "--out", str(tmp_path / "o")]) == 0
    assert [n.op for n in load_graph(tmp_path / "o").nodes] == ["conv2d", "relu"]


# Exporter forms beyond the zoo --------------------------------------------------------------------

class OpsTour(nn.Module):
    """Forms users' code has that the zoo does not: fused attention, constants made in forward
    (full, arange, zeros_like), 'same' padding with an even kernel, instance norm with running
    statistics, an expand that is materialised, unbind / stack, rsqrt, tanh-GELU, a sum."""

    def __init__(self) -> None:
        super().__init__()
        self.same = nn.Conv2d(3, 8, 4, padding="same")
        self.inorm = nn.InstanceNorm2d(8, affine=True, track_running_stats=True)
        self.qkv = nn.Linear(8, 24)

    def forward(self, x):
        y = self.inorm(self.same(x))  # 1x8x8x8
        t = y.flatten(2).transpose(1, 2)  # 1x64x8
        q, k, v = self.qkv(t).reshape(1, 64, 3, 2, 4).permute(2, 0, 3, 1, 4).unbind(0)
        a = nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(1, 64, 8)
        ramp = torch.arange(64, dtype=torch.float32).reshape(1, 64, 1) / 64 + torch.full((1, 1, 8), 0.5)
        a = nn.functional.gelu(a + ramp + torch.zeros_like(a), approximate="tanh")
        g = torch.rsqrt(a.pow(2).mean(-1, keepdim=True) + 1e-3) * a
        tiled = torch.cat([g.mean(1, keepdim=True).expand(1, 4, 8), g[:, :4]], 2)  # expand into a cat
        return torch.stack([tiled, tiled * 2], 0).sum(dim=(0, 1))


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_ops_tour_both_paths(tmp_path):
    torch.manual_seed(0)
    model = Z.randomize_norms(OpsTour()).eval()
    with torch.no_grad():
        model.inorm.running_mean.uniform_(-0.1, 0.1)
    x = torch.rand(1, 3, 8, 8)
    export(model, x, tmp_path / "torch")
    g = load_graph(tmp_path / "torch")
    ops = Counter(n.op for n in g.nodes)
    assert ops["pad"] == 1 and ops["matmul"] == 2 and ops["expand"] == 1 and ops["batch_norm"] == 0
    assert "group_norm" not in ops  # running statistics: a batch norm, folded into the conv
    # MACs: conv 8x8x8 outputs x 3x16 = 24,576; qkv 64x24 x 8 = 12,288; attention 2 x 1x2x64x64 x 4 = 65,536
    assert sum(n.macs for n in g.nodes) == 24_576 + 12_288 + 65_536
    assert main(["verify", str(tmp_path / "torch")]) == 0
    f = onnx_file(model, x, tmp_path / "tour.onnx")
    assert main(["export", "--onnx", str(f), "--out", str(tmp_path / "onnx")]) == 0
    assert sum(n.macs for n in load_graph(tmp_path / "onnx").nodes) == 24_576 + 12_288 + 65_536
    assert main(["verify", str(tmp_path / "onnx")]) == 0


def test_random_values_in_forward_are_refused_not_folded():
    """A tensor drawn in forward would be frozen at export while the reference draws another."""
    from itnet_export.exporter import to_flat_graph
    from mpsim.errors import UnsupportedOperatorError

    class Noisy(nn.Module):
        def forward(self, x):
            return x + 0.1 * torch.randn(x.shape)

    with pytest.raises(UnsupportedOperatorError, match=r"aten\.randn\.default x1 \(first at model: random values"):
        to_flat_graph(Noisy(), torch.rand(1, 3, 4, 4))


# Heavier variants (make nightly) -----------------------------------------------------------------

LARGE = {  # the fully convolutional nets at a camera-like 128x256, the classifiers at 128x128
    **{n: (1, 3, 128, 256) for n in ("segnet", "enet", "unet", "deeplabv3-aspp", "hrnet", "cyclegan-generator",
                                      "fcn8s", "erfnet")},
    **{n: (1, 3, 128, 128) for n in ("mobilenetv3-small", "shufflenetv2", "efficientnet-b0", "convnext",
                                      "gn-resnet")},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(LARGE))
def test_zoo_at_larger_inputs_both_paths(name, tmp_path):
    """Max-unpooling (SegNet, ENet) moves a value wherever the pooling's argmax moves: two values
    of a window within a rounding of each other (ENet at 128x256 has one such window) put it
    elsewhere.  There verify may fail on a handful of elements while argmax agrees everywhere."""
    model, x = Z.build(name, shape=LARGE[name])
    calls, _ = hook_macs(model, x)
    export(model, x, tmp_path / "torch", name=name)
    f = onnx_file(model, x, tmp_path / f"{name}.onnx")
    assert main(["export", "--onnx", str(f), "--out", str(tmp_path / "onnx")]) == 0
    for path in ("torch", "onnx"):
        assert graph_macs(load_graph(tmp_path / path)) == calls, path
        report = tmp_path / f"{path}.json"
        code = main(["verify", str(tmp_path / path), "--json", str(report)])
        if name in ("segnet", "enet") and code == 1:
            for row in json.loads(report.read_text())["outputs"]:
                assert row["argmax_agreement"] >= 0.9999 and row["outside_tolerance"] <= 1e-3, (path, row)
        else:
            assert code == 0, path


def test_eval_dropouts_and_identity_like_ops_vanish(tmp_path):
    """Every dropout variant in eval mode and every identity-like op leaves no node behind."""
    class Quiet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.drops = nn.Sequential(nn.Dropout(0.3), nn.Dropout2d(0.3), nn.AlphaDropout(0.3),
                                       nn.FeatureAlphaDropout(0.3), nn.Identity())

        def forward(self, x):
            y = self.drops(self.conv(x)).clone().contiguous().detach()
            y = nn.functional.dropout(y, 0.5, training=self.training).to(torch.float32).type_as(x)
            return nn.functional.dropout1d(y.flatten(2), 0.2, training=self.training)

    model = Quiet().eval()
    x = torch.rand(1, 3, 6, 6)
    export(model, x, tmp_path / "q")
    assert [n.op for n in load_graph(tmp_path / "q").nodes] == ["conv2d", "reshape"]
    assert main(["verify", str(tmp_path / "q")]) == 0
