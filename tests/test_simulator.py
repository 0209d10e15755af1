"""The simulator against closed forms on hand-sized graphs, and the ItNet checks of issue 3."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mpsim.cli.main import main
from mpsim.hw.profile import load_profile
from mpsim.mapping.mapper import place
from mpsim.models import resolve_model
from mpsim.sim.simulate import make_plan, run_engine, simulate
from tests.simkit import chain_graph, loop_graph, round_profile

NS = 1e-9


def test_chain_first_latency_is_critical_path_and_throughput_is_bottleneck(tmp_path):
    p = round_profile(tmp_path, tiles=2)
    g = chain_graph()
    pl, plan = make_plan(g, p)
    assert pl.fits and [u.tiles for u in pl.units] == [1, 1]
    # host 64 B -> 64 ns; A 288 ns; relu 32 ns (fused with A); A->B 128 B over 1 tile -> 128 ns; B 32 ns.
    np.testing.assert_allclose(plan.service_s, np.array([288, 32, 32]) * NS)
    r = run_engine(plan, p, "dataflow", "simpy", frames=400, rate=None)
    assert r.first_latency[0] == pytest.approx(544 * NS, rel=1e-12)
    # Unit A (conv + relu) is busy 320 ns per frame: the largest per-frame busy time.
    assert r.throughput_fps == pytest.approx(1 / (320 * NS), rel=1e-9)
    assert plan.bottleneck_s == pytest.approx(320 * NS)


def test_rate_below_capacity_keeps_latency_at_critical_path(tmp_path):
    p = round_profile(tmp_path, tiles=2)
    _, plan = make_plan(chain_graph(), p)
    r = run_engine(plan, p, "dataflow", "simpy", frames=300, rate=1e6)  # one frame per 1000 ns
    assert r.hist.mean()[0] == pytest.approx(544 * NS, rel=1e-9)
    assert r.throughput_fps == pytest.approx(1e6, rel=1e-9)


def test_bsp_and_rollout_first_frame_by_hand(tmp_path):
    p = round_profile(tmp_path, tiles=2)
    _, plan = make_plan(chain_graph(), p)
    bsp = run_engine(plan, p, "bsp", "simpy", frames=1, rate=None)
    # step 1: sync 10 + host exchange 64; step 2: A+relu 320, sync 10, exchange 128; step 3: B 32.
    assert bsp.first_latency[0] == pytest.approx((10 + 64 + 320 + 10 + 128 + 32) * NS, rel=1e-12)
    roll = run_engine(plan, p, "rollout", "simpy", frames=1, rate=None)
    tick = (320 + 128) * NS  # slowest unit step + slowest link exchange
    assert roll.first_latency[0] == pytest.approx(2 * tick + 32 * NS, rel=1e-12)


@pytest.mark.parametrize("engine", ["simpy", "fast"])
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
    # the unrolled copies, which live on different tiles).
    assert rf.first_latency[0] == pytest.approx((64 + 288 + 128 + trips * body) * NS, rel=1e-12)
    assert ru.first_latency[0] == pytest.approx((64 + 288 + 128 + trips * body + (trips - 1) * 128) * NS, rel=1e-12)


def test_memory_stays_flat_without_recording(tmp_path):
    p = round_profile(tmp_path, tiles=2)
    _, plan = make_plan(chain_graph(), p)
    r = run_engine(plan, p, "dataflow", "simpy", frames=2000, rate=None)
    assert r.release is None and r.done is None and r.trace == []
    assert r.hist.counts.shape[0] == 1 and r.hist.n[0] == 2000 - r.warmup


def test_embedded_ipu_fits_shared_not_independent():
    p = load_profile("ipu_embedded")
    shared = place(resolve_model("itnet-camvid-shared"), p)
    indep = place(resolve_model("itnet-camvid-independent"), p)
    assert shared.fits and not indep.fits
    assert indep.required_bytes > p.capacity_bytes > shared.required_bytes
    rep_s, _, _ = simulate(resolve_model("itnet-camvid-shared"), p, mode="dataflow", frames=30)
    rep_i, _, _ = simulate(resolve_model("itnet-camvid-independent"), p, mode="dataflow", frames=5)
    assert rep_i["strategy"] == "fallback" and rep_i["memory"]["overflow_bytes"] > 0
    # The price of not fitting: every frame reloads its weights and activations off chip.
    assert rep_i["traffic_bytes_per_frame"]["offchip"] > 1e8
    assert rep_s["traffic_bytes_per_frame"]["offchip"] == 0
    assert rep_s["throughput_fps"] > 3 * rep_i["throughput_fps"]


def test_analog_overflow_is_infeasible():
    p = load_profile("memristor_isaac")
    g = resolve_model("itnet-camvid-independent")
    rep, r, plan = simulate(g, p, frames=5)
    if rep["fits"]:
        pytest.skip("this crossbar chip holds the model")
    assert rep["feasible"] is False and r is None and "infeasible" in rep["note"]


def test_run_cli_json_and_trace(tmp_path, capsys):
    out, trace = tmp_path / "r.json", tmp_path / "t.json"
    rc = main(["run", "--profile", "ipu_m2000", "--model", "itnet-tiny", "--frames", "60", "--mode", "dataflow",
               "--json", str(out), "--trace", str(trace), "--quiet"])
    assert rc == 0
    rep = json.loads(out.read_text())
    for key in ("fits", "latency_s", "throughput_fps", "traffic_bytes_per_frame", "memory"):
        assert key in rep
    assert set(rep["latency_s"]) == {"first", "mean", "p50", "p99"}
    assert len(rep["latency_s"]["first"]) == 4
    # Later anytime outputs come later.
    assert rep["latency_s"]["first"] == sorted(rep["latency_s"]["first"])
    assert {"required_bytes", "capacity_bytes"} <= set(rep["memory"])
    events = json.loads(trace.read_text())["traceEvents"]
    spans = [e for e in events if e["ph"] == "X"]
    assert spans and all(e["dur"] > 0 for e in spans)


@pytest.mark.parametrize("args", [["--frames", "0"], ["--profile", "nope"], ["--model", "/nonexistent.json"],
                                  ["--rate", "-3"], ["--mode", "warp"]])
def test_run_bad_input_is_one_line_exit_2(args, capsys):
    try:  # a flag's value is checked when it is parsed (SystemExit), a file when it is read
        rc = main(["run", "--quiet", *args])
    except SystemExit as exc:
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0]


def test_same_inputs_same_report(tmp_path):
    g = resolve_model("itnet-tiny")
    p = load_profile("ipu_gc200")
    a, _, _ = simulate(g, p, frames=50, mode="dataflow")
    b, _, _ = simulate(g, p, frames=50, mode="dataflow")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
