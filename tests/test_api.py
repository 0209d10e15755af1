"""The Python API for notebooks (docs/api.md): light import, plain values, profile overrides
with units, the same figures as the CLI, and the example notebook run end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mpsim
from mpsim.cli.main import main
from mpsim.hw.profile import ProfileError

ROOT = Path(__file__).resolve().parents[1]


def _plain(x, where="report"):
    """Fail unless ``x`` holds only JSON's own Python types (no numpy scalars)."""
    if isinstance(x, dict):
        for k, v in x.items():
            assert type(k) is str, where
            _plain(v, f"{where}.{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            _plain(v, f"{where}[{i}]")
    else:
        assert x is None or type(x) in (bool, int, float, str), f"{where}: {type(x).__name__}"


def test_import_is_light_and_dir_shows_the_api():
    code = ("import sys, mpsim; api = {'load_model', 'load_profile', 'simulate', 'Report'}; "
            "assert api <= set(dir(mpsim)), dir(mpsim); "
            "heavy = [m for m in ('numpy', 'torch', 'simpy', 'numba', 'matplotlib', 'rich') if m in sys.modules]; "
            "assert not heavy, heavy; mpsim.load_model('itnet-tiny'); assert 'torch' not in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert mpsim.simulate.__doc__ and "steady state" in mpsim.simulate.__doc__
    with pytest.raises(AttributeError):
        mpsim.no_such_thing  # noqa: B018


def test_load_profile_overrides_with_units_recompute_derived_values():
    base = mpsim.load_profile("ipu_m2000")
    p = mpsim.load_profile("ipu_m2000", links__host_in="25 GB/s", compute__chips=2)
    assert p.link_bandwidth["host_in"] == 25e9 and base.link_bandwidth["host_in"] == 22e9
    assert p.chips == 2 and p.capacity_bytes == pytest.approx(base.capacity_bytes / 2)  # derived, not stale
    assert p.fields["links.host_in"].source.startswith("override")
    # A dict of dotted names, a Profile to change further, a mapping that extends a built-in.
    assert mpsim.load_profile("ipu_m2000", {"links.host_in": "25 GB/s"}).link_bandwidth["host_in"] == 25e9
    assert mpsim.load_profile(p, compute__chips=4).capacity_bytes == base.capacity_bytes
    custom = mpsim.load_profile({"extends": "ipu_gc200", "name": "my_ipu",
                                 "compute": {"clock": {"value": 1, "unit": "GHz",
                                                       "source": "assumption: a slower clock for this test"}}})
    assert custom.name == "my_ipu" and custom.clock_hz == 1e9 and custom.tiles_per_chip == 1472
    with pytest.raises(ProfileError, match="not a bandwidth unit|unit"):
        mpsim.load_profile("ipu_m2000", links__host_in="25 GB")
    with pytest.raises(ProfileError, match="no such"):
        mpsim.load_profile("ipu_m2000", links__nothing=3)


def test_simulate_returns_plain_values_and_agrees_with_the_cli(tmp_path):
    rep = mpsim.simulate("itnet-tiny", "ipu_gc200", frames=300)
    assert isinstance(rep, mpsim.Report)
    doc = rep.to_dict()
    _plain(doc)
    _plain(rep.units, "units")
    assert doc["schema"] == "mpsim.report/2" and doc["mpsim_version"] == mpsim.__version__
    assert rep.throughput_fps == doc["throughput_fps"] and rep["bottleneck"] == rep.bottleneck
    out = tmp_path / "r.json"
    assert main(["run", "--profile", "ipu_gc200", "--model", "itnet-tiny", "--frames", "300", "--json", str(out),
                 "--quiet"]) == 0
    cli = json.loads(out.read_text())
    assert cli["throughput_fps"] == rep.throughput_fps and cli["latency_s"] == doc["latency_s"]
    # Per unit: what the JSON's units say, plus bytes and the share of the compute units' time.
    units = rep.units
    assert [u["name"] for u in units] == [u["name"] for u in doc["units"]]
    compute = [u for u in units if u["kind"] == "compute"]
    assert sum(u["time_share"] for u in compute) == pytest.approx(1.0)
    assert all(u["bytes"] == u["weight_bytes"] + u["buffer_bytes"] for u in units)
    tables = rep.tables()
    assert {"units", "summary", "latency", "utilisation", "classes", "traffic", "operations"} <= set(tables)
    assert len(tables["latency"]) == 4  # itnet-tiny has four anytime outputs
    assert "itnet-tiny on ipu_gc200" in repr(rep) and "host" in repr(rep)


def test_to_pandas_is_optional():
    rep = mpsim.simulate("itnet-tiny", "ipu_gc200", frames=200)
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(mpsim.api.MpsimError, match="pandas"):
            rep.to_pandas()
    else:
        df = rep.to_pandas()
        assert list(df["name"]) == [u["name"] for u in rep.units]


def test_example_notebook_runs(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(ROOT / "docs" / "example.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert (tmp_path / "itnet-tiny-ipu_m2000.html").stat().st_size > 10_000
    last = nb.cells[-1].outputs[-1]["data"]["text/plain"]
    assert last == "True"
    bottlenecks = nb.cells[-2].outputs[-1]["data"]["text/plain"]
    assert "host" in bottlenecks  # the host link bounds the slow points
