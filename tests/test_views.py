"""Machine-readable and terminal output of every command: --json (stamped with the mpsim and
schema versions) and --csv on every command that prints a table, per-unit rows, one formatter,
and tables readable at 80 columns (nothing cut: no '…')."""

from __future__ import annotations

import csv
import json

import pytest

from mpsim import __version__
from mpsim.cli.main import main
from mpsim.fmt import count, eng, joules, nbytes, percent, rate, seconds
from mpsim.hw.profile import list_profiles
from mpsim.views.table import Column, TableView


def test_one_formatter():
    assert seconds(0.00105) == "1.05 ms" and seconds(3.8e-3) == "3.8 ms" and seconds(None) == "-"
    assert nbytes(2.16e9) == "2.16 GB" and nbytes(999.96e3) == "1 MB"  # rounding moves up a prefix
    assert rate(4208.4) == "4.21 kframes/s" and rate(25e9, "B/s") == "25 GB/s"
    assert joules(0) == "0 J" and joules(2.7e-6) == "2.7 µJ" and percent(0.4312) == "43.1 %"
    assert count(1472) == "1,472" and eng(1.5e15, "MAC/s") == "1.5 PMAC/s" and eng(float("nan"), "s") == "-"


def test_table_widths_keep_words_whole():
    t = TableView("t", "title", [Column("a", "name"), Column("b", "a long header", right=True),
                                 Column("c", "description")])
    t.add(a="memristor_yao2020_chip", b="12.3 kframes/s", c="a long text " * 8 + "https://example.org/a/long/url")
    widths = t.widths(80)
    assert widths[0] >= len("memristor_yao2020_chip") and widths[1] >= len("12.3 kframes/s")
    assert sum(widths) + 3 * 3 - 1 <= 80
    assert t.widths(400) is None  # it fits as it is


def _out(capsys) -> str:
    out = capsys.readouterr()
    return out.out + out.err


def _check_80(text: str, *names: str) -> None:
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    for name in names:  # names whole, on one line
        assert name in text, name


@pytest.fixture()
def narrow(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")


def _json(path):
    doc = json.loads(path.read_text())
    assert doc["mpsim_version"] == __version__ and doc["schema"].startswith("mpsim.")
    return doc


def _csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_run_json_csv_and_80_columns(narrow, capsys, tmp_path):
    js, cs = tmp_path / "r.json", tmp_path / "r.csv"
    assert main(["run", "--profile", "memristor_yao2020", "--model", "itnet-tiny", "--json", str(js), "--csv",
                 str(cs), "--plot", str(tmp_path / "lat"), "--quiet"]) == 0
    assert (tmp_path / "lat.png").stat().st_size > 10_000 and (tmp_path / "lat.svg").exists()
    text = _out(capsys)
    rep = _json(js)
    _check_80(text, "memristor_yao2020", rep["bottleneck"]["name"], rate(rep["throughput_fps"]))
    assert rep["schema"] == "mpsim.report/2"
    rows = _csv(cs)  # the main CSV: one row per unit
    assert [r["name"] for r in rows] == [u["name"] for u in rep["units"]]
    for r, u in zip(rows, rep["units"]):
        assert float(r["busy_s_per_frame"]) == u["busy_s_per_frame"] and int(r["arrays"]) == u["arrays"]
        assert float(r["energy_j_per_frame"]) == u["energy_j_per_frame"] and int(r["ops"]) == u["ops"]
        assert float(r["bytes"]) == u["weight_bytes"] + u["buffer_bytes"]
        assert float(r["utilisation"]) == u["utilisation"]
    for name in ("summary", "latency", "utilisation", "classes", "traffic", "operations"):
        assert (tmp_path / f"r-{name}.csv").exists(), name
    lat = _csv(tmp_path / "r-latency.csv")
    assert [float(r["mean_s"]) for r in lat] == rep["latency_s"]["mean"]
    ops = _csv(tmp_path / "r-operations.csv")
    assert len(ops) == len(rep["operations"]) and {o["unit"] for o in ops} <= {u["name"] for u in rep["units"]}


def test_stats_profiles_and_show(narrow, capsys, tmp_path):
    js, cs = tmp_path / "s.json", tmp_path / "s.csv"
    assert main(["stats", "itnet-cityscapes", "--json", str(js), "--csv", str(cs)]) == 0
    _check_80(_out(capsys), "itnet-cityscapes")
    doc = _json(js)
    assert [int(r["macs"]) for r in _csv(cs)] == doc["macs_per_output"] and len(doc["macs_per_output"]) == 16
    assert main(["profiles", "--json", str(js), "--csv", str(cs)]) == 0
    _check_80(_out(capsys), *list_profiles())
    assert [p["name"] for p in _json(js)["profiles"]] == list_profiles() == [r["name"] for r in _csv(cs)]
    for name in list_profiles():
        assert main(["profiles", "show", name, "--json", str(js), "--csv", str(cs)]) == 0
        text = _out(capsys)
        doc = _json(js)
        _check_80(text, name, *(f["field"] for f in doc["fields"]))  # every field name whole
        assert [r["field"] for r in _csv(cs)] == [f["field"] for f in doc["fields"]]


def test_sweep_80_columns(narrow, capsys, tmp_path):
    cs = tmp_path / "s.csv"
    assert main(["sweep", "--profiles", "memristor_yao2020_chip,ipu_gc200", "--models",
                 "itnet-camvid-independent,itnet-tiny", "--frames", "100", "--csv", str(cs)]) == 0
    text = _out(capsys)
    rows = _csv(cs)
    _check_80(text, "memristor_yao2020_chip", "itnet-camvid-independent", "infeasible",
              *(rate(float(r["throughput_fps"])) for r in rows if r["throughput_fps"]))
    assert len(rows) == 4 and {"throughput_fps", "bottleneck", "energy_j_per_frame"} <= set(rows[0])
    units = _csv(tmp_path / "s-units.csv")  # per unit of every point that ran (the crossbar chip runs none)
    assert {(u["profile"], u["model"]) for u in units} == {("ipu_gc200", m) for m in ("itnet-camvid-independent",
                                                                                       "itnet-tiny")}
    assert {"name", "ops", "tiles", "bytes", "busy_s_per_frame", "utilisation", "energy_j_per_frame"} <= set(units[0])


def test_anytime_and_verify(narrow, capsys, tiny_dir, tmp_path):
    js, cs = tmp_path / "a.json", tmp_path / "a.csv"
    assert main(["anytime", "--profile", "ipu_gc200", "--model", str(tiny_dir / "graph.json"), "--values", "0.5,1.1",
                 "--data-frames", "4", "--json", str(js), "--csv", str(cs)]) == 0  # a graph.json works too
    text = _out(capsys)
    doc = _json(js)
    _check_80(text, "m_4", *(rate(p["throughput_fps"]) for p in doc["points"]),
              *(seconds(p["mean_latency_s"]) for p in doc["points"]))
    assert doc["schema"] == "mpsim.anytime/1" and doc["report"]["schema"] == "mpsim.report/2"
    assert [float(r["accuracy"]) for r in _csv(cs)] == [p["accuracy"] for p in doc["points"]]
    assert len(_csv(tmp_path / "a-outputs.csv")) == 4
    assert [u["name"] for u in _csv(tmp_path / "a-units.csv")] == [u["name"] for u in doc["report"]["units"]]
    assert main(["verify", str(tiny_dir / "graph.json"), "--json", str(js), "--csv", str(cs), "--rtol", "2e-5"]) == 0
    _check_80(_out(capsys), "m_4", "max rel err")
    doc = _json(js)
    assert doc["schema"] == "mpsim.verify/1" and doc["criteria"]["rtol"] == 2e-5
    rows = _csv(cs)
    assert [float(r["max_rel_err"]) for r in rows] == [o["max_rel_err"] for o in doc["outputs"]] and len(rows) == 4
    # A built-in name is a graph without weights: one line says so.
    assert main(["anytime", "--model", "itnet-tiny", "--values", "1"]) == 2
    err = capsys.readouterr().err
    assert "without weights" in err and err.count("\n") == 1


def test_dnn_and_grid_tables(narrow, capsys, tmp_path):
    pytest.importorskip("torch")
    js, cs = tmp_path / "g.json", tmp_path / "g.csv"
    assert main(["dnn", "grid", "--preset", "dnn-tiny", "--json", str(js), "--csv", str(cs)]) == 0
    _check_80(_out(capsys), "dnn-tiny")
    doc = _json(js)
    rows = _csv(cs)
    assert len(rows) == len(doc["macs"]) * len(doc["macs"][0])
    assert int(rows[-1]["macs"]) == doc["macs"][-1][-1]
    # grid's tables (training runs are long: rendered from an outcome of the documented shape)
    from rich.console import Console

    from mpsim.cli.cmd_grid import grid_tables

    point = {"family": "independent", "scales": 3, "iterations": 16, "blocks": 2, "width": 29,
             "macs_per_output": [2.068e9], "miou_per_output": [0.31, 0.52], "peak_miou": 0.53, "auc": 0.4321,
             "discarded": False, "rank": 1}
    outcome = {"points": [point], "families": ["shared", "independent"],
               "ranking": [{"scales": 3, "iterations": 16, "blocks": 2, "ranks": {"shared": None, "independent": 1},
                            "average_rank": 1.0}]}
    console = Console(width=80, record=True)
    for t in grid_tables(outcome):
        console.print(t.to_rich(80))
    _check_80(console.export_text(), "indep.", "3,16,2", "2.07 GMAC", "0.4321")
    header = grid_tables(outcome)[0].to_csv().splitlines()[0].split(",")
    assert header[:4] == ["family", "scales", "iterations", "blocks"] and "config" not in header


def test_docs_profile_table_is_the_loaded_profiles():
    """docs/profiles.md's built-in table is what `python -m mpsim.hw.doc_table` generates from the
    profiles as loaded (regenerate it with --write docs/profiles.md)."""
    from pathlib import Path

    from mpsim.hw.doc_table import committed, table

    doc = (Path(__file__).resolve().parents[1] / "docs" / "profiles.md").read_text()
    assert committed(doc) == table()
    assert "| `memristor_yao2020` | crossbar / pipelined | 256 (2,048 arrays of 16 x 128) | 67.1 MB buffers" in doc
