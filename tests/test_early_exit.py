"""Data-dependent iteration counts (anytime early exit), by hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from mpsim.sim.simulate import make_plan, run_engine
from tests.simkit import anytime_loop_graph, round_profile

NS = 1e-9
BODY = 576 + 32  # ns: conv S + relu, one iteration
TRIPS = 4


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("profiles")
    flat, folded = anytime_loop_graph(TRIPS)
    pf, pu = round_profile(tmp, 2, "fold"), round_profile(tmp, TRIPS + 1, "flat")
    return (pf, make_plan(folded, pf)[1]), (pu, make_plan(flat, pu)[1])


def _run(pp, levels, frames=600, mode="dataflow"):
    p, plan = pp
    lv = None if levels is None else np.resize(np.array(levels, dtype=np.int64), frames)
    return run_engine(plan, p, mode, "simpy", frames, None, levels=lv)


def test_folded_loop_frees_its_tiles(plans):
    folded, _ = plans
    full = _run(folded, None)
    first = _run(folded, [0])
    assert full.throughput_fps == pytest.approx(1 / (TRIPS * BODY * NS), rel=1e-9)
    assert first.throughput_fps == pytest.approx(1 / (BODY * NS), rel=1e-9)  # 4x the frames
    # Exiting after m_1: host 64 + conv0 288 + transfer 128 + one iteration + the return of m_1
    # (a 2-channel map returned as labels: 16 B, 16 ns).
    assert first.first_latency[0] == pytest.approx((64 + 288 + 128 + BODY + 16) * NS, rel=1e-12)
    assert np.isnan(first.first_latency[1:]).all()  # later outputs never computed
    assert first.firings == 600 * (1 + 2 + 2)  # input, conv0, S, relu, the return of m_1
    # Half the frames stop after m_1, half run all 4 iterations: 2.5 iterations per frame.
    mixed = _run(folded, [0, 3], frames=1000)
    assert mixed.throughput_fps == pytest.approx(1 / (2.5 * BODY * NS), rel=3e-3)


def test_unrolled_pipeline_keeps_throughput_saves_traffic(plans):
    _, flat = plans
    full, first = _run(flat, None), _run(flat, [0])
    assert full.throughput_fps == pytest.approx(1 / (BODY * NS), rel=1e-9)
    assert first.throughput_fps == pytest.approx(full.throughput_fps, rel=1e-9)
    # Exchange traffic per frame: conv0 -> S@0 and S@i -> S@i+1 (32 floats = 128 B each).
    per_frame_full = full.link_bytes.sum() / full.frames
    per_frame_first = first.link_bytes.sum() / first.frames
    assert per_frame_full == pytest.approx(TRIPS * 128)
    assert per_frame_first == pytest.approx(128)
    assert first.local_bytes < full.local_bytes / 2


def test_bsp_honours_levels(plans):
    folded, _ = plans
    full = _run(folded, None, frames=200, mode="bsp")
    first = _run(folded, [0], frames=200, mode="bsp")
    # input, conv0, S and relu per iteration, one return per output computed
    assert first.firings == 200 * (1 + 1 + 2 + 1) and full.firings == 200 * (1 + 1 + 2 * TRIPS + TRIPS)
    assert first.throughput_fps > 2 * full.throughput_fps
