"""Every bad input measured in issue 16, one row each: exit 2 and one clear line, or a correct result.

A row builds its inputs in ``tmp_path`` and returns (argv, words the error line must hold,
outputs that must stay as they were).  The "hang" rows would run for minutes to days if
their bound regressed; they are refused before any work, in milliseconds.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from mpsim.limits import MAX_STREAM_S, MAX_TOTAL_TILES
from tests.clikit import assert_rejected, cli, graph_file, profile_file, snapshot


def _set(path):
    """mutate(d): set d[path...] = value."""
    def setter(value):
        def mutate(d):
            obj = d
            for k in path[:-1]:
                obj = obj[k]
            obj[path[-1]] = value
        return mutate
    return setter


trip = _set(["loops", 0, "trip_count"])
x_shape = _set(["tensors", "x", "shape"])
stride = _set(["nodes", 0, "attrs", "stride"])


def _chips(value):
    return lambda d: d["compute"].__setitem__("chips", {**d["compute"]["chips"], "value": value})


def _field(section, key, value, unit=None):
    def mutate(d):
        d[section][key] = {**d[section][key], "value": value, **({"unit": unit} if unit else {})}
    return mutate


def _read_only_child(argv):
    """Run ``mpsim ARGV`` as user nobody in a forked child (root writes anywhere): (rc, stderr)."""
    import io
    import sys

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(r)
        buf = io.StringIO()
        sys.stderr = buf
        rc = 99
        try:
            os.setgid(65534)
            os.setuid(65534)
            from mpsim.cli.main import main

            try:
                rc = main(argv)
            except SystemExit as exc:
                rc = exc.code
        finally:
            os.write(w, json.dumps([rc, buf.getvalue()]).encode())
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.waitpid(pid, 0)
    rc, err = json.loads(data)
    return rc, err.strip().splitlines()


# Graph files -----------------------------------------------------------------------------------

GRAPH_CASES = {
    # tracebacks
    "deeply nested JSON": (lambda d: "[" * 100_000 + "]" * 100_000, ["nested deeper"]),
    "shape of 1e30 elements": (x_shape([1, 3, 10**15, 10**15]), ["'x'", "allowed: 1..1,073,741,824"]),
    "trip count 2**63": (trip(2**63), ["integer 9223372036854775808", "beyond the limit"]),
    "Infinity stride": (lambda d: json.dumps(d).replace('"stride": [1, 1]', '"stride": Infinity', 1),
                        ["Infinity is not a number"]),
    "stride 1e999": (lambda d: json.dumps(d).replace('"stride": [1, 1]', '"stride": 1e999', 1),
                     ["1e999 is beyond the range"]),
    "zero stride": (stride(0), ["'stride' is 0", "allowed: 1.."]),
    # hangs and silent accepts
    "trip count 1e12": (trip(10**12), ["trip count 1000000000000", "allowed: 1..4,096"]),
    "1e12-element tensor": (x_shape([1, 1000, 1000, 1_000_000]), ["'x'", "1e+12 elements"]),
}


@pytest.mark.parametrize("command", ["stats", "run"])
@pytest.mark.parametrize("case", GRAPH_CASES, ids=list(GRAPH_CASES))
def test_bad_graph_is_one_line(case, command, tmp_path, capsys):
    mutate, words = GRAPH_CASES[case]
    path = graph_file(tmp_path, mutate)
    out = tmp_path / "out.json"
    argv = ["stats", path, "--json", out] if command == "stats" else ["run", "--model", path, "--json", out]
    assert_rejected(argv, capsys, str(path), *words)
    assert not out.exists()


# Profiles --------------------------------------------------------------------------------------

PROFILE_CASES = {
    "finite in its unit, infinite in SI": (_field("links", "chip_to_chip", 1e300, "TB/s"),
                                           ["not a finite number in SI"]),
    "1e30 chips": (_chips(1e30), ["compute.chips", "out of range", "4,096"]),
    "1e-30 Hz clock": (_field("compute", "clock", 1e-30, "Hz"),
                       ["compute.clock", "1e-30 Hz is out of range", "[1, 1e+11] Hz"]),
    "too many tiles in all": (lambda d: [_chips(4096)(d), _field("compute", "tiles_per_chip", 2**20)(d)] and None,
                              ["chips x tiles_per_chip", f"{MAX_TOTAL_TILES:,}"]),
}


@pytest.mark.parametrize("command", ["show", "run"])
@pytest.mark.parametrize("case", PROFILE_CASES, ids=list(PROFILE_CASES))
def test_bad_profile_is_one_line(case, command, tmp_path, capsys):
    mutate, words = PROFILE_CASES[case]
    path = profile_file(tmp_path, mutate)
    argv = ["profiles", "show", path] if command == "show" else ["run", "--profile", path, "--model", "itnet-tiny"]
    assert_rejected(argv, capsys, *words)


def test_folder_as_profile_says_folder(tmp_path, capsys):
    assert_rejected(["run", "--profile", tmp_path], capsys, "is a folder, not a profile file")


# Flags -----------------------------------------------------------------------------------------

FLAG_CASES = {
    "run --engine fast --frames 1e12": (["run", "--engine", "fast", "--frames", "1000000000000"],
                                        ["--frames", "out of range"]),
    "run --frames 5 --rate 1e-300": (["run", "--model", "itnet-tiny", "--frames", "5", "--rate", "1e-300"],
                                     ["--rate 1e-300", f"limit of {MAX_STREAM_S:g} s"]),
    "run bsp idling through supersteps": (["run", "--model", "itnet-tiny", "--placement", "pipelined", "--frames", "5",
                                           "--rate", "1"], ["--rate 1", "bsp supersteps", "--mode dataflow"]),
    "run --rate nan": (["run", "--rate", "nan"], ["--rate", "nan is not a finite number"]),
    "run --rate inf": (["run", "--rate", "inf"], ["--rate", "inf is not a finite number"]),
    "run --trace-frames -1": (["run", "--trace-frames", "-1"], ["--trace-frames", "-1 is out of range"]),
    "run SimPy work bound": (["run", "--model", "itnet-tiny", "--engine", "simpy", "--frames", "1000000"],
                             ["firings", "--engine compiled"]),
    "sweep --profiles ,": (["sweep", "--profiles", ","], ["--profiles", "at least 1"]),
    "grid --margin nan": (["grid", "--margin", "nan"], ["--margin", "nan"]),
    "anytime --values nan": (["anytime", "--model", "itnet-tiny", "--values", "nan"], ["--values", "nan"]),
    "anytime negative deadline": (["anytime", "--model", "itnet-tiny", "--policy", "deadline", "--values", "-0.1"],
                                  ["--values", "-0.1 is out of range"]),
    "anytime negative budget": (["anytime", "--model", "itnet-tiny", "--policy", "budget", "--values", "5e6,-1"],
                                ["--values", "-1 is out of range"]),
    "verify --atol -1": (["verify", "x", "--atol", "-1"], ["--atol", "-1 is out of range"]),
    "verify --atol nan": (["verify", "x", "--atol", "nan"], ["--atol", "nan is not a finite number"]),
    "verify --min-agreement 2": (["verify", "x", "--min-agreement", "2"], ["--min-agreement", "allowed: [0, 1]"]),
}


@pytest.mark.parametrize("case", FLAG_CASES, ids=list(FLAG_CASES))
def test_bad_flag_is_one_line(case, tmp_path, capsys):
    argv, words = FLAG_CASES[case]
    out = tmp_path / "out.json"
    assert_rejected([*argv, "--json", out], capsys, *words)
    assert not out.exists()


# Output paths ------------------------------------------------------------------------------------

def test_output_path_of_the_wrong_kind(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("keep")
    folder = tmp_path / "dir"
    folder.mkdir()
    assert_rejected(["run", "--model", "itnet-tiny", "--json", folder], capsys, "--json", "is a folder")
    assert_rejected(["stats", "itnet-tiny", "--json", folder], capsys, "--json", "is a folder")
    assert_rejected(["run", "--model", "itnet-tiny", "--html", folder], capsys, "--html", "is a folder")
    assert_rejected(["sweep", "--models", "itnet-tiny", "--csv", folder], capsys, "--csv", "is a folder")
    assert_rejected(["stats", "itnet-tiny", "--json", a_file / "x.json"], capsys, "not a folder")
    assert_rejected(["export", "--preset", "itnet-tiny", "--out", a_file], capsys, "--out", "is not a folder")
    assert_rejected(["train", "--out", a_file], capsys, "--out", "is not a folder")
    (tmp_path / "fig.png").mkdir()
    assert_rejected(["anytime", "--model", "x", "--values", "1", "--plot", tmp_path / "fig"], capsys, "--plot",
                    "fig.png is a folder")
    assert a_file.read_text() == "keep"


def test_output_in_a_read_only_folder(capsys):
    import tempfile

    from mpsim.cli.main import build_parser

    build_parser()  # every command module imported before a child drops its rights
    base = Path(tempfile.mkdtemp(prefix="mpsim-ro-"))  # reachable by user nobody (pytest's tmp is not)
    ro = base / "ro"
    ro.mkdir()
    base.chmod(0o755)
    ro.chmod(0o555)
    try:
        for argv in (["stats", "itnet-tiny", "--json", str(ro / "s.json")],
                     ["run", "--model", "itnet-tiny", "--json", str(ro / "r.json")],
                     ["export", "--preset", "itnet-tiny", "--out", str(ro / "x")],
                     ["train", "--out", str(ro)]):
            rc, err = _read_only_child(argv) if os.geteuid() == 0 else cli(argv, capsys)
            assert rc == 2 and len(err) == 1 and "not writable" in err[0], (argv, err)
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)
        shutil.rmtree(base)


def test_export_refuses_a_folder_holding_other_files(tmp_path, capsys):
    pytest.importorskip("torch")
    (tmp_path / "notes.txt").write_text("mine")
    assert_rejected(["export", "--preset", "itnet-tiny", "--out", tmp_path], capsys, "notes.txt",
                    "replaces the whole folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


# Budget traces and accuracy grids -----------------------------------------------------------------

TRACES = {
    "NaN budget (CSV)": ("t.csv", "time_s,tiles\n0,nan\n", ["point 1: budget", "nan is not a finite number"]),
    "NaN budget (JSON)": ("t.json", '{"unit": "tiles", "points": [[0, NaN]]}', ["NaN is not a number"]),
    "a row of one value": ("t.csv", "time_s,tiles\n0,100\n1\n", ["line 3", "two values"]),
    "a point of one value": ("t.json", '{"unit": "tiles", "points": [[0, 100], [1]]}', ["point 2", "[time, budget]"]),
    "no header": ("t.csv", "0,100\n", ["header"]),
    "empty": ("t.csv", "", ["empty"]),
    "points not a list": ("t.json", '{"unit": "tiles", "points": 3}', ['"points"']),
    "negative time": ("t.csv", "time_s,tiles\n-1,100\n", ["time", "out of range"]),
    "1e30 tiles": ("t.csv", "time_s,tiles\n0,1e30\n", ["budget", f"{MAX_TOTAL_TILES:,}"]),
    "time going back": ("t.csv", "time_s,tiles\n0,100\n0,50\n", ["point 2", "does not increase"]),
}


@pytest.mark.parametrize("case", TRACES, ids=list(TRACES))
def test_malformed_budget_trace_is_one_line(case, tmp_path, capsys):
    name, text, words = TRACES[case]
    trace = tmp_path / name
    trace.write_text(text)
    (tmp_path / "cat").mkdir()
    graph_file(tmp_path / "cat", name="small.json")
    (tmp_path / "cat" / "catalog.json").write_text(json.dumps({"subnets": [
        {"name": "small", "graph": "small.json", "accuracy": 0.6}]}))
    out = tmp_path / "r.json"
    assert_rejected(["run", "--model", tmp_path / "cat", "--budget-trace", trace, "--deadline", "1", "--json", out],
                    capsys, str(trace), *words)
    assert not out.exists()


def test_accuracy_grid_beyond_one_is_refused(tmp_path, capsys):
    pytest.importorskip("torch")
    grid, acc = tmp_path / "grid.json", tmp_path / "acc.json"
    grid.write_text(json.dumps({"macs": [[1, 2], [3, 4]]}))
    acc.write_text(json.dumps({"accuracy": [[0.5, 5.0], [0.1, 0.2]]}))
    assert_rejected(["dnn", "budget", "--macs", "10", "--accuracy", acc, "--grid", grid], capsys,
                    "row 1, column 2", "5.0 is out of range", "[0, 1]")
    acc.write_text(json.dumps({"accuracy": [[0.5, 1.0], [0.1, 0.2]]}))
    rc, _ = cli(["dnn", "budget", "--macs", "10", "--accuracy", acc, "--grid", grid], capsys)
    assert rc == 0


# Exports: weights, built-in names, folders and graph.json alike ------------------------------------

def test_int64_weights_against_a_float32_graph(tiny_dir, tmp_path, capsys):
    d = tmp_path / "export"
    shutil.copytree(tiny_dir, d)
    with np.load(d / "weights.npz") as z:
        arrays = {k: z[k] for k in z.files}
    first = sorted(arrays)[0]
    arrays[first] = arrays[first].astype(np.int64)
    np.savez(d / "weights.npz", **arrays)
    assert_rejected(["verify", d], capsys, f"weight '{first}' is int64", "declares float32")


def test_models_resolve_alike_for_every_command(tiny_dir, tmp_path, capsys):
    """stats, verify and anytime take a built-in name, an export folder and its graph.json like run."""
    for model in ("itnet-tiny", tiny_dir, tiny_dir / "graph.json"):
        out = tmp_path / "s.json"
        assert cli(["stats", model, "--json", out], capsys)[0] == 0
        assert json.loads(out.read_text())["params"] > 0
    for model in (tiny_dir, tiny_dir / "graph.json"):
        assert cli(["verify", model], capsys)[0] == 0
    out = tmp_path / "a.json"
    assert cli(["anytime", "--profile", "gpu_v100", "--model", tiny_dir / "graph.json", "--values", "0.9",
                "--data-frames", "2", "--frames", "40", "--json", out], capsys)[0] == 0
    assert len(json.loads(out.read_text())["points"]) == 1
    assert_rejected(["anytime", "--model", "itnet-tiny", "--values", "0.9"], capsys,
                    "'itnet-tiny' is a built-in graph without weights", "mpsim export --preset itnet-tiny")
    assert_rejected(["verify", "itnet-tiny"], capsys, "built-in graph without weights")


def test_train_resume_with_nothing_to_resume(tmp_path, capsys):
    pytest.importorskip("torch")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_rejected(["train", "--out", empty, "--resume"], capsys, "--resume", "holds no training run")
    assert_rejected(["train", "--out", tmp_path / "missing", "--resume"], capsys, "holds no training run")
    assert list(empty.iterdir()) == [] and not (tmp_path / "missing").exists()


# What must keep holding --------------------------------------------------------------------------

def test_rejected_commands_leave_files_as_they_were(tmp_path, capsys):
    out = tmp_path / "report.json"
    out.write_text("old")
    before = snapshot([out])
    assert_rejected(["run", "--model", "itnet-tiny", "--frames", "5", "--rate", "1e-300", "--json", out], capsys)
    assert snapshot([out]) == before and sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_the_limits_page_prints_the_limits_table():
    from mpsim.hw.units import DIMENSIONS
    from mpsim.limits import SI_RANGE, markdown_table

    page = (Path(__file__).resolve().parents[1] / "docs" / "limits.md").read_text()
    table = page.split("<!-- limits:start -->\n", 1)[1].split("\n<!-- limits:end -->", 1)[0]
    assert table == markdown_table()  # regenerate with: python -m mpsim.limits
    assert set(DIMENSIONS) <= set(SI_RANGE)  # every profile dimension has a range


def test_same_seed_same_json_bytes(tiny_dir, tmp_path, capsys):
    """What held before the checks must keep holding: the same inputs give byte-identical JSON."""
    grid, acc = tmp_path / "grid.json", tmp_path / "acc.json"
    grid.write_text(json.dumps({"macs": [[1, 2], [3, 4]]}))
    acc.write_text(json.dumps({"accuracy": [[0.5, 0.6], [0.1, 0.9]]}))
    commands = {
        "run": ["run", "--model", "itnet-tiny", "--frames", "20", "--seed", "3", "--quiet"],
        "stats": ["stats", tiny_dir],
        "verify": ["verify", tiny_dir],
        "anytime": ["anytime", "--profile", "gpu_v100", "--model", tiny_dir, "--values", "0.5,0.9",
                    "--data-frames", "2", "--frames", "40", "--seed", "2"],
        "sweep": ["sweep", "--profiles", "ipu_gc200", "--models", "itnet-tiny", "--frames", "10"],
        "dnn budget": ["dnn", "budget", "--macs", "3", "--accuracy", acc, "--grid", grid],
    }
    for name, argv in commands.items():
        outs = [tmp_path / f"{name.replace(' ', '-')}-{i}.json" for i in range(2)]
        for out in outs:
            assert cli([*argv, "--json", out], capsys)[0] == 0, name
        assert outs[0].read_bytes() == outs[1].read_bytes(), name
