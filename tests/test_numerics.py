"""Hardware numerics: rounding and quantisation by hand, analog crossbars, determinism, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mpsim.cli.main import main
from mpsim.exec.executor import Executor
from mpsim.exec.numerics import AnalogNumerics, DigitalNumerics, cast, for_profile, quantise
from mpsim.exec.weights import load_reference, load_weights
from mpsim.hw.profile import load_profile
from mpsim.ir.graph import Node
from mpsim.ir.serialize import load_graph

CONV = Node("c", "conv2d", ("x",), ("y",), {"stride": [1, 1], "padding": [0, 0], "dilation": [1, 1], "groups": 1},
            {"weight": "w"})


def test_bf16_and_fp16_round_to_nearest_even():
    x = np.array([1.0 + 2**-8, 1.0 + 3 * 2**-8, 1.0 + 2**-11, 65504.0 * 2], dtype=np.float32)
    assert cast(x[:2], "bf16").tolist() == [1.0, 1.0 + 2**-6]  # ties to even; 7 mantissa bits
    assert cast(x[2:3], "fp16").tolist() == [1.0]  # tie at the 11th bit goes to even
    assert np.isinf(cast(x[3:], "fp16")[0])


def test_int8_per_channel_weights():
    w = np.array([[0.5, -1.0, 0.25], [10.0, 3.0, -7.0]], dtype=np.float32)
    q = quantise(w, 127.0, axis=0)
    # Each row keeps its max exactly; the other entries move by at most half a step.
    assert q[0, 1] == -1.0 and q[1, 0] == 10.0
    assert np.all(np.abs(q - w) <= np.array([[1 / 254], [10 / 254]]) + 1e-7)
    n = DigitalNumerics("int8", "int8")
    assert np.array_equal(n.weight(CONV, "weight", "w", w), q)
    assert np.array_equal(n.weight(CONV, "bias", "b", w[0]), w[0])  # biases stay wide


def test_analog_weights_levels_and_stuck_cells():
    p = load_profile("memristor_yao2020")
    num = AnalogNumerics(p, seed=3)
    rng = np.random.default_rng(0)
    w = rng.normal(size=(64, 4000)).astype(np.float32)
    g = num.weight(CONV, "weight", "w", w)
    # 4-bit weights: each side of a differential pair on 8 levels (stuck cells at 0 or the top
    # level), so every weight is k/7 of its column's max, k in -7..7: the paper's 15 levels.
    steps = g / np.abs(w).max(axis=1, keepdims=True) * 7
    assert np.allclose(steps, np.rint(steps), atol=1e-4) and np.abs(np.rint(steps)).max() == 7
    # Stuck-at-off cells (9 %) zero the side that carries a weight's value.
    big = np.abs(w) > np.abs(w).max(axis=1, keepdims=True) / 7
    assert 0.08 < (np.isclose(g, 0) & big).sum() / big.sum() < 0.10
    assert np.array_equal(g, AnalogNumerics(p, seed=3).weight(CONV, "weight", "w", w))  # seeded
    assert not np.array_equal(g, AnalogNumerics(p, seed=4).weight(CONV, "weight", "w", w))


def test_executor_under_numerics(tiny_dir):
    g = load_graph(tiny_dir)
    w = load_weights(tiny_dir, g)
    x, _ = load_reference(tiny_dir, len(g.outputs))
    base = Executor(g, w).run(x)
    fp16 = Executor(g, w, numerics=DigitalNumerics("fp16", "fp16")).run(x)
    int8 = Executor(g, w, numerics=DigitalNumerics("int8", "int8")).run(x)
    isaac = Executor(g, w, numerics=for_profile(load_profile("memristor_isaac"))).run(x)
    yao = Executor(g, w, numerics=for_profile(load_profile("memristor_yao2020"), seed=1)).run(x)
    yao_again = Executor(g, w, numerics=for_profile(load_profile("memristor_yao2020"), seed=1)).run(x)
    err = [max(float(np.abs(a - b).max()) for a, b in zip(o, base)) for o in (fp16, int8, isaac, yao)]
    assert err[0] < 5e-3 < err[3] and err[1] < err[3]  # fp16 closest, the noisy faulty chip furthest
    assert all(np.array_equal(a, b) for a, b in zip(yao, yao_again))
    assert for_profile(load_profile("ipu_m2000", precision="fp32")) is None  # fp32: the executor as it is
    assert isinstance(for_profile(load_profile("ipu_m2000")), DigitalNumerics)  # the IPU's default fp16


def test_verify_with_profile(tiny_dir, tmp_path):
    out = tmp_path / "v.json"
    assert main(["verify", str(tiny_dir), "--profile", "memristor_isaac", "--data", "digits", "--data-frames", "2",
                 "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["profile"] == "memristor_isaac" and len(rep["outputs"]) == 4
    assert all(0 < o["max_abs_err"] < 1 and 0.5 < o["argmax_agreement"] <= 1 for o in rep["outputs"])
    assert len(rep["miou_per_output"]["hardware"]) == 4


def test_verify_data_without_profile_is_one_line(tiny_dir, capsys):
    assert main(["verify", str(tiny_dir), "--data", "digits"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
