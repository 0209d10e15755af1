"""Budget-adaptive choice of sub-networks (doubly nested models) under a trace of free tiles."""

from __future__ import annotations

import json

import pytest

from mpsim.anytime.budget import load_catalog, load_trace, simulate_budget
from mpsim.cli.main import main
from mpsim.hw.profile import load_profile
from mpsim.ir.serialize import save_graph
from mpsim.mapping.placement import RunOptions, place
from mpsim.models import resolve_model


@pytest.fixture()
def catalog(tmp_path):
    """Two 'sub-networks': the small tiny ItNet (less accurate) and the CamVid one (more)."""
    small, big = resolve_model("itnet-tiny"), resolve_model("itnet-camvid-shared")
    save_graph(small, tmp_path / "small.json")
    save_graph(big, tmp_path / "big.json")
    (tmp_path / "catalog.json").write_text(json.dumps({"subnets": [
        {"name": "small", "graph": "small.json", "accuracy": 0.6},
        {"name": "big", "graph": "big.json", "accuracy": 0.9}]}))
    return tmp_path


def test_best_subnet_that_fits_each_segment(catalog, tmp_path):
    p = load_profile("ipu_gc200")
    need_big = place(resolve_model("itnet-camvid-shared"), p, RunOptions(placement="pipelined")).memory.units_needed
    need_small = place(resolve_model("itnet-tiny"), p, RunOptions(placement="pipelined")).memory.units_needed
    assert need_small < need_big < p.total_tiles
    trace = tmp_path / "trace.csv"
    # Free tiles: all, then too few for the big net, then too few for anything.
    trace.write_text(f"time_s,tiles\n0,{p.total_tiles}\n0.5,{need_big - 1}\n1.0,{need_small - 1}\n")
    unit, t, v = load_trace(trace)
    res = simulate_budget(load_catalog(catalog), p, unit, t, v, deadline=1.0, frames=30, rate=20)
    segs = res["segments"]
    assert [s["subnet"] for s in segs] == ["big", "small", None]
    assert [s["frames"] for s in segs] == [10, 10, 10]
    assert res["served"] == 20 and res["dropped"] == 10
    assert res["mean_accuracy"] == pytest.approx(0.75)


def test_deadline_excludes_slow_subnets(catalog, tmp_path):
    p = load_profile("ipu_gc200")
    trace = tmp_path / "trace.json"
    trace.write_text(json.dumps({"unit": "tiles", "points": [[0, p.total_tiles]]}))
    unit, t, v = load_trace(trace)
    loose = simulate_budget(load_catalog(catalog), p, unit, t, v, deadline=1.0, frames=3, rate=10)
    big_latency = loose["choices"][0]["latency_s"]
    tight = simulate_budget(load_catalog(catalog), p, unit, t, v, deadline=big_latency * 0.5, frames=3, rate=10)
    assert loose["segments"][0]["subnet"] == "big" and tight["segments"][0]["subnet"] == "small"


def test_budget_cli_and_bad_trace(catalog, tmp_path, capsys):
    trace = tmp_path / "t.csv"
    trace.write_text("time_s,tiles\n0,1472\n")
    out = tmp_path / "r.json"
    assert main(["run", "--profile", "ipu_gc200", "--model", str(catalog), "--budget-trace", str(trace),
                 "--deadline", "0.01", "--frames", "5", "--json", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["served"] == 5
    bad = tmp_path / "bad.csv"
    bad.write_text("time,cows\n0,1\n")
    assert main(["run", "--model", str(catalog), "--budget-trace", str(bad), "--deadline", "1"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_pareto_front_of_a_catalog():
    from mpsim.cli.cmd_dnn import pareto

    entries = [{"name": n, "macs": m, "accuracy": a} for n, m, a in
               [("a", 10, 0.5), ("b", 20, 0.4), ("c", 30, 0.7), ("d", 30, 0.6), ("e", 40, 0.7)]]
    assert [e["name"] for e in pareto(entries)] == ["a", "c"]  # b, d dominated; e no better for more
