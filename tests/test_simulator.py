"""The simulator against closed forms on hand-sized graphs: placement styles, chips and replicas,
precisions, the host links, and the ItNet checks (docs/semantics.md).

The round-number profile (tests/simkit.py): 1 GHz, 1 fp32 MAC (4 fp16) and 1 vector op per cycle
per tile, 1 B/cycle exchange per tile, 1 GB/s host and chip links, sync 10 cycles (+5 per further
chip), ideal efficiency. The chain: x[1,1,4,4] -> conv A (1->2, 3x3: 288 MACs) -> relu (32 ops)
-> conv B (2->1, 1x1: 32 MACs) -> output (16 floats).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mpsim.cli.main import main
from mpsim.hw.profile import load_profile
from mpsim.ir.builder import GraphBuilder
from mpsim.mapping.memory import peak_live_bytes
from mpsim.mapping.placement import RunOptions, place
from mpsim.models import resolve_model
from mpsim.sim.simulate import make_plan, run_engine, simulate
from tests.simkit import chain_graph, conv, loop_graph, round_profile

NS = 1e-9


def test_chain_first_latency_is_critical_path_and_throughput_is_bottleneck(tmp_path):
    p = round_profile(tmp_path, tiles=2)
    pl, plan = make_plan(chain_graph(), p)
    assert pl.fits and pl.style == "pipelined" and [u.tiles for u in pl.units] == [1, 1]
    # A 288 ns, relu 32 ns (fused with A), B 32 ns; then the host units: the input, 64 B in
    # 64 ns, and the output's return, 16 floats in 64 ns.
    np.testing.assert_allclose(plan.service_s, np.array([288, 32, 32, 64, 64]) * NS)
    r = run_engine(plan, p, "dataflow", "simpy", frames=400, rate=None)
    # host 64 + A 320 + transfer A->B 128 B over one tile's port 128 + B 32 + return 64
    assert r.first_latency[0] == pytest.approx(608 * NS, rel=1e-12)
    # Unit A (conv + relu) is busy 320 ns per frame: the largest per-frame busy time.
    assert r.throughput_fps == pytest.approx(1 / (320 * NS), rel=1e-9)
    assert plan.bottleneck_s == pytest.approx(320 * NS)


def test_rate_below_capacity_keeps_latency_at_critical_path(tmp_path):
    p = round_profile(tmp_path, tiles=2)
    _, plan = make_plan(chain_graph(), p)
    r = run_engine(plan, p, "dataflow", "simpy", frames=300, rate=1e6)  # one frame per 1000 ns
    assert r.hist.mean()[0] == pytest.approx(608 * NS, rel=1e-9)
    assert r.throughput_fps == pytest.approx(1e6, rel=1e-9)


@pytest.mark.parametrize("engine", ["simpy", "compiled"])
def test_bsp_and_rollout_first_frame_by_hand(tmp_path, engine):
    p = round_profile(tmp_path, tiles=2)
    _, plan = make_plan(chain_graph(), p)
    bsp = run_engine(plan, p, "bsp", engine, frames=1, rate=None)
    # step 1: input 64, sync 10 (the input reaches A with the exchange); step 2: A+relu 320, sync 10,
    # exchange 128; step 3: B 32, sync 10; step 4: the return, 64.
    assert bsp.first_latency[0] == pytest.approx((64 + 10 + 320 + 10 + 128 + 32 + 10 + 64) * NS, rel=1e-12)
    assert bsp.steps == 4 and bsp.phase_s == pytest.approx(np.array([64 + 320 + 32 + 64, 40, 128]) * NS)
    roll = run_engine(plan, p, "rollout", engine, frames=1, rate=None)
    tick = (320 + 128) * NS  # slowest unit step + slowest link exchange
    assert roll.first_latency[0] == pytest.approx(3 * tick + 64 * NS, rel=1e-12)


@pytest.mark.parametrize("engine", ["simpy", "compiled"])
@pytest.mark.parametrize("trips", [2, 4])
def test_folded_loop_throughput_bounded_by_trips_unrolled_not(tmp_path, trips, engine):
    flat, folded = loop_graph(trips)
    assert len(folded.loops) == 1 and folded.loops[0].trip_count == trips
    p_fold = round_profile(tmp_path, tiles=2, name="fold")
    p_flat = round_profile(tmp_path, tiles=trips + 1, name="flat")
    _, plan_f = make_plan(folded, p_fold)
    _, plan_u = make_plan(flat, p_flat)
    rf = run_engine(plan_f, p_fold, "dataflow", engine, frames=300, rate=None)
    ru = run_engine(plan_u, p_flat, "dataflow", engine, frames=300, rate=None)
    body = 576 + 32  # conv S + relu, ns per iteration
    assert rf.throughput_fps == pytest.approx(1 / (trips * body * NS), rel=1e-9)
    assert ru.throughput_fps == pytest.approx(1 / (body * NS), rel=1e-9)
    # First frame: host 64 + conv0 288 + transfer 128 + the iterations (+ transfers between
    # the unrolled copies, which live on different tiles) + the return of the 2-class output as
    # labels, one byte per position, 16.
    assert rf.first_latency[0] == pytest.approx((64 + 288 + 128 + trips * body + 16) * NS, rel=1e-12)
    assert ru.first_latency[0] == pytest.approx((64 + 288 + 128 + trips * body + (trips - 1) * 128 + 16) * NS,
                                                rel=1e-12)


def test_memory_stays_flat_without_recording(tmp_path):
    p = round_profile(tmp_path, tiles=2)
    _, plan = make_plan(chain_graph(), p)
    r = run_engine(plan, p, "dataflow", "simpy", frames=2000, rate=None)
    assert r.release is None and r.done is None and r.trace == []
    assert r.hist.counts.shape[0] == 1 and r.hist.n[0] == 2000 - r.warmup


# Chips, stages and replicas ---------------------------------------------------------------------

def test_a_cut_inside_a_loop_carries_every_iteration():
    """Folded loop of 4 trips, c0 -> [S -> relu] (2x4x4 fp32 = 128 B a tensor): a cut before S
    carries c0's output once; a cut between S and relu carries S's output 4 times and relu's
    carried state back 3 times (7 x 128 B); fp16 at batch 2 the same bytes."""
    from mpsim.mapping.program import cut_bytes, grouped_edges

    _, g = loop_graph(4)
    n = len(g.nodes)
    edges = grouped_edges(g, list(range(n)))
    assert cut_bytes(g, edges, list(range(n)), 32, 1, n).tolist() == [0, 128, 896, 0]
    assert cut_bytes(g, edges, list(range(n)), 16, 2, n).tolist() == [0, 128, 896, 0]
    assert cut_bytes(g, edges, [0, 1, 1], 32, 1, 2).tolist() == [0, 128, 0]  # S and relu in one group


def test_chain_on_one_chip_vs_cut_over_two_chips(tmp_path):
    """One tile per chip: A and B cannot share a chip, so the chain is cut between them and A's
    128-byte output crosses the chip link (0.5 GB/s: 256 ns) instead of A's exchange port."""
    g = chain_graph()
    one = round_profile(tmp_path, tiles=2, chips=1)
    two = load_profile(round_profile(tmp_path, tiles=1, chips=2).path, overrides={"links.chip_to_chip": "0.5 GB/s"})
    pl1, plan1 = make_plan(g, one)
    pl2, plan2 = make_plan(g, two)
    assert (pl1.chips_per_replica, pl1.replicas) == (1, 1)
    assert (pl2.chips_per_replica, pl2.replicas) == (2, 1)
    assert [u.chip for u in pl2.units] == [0, 1] and plan2.link_names[-1] == "chip0->chip1"
    assert plan2.sync_s == pytest.approx(15 * NS) and plan1.sync_s == pytest.approx(10 * NS)
    r1 = run_engine(plan1, one, "dataflow", "simpy", frames=200, rate=None)
    r2 = run_engine(plan2, two, "dataflow", "simpy", frames=200, rate=None)
    assert r1.first_latency[0] == pytest.approx(608 * NS, rel=1e-12)
    assert r2.first_latency[0] == pytest.approx((64 + 320 + 256 + 32 + 64) * NS, rel=1e-12)
    cross = r2.link_bytes[plan2.link_names.index("chip0->chip1")] / r2.frames
    assert cross == 128 and r1.link_bytes.sum() / r1.frames == 128  # on chip: A's exchange port
    assert r2.throughput_fps == pytest.approx(1 / (320 * NS), rel=1e-9)  # the cut is not the bottleneck


def test_replicas_multiply_throughput_and_leave_latency_unchanged(tmp_path):
    g = chain_graph()
    p1 = round_profile(tmp_path, tiles=2, chips=1)
    p3 = round_profile(tmp_path, tiles=2, chips=3)
    r1, _, _ = simulate(g, p1)
    r3, _, _ = simulate(g, p3)
    assert (r1["replicas"], r3["replicas"]) == (1, 3)
    assert r3["throughput_fps"] == pytest.approx(3 * r1["throughput_fps"], rel=1e-9)
    assert r3["latency_s"]["first"] == pytest.approx(r1["latency_s"]["first"], rel=1e-12)
    # The host links carry every replica's frames in turn: 3 x 64 ns of 320 ns per frame.
    host_in = next(u for u in r3["utilisation"] if u["name"] == "host.in")
    assert host_in["utilisation"] == pytest.approx(3 * 64 / 320, rel=1e-9)
    r2, _, _ = simulate(g, p3, RunOptions(replicas=2))
    assert r2["replicas"] == 2 and r2["throughput_fps"] == pytest.approx(2 * r1["throughput_fps"], rel=1e-9)


def test_more_replicas_than_chips_is_refused(tmp_path, capsys):
    path = round_profile(tmp_path, tiles=2, chips=2).path
    rc = main(["run", "--profile", str(path), "--model", "itnet-tiny", "--replicas", "5", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--replicas 5" in err[0]


def test_itnet_on_m2000_uses_one_chip_per_replica_and_moves_nothing_between_chips():
    g = resolve_model("itnet-cityscapes")
    p = load_profile("ipu_m2000")
    for style in ("pipelined", "sequential"):
        pl = place(g, p, RunOptions(placement=style))
        assert pl.fits and pl.chips_per_replica == 1 and pl.replicas == 4
        assert {u.chip for u in pl.units} == {0}
        assert not any(lk.cls == "chip_to_chip" for lk in pl.links)
    rep, _, _ = simulate(g, p)
    assert rep["replicas"] == 4 and rep["chips_per_replica"] == 1
    assert rep["traffic_bytes_per_frame"]["chip_to_chip"] == 0


def test_sync_grows_with_the_chips_it_spans():
    p = load_profile("ipu_m2000")
    assert p.sync_for(4) > p.sync_for(2) > p.sync_for(1) == p.sync_s


@pytest.mark.parametrize("seed", range(5))
def test_balance_for_supersteps_finds_the_best_split(seed):
    """bsp: a step lasts its slowest compute plus its slowest exchange (both 1 / tiles). The
    balance's split of 14 tiles over 3 units is within 10 % of the best of every whole split
    (whole tiles: the search is over a continuous tau and ratio)."""
    import itertools

    from mpsim.mapping.pipelined import balance

    rng = np.random.default_rng(seed)
    work, sent = rng.uniform(0.5, 8, 3), rng.uniform(0, 8, 3)
    none, mins = np.zeros(3, dtype=np.int64), np.ones(3, dtype=np.int64)
    a = balance(work, mins, none, 14, sent)

    def step(t):
        return max(work / t) + max(sent / t)

    best = min(step(np.array(t)) for t in itertools.product(range(1, 13), repeat=3) if sum(t) <= 14)
    assert a.sum() <= 14 and best <= step(a) <= 1.1 * best


def test_pipelined_tiles_are_balanced_for_the_mode_that_runs():
    """Shared ItNet (CamVid) on one GC200 in supersteps: balanced for bsp (one firing's compute and
    exchange per unit) it runs 1.8x the frame rate of the same run balanced by work per frame (the
    dataflow rule), since a frame takes 16 supersteps whatever unit fires how often."""
    g, p = resolve_model("itnet-camvid-shared"), load_profile("ipu_gc200")
    for_bsp, _, _ = simulate(g, p, RunOptions(placement="pipelined"), mode="bsp")
    for_dataflow, _, _ = simulate(g, p, RunOptions(placement="pipelined", mode="dataflow"), mode="bsp")
    assert for_bsp["throughput_fps"] == pytest.approx(1184.0, rel=0.01)
    assert for_dataflow["throughput_fps"] == pytest.approx(657.0, rel=0.01)
    assert for_bsp["bsp"]["steps_per_frame"] == pytest.approx(16.0, abs=0.1)


def test_memory_sweep_what_fitting_buys():
    """benchmarks/memory_sweep.py on 3 points (10 MB, 200 MB, 4 GB): the shared ItNet fits the
    pipelined placement where the independent one does not, and what the chip alone sustains at
    4 GB (host links made free) orders the styles pipelined dataflow > sequential > pipelined bsp
    for it, the folded loop costing bsp 16 supersteps a frame (README figure)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    import memory_sweep

    rows = memory_sweep.sweep(3)
    assert memory_sweep.first_fit(rows, "itnet-camvid-shared", "pipelined bsp") == pytest.approx(200e6)
    assert memory_sweep.first_fit(rows, "itnet-camvid-independent", "pipelined bsp") == pytest.approx(4e9)
    assert memory_sweep.first_fit(rows, "itnet-camvid-independent", "sequential") == pytest.approx(10e6)
    top = {r["placement"]: r["chip_bound_fps"] for r in rows
           if r["model"] == "itnet-camvid-shared" and r["memory_bytes"] == pytest.approx(4e9)}
    assert top["pipelined dataflow"] == pytest.approx(3596, rel=0.02)
    assert top["sequential"] == pytest.approx(2626, rel=0.02)
    assert top["pipelined bsp"] == pytest.approx(1876, rel=0.02)
    delivered = {r["placement"]: r["bottleneck"] for r in rows
                 if r["model"] == "itnet-camvid-shared" and r["memory_bytes"] == pytest.approx(4e9)}
    assert delivered["sequential"] == delivered["pipelined dataflow"] == "host.out"
    assert "memory" in memory_sweep.render(rows)


# The sequential style ---------------------------------------------------------------------------

def test_sequential_latency_is_the_sum_of_op_times_syncs_and_exchanges(tmp_path):
    """Each fused operation spreads over both tiles: A (32 outputs) 16 per tile: 144 MACs + relu
    16 ops = 160 ns, sync 10, exchange of its 64-byte input over 2 tiles 32 ns; B (16 outputs)
    8 per tile: 16 ns, sync 10, exchange of 128 B over 2 tiles 64 ns."""
    p = round_profile(tmp_path, tiles=2)
    pl, plan = make_plan(chain_graph(), p, RunOptions(placement="sequential"))
    assert pl.style == "sequential" and len(pl.nodes) == 2
    np.testing.assert_allclose([n.service_s for n in pl.nodes], np.array([160 + 10 + 32, 16 + 10 + 64]) * NS)
    r = run_engine(plan, p, "dataflow", "simpy", frames=1, rate=None)
    assert r.first_latency[0] == pytest.approx((64 + 202 + 90 + 64) * NS, rel=1e-12)
    rep, _, _ = simulate(chain_graph(), p, RunOptions(placement="sequential"))
    assert rep["mode"] == "bsp"
    bsp = rep["bsp"]
    assert bsp["steps_per_frame"] == pytest.approx(2) and bsp["step_s"] == pytest.approx(146 * NS)
    assert bsp["sync"] == pytest.approx(20 / 292) and bsp["exchange"] == pytest.approx(96 / 292)


def test_liveness_a_chain_needs_its_two_largest_adjacent_tensors(tmp_path):
    """x (16 floats) -> A -> 8x8x4 ... : live memory while a long chain runs is the largest
    input + output pair, not the sum of all tensors."""
    b = GraphBuilder("long")
    x = b.input("x", (1, 1, 4, 4))
    widths = [1, 4, 2, 8, 1, 3]
    for k, (cin, cout) in enumerate(zip(widths, widths[1:])):
        x = conv(b, x, cin, cout, 1, f"w{k}")
    b.output(x)
    g = b.build()
    p = round_profile(tmp_path, tiles=2)
    live = peak_live_bytes(g, list(range(len(g.nodes))), p)
    pairs = [(a + c) * 16 * 4 for a, c in zip(widths, widths[1:])]
    assert live == max(pairs) == (2 + 8) * 64 < sum(widths) * 64
    assert peak_live_bytes(g, list(range(len(g.nodes))), p, batch=3) == 3 * live


def test_sequential_fits_by_weights_plus_peak_live(tmp_path):
    g = resolve_model("itnet-cityscapes")
    p = load_profile("ipu_gc200")
    pl = place(g, p, RunOptions(placement="sequential"))
    weights = p.precision.weight_bytes(sum(w.numel for w in g.weights.values()))
    code = p.code_per_tile_bytes * p.tiles_per_chip  # code and vertex state on every tile
    # The Cityscapes ItNet's largest live set: a 1024 x 512 fp16 map of 19 classes and its input.
    assert pl.fits and weights + code + 19 * 1024 * 512 * 2 < pl.memory.required_bytes < weights + code + 60e6


# Precisions ---------------------------------------------------------------------------------------

def test_fp16_on_an_ipu_runs_four_times_the_fp32_mac_rate():
    p = load_profile("ipu_gc200")
    assert p.with_precision("fp16").tile_macs_per_s == 4 * p.with_precision("fp32").tile_macs_per_s
    assert "250 TFLOPS" in p.fields["precision.macs_per_cycle.fp16"].source


def test_precision_changes_memory_traffic_and_time(tmp_path):
    g = chain_graph()
    p = round_profile(tmp_path, tiles=2)
    r32, _, _ = simulate(g, p, RunOptions(precision="fp32"))
    r16, _, _ = simulate(g, p, RunOptions(precision="fp16"))
    assert r16["precision"] == "fp16" and r32["precision"] == "fp32"
    assert r16["memory"]["required_bytes"] == pytest.approx(r32["memory"]["required_bytes"] / 2)
    for cls in ("host", "exchange", "on_tile"):
        assert r16["traffic_bytes_per_frame"][cls] == pytest.approx(r32["traffic_bytes_per_frame"][cls] / 2)
    # MACs run 4x faster in fp16: unit A 72 + 32 ns instead of 320 ns.
    assert r16["throughput_fps"] == pytest.approx(1 / (104 * NS), rel=1e-6)
    assert r32["throughput_fps"] == pytest.approx(1 / (320 * NS), rel=1e-6)


def test_a_precision_the_profile_does_not_list_is_refused(capsys):
    rc = main(["run", "--profile", "ipu_m2000", "--model", "itnet-tiny", "--precision", "int8", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "int8" in err[0] and "fp16" in err[0]


# The host ---------------------------------------------------------------------------------------

def test_the_input_crosses_the_host_link_once_however_many_units_read_it(tmp_path):
    b = GraphBuilder("two_readers")
    x = b.input("x", (1, 1, 4, 4))
    y = conv(b, x, 1, 1, 1, "a")
    z = conv(b, x, 1, 1, 1, "b")
    b.output(b.node("add", [y, z])[0])
    p = round_profile(tmp_path, tiles=4)
    rep, _, _ = simulate(b.build(), p, RunOptions(host_output="tensors"))
    assert rep["traffic_bytes_per_frame"]["host"] == pytest.approx(64 + 64)  # the input once, the output once


def test_outputs_return_as_labels_or_tensors():
    g = resolve_model("itnet-cityscapes")
    p = load_profile("ipu_gc200")
    labels, _, _ = simulate(g, p, frames=60)
    tensors, _, _ = simulate(g, p, RunOptions(host_output="tensors"), frames=60)
    h, w = g.tensors[g.inputs[0]].shape[-2:]
    inp = 3 * h * w * 2  # fp16
    assert labels["traffic_bytes_per_frame"]["host"] == pytest.approx(inp + 16 * h * w)  # 19 classes: 1 B each
    assert tensors["traffic_bytes_per_frame"]["host"] == pytest.approx(inp + 16 * 19 * h * w * 2)


# The ItNet checks ---------------------------------------------------------------------------------

def test_embedded_ipu_fits_shared_not_independent():
    """The paper's question on an embedded chip: the shared-weight ItNet fits as a pipeline, the
    independent one does not and runs sequentially instead (one operation at a time needs its
    weights and the live activations only), and a graph whose weights exceed the chip streams
    them from off-chip memory every frame: at least the bytes that do not fit."""
    p = load_profile("ipu_embedded")
    shared = place(resolve_model("itnet-camvid-shared"), p)
    indep = place(resolve_model("itnet-camvid-independent"), p)
    assert shared.fits and shared.strategy == "pipelined"
    assert not indep.fits and indep.style == "pipelined" and indep.strategy == "sequential"
    assert "does not fit as pipelined" in indep.note
    rep_s, _, _ = simulate(resolve_model("itnet-camvid-shared"), p, frames=40)
    rep_i, _, _ = simulate(resolve_model("itnet-camvid-independent"), p, frames=20)
    assert rep_s["traffic_bytes_per_frame"]["offchip"] == rep_i["traffic_bytes_per_frame"]["offchip"] == 0
    big, _, _ = simulate(resolve_model("resnext101"), p, RunOptions(precision="fp32"), frames=10)
    assert big["strategy"] == "fallback" and not big["fits"] and big["memory"]["overflow_bytes"] > 40e6
    assert big["traffic_bytes_per_frame"]["offchip"] >= big["memory"]["overflow_bytes"]


def test_analog_overflow_is_infeasible():
    p = load_profile("memristor_isaac")
    g = resolve_model("itnet-camvid-independent")
    rep, r, plan = simulate(g, p, frames=5)
    assert rep["feasible"] is False and r is None and "infeasible" in rep["note"]
    assert rep["memory"]["unit_word"] == "arrays" and rep["memory"]["overflow_bytes"] > 0


def test_run_cli_json_and_trace(tmp_path, capsys):
    """--trace works with the default (compiled) engine."""
    out, trace = tmp_path / "r.json", tmp_path / "t.json"
    rc = main(["run", "--profile", "ipu_m2000", "--model", "itnet-tiny", "--frames", "60", "--placement", "pipelined",
               "--mode", "dataflow", "--json", str(out), "--trace", str(trace), "--quiet"])
    assert rc == 0
    rep = json.loads(out.read_text())
    for key in ("fits", "latency_s", "throughput_fps", "traffic_bytes_per_frame", "memory", "steady_state",
                "bottleneck", "utilisation", "units", "power_w", "frames_per_joule"):
        assert key in rep
    assert rep["engine"] == "compiled" and rep["schema"] == "mpsim.report/2"
    assert set(rep["latency_s"]) == {"first", "mean", "p50", "p99"}
    assert len(rep["latency_s"]["first"]) == 4
    # Later anytime outputs come later.
    assert rep["latency_s"]["first"] == sorted(rep["latency_s"]["first"])
    events = json.loads(trace.read_text())["traceEvents"]
    spans = [e for e in events if e["ph"] == "X"]
    assert spans and all(e["dur"] > 0 for e in spans)


@pytest.mark.parametrize("args", [["--frames", "0"], ["--profile", "nope"], ["--model", "/nonexistent.json"],
                                  ["--rate", "-3"], ["--mode", "warp"], ["--placement", "sequential", "--mode",
                                                                          "dataflow"],
                                  ["--profile", "gpu_v100", "--placement", "pipelined"]])
def test_run_bad_input_is_one_line_exit_2(args, capsys):
    try:  # a flag's value is checked when it is parsed (SystemExit), a file when it is read
        rc = main(["run", "--quiet", "--model", "itnet-tiny", *args])
    except SystemExit as exc:
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0]


def test_same_inputs_same_report():
    g = resolve_model("itnet-tiny")
    p = load_profile("ipu_gc200")
    a, _, _ = simulate(g, p, RunOptions(placement="pipelined"), mode="dataflow")
    b, _, _ = simulate(g, p, RunOptions(placement="pipelined"), mode="dataflow")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.parametrize("model", ["itnet-tiny", "itnet-tiny-independent", "resnet18", "mobilenetv2"])
@pytest.mark.parametrize("profile,style", [("ipu_gc200", "pipelined"), ("ipu_gc200", "sequential"),
                                           ("gpu_v100", None), ("memristor_yao2020", None)])
def test_every_plan_edge_joins_the_tensors_writer_and_reader(model, profile, style):
    """Plan nodes and edges are wired as the graph is: an edge carrying tensor t goes from the plan
    node holding t's writer to one holding a reader of t (a fused group holds several nodes)."""
    from mpsim.ir.graph import split_iter_name

    pl = place(resolve_model(model), load_profile(profile), RunOptions(placement=style))
    if not pl.feasible:  # the one-macro memristor chip holds neither CNN's weights: nothing is wired
        assert profile == "memristor_yao2020" and model in ("resnet18", "mobilenetv2"), pl.note
        return
    g = pl.graph
    pos = {n.name: i for i, n in enumerate(g.nodes)}

    def writer(t):
        w = g.producer.get(t) or g.producer.get(split_iter_name(t)[0])
        return pos[w] if w else None

    for e in pl.edges:
        assert e.tensor, e
        readers = {i for i in pl.nodes[e.dst].graph_nodes
                   if e.tensor in g.nodes[i].inputs or any(c.init == e.tensor or c.body_output == e.tensor
                                                           for lp in g.loops for c in lp.carried)}
        assert readers, (e, pl.nodes[e.dst].name)
        if e.src >= 0:
            assert writer(e.tensor) in pl.nodes[e.src].graph_nodes, (e, pl.nodes[e.src].name)
    names = [n.name for n in pl.nodes]
    assert len(set(names)) == len(names)
