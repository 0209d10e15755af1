"""The HTML report (``--html``), rendered in a real headless browser (Debian's chromium): no
console errors, nothing fetched, and the figures it shows are the JSON's, formatted by mpsim.fmt."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mpsim.cli.main import main
from mpsim.fmt import percent, rate

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str:
    """The browser; the set-up (make setup) installs Debian's chromium. Skip only where that
    package cannot exist (no apt, or no candidate for it)."""
    for name in BROWSERS:
        if shutil.which(name):
            return shutil.which(name)
    policy = subprocess.run(["apt-cache", "policy", "chromium"], capture_output=True, text=True) \
        if shutil.which("apt-cache") else None
    candidate = re.search(r"Candidate:\s*(\S+)", policy.stdout) if policy else None
    if candidate and candidate.group(1) != "(none)":
        pytest.fail("chromium is installable here (apt-cache policy chromium) but not installed: run `make setup`")
    pytest.skip("no chromium, and no Debian package for it on this machine")


def render(path: Path, tmp: Path) -> tuple[str, list[str]]:
    """(the DOM after scripts ran, the console messages) of ``path`` in headless chromium. Every
    network request goes to a dead proxy, so a page that fetches anything logs an error."""
    out = subprocess.run(
        [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--dump-dom",
         "--enable-logging=stderr", "--v=0", "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
         f"--user-data-dir={tmp / 'chromium-profile'}", "--virtual-time-budget=5000", path.resolve().as_uri()],
        capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    console = [line for line in out.stderr.splitlines() if ":CONSOLE" in line]
    return out.stdout, console


class Figures(HTMLParser):
    """Every element with a ``data-key``: (data-value, text); and the page's data attributes."""

    def __init__(self):
        super().__init__()
        self.figures: dict[str, list[tuple[str | None, str]]] = {}
        self.rendered = self.fetches = None
        self.units: list[str] = []
        self.rows: dict[str, int] = {}
        self._open: list[tuple[str, str | None, list[str]]] = []
        self._table: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.rendered, self.fetches = a.get("data-rendered"), a.get("data-fetches")
        if "data-unit" in a:
            self.units.append(a["data-unit"])
        if tag == "table" and "data-table" in a:
            self._table = a["data-table"]
        if tag == "tr" and self._table:
            self.rows[self._table] = self.rows.get(self._table, 0) + 1
        if "data-key" in a:
            self._open.append((a["data-key"], a.get("data-value"), []))
        elif self._open:
            self._open.append(("", None, []))

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        if self._open:
            key, value, text = self._open.pop()
            if key:
                self.figures.setdefault(key, []).append((value, "".join(text).strip()))
            if self._open:
                self._open[-1][2].extend(text)

    def handle_data(self, data):
        if self._open:
            self._open[-1][2].append(data)


def parse(dom: str) -> Figures:
    f = Figures()
    f.feed(dom)
    return f


def test_console_errors_are_detected(tmp_path):
    """The checks below are real: a page with a script error and a fetch shows both (the same
    resource count the report's own script records)."""
    from mpsim.views.html import JS

    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><img src='http://example.org/x.png'>"
                    "<script type='application/json' id='mpsim-data'>{\"schema\": \"bad\"}</script>"
                    f"<script>{JS}</script><script>noSuchFunction();</script></body></html>")
    dom, console = render(page, tmp_path)
    assert 'data-rendered="bad"' in dom and 'data-fetches="1"' in dom
    assert any("noSuchFunction" in line for line in console), console


def test_run_page_shows_the_json_figures(tmp_path):
    """mpsim run --profile ipu_m2000 --html r.html: the browser shows the throughput and the
    bottleneck of --json, with every section of the report."""
    html, js = tmp_path / "r.html", tmp_path / "r.json"
    assert main(["run", "--profile", "ipu_m2000", "--html", str(html), "--json", str(js), "--quiet"]) == 0
    rep = json.loads(js.read_text())
    text = html.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), "the page must not fetch anything"
    dom, console = render(html, tmp_path)
    assert console == []
    page = parse(dom)
    assert page.rendered == "mpsim.report/2" and page.fetches == "0"  # its script ran; it fetched nothing
    (value, shown), = page.figures["throughput_fps"]
    assert float(value) == rep["throughput_fps"] and shown == rate(rep["throughput_fps"])
    (value, shown), = page.figures["bottleneck"]
    assert value == shown == rep["bottleneck"]["name"]
    (value, shown), = page.figures["bottleneck.utilisation"]
    assert float(value) == rep["bottleneck"]["utilisation"] and shown == percent(rep["bottleneck"]["utilisation"])
    assert float(page.figures["power_w"][0][0]) == rep["power_w"]
    for part in ("compute", "sync", "exchange"):  # the BSP breakdown of a sequential IPU run
        assert float(page.figures[f"bsp.{part}"][0][0]) == rep["bsp"][part]
    assert page.figures["steady.0"][0][1] == "converged"
    # One row per unit and per output; every compute unit drawn on the tile map.
    assert page.rows["units"] == len(rep["units"]) + 1
    assert page.rows["latency"] == len(rep["latency_s"]["first"]) + 1
    assert sorted(page.units) == sorted(u["name"] for u in rep["units"] if u["kind"] == "compute")
    assert page.rows["classes"] == len({r["class"] for r in rep["utilisation"]}) + 1


def test_pipelined_crossbar_page_maps_every_unit(tmp_path):
    html, js = tmp_path / "x.html", tmp_path / "x.json"
    assert main(["run", "--profile", "memristor_yao2020", "--model", "itnet-tiny", "--html", str(html),
                 "--json", str(js), "--quiet"]) == 0
    rep = json.loads(js.read_text())
    dom, console = render(html, tmp_path)
    assert console == []
    page = parse(dom)
    compute = [u["name"] for u in rep["units"] if u["kind"] == "compute"]
    assert len(compute) > 10 and sorted(page.units) == sorted(compute)
    assert "Array map" in dom and rep["memory"]["unit_word"] == "arrays"
    assert ("Not a bulk-synchronous run" in dom) == (rep["bsp"] is None)


def test_sweep_page(tmp_path):
    html, js = tmp_path / "s.html", tmp_path / "s.json"
    assert main(["sweep", "--profiles", "ipu_gc200,memristor_yao2020_chip", "--models", "itnet-tiny",
                 "--frames", "200", "--html", str(html), "--json", str(js)]) == 0
    rows = json.loads(js.read_text())["rows"]
    dom, console = render(html, tmp_path)
    assert console == []
    page = parse(dom)
    assert page.rendered == "mpsim.sweep/1" and page.rows["sweep"] == len(rows) + 1
    assert "infeasible" in dom  # the chip-sized crossbar cannot hold the model, and the page says so
    assert [float(v) for v, _ in page.figures["throughput_fps"]] == [r["throughput_fps"] for r in rows if r["fits"]]


def test_anytime_page(tiny_dir, tmp_path):
    html, js = tmp_path / "a.html", tmp_path / "a.json"
    assert main(["anytime", "--profile", "gpu_v100", "--model", str(tiny_dir), "--policy", "confidence",
                 "--values", "0,0.9,1.1", "--data-frames", "4", "--html", str(html), "--json", str(js)]) == 0
    res = json.loads(js.read_text())
    dom, console = render(html, tmp_path)
    assert console == []
    page = parse(dom)
    assert page.rendered == "mpsim.anytime/1"
    assert page.rows["points"] == len(res["points"]) + 1 and page.rows["outputs"] == 4 + 1
    assert float(page.figures["throughput_fps"][0][0]) == res["report"]["throughput_fps"]
    assert "Untrained weights" in dom  # a preset exported without a checkpoint
