"""The profile-driven options the validation anchors need (docs/semantics.md, docs/profiles.md),
each against a hand-computed number: no fusion, a GPU's work tile, per-format efficiency and
Winograd, the host's issue time and a frame's fixed overhead, TrueNorth's spatial unroll and
two axons per input, whole crossbar reads, and partial sums between arrays.

Round profiles (tests/simkit.py): 1 GHz, 1 fp32 MAC (4 fp16) and 1 vector op per cycle per tile,
ideal efficiency. The chain: conv A (1->2, 3x3: 288 MACs, 32 outputs) -> relu (32 ops) -> conv B
(2->1, 1x1: 32 MACs).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mpsim.hw.precision import PRECISIONS
from mpsim.hw.profile import load_profile
from mpsim.ir.builder import GraphBuilder
from mpsim.mapping.cost import crossbar_time, firing_time, tile_time
from mpsim.mapping.fusion import fuse
from mpsim.mapping.memory import crossbar_arrays, unrolled_arrays
from mpsim.mapping.placement import RunOptions, place
from mpsim.sim.plan import build_plan
from tests.simkit import PROFILE_YAML, WHY, chain_graph, round_profile

NS = 1e-9


def _q(value, unit: str) -> dict:
    return {"value": value, "unit": unit, "source": "assumption: a round number for a hand-computed test"}


def gpu_profile(tmp_path, **over):
    """The round profile as a one-SM GPU (layer by layer), device memory fast enough to vanish."""
    text = (PROFILE_YAML.format(name="roundgpu", tiles=1, chips=1, why=WHY)
            .replace("kind: tiles", "kind: gpu")
            .replace("default_placement: pipelined", "default_placement: layer_by_layer")
            .replace("offchip:      {value: 1, unit: GB/s", "offchip:      {value: 1000000, unit: GB/s"))
    path = tmp_path / "roundgpu.yaml"
    path.write_text(text)
    return load_profile(str(path), overrides=over)


def _node(g, name):
    return g.node_by_name[name]


def test_without_fusion_every_node_is_a_unit():
    g = chain_graph()
    assert [u.nodes for u in fuse(g)[0]] == [(0, 1), (2,)]  # relu joins conv A
    assert [u.nodes for u in fuse(g, elementwise=False)[0]] == [(0,), (1,), (2,)]


def test_layer_by_layer_without_fusion_runs_a_kernel_per_node(tmp_path):
    p = gpu_profile(tmp_path, **{"compute.fused_elementwise": _q(False, "bool")})
    pl = place(chain_graph(), p, RunOptions())
    assert pl.meta["kernels"] == 3
    # A 288 ns, relu 32 ns, B 32 ns: each its own kernel on the one SM
    np.testing.assert_allclose([n.service_s for n in pl.nodes], np.array([288, 32, 32]) * NS)


def test_a_kernel_takes_the_longer_of_its_host_issue_and_its_launch_plus_execution(tmp_path):
    p = gpu_profile(tmp_path, **{"timing.host_issue": _q(100, "ns"), "timing.op_overhead": _q(10, "ns")})
    pl = place(chain_graph(), p, RunOptions())
    # kernel A+relu: 10 + 320 = 330 > 100; kernel B: 10 + 32 = 42 < 100, so 100
    np.testing.assert_allclose([n.service_s for n in pl.nodes], np.array([330, 100]) * NS)
    np.testing.assert_allclose([n.overhead_s for n in pl.nodes], np.array([10, 68]) * NS)


def test_frame_overhead_is_paid_once_per_frame_before_the_first_operation(tmp_path):
    p = gpu_profile(tmp_path, **{"timing.frame_overhead": _q(50, "ns")})
    pl = place(chain_graph(), p, RunOptions(batch=3))
    np.testing.assert_allclose([n.service_s for n in pl.nodes], np.array([50 + 3 * 320, 3 * 32]) * NS)
    seq = round_profile(tmp_path, tiles=1).with_overrides(**{"timing.frame_overhead": _q(50, "ns")})
    pl = place(chain_graph(), seq, RunOptions(placement="sequential"))
    assert [n.overhead_s for n in pl.nodes] == pytest.approx([50 * NS, 0.0])


def test_work_tile_makes_a_small_op_use_fewer_tiles(tmp_path):
    g = chain_graph()
    a = _node(g, "A")
    p = round_profile(tmp_path, tiles=4)
    assert tile_time(g, a, p, tiles=4) == pytest.approx(288 / 4 * NS)  # 32 outputs over 4 tiles
    p16 = p.with_overrides(**{"compute.work_tile": _q(16, "count")})
    assert tile_time(g, a, p16, tiles=4) == pytest.approx(288 / 2 * NS)  # 2 pieces of 16: 2 tiles busy
    p64 = p.with_overrides(**{"compute.work_tile": _q(64, "count")})
    assert tile_time(g, a, p64, tiles=4) == pytest.approx(288 * NS)  # one piece: one tile


def test_per_format_efficiency_and_winograd(tmp_path):
    g = chain_graph()
    a, b = _node(g, "A"), _node(g, "B")
    p = round_profile(tmp_path, tiles=1)
    half = p.with_overrides(**{"precision.efficiency": {"fp16": _q(0.5, "ratio")}})
    assert tile_time(g, a, half.with_precision("fp16"), 1) == pytest.approx(288 / (4 * 0.5) * NS)
    assert tile_time(g, a, half, 1) == pytest.approx(288 * NS)  # fp32 not listed: 1
    wino = p.with_overrides(**{"precision.winograd": {"fp32": _q(0.25, "ratio")}})
    assert tile_time(g, a, wino, 1) == pytest.approx(72 * NS)  # 3x3 stride 1: a quarter of its MACs
    assert tile_time(g, b, wino, 1) == pytest.approx(32 * NS)  # a 1x1 convolution does them all


def test_int4_and_fp8_formats():
    assert (PRECISIONS["int4"].weight_bits, PRECISIONS["int4"].activation_bits) == (4, 4)
    assert (PRECISIONS["fp8"].weight_bits, PRECISIONS["fp8"].activation_bits) == (8, 8)
    np_ = load_profile("northpole", precision="int4")
    assert np_.tile_macs_per_s == 2 * load_profile("northpole").tile_macs_per_s  # 2,048 vs 1,024 per cycle
    c600 = load_profile("ipu_c600")
    assert c600.with_precision("fp8").tile_macs_per_s == 2 * c600.tile_macs_per_s


# -- crossbars -------------------------------------------------------------------------------------

def _conv_graph(cin, cout, k, hw, groups=1, stride=1, act="clamp"):
    b = GraphBuilder("c")
    x = b.input("x", (1, cin, hw, hw))
    w = b.weight("w", (cout, cin // groups, k, k))
    attrs = {"stride": [stride, stride], "padding": [k // 2, k // 2], "dilation": [1, 1], "groups": groups}
    y = b.node("conv2d", [x], attrs, {"weight": w}, name="conv")[0]
    b.output(b.node(act, [y], {"min": 0.0, "max": 1.0} if act == "clamp" else {})[0])
    return b.build()


def test_spatial_unroll_copies_a_kernel_per_block_of_positions():
    tn = load_profile("truenorth")
    assert tn.crossbar.spatial_unroll and tn.crossbar.rows_per_input == 2
    g = _conv_graph(8, 16, 3, 8)
    # one position: 8 x 9 inputs x 2 axons = 144 rows; a 2 x 2 block needs 8 x 4 x 4 x 2 = 256 rows and
    # 4 x 16 = 64 neurons: 16 blocks of the 8 x 8 output, 16 cores (1 x 3 blocks would need 24)
    assert unrolled_arrays(g, g.node_by_name["conv"], tn) == 16
    g2 = _conv_graph(16, 32, 3, 8, groups=2)  # two groups of the same size: twice the cores
    assert unrolled_arrays(g2, g2.node_by_name["conv"], tn) == 32


def test_spatially_unrolled_layer_is_one_read_and_its_neurons_fire_within_it():
    tn = load_profile("truenorth")
    g = _conv_graph(8, 16, 3, 8)
    conv, clamp = g.node_by_name["conv"], g.nodes[1]
    assert crossbar_time(g, conv, tn, replicas=1) == pytest.approx(1e-3)  # one tick, all 64 positions
    assert firing_time(g, clamp, tn, tiles=16) == 0.0


def test_two_axons_per_input_double_the_rows():
    tn = load_profile("truenorth").with_overrides(**{"crossbar.spatial_unroll": _q(False, "bool")})
    g = _conv_graph(16, 16, 3, 4)  # fan-in 144: 288 axons, more than a core's 256
    units, _ = fuse(g)
    assert crossbar_arrays(g, units[0], tn) == 2
    one = tn.with_overrides(**{"crossbar.rows_per_input": _q(1, "count")})
    assert crossbar_arrays(g, units[0], one) == 1


def _linear_graph(inputs, outputs):
    b = GraphBuilder("mvm")
    x = b.input("x", (1, inputs))
    b.output(b.node("linear", [x], params={"weight": b.weight("w", (outputs, inputs))})[0])
    return b.build()


def test_a_read_is_not_divided_among_replicas():
    pcm = load_profile("pcm_hermes64")
    g = _linear_graph(256, 64)
    n = g.nodes[0]
    assert crossbar_time(g, n, pcm, replicas=4) == pytest.approx(520e-9)  # one read, whatever the copies
    assert crossbar_time(g, n, pcm, replicas=4, batch=8) == pytest.approx(2 * 520e-9)  # 8 reads over 4 copies


def test_partial_sums_of_a_layer_split_by_rows_cross_the_exchange():
    pcm = load_profile("pcm_hermes64")  # 256 rows, 520 ns per read, 16-bit partial sums, 0.4 GB/s links
    g = _linear_graph(512, 64)  # 512 inputs: two arrays by rows
    n = g.nodes[0]
    psum = 64 * 2 / 0.4e9  # 64 sums of 2 bytes: 320 ns
    assert crossbar_time(g, n, pcm, replicas=1) == pytest.approx(520e-9 + psum)
    assert crossbar_time(g, n, pcm, replicas=1, batch=3) == pytest.approx(3 * 520e-9 + psum)  # overlapped
    g1 = _linear_graph(256, 64)
    assert crossbar_time(g1, g1.nodes[0], pcm, replicas=1) == pytest.approx(520e-9)  # one array: no sums to move


def test_truenorth_cifar10_runs_one_frame_per_tick():
    from mpsim.models import resolve_model
    from mpsim.sim.simulate import simulate

    g = resolve_model("truenorth-cifar10")
    rep, _, _ = simulate(g, load_profile("truenorth"), frames=200)
    assert rep["memory"]["used"] == 3608 <= 4096  # Esser et al.: 4,042 cores
    # a layer per tick, pipelined: a frame per tick, less the spikes' exchange rollout adds to it
    assert 0.95e3 < rep["throughput_fps"] <= 1e3
    pl = place(g, load_profile("truenorth"))
    plan = build_plan(pl)
    tick = 1e-3
    assert max(plan.service_s[:len(pl.nodes)]) == pytest.approx(tick)
    assert math.isclose(sum(1 for n in pl.nodes if n.compute_s == 0.0), sum(1 for n in g.nodes if n.op != "conv2d"))
