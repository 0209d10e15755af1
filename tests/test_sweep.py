"""`mpsim sweep`: one table over profiles x models x modes, the same in-process and on Dask."""

from __future__ import annotations

import json

import pytest

from mpsim.cli.main import main
from mpsim.distribute import map_tasks
from mpsim.mapping.placement import RunOptions
from mpsim.sweeps import run_point, tasks


def test_sweep_rows_cover_the_product(tmp_path):
    out, csv = tmp_path / "s.json", tmp_path / "s.csv"
    rc = main(["sweep", "--profiles", "ipu_m2000,ipu_embedded", "--models", "itnet-tiny,itnet-camvid-independent",
               "--modes", "dataflow,bsp", "--placement", "pipelined", "--frames", "20", "--json", str(out),
               "--csv", str(csv)])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == "mpsim.sweep/1" and doc["mpsim_version"]
    rows = doc["rows"]
    assert len(rows) == 2 * 2 * 2
    assert {(r["profile"], r["model"], r["mode"]) for r in rows} == {
        (p, m, md) for p in ("ipu_m2000", "ipu_embedded") for m in ("itnet-tiny", "itnet-camvid-independent")
        for md in ("dataflow", "bsp")}
    # The independent ItNet does not fit the embedded chip as a pipeline: it runs sequentially
    # instead (one operation at a time, always bsp), and the row says so.
    emb = [r for r in rows if r["profile"] == "ipu_embedded" and r["model"] == "itnet-camvid-independent"]
    assert all(not r["fits"] and r["strategy"] == "sequential" and r["executed_mode"] == "bsp" for r in emb)
    assert csv.read_text().splitlines()[0].startswith("profile,model,mode")


def test_run_and_sweep_agree_on_one_configuration(tmp_path):
    """One configuration, one figure: the converged throughput of `run` is the sweep's."""
    out, rep = tmp_path / "s.json", tmp_path / "r.json"
    assert main(["run", "--profile", "ipu_gc200", "--model", "itnet-tiny", "--json", str(rep), "--quiet"]) == 0
    assert main(["sweep", "--profiles", "ipu_gc200", "--models", "itnet-tiny", "--json", str(out)]) == 0
    run, (row,) = json.loads(rep.read_text()), json.loads(out.read_text())["rows"]
    assert run["steady_state"]["converged"] and row["converged"]
    assert row["throughput_fps"] == run["throughput_fps"] and row["mean_latency_last_s"] == run["latency_s"]["mean"][-1]


def test_dask_local_cluster_gives_the_same_rows():
    todo = tasks(["ipu_gc200"], ["itnet-tiny", "itnet-tiny-independent"], ["dataflow"], 20, "simpy",
                 options=RunOptions(placement="pipelined"))
    local = map_tasks(run_point, todo)
    dask = map_tasks(run_point, todo, workers=2)
    assert json.dumps(local, sort_keys=True) == json.dumps(dask, sort_keys=True)


def test_sweep_bad_profile_is_one_line(capsys):
    assert main(["sweep", "--profiles", "nope", "--models", "itnet-tiny"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]


def test_unreachable_scheduler_is_one_line(capsys):
    pytest.importorskip("distributed")
    assert main(["sweep", "--profiles", "ipu_m2000", "--models", "itnet-tiny", "--frames", "5",
                 "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "scheduler" in capsys.readouterr().err
