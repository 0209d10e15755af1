"""Figures you can trust: steady state by convergence, a bottleneck over every resource, power,
honest accounting (docs/semantics.md, "The figures")."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mpsim.cli.main import main
from mpsim.hw.profile import load_profile
from mpsim.mapping.placement import RunOptions
from mpsim.models import resolve_model
from mpsim.sim.simulate import simulate
from mpsim.sim.steady import analyse, mser5
from tests.simkit import chain_graph, round_profile

GRAPHS = ["itnet-tiny", "itnet-tiny-independent", "mnist-cnn-yao", "truenorth-cifar10", "resnet9-cifar10"]
PROFILES = [("ipu_gc200", None), ("gpu_v100", None), ("northpole", None), ("ipu_embedded", None)]


@pytest.fixture(scope="module")
def reports():
    out = {}
    for g in GRAPHS:
        for prof, style in PROFILES:
            rep, r, plan = simulate(resolve_model(g), load_profile(prof), RunOptions(placement=style))
            out[g, prof] = rep, r, plan
    return out


@pytest.mark.parametrize("graph", GRAPHS)
@pytest.mark.parametrize("profile", [p for p, _ in PROFILES])
def test_the_bottleneck_is_the_most_utilised_resource_and_saturated(reports, graph, profile):
    rep, r, plan = reports[graph, profile]
    assert rep["fits"] and rep["steady_state"]["converged"], rep["note"]
    util = rep["utilisation"]
    b = rep["bottleneck"]
    assert b == util[0] and all(b["utilisation"] >= u["utilisation"] for u in util)
    # Frames offered as fast as accepted: the bottleneck is busy nearly all the time ...
    assert b["utilisation"] >= 0.9, (b, rep["mode"], rep["strategy"])
    # ... and no resource does more work than time allows (throughput x work per frame <= 1).
    assert all(u["utilisation"] <= 1.0 + 1e-6 for u in util), util[:3]


@pytest.mark.parametrize("graph", GRAPHS)
def test_every_resource_class_is_in_the_table(reports, graph):
    rep, _, plan = reports[graph, "ipu_embedded"]  # pipelined, bsp: units, links, host, phases, supersteps
    classes = {u["class"] for u in rep["utilisation"]}
    assert {"unit", "host in link", "host out link", "superstep share", "phase"} <= classes
    assert len(rep["utilisation"]) >= plan.n_units + len(plan.link_names)
    if rep["mode"] == "bsp":
        bsp = rep["bsp"]
        assert bsp["compute"] + bsp["sync"] + bsp["exchange"] == pytest.approx(1.0)


def test_short_explicit_run_warns_and_says_not_converged(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["run", "--profile", "ipu_m2000", "--frames", "10", "--json", str(out), "--quiet"]) == 0
    rep = json.loads(out.read_text())
    assert rep["steady_state"]["converged"] is False and rep["steady_state"]["frames"] == 10
    assert "not converged" in capsys.readouterr().err


def test_default_run_converges_with_an_interval(tmp_path):
    out = tmp_path / "r.json"
    assert main(["run", "--profile", "ipu_m2000", "--json", str(out), "--quiet"]) == 0
    rep = json.loads(out.read_text())
    st = rep["steady_state"]
    assert st["converged"] is True and st["tolerance"] == 0.01 and st["frames"] >= 256
    lo, hi = st["throughput_ci_fps"]
    assert lo <= rep["throughput_fps"] <= hi and (hi - lo) / rep["throughput_fps"] <= 2 * 0.01
    assert st["rel_halfwidth"]["throughput"] <= 0.01 and st["rel_halfwidth"]["latency"] <= 0.01
    # Converged figures do not depend on how many frames it took: twice as many give the same.
    assert main(["run", "--profile", "ipu_m2000", "--frames", str(2 * st["frames"]), "--json", str(out),
                 "--quiet"]) == 0
    again = json.loads(out.read_text())
    assert again["throughput_fps"] == pytest.approx(rep["throughput_fps"], rel=0.01)


def test_tolerance_flag_and_overload(tmp_path):
    g, p = chain_graph(), round_profile(tmp_path, tiles=2)
    loose, _, _ = simulate(g, p, tolerance=0.2)
    assert loose["steady_state"]["converged"] and loose["steady_state"]["tolerance"] == 0.2
    # Offered twice what it can do: no steady state; the report says overloaded.
    over, _, _ = simulate(g, p, rate=2 / (320e-9))
    assert over["steady_state"]["overloaded"] and not over["steady_state"]["converged"]
    assert over["throughput_fps"] == pytest.approx(1 / 320e-9, rel=0.02)


def test_mser5_cuts_a_warm_up_and_batch_means_give_the_interval():
    x = np.concatenate([np.linspace(10, 1, 50), np.ones(950)])
    assert 40 <= mser5(x) <= 55
    assert mser5(np.ones(1000)) == 0


def test_power_and_energy_per_frame(tmp_path):
    rep, r, plan = simulate(resolve_model("itnet-tiny"), load_profile("ipu_gc200"))
    e = rep["energy_j_per_frame"]
    assert set(e) == {"static", "compute", "movement", "conversion", "total"}
    assert e["static"] == pytest.approx(75 / rep["throughput_fps"])  # the GC200's 75 W while it works
    assert e["total"] == pytest.approx(e["static"] + e["compute"] + e["movement"] + e["conversion"])
    assert rep["power_w"] == pytest.approx(e["total"] * rep["throughput_fps"])
    assert rep["frames_per_joule"] == pytest.approx(1 / e["total"])
    units = rep["units"]
    assert sum(u["energy_j_per_frame"] for u in units) <= e["compute"] + e["movement"] + e["conversion"] + 1e-15
    assert all({"name", "ops", "busy_s_per_frame", "utilisation", "energy_j_per_frame"} <= set(u) for u in units)


def test_crossbar_reports_arrays_and_occupancy_stays_below_one():
    rep, _, _ = simulate(resolve_model("truenorth-cifar10"), load_profile("truenorth"), frames=50)
    mem = rep["memory"]
    assert mem["unit_word"] == "arrays" and rep["units"][0].get("arrays") is not None
    assert mem["used"] <= mem["available"] and mem["needed"] <= mem["used"]
    assert 0 < mem["occupancy"]["max"] <= 1.0
    # Everywhere a graph fits, no unit is fuller than its memory.
    for name in ("ipu_gc200", "memristor_yao2020", "northpole"):
        rep, _, _ = simulate(resolve_model("mnist-cnn-yao"), load_profile(name), frames=50)
        assert rep["fits"] and rep["memory"]["occupancy"]["max"] <= 1.0 and rep["memory"]["overflow_bytes"] == 0


def test_mode_reported_is_mode_run(tmp_path):
    g = resolve_model("itnet-tiny")
    rep, _, _ = simulate(g, load_profile("ipu_gc200"), RunOptions(placement="pipelined"), mode="rollout", frames=60)
    assert rep["mode"] == "rollout" and rep["placement"] == "pipelined"
    rep, _, _ = simulate(g, load_profile("gpu_v100"), frames=60)
    assert rep["mode"] == "bsp" and rep["strategy"] == "layer_by_layer" and rep["engine"] == "compiled"


def test_analyse_needs_enough_frames(tmp_path):
    g, p = chain_graph(), round_profile(tmp_path, tiles=2)
    from mpsim.sim.simulate import make_plan, run_engine

    _, plan = make_plan(g, p)
    short = analyse(run_engine(plan, p, "dataflow", "simpy", 30, None, record=True))
    assert not short.converged and short.throughput_ci is None
    long = analyse(run_engine(plan, p, "dataflow", "simpy", 400, None, record=True))
    assert long.converged and long.throughput_fps == pytest.approx(1 / 320e-9, rel=1e-9)
