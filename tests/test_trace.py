"""Chrome trace (``--trace``): firings and transfers, bsp supersteps with their compute, sync and
exchange phases, the parts of a sequential operation, and counter tracks of link utilisation."""

from __future__ import annotations

import json

import pytest

from mpsim.cli.main import main


def _events(path):
    return json.loads(path.read_text())["traceEvents"]


def test_bsp_supersteps_and_phases(tmp_path):
    out, rep = tmp_path / "t.json", tmp_path / "r.json"
    assert main(["run", "--profile", "ipu_embedded", "--model", "itnet-tiny", "--placement", "pipelined", "--mode",
                 "bsp", "--frames", "40", "--trace", str(out), "--trace-frames", "2", "--json", str(rep),
                 "--quiet"]) == 0
    ev = _events(out)
    steps = [e for e in ev if e.get("cat") == "superstep"]
    phases = [e for e in ev if e.get("cat") == "phase"]
    assert steps and {e["name"] for e in phases} >= {"compute", "sync", "exchange"}
    sync = json.loads(rep.read_text())
    # Each step's phases lie inside it, back to back, and add up to it.
    for s in steps:
        mine = sorted((e for e in phases if e["args"]["step"] == s["args"]["step"]), key=lambda e: e["ts"])
        assert mine[0]["ts"] == pytest.approx(s["ts"])
        assert sum(e["dur"] for e in mine) == pytest.approx(s["dur"], rel=1e-9)
        for a, b in zip(mine, mine[1:]):
            assert b["ts"] == pytest.approx(a["ts"] + a["dur"])
    syncs = [e["dur"] for e in phases if e["name"] == "sync"]
    assert max(syncs) == pytest.approx(min(syncs)) and sync["bsp"]["sync"] > 0
    # Steps are consecutive and do not overlap.
    steps.sort(key=lambda e: e["ts"])
    assert all(b["ts"] >= a["ts"] + a["dur"] - 1e-6 for a, b in zip(steps, steps[1:]))
    # Counter tracks: every link's busy fraction, between 0 and 1, some of it busy.
    counters = [e for e in ev if e["ph"] == "C"]
    names = {e["name"] for e in counters}
    assert names and all(n.endswith(" busy") for n in names)
    assert all(0.0 <= e["args"]["busy"] <= 1.0 + 1e-9 for e in counters)
    assert max(e["args"]["busy"] for e in counters) > 0.1


def test_sequential_operation_parts_and_host_link_counters(tmp_path):
    out = tmp_path / "t.json"
    assert main(["run", "--profile", "ipu_gc200", "--model", "itnet-tiny", "--frames", "40", "--trace", str(out),
                 "--trace-frames", "1", "--quiet"]) == 0
    ev = _events(out)
    ops = [e for e in ev if e.get("cat") == "unit" and e["tid"] == 0]
    parts = [e for e in ev if e.get("cat") == "part"]
    assert {e["name"] for e in parts} == {"overhead", "compute", "sync", "exchange"}
    # Each operation's parts tile it exactly: a sync per operation, inside it.
    for op in ops:
        end = op["ts"] + op["dur"]
        inside = [p for p in parts if p["tid"] == op["tid"] and op["ts"] - 1e-6 <= p["ts"] and
                  p["ts"] + p["dur"] <= end + 1e-6 and p["ts"] < end - 1e-6]
        assert sum(p["dur"] for p in inside) == pytest.approx(op["dur"], rel=1e-9)
        assert sum(p["name"] == "sync" for p in inside) == 1
    assert {e["name"] for e in ev if e["ph"] == "C"} == {"host.in busy", "host.out busy"}
