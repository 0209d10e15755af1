"""The compiled engine against the SimPy engines (event for event, step for step) and closed forms.

The contract (docs/engines.md): on the same plan, mode, frames and options, the compiled engine
gives the per-frame release and output completion times of the SimPy engine of that mode
(``simulate_dataflow`` for dataflow, ``simulate_ticks`` for bsp and rollout) and every other
SimResult field, trace included, to the last bit.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import mpsim.sim.fast_engine as fast_engine
import mpsim.sim.fast_ticks as fast_ticks
from mpsim.cli.main import main
from mpsim.errors import MpsimError
from mpsim.hw.profile import load_profile
from mpsim.ir.builder import GraphBuilder
from mpsim.ir.loops import fold
from mpsim.models import resolve_model
from mpsim.hw.schema import PLACEMENTS
from mpsim.mapping.placement import RunOptions
from mpsim.sim.plan import SOURCE
from mpsim.sim.simulate import make_plan, run_engine
from tests.simkit import chain_graph, loop_graph, round_profile

NS = 1e-9
_PLANS: dict = {}


def plan_of(model: str, profile: str, placement: str | None = "pipelined"):
    """The plan of a built-in model (pipelined where the profile allows, else its default)."""
    p = load_profile(profile)
    style = placement if placement in PLACEMENTS[p.kind] else None
    key = (model, profile, style)
    if key not in _PLANS:
        _PLANS[key] = make_plan(resolve_model(model), p, RunOptions(placement=style))[1]
    return _PLANS[key]


def assert_same(a, b) -> None:
    """Every field of two SimResults.  The contract asks 1e-9 relative on the per-frame times;
    the engines do the same float operations in the same order, so everything, sums of
    floats included, is checked bit for bit (a reordered event would show up here first)."""
    np.testing.assert_allclose(b.release, a.release, rtol=1e-9, atol=0)
    np.testing.assert_allclose(b.done, a.done, rtol=1e-9, atol=0)  # NaN where an output never came (early exit)
    np.testing.assert_array_equal(b.release, a.release)
    np.testing.assert_array_equal(b.done, a.done)
    for k in ("frames", "warmup", "n_steady", "firings", "t_first", "t_last", "end_time", "local_bytes",
              "offchip_bytes", "energy_compute_j", "energy_conversion_j", "energy_movement_j", "steps"):
        assert getattr(b, k) == getattr(a, k), k
    for k in ("first_latency", "unit_busy", "node_busy", "link_busy", "link_bytes", "phase_s"):
        np.testing.assert_array_equal(getattr(b, k), getattr(a, k), err_msg=k)
    for h in ("hist", "exit_hist"):
        ha, hb = getattr(a, h), getattr(b, h)
        for k in ("counts", "n", "total"):
            np.testing.assert_array_equal(getattr(hb, k), getattr(ha, k), err_msg=f"{h}.{k}")
    assert b.trace == a.trace
    assert b.throughput_fps == a.throughput_fps


def both(plan, frames, rate=None, window=None, levels=None, mode="dataflow", profile="ipu_m2000", trace_frames=0):
    """The SimPy engine of the mode and the compiled engine, on the same plan and options."""
    p = load_profile(profile) if isinstance(profile, str) else profile
    return tuple(run_engine(plan, p, mode, engine, frames, rate, window, record=True, trace_frames=trace_frames,
                            levels=levels) for engine in ("simpy", "compiled"))


# The built-in graphs: every placement style; pipelined plans in every mode ---------------------

CASES = [
    ("itnet-tiny", "ipu_m2000", 120),
    ("itnet-cityscapes", "ipu_m2000", 40),
    ("itnet-camvid-independent", "ipu_embedded", 25),
    ("itnet-cityscapes", "gpu_v100", 25),
]
STRATEGY = {"ipu_m2000": "pipelined", "ipu_embedded": "sequential", "gpu_v100": "layer_by_layer"}
MODES = ("dataflow", "bsp", "rollout")
# Pipelined placements on every kind of machine, in the step modes: IPUs (bsp), TrueNorth (its
# default, rollout), a crossbar accelerator.
# (Frames: a bsp stream at half the capacity stays within MAX_SUPERSTEPS sync-long steps; the
# Cityscapes ItNet does not fit TrueNorth's cores, the tiny one does.)
TICK_CASES = [
    ("itnet-cityscapes", "ipu_m2000", 30),
    ("itnet-tiny", "ipu_gc200", 60),
    ("itnet-tiny", "truenorth", 60),
    ("itnet-tiny", "memristor_isaac", 60),
    ("mnist-cnn-yao", "pcm_hermes64", 60),
]


@pytest.mark.parametrize("load", [None, 0.5, 1.5])
@pytest.mark.parametrize("model,profile,frames", CASES)
def test_builtin_graphs_match_simpy(model, profile, frames, load):
    plan = plan_of(model, profile)
    assert plan.strategy == STRATEGY[profile]
    # load: offered rate as a fraction of the bottleneck's capacity; above 1 frames pile up.
    rate = None if load is None else load / plan.bottleneck_s
    assert_same(*both(plan, frames, rate))


@pytest.mark.parametrize("load", [None, 0.5, 1.5])
@pytest.mark.parametrize("mode", ["bsp", "rollout"])
@pytest.mark.parametrize("model,profile,frames", TICK_CASES)
def test_step_modes_match_simpy(model, profile, frames, mode, load):
    plan = plan_of(model, profile)
    assert plan.strategy == "pipelined"
    rate = None if load is None else load / plan.bottleneck_s
    a, b = both(plan, frames, rate, mode=mode, profile=profile)
    assert a.steps > 0 and a.firings == frames * int(plan.trips.sum())
    assert_same(a, b)


@pytest.mark.parametrize("mode", MODES)
def test_early_exit_levels_match_simpy(mode):
    rng = np.random.default_rng(3)
    for model, profile, frames in CASES[:2]:
        plan = plan_of(model, profile)
        levels = rng.integers(0, plan.n_outputs, size=frames)
        assert_same(*both(plan, frames, levels=levels, mode=mode))
        assert_same(*both(plan, frames, rate=0.8 / plan.bottleneck_s, levels=levels, mode=mode))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("window", [1, 2, 5])
def test_window_matches_simpy(window, mode):
    assert_same(*both(plan_of("itnet-cityscapes", "ipu_m2000"), 30, window=window, mode=mode))


@pytest.mark.parametrize("mode", MODES)
def test_trace_matches_simpy(mode):
    """The compiled engine records the trace events of the first frames as the SimPy engines do."""
    plan = plan_of("itnet-tiny", "ipu_m2000")
    a, b = both(plan, 20, mode=mode, trace_frames=3)
    moves = [t for t in a.trace if t[0] in ("unit", "link")]
    for f in range(3):  # every firing and every transfer of the first 3 frames, no other frame
        assert sum(t[0] == "unit" and t[5] == f for t in moves) == int(plan.trips.sum())
        assert sum(t[0] == "link" and t[5] == f for t in moves) == sum(t[0] == "link" and t[5] == 0 for t in moves)
    assert {t[5] for t in moves} == {0, 1, 2} and any(t[0] == "link" for t in moves)
    check_step_rows(a, plan, mode)
    assert_same(a, b)


def check_step_rows(r, plan, mode: str) -> None:
    """The step rows of a trace (docs/reports.md): one per step from the first while a traced
    frame is in flight, consecutive indices, each covering the traced firings of its step; bsp
    phases that tile their superstep; rollout ticks of the fixed length and no phases."""
    from mpsim.sim.tick_engine import rollout_tick

    steps = [t for t in r.trace if t[0] == "superstep"]
    phases = [t for t in r.trace if t[0] == "phase"]
    if mode == "dataflow":
        assert steps == [] and phases == []
        return
    assert steps and all(t[1] == 0 and t[5] == -1 for t in steps) and all(t[1] == 1 and t[5] == -1 for t in phases)
    assert [t[6] for t in steps] == list(range(len(steps)))  # from step 0, none skipped
    assert {t[2] for t in steps} == {"tick" if mode == "rollout" else "superstep"}
    last = max(t[3] + t[4] for t in r.trace if t[0] == "unit")
    assert steps[-1][3] < last <= steps[-1][3] + steps[-1][4]  # the last traced firing is in the last step
    for t in (t for t in r.trace if t[0] == "unit"):  # every traced firing lies inside a step of the trace
        assert any(s[3] <= t[3] and t[3] + t[4] <= s[3] + s[4] * (1 + 1e-12) for s in steps), t
    if mode == "rollout":
        assert phases == [] and all(t[4] == rollout_tick(plan) for t in steps)
        return
    for s in steps:
        mine = [t for t in phases if t[6] == s[6]]
        assert [t[2] for t in mine][:1] == ["compute"] and {t[2] for t in mine} <= {"compute", "sync", "exchange"}
        assert mine[0][3] == s[3] and all(x[3] + x[4] == pytest.approx(y[3], rel=1e-12) for x, y in zip(mine, mine[1:]))
        assert sum(t[4] for t in mine) == pytest.approx(s[4], rel=1e-12)
        assert [t[4] for t in mine if t[2] == "sync"] == [plan.sync_s]


@pytest.mark.parametrize("mode", ["bsp", "rollout"])
def test_trace_step_rows_grow_and_still_match(monkeypatch, mode):
    """The compiled step engine sets rows aside for the trace's steps and grows them when they are
    used up (between steps): with no room set aside at first it grows, and nothing changes."""
    grown = []
    real = fast_ticks._grow_trace

    def spy(Z, rows):
        real(Z, rows)
        grown.append(rows)

    monkeypatch.setattr(fast_ticks, "_step_room", lambda rows: 0)
    monkeypatch.setattr(fast_ticks, "_grow_trace", spy)
    plan = plan_of("itnet-tiny", "ipu_m2000")
    a, b = both(plan, 30, mode=mode, trace_frames=6)
    assert len(grown) >= 2 and grown == sorted(grown)  # no room set aside, then grown during the run
    check_step_rows(a, plan, mode)
    assert_same(a, b)


@pytest.mark.parametrize("model", ["itnet-tiny", "itnet-cityscapes"])
def test_sequential_plans_match_simpy(model):
    plan = plan_of(model, "ipu_m2000", "sequential")
    assert plan.strategy == "sequential"
    assert_same(*both(plan, 60))
    assert_same(*both(plan, 60, rate=0.7 / plan.bottleneck_s))


@pytest.mark.parametrize("mode", MODES)
def test_overload_grows_the_frame_ring_and_heaps_and_still_matches(monkeypatch, mode):
    """Frames offered at 3x capacity pile up past the initial ring (64 frames) and the ready
    heaps sized for it: both grow, between events (or steps), and nothing changes."""
    caps = []
    real = fast_engine._grow_ring

    def spy(Z, S, F):
        real(Z, S, F)
        caps.append(int(S[fast_engine.S_CAP]))

    monkeypatch.setattr(fast_engine, "_grow_ring", spy)
    monkeypatch.setattr(fast_ticks, "_grow_ring", spy)
    plan = plan_of("itnet-tiny", "ipu_m2000")
    assert_same(*both(plan, 300, rate=3.0 / plan.bottleneck_s, mode=mode))
    assert max(caps) > 64


def test_every_firing_level_has_its_inputs():
    """An early exit after m_k fires a node only if its producers fire too (whole loop iterations
    need the inputs of every node in them): otherwise a frame could never finish."""
    for model, profile, placement in [("itnet-cityscapes", "ipu_m2000", "pipelined"),
                                      ("itnet-cityscapes", "ipu_m2000", "sequential"),
                                      ("itnet-tiny", "ipu_m2000", "pipelined"), ("resnet18", "ipu_m2000", None)]:
        plan = plan_of(model, profile, placement)
        src = np.asarray(plan.e_src)
        inner = src != SOURCE
        for row in plan.level_trips:
            fires = row > 0
            assert not np.any(fires[plan.e_dst[inner]] & ~fires[src[inner]]), (model, placement)


@pytest.mark.parametrize("mode", MODES)
def test_pipelined_independent_itnet_has_consistent_levels(mode):
    """The pipelined placement of itnet-tiny-independent (once wired to the wrong nodes, fixed on
    main in e3b6f2d): every exit level's firings have their inputs, and frames exiting at random
    levels finish on both engines, equal."""
    plan = plan_of("itnet-tiny-independent", "ipu_m2000")
    src = np.asarray(plan.e_src)
    inner = src != SOURCE
    for row in plan.level_trips:
        fires = row > 0
        assert not np.any(fires[plan.e_dst[inner]] & ~fires[src[inner]])
    assert plan.level_trips[0].sum() < plan.level_trips[-1].sum()  # an early exit skips work
    levels = np.random.default_rng(5).integers(0, plan.n_outputs, size=40)
    a, b = both(plan, 40, levels=levels, mode=mode)
    assert a.firings == int(plan.level_trips[levels].sum())
    assert_same(a, b)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("engine", ["simpy", "compiled"])
def test_a_plan_that_deadlocks_is_refused(engine, mode):
    """A frame whose firings wait for an input no firing produces can never finish: every engine
    says so instead of stopping early (dataflow) or stepping forever (bsp, rollout)."""
    plan = plan_of("itnet-tiny", "ipu_m2000")
    lt = plan.level_trips.copy()
    stem = plan.e_dst[int(np.flatnonzero(plan.e_src == plan.node_names.index("input"))[-1])]
    lt[0, stem] = 0  # exiting after m_1 skips a node that the rest of the level waits for
    bad = dataclasses.replace(plan, level_trips=lt)
    with pytest.raises(RuntimeError, match="deadlocks: 5 of 5 frames"):
        run_engine(bad, load_profile("ipu_m2000"), mode, engine, 5, None, levels=np.zeros(5, dtype=np.int64))


@pytest.mark.parametrize("mode", MODES)
def test_accounting_is_counts_times_the_plans_figures(mode):
    """Busy times, bytes and energies are the firings of every node and the transfers of every
    edge times the plan's figures for one, whatever order the events came in (result.counted)."""
    from mpsim.sim.simpy_engine import targets

    plan, frames = plan_of("itnet-tiny", "ipu_m2000"), 50
    a, b = both(plan, frames, mode=mode)
    fired = frames * plan.trips
    assert a.firings == int(fired.sum())
    np.testing.assert_array_equal(a.node_busy, fired * plan.service_s)
    for k in ("energy_compute_j", "energy_conversion_j", "local_bytes", "offchip_bytes"):
        assert getattr(a, k) == pytest.approx(float(fired @ getattr(plan, k)), rel=1e-12, abs=1e-300), k
    assert a.energy_compute_j > 0 and a.local_bytes > 0
    # Transfers on each edge: the producer's iterations whose data some consumer iteration needs
    # (one transfer per producer iteration, however many consumer iterations read it)
    moved = frames * np.array([sum(len(targets(int(kind), i, int(tap), int(plan.trips[d]))) > 0
                                   for i in range(1 if s == SOURCE else int(plan.trips[s])))
                               for s, d, kind, tap in zip(plan.e_src, plan.e_dst, plan.e_kind, plan.e_tap)])
    for link in range(len(plan.link_names)):
        on = plan.e_link == link
        assert a.link_bytes[link] == pytest.approx(float(moved[on] @ plan.e_bytes[on]), rel=1e-12)
    assert a.link_bytes.sum() > 0
    assert_same(a, b)


# Closed forms of tests/test_simulator.py --------------------------------------------------------

def test_chain_closed_forms(tmp_path):
    p = round_profile(tmp_path, tiles=2)
    _, plan = make_plan(chain_graph(), p)
    r = run_engine(plan, p, "dataflow", "compiled", frames=400, rate=None)
    assert r.first_latency[0] == pytest.approx(608 * NS, rel=1e-12)
    assert r.throughput_fps == pytest.approx(1 / (320 * NS), rel=1e-9)
    r = run_engine(plan, p, "dataflow", "compiled", frames=300, rate=1e6)
    assert r.hist.mean()[0] == pytest.approx(608 * NS, rel=1e-9)
    assert r.throughput_fps == pytest.approx(1e6, rel=1e-9)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("trips", [2, 4])
def test_loop_plans_equal(tmp_path, trips, mode):
    """Folded and unrolled loops (their closed forms, for both engines: test_simulator.py)."""
    flat, folded = loop_graph(trips)
    p_fold = round_profile(tmp_path, tiles=2, name="fold")
    p_flat = round_profile(tmp_path, tiles=trips + 1, name="flat")
    _, plan_f = make_plan(folded, p_fold)
    _, plan_u = make_plan(flat, p_flat)
    assert_same(*both(plan_f, 60, mode=mode, profile=p_fold))
    assert_same(*both(plan_u, 60, mode=mode, profile=p_flat))


# Streaming, progress, the CLI -----------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_memory_stays_flat_and_progress_is_monotone(tmp_path, mode):
    p = round_profile(tmp_path, tiles=2)
    _, plan = make_plan(chain_graph(), p)
    seen: list[int] = []
    r = run_engine(plan, p, mode, "compiled", 5000, None, progress=seen.append)
    assert r.release is None and r.done is None and r.trace == []
    assert r.hist.n[0] == 5000 - r.warmup
    assert seen == sorted(seen) and seen[-1] == 5000 and 50 <= len(seen) <= 101
    quiet = run_engine(plan, p, mode, "compiled", 5000, None)
    assert quiet.t_last == r.t_last and np.array_equal(quiet.hist.counts, r.hist.counts)


def _cli_json(tmp_path, engine: str, *args: str) -> dict:
    path = tmp_path / f"{engine}.json"
    assert main(["run", "--profile", "ipu_m2000", *args, "--engine", engine, "--json", str(path), "--quiet"]) == 0
    return json.loads(path.read_text())


def test_default_run_is_compiled_bsp_and_reports_like_simpy(tmp_path):
    """`mpsim run --profile ipu_m2000` (converged): the compiled engine in bsp mode, the SimPy
    engine's figures to the last digit (throughput, latencies, utilisation, energy, ...)."""
    path = tmp_path / "r.json"
    assert main(["run", "--profile", "ipu_m2000", "--json", str(path), "--quiet"]) == 0
    auto = json.loads(path.read_text())
    simpy = _cli_json(tmp_path, "simpy")
    assert (auto["engine"], auto["mode"], simpy["engine"]) == ("compiled", "bsp", "simpy")
    assert auto["steady_state"]["converged"] and auto["throughput_fps"] > 0
    auto.pop("engine"), simpy.pop("engine")
    assert auto == simpy


@pytest.mark.parametrize("mode", MODES)
def test_cli_pipelined_reports_like_simpy(tmp_path, mode):
    out = {e: _cli_json(tmp_path, e, "--model", "itnet-tiny", "--placement", "pipelined", "--mode", mode,
                        "--frames", "300") for e in ("simpy", "compiled")}
    assert out["compiled"].pop("engine") == "compiled" and out["simpy"].pop("engine") == "simpy"
    assert out["compiled"]["mode"] == mode
    assert out["compiled"] == out["simpy"]


def test_cli_trace_works_with_the_compiled_engine(tmp_path):
    """A pipelined bsp run: the Chrome trace of the default (compiled) engine is the SimPy
    engine's file, byte for byte: firings, transfers, supersteps, phases, link counters."""
    traces, raw = {}, {}
    for engine in ("simpy", "auto"):
        trace = tmp_path / f"{engine}.trace.json"
        assert main(["run", "--profile", "ipu_m2000", "--model", "itnet-tiny", "--placement", "pipelined",
                     "--engine", engine, "--frames", "40", "--trace", str(trace), "--quiet"]) == 0
        raw[engine] = trace.read_bytes()
        traces[engine] = json.loads(raw[engine])
    assert raw["auto"] == raw["simpy"]
    events = [e for e in traces["auto"]["traceEvents"] if e["ph"] == "X"]
    assert {e["args"]["frame"] for e in events if "frame" in e["args"]} == {0, 1, 2, 3}  # --trace-frames 4
    # The pipelined placement runs the profile's bsp: its supersteps and their phases are in the trace.
    steps = [e for e in events if e["cat"] == "superstep"]
    assert steps and [e["args"]["step"] for e in steps] == list(range(len(steps)))
    assert {e["name"] for e in events if e["cat"] == "phase"} == {"compute", "sync", "exchange"}
    assert any(e["ph"] == "C" for e in traces["auto"]["traceEvents"])  # link counter tracks
    assert traces["auto"] == traces["simpy"]


def test_core_does_not_import_torch():
    code = "import sys, mpsim.sim.fast_engine, mpsim.sim.simulate; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# Random graphs with loops (hypothesis) ----------------------------------------------------------

CONV = {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "groups": 1}


@st.composite
def random_graphs(draw):
    """Chains and branches of conv2d/relu/add, with 1-2 blocks repeated ``trips`` times that read
    one shared weight (fold turns them into loops): carried state, loop-invariant inputs,
    per-iteration weights, a tap of a middle iteration after the loop, anytime outputs."""
    c = draw(st.integers(1, 3))
    hw = draw(st.sampled_from([2, 4]))
    b = GraphBuilder("random")
    seen = [b.input("x", (1, c, hw, hw))]
    n_w = [0]

    def conv(t: str, weight: str | None = None) -> str:
        if weight is None:
            weight = f"w{n_w[0]}"
            n_w[0] += 1
        b.weight(weight, (c, c, 3, 3))
        return b.node("conv2d", [t], CONV, {"weight": weight}, name=weight)[0]

    def step(op: str, t: str) -> str:
        if op == "conv":
            return conv(t)
        if op == "relu":
            return b.node("relu", [t])[0]
        return b.node("add", [t, draw(st.sampled_from(seen))])[0]

    cur = seen[0]
    for op in draw(st.lists(st.sampled_from(["conv", "relu", "add"]), max_size=3)):
        cur = step(op, cur)
        seen.append(cur)
    for loop in range(draw(st.integers(1, 2))):
        trips = draw(st.integers(2, 4))
        body = draw(st.lists(st.sampled_from(["relu", "add_outside", "add_carried", "conv_per_iter"]), max_size=3))
        outside = draw(st.sampled_from(seen))
        anytime = draw(st.booleans())
        taps = []
        for _ in range(trips):
            carried_in = cur
            cur = conv(cur, f"shared{loop}")
            for op in body:
                if op == "relu":
                    cur = b.node("relu", [cur])[0]
                elif op == "add_outside":
                    cur = b.node("add", [cur, outside])[0]
                elif op == "add_carried":
                    cur = b.node("add", [cur, carried_in])[0]
                else:
                    cur = conv(cur)
            taps.append(cur)
            if anytime:
                b.output(cur)
        if draw(st.booleans()):  # a head after the loop reads a middle iteration
            cur = b.node("add", [cur, taps[len(taps) // 2]])[0]
        cur = conv(cur)  # keeps the next block's window apart from this one
        seen.append(cur)
    b.output(cur)
    return fold(b.build())


@pytest.fixture(scope="module")
def round_profiles(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("profiles")
    return {k: round_profile(tmp, tiles=k) for k in (1, 2, 3, 5, 8)}


def with_ties(plan, rng, zeros: bool):
    """The plan with every duration a small multiple of 2**-30 s (sums exact: many events at
    the very same instant, where the order of events and decisions decides), and optionally
    some durations zero (a decision's event then lands inside the current instant)."""
    q = 2.0 ** -30

    def snap(x):
        y = np.maximum(1, np.round(x / max(float(np.max(x, initial=0)), 1e-30) * 4)) * q
        if zeros:
            y[rng.random(len(y)) < 0.3] = 0.0
        return y

    return dataclasses.replace(plan, service_s=snap(plan.service_s), e_time=snap(plan.e_time),
                               bottleneck_s=4 * q * max(1, len(plan.service_s)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(g=random_graphs(), prof=st.sampled_from([1, 2, 3, 5, 8, "ipu_m2000", "gpu_v100"]),
       mode=st.sampled_from(MODES), load=st.sampled_from([None, 0.6, 2.0]), window=st.sampled_from([None, 1, 3]),
       frames=st.integers(3, 30), early=st.booleans(), times=st.sampled_from(["plan", "ties", "ties+zeros"]),
       trace=st.sampled_from([0, 2]), seed=st.integers(0, 2**16))
def test_random_graphs_match_simpy(round_profiles, g, prof, mode, load, window, frames, early, times, trace, seed):
    """Every mode (bsp and rollout run on pipelined plans; the others run dataflow rules)."""
    p = round_profiles[prof] if isinstance(prof, int) else load_profile(prof)
    try:
        _, plan = make_plan(g, p, RunOptions(placement="pipelined" if "pipelined" in PLACEMENTS[p.kind] else None))
    except MpsimError:  # a graph the simulator refuses with one line (e.g. a loop reading another's)
        assume(False)
    assume(plan is not None)
    rng = np.random.default_rng(seed)
    if times != "plan":
        plan = with_ties(plan, rng, zeros=times == "ties+zeros")
    rate = None if load is None else load / plan.bottleneck_s
    levels = rng.integers(0, plan.n_outputs, size=frames) if early else None
    assert_same(*both(plan, frames, rate, window, levels, mode=mode, profile=p, trace_frames=trace))


def source_to_skipped_loop_graph():
    """x -> loop0 (2 x conv S, relu; an output per iteration) -> conv -> loop1 (2 x conv T, add x)
    -> conv -> output 3.  A frame that exits after output 1 skips loop1, whose add reads x."""
    b = GraphBuilder("skip")
    x = b.input("x", (1, 1, 4, 4))
    for w in ("S", "T", "w0", "w1"):
        b.weight(w, (1, 1, 3, 3))
    s = x
    for _ in range(2):
        s = b.node("conv2d", [s], CONV, {"weight": "S"}, name="S")[0]
        s = b.node("relu", [s])[0]
        b.output(s)
    s = b.node("conv2d", [s], CONV, {"weight": "w0"}, name="w0")[0]
    for _ in range(2):
        s = b.node("conv2d", [s], CONV, {"weight": "T"}, name="T")[0]
        s = b.node("add", [s, x])[0]
    b.output(b.node("conv2d", [s], CONV, {"weight": "w1"}, name="w1")[0])
    return fold(b.build())


def test_release_moves_data_only_to_consumers_the_frame_needs(tmp_path):
    """A frame exiting after output 1 skips loop1, whose add reads the input x: the input is
    not sent there, and both engines agree (this crashed the SimPy engine once)."""
    g = source_to_skipped_loop_graph()
    assert len(g.loops) == 2
    _, plan = make_plan(g, round_profile(tmp_path, tiles=8))
    levels = np.zeros(3, dtype=np.int64)
    a, b = both(plan, 3, levels=levels)
    assert_same(a, b)
    assert a.firings == 3 * int(plan.level_trips[0].sum())
    assert not np.isnan(a.done[:, 0]).any() and np.isnan(a.done[:, 1:]).all()
    # The input node (host.in) feeds its readers; only those the exit level needs get it.
    i_in = plan.node_names.index("input")
    readers = np.flatnonzero(plan.e_src == i_in)
    needed = [e for e in readers if plan.level_trips[0][plan.e_dst[e]] > 0]
    assert 0 < len(needed) < len(readers)
    fires = a.node_busy / plan.service_s
    assert fires[i_in] == 3 and all(fires[plan.e_dst[e]] == 0 for e in readers if e not in needed)


def back_to_back_loops_graph():
    """x -> 3 x [conv S, relu] -> 3 x [conv T, relu] -> output: the second loop starts from
    the first loop's last iteration (an INIT edge with a tap)."""
    b = GraphBuilder("b2b")
    s = b.input("x", (1, 1, 4, 4))
    for w in ("S", "T"):
        b.weight(w, (1, 1, 3, 3))
    for w in ("S", "T"):
        for _ in range(3):
            s = b.node("conv2d", [s], CONV, {"weight": w}, name=w)[0]
            s = b.node("relu", [s])[0]
    b.output(s)
    return b.build()


def test_second_loop_starts_from_the_first_loops_last_iteration(tmp_path):
    flat = back_to_back_loops_graph()
    g = fold(flat)
    assert [lp.trip_count for lp in g.loops] == [3, 3]  # both loops folded
    p = round_profile(tmp_path, tiles=2)
    _, plan = make_plan(g, p)
    a, b = both(plan, 1)
    assert_same(a, b)
    # host 16 floats (64 ns); each conv 1->1 3x3 on 4x4 is 144 MACs, relu 16 ops: 160 ns per
    # iteration; the S -> T transfer (64 B over one tile) happens once, after S's 3rd iteration;
    # the output (16 floats) returns to the host in 64 ns.
    assert a.first_latency[0] == pytest.approx((64 + 3 * 160 + 64 + 3 * 160 + 64) * NS, rel=1e-12)
    assert a.link_bytes.sum() == 64  # the S -> T state once (not per iteration)


def test_same_instant_order_decides_warmup():
    """A release and frame 0's end at the same instant: SimPy runs the event scheduled first
    (the source's timeout, scheduled at t = 0 before the firing started), so frame 1 is
    released while frame 0 is still in flight and counts as warm-up."""
    _, plan = make_plan(chain_graph(), load_profile("ipu_m2000"), RunOptions(placement="pipelined", replicas=1))
    one = dataclasses.replace(plan, unit_of=np.zeros(plan.n_nodes, dtype=np.int64), unit_names=("u",),
                              service_s=np.full(plan.n_nodes, 0.25), e_link=np.full(len(plan.e_src), -1),
                              e_time=np.zeros(len(plan.e_src)))
    a, b = both(one, 6, rate=1 / (0.25 * one.n_nodes))
    assert a.warmup == 2 and a.first_latency[0] == 0.25 * one.n_nodes
    assert_same(a, b)


def test_random_graph_strategy_makes_loops():
    """The generator above does make folded loops with carried, invariant and tap edges."""
    from hypothesis import find

    from mpsim.sim.plan import CARRIED, INIT, INVARIANT, TAP

    def kinds(g):
        return {int(k) for k in make_plan(g, load_profile("ipu_m2000"))[1].e_kind}

    g = find(random_graphs(), lambda g: len(g.loops) == 2 and {CARRIED, INIT, INVARIANT, TAP} <= kinds(g),
             settings=settings(max_examples=2000, database=None, deadline=None))
    assert len(g.loops) == 2
