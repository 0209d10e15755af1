"""Validation against measured silicon: every anchor of benchmarks/validation_anchors.py simulated
as its measurement was taken, beside the measured figure.

``python benchmarks/validation.py`` (part of ``make bench``) fits the declared calibrations
(``CALIBRATIONS``: one profile field per calibration anchor, a 1-D bisection on the field until
the anchor's simulated figure equals the measurement, in order, twice), reports how far the
fitted values are from the profiles' committed ones, simulates every anchor with the committed
profiles and writes benchmarks/results/validation.md, validation.json and validation.png/.svg
(simulated against measured, log-log, with the +-25 % and +-50 % bands). ``--write-profiles``
writes the fitted values into hwprofiles/*.yaml first (each such field's source says
"calibrated: fitted to anchor ..."). docs/validation.md explains the method.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from hwprofiles import profile_dir  # noqa: E402
from mpsim.atomic import write_json, write_text  # noqa: E402
from mpsim.hw.profile import load_profile, read_raw  # noqa: E402
from mpsim.ir.builder import GraphBuilder  # noqa: E402
from mpsim.ir.graph import Graph, Node, TensorSpec  # noqa: E402
from mpsim.mapping.placement import RunOptions, place  # noqa: E402
from mpsim.models import resolve_model  # noqa: E402
from mpsim.sim.plan import build_plan  # noqa: E402
from mpsim.sim.report import build_report  # noqa: E402
from mpsim.sim.simulate import resolve_engine, resolve_mode, run_steady  # noqa: E402
from validation_anchors import ANCHORS, CALIBRATIONS, Anchor, Calibration, Setup  # noqa: E402


# -- graphs ---------------------------------------------------------------------------------------

def with_batch_norms(g: Graph) -> Graph:
    """``g`` as eager PyTorch runs it: the exporter folds every batch norm into its convolution,
    eager PyTorch runs it as a kernel of its own, so a batch_norm node follows every conv2d
    (ResNet-50 has one after each of its 53 convolutions)."""
    nodes, tensors, weights, renamed = [], dict(g.tensors), dict(g.weights), {}
    for n in g.nodes:
        n = dataclasses.replace(n, inputs=tuple(renamed.get(t, t) for t in n.inputs))
        nodes.append(n)
        if n.op == "conv2d":
            out = n.outputs[0]
            bn = f"{n.name}.bn"
            tensors[bn] = g.tensors[out]
            channels = g.tensors[out].shape[1]
            for role in ("scale", "shift"):
                weights[f"{bn}.{role}"] = TensorSpec((channels,))
            nodes.append(Node(bn, "batch_norm", (out,), (bn,), {}, {"scale": f"{bn}.scale", "shift": f"{bn}.shift"},
                              0, 2 * channels, n.module))
            renamed[out] = bn
    outputs = tuple(dataclasses.replace(o, tensor=renamed.get(o.tensor, o.tensor)) for o in g.outputs)
    return Graph(f"{g.name}-eager", g.inputs, outputs, tensors, tuple(nodes), weights, g.weight_groups, g.loops,
                 g.meta)


def _linear_graph(name: str, inputs: int, outputs: int) -> Graph:
    """One matrix-vector multiply: ``inputs`` -> ``outputs``."""
    b = GraphBuilder(name)
    x = b.input("x", (1, inputs))
    w = b.weight("w", (outputs, inputs))
    b.output(b.node("linear", [x], params={"weight": w})[0])
    return b.build()


def _resnet9_layer() -> Graph:
    """One input (one output pixel) of a deep ResNet-9 layer of Le Gallo et al. 2023: 224 -> 224
    channels, 3 x 3, ReLU: 2,016 x 224 weights on 8 cores."""
    b = GraphBuilder("resnet9-layer")
    x = b.input("x", (1, 224, 3, 3))
    w = b.weight("w", (224, 224, 3, 3))
    y = b.node("conv2d", [x], {"stride": [1, 1], "padding": [0, 0], "dilation": [1, 1], "groups": 1},
               {"weight": w})[0]
    b.output(b.node("relu", [y])[0])
    return b.build()


def _lstm_step(inputs: int = 480, hidden: int = 512) -> Graph:
    """One LSTM time step: gates = W [x, h] (4 x hidden outputs; x and h routed to the cores'
    inputs side by side), i, f, o = sigmoid, g = tanh,
    c' = f c + i g, h' = o tanh(c'). tanh is costed as a sigmoid (mpsim's op table has no tanh;
    both are a look-up on the chip's digital units)."""
    b = GraphBuilder("lstm-step")
    xh, c = b.input("xh", (1, inputs + hidden)), b.input("c", (1, hidden))  # [x, h] arrive side by side
    gates = b.node("linear", [xh], params={"weight": b.weight("w", (4 * hidden, inputs + hidden))})[0]
    i, f, g, o = b.node("split", [gates], {"axis": 1, "sizes": [hidden] * 4})
    i, f, g, o = (b.node("sigmoid", [t])[0] for t in (i, f, g, o))
    c2 = b.node("add", [b.node("mul", [f, c])[0], b.node("mul", [i, g])[0]])[0]
    b.output(b.node("mul", [o, b.node("sigmoid", [c2])[0]])[0])
    return b.build()


SYNTHETIC = {
    "resnet50-eager": lambda: with_batch_norms(resolve_model("resnet50")),
    "mvm-pcm64": lambda: _linear_graph("mvm-pcm64", 256, 64 * 256),  # all 64 cores, one MVM each
    "mvm-yao128": lambda: _linear_graph("mvm-yao128", 128, 64),  # one 128 x 128 macro (64 weights x 2 cells)
    "resnet9-layer": _resnet9_layer,
    "lstm-step": _lstm_step,
}


@lru_cache(maxsize=None)
def graph(name: str) -> Graph:
    return SYNTHETIC[name]() if name in SYNTHETIC else resolve_model(name)


# -- profiles with calibrated values ------------------------------------------------------------------

@lru_cache(maxsize=None)
def ancestry(profile: str) -> tuple[str, ...]:
    """The profile and every profile it extends, nearest first."""
    import yaml

    chain, name = [], profile
    while name:
        chain.append(name)
        name = yaml.safe_load((profile_dir() / f"{name}.yaml").read_text()).get("extends")
    return tuple(chain)


def load(profile: str, values: dict[tuple[str, str], float], units: dict[tuple[str, str], str],
         extra: tuple[tuple[str, str], ...] = ()):
    """``profile`` with the calibrated ``values`` of it and its ancestors (nearest wins) and a
    setup's own overrides."""
    over: dict[str, Any] = {}
    for name in reversed(ancestry(profile)):
        for (file, fld), v in values.items():
            if file == name:
                over[fld] = {"value": v, "unit": units[file, fld], "source": "calibration in progress"}
    over.update(dict(extra))
    return load_profile(profile, overrides=over)


# -- running a setup ----------------------------------------------------------------------------------

def run(setup: Setup, values=None, units=None) -> dict:
    """The report of one setup: placed, planned, run to steady state (``clients`` requests in
    flight when set: a closed loop, as a benchmark client keeps them)."""
    p = load(setup.profile, values or {}, units or {}, setup.overrides)
    if setup.precision:
        p = p.with_precision(setup.precision)
    g = graph(setup.model)
    pl = place(g, p, RunOptions(placement=setup.placement, batch=setup.batch))
    if setup.clients:
        pl = dataclasses.replace(pl, window=setup.clients)
    plan = build_plan(pl)
    mode = resolve_mode(pl, p, None)
    engine = resolve_engine("auto")
    r, st = run_steady(plan, pl.profile, mode, engine)
    rep = build_report(pl, plan, r, st, mode, engine, None)
    rep["_ops_per_frame"] = 2.0 * setup.batch * sum(n.macs for n in g.nodes)
    return rep


def _latency(rep: dict, setup: Setup) -> float:
    """A closed loop's mean latency; without clients, the first frame's (an empty machine)."""
    return rep["latency_s"]["mean" if setup.clients else "first"][-1]


def metric(rep: dict, setup: Setup, name: str) -> float:
    thr = rep["throughput_fps"]
    if name == "throughput":
        return thr
    if name == "latency":
        return _latency(rep, setup)
    if name == "iteration":  # one iteration of a benchmark loop: a batch every 1 / throughput
        return setup.batch / thr
    if name == "power":
        return rep["power_w"]
    if name == "energy":
        return rep["energy_j_per_frame"]["total"]
    if name == "arrays":
        return rep["memory"]["used"]
    ops = rep["_ops_per_frame"] / setup.batch * thr  # ops per second
    if name == "tops":
        return ops
    if name == "tops_per_w":
        return ops / rep["power_w"]
    if name == "energy_dynamic":
        e = rep["energy_j_per_frame"]
        return e["total"] - e["static"]
    raise ValueError(f"unknown metric {name}")


def ratio_figure(a: Anchor, rep: dict, vs: dict) -> float:
    """A ratio anchor's simulated figure from its setup's and its comparator's reports."""
    if a.id == "N1-fpsW":
        return rep["frames_per_joule"] / vs["frames_per_joule"]
    if a.id == "N1-lat":
        return _latency(vs, a.versus) / _latency(rep, a.setup)
    if a.id == "N1-fpsT":
        t_a, t_b = a.extra["transistors"]
        return (rep["throughput_fps"] / t_a) / (vs["throughput_fps"] / t_b)
    if a.id == "A3":  # ops per joule, 2 per weight MAC on both sides
        macro = rep["_ops_per_frame"] / metric(rep, a.setup, "energy_dynamic")
        gpu = vs["_ops_per_frame"] / a.versus.batch * vs["throughput_fps"] / vs["power_w"]
        return macro / gpu
    raise ValueError(f"no ratio rule for {a.id}")


def simulated(a: Anchor, values=None, units=None, cache: dict | None = None) -> float | None:
    """The anchor's simulated figure (SI), or None when it is not simulated."""
    if a.role == "not simulated":
        return None
    if a.id == "T1":  # computed from the profile: static + cores x ticks/s x energy per core-tick
        p = load("truenorth", values or {}, units or {})
        return p.static_power_w + 3406 * p.clock_hz * p.energy.crossbar_mvm
    cache = {} if cache is None else cache

    def rep_of(s: Setup) -> dict:
        if s.key() not in cache:
            cache[s.key()] = run(s, values, units)
        return cache[s.key()]

    rep = rep_of(a.setup)
    if a.metric == "ratio":
        return ratio_figure(a, rep, rep_of(a.versus))
    return metric(rep, a.setup, a.metric)


def ratio_of(a: Anchor, sim: float | None) -> float | None:
    """simulated / measured; a range anchor is 1.0 inside its range, else simulated / the
    nearest bound."""
    if sim is None:
        return None
    if a.measured is not None:
        return sim / a.measured
    if a.low <= sim <= a.high:
        return 1.0
    return sim / (a.low if sim < a.low else a.high)


# -- calibration -------------------------------------------------------------------------------------

def committed(c: Calibration) -> tuple[float, str]:
    """A calibrated field's value and unit as the profile file has it."""
    raw, _, _ = read_raw(c.profile)
    node = raw
    for part in c.fields[0][1].split("."):
        node = node[part]
    return float(node["value"]), node["unit"]


def fit(c: Calibration, values: dict, units: dict) -> float:
    """The field value that makes the anchor's simulated figure equal the measurement: bisection
    in log space between the bounds (the figure is monotonic in each calibrated field)."""
    a = next(x for x in ANCHORS if x.id == c.anchor)

    def err(v: float) -> float:
        trial = dict(values)
        for f in c.fields:
            trial[f] = v
        return math.log(simulated(a, trial, units) / a.measured)

    lo, hi = max(c.low, 1e-9), c.high
    e_lo, e_hi = err(lo), err(hi)
    if e_lo * e_hi > 0:  # out of reach within the plausible bounds: the nearer bound
        return lo if abs(e_lo) < abs(e_hi) else hi
    for _ in range(40):
        mid = math.sqrt(lo * hi)
        e = err(mid)
        if (e < 0) == (e_lo < 0):
            lo, e_lo = mid, e
        else:
            hi = mid
        if hi / lo < 1 + 1e-5:
            break
    return math.sqrt(lo * hi)


def calibrate(passes: int = 2) -> tuple[dict, dict]:
    """Fit every calibration in order, ``passes`` times; values start from the profiles'."""
    values, units = {}, {}
    for c in CALIBRATIONS:
        v, u = committed(c)
        for f in c.fields:
            values[f], units[f] = v, u
    for _ in range(passes):
        for c in CALIBRATIONS:
            v = float(f"{fit(c, values, units):.4g}")
            for f in c.fields:
                values[f] = v
    return values, units


def write_profile_value(profile: str, dotted: str, value: float) -> None:
    """Replace ``value:`` of one field in hwprofiles/PROFILE.yaml in place (comments and layout
    kept): the field is found by its keys at indents 0, 2, 4..."""
    path = profile_dir() / f"{profile}.yaml"
    lines = path.read_text().splitlines(keepends=True)
    keys, start = dotted.split("."), 0
    for depth, key in enumerate(keys):
        prefix = " " * (2 * depth) + key + ":"
        start = next(i for i in range(start, len(lines)) if lines[i].startswith(prefix))
    line = lines[start]
    head, rest = line.split("value:", 1)
    old = rest.split(",", 1)[0]
    lines[start] = f"{head}value: {value:g},{rest.split(',', 1)[1]}" if old.strip() else line
    write_text(path, "".join(lines))


# -- the table ---------------------------------------------------------------------------------------

def evaluate() -> list[dict]:
    """Every anchor with the committed profiles."""
    cache: dict = {}
    rows = []
    for a in ANCHORS:
        sim = simulated(a, cache=cache)
        ratio = ratio_of(a, sim)
        met = None if ratio is None else (1 - a.band) <= ratio <= (1 + a.band)
        rows.append({
            "id": a.id, "family": a.family, "hardware": a.hardware, "workload": a.workload, "batch": a.batch,
            "precision": a.precision, "includes": a.includes, "metric": a.metric, "unit": a.unit,
            "measured": None if a.measured is None else a.measured * a.scale,
            "range": None if a.measured is not None else [a.low * a.scale, a.high * a.scale],
            "simulated": None if sim is None else sim * a.scale, "ratio": ratio,
            "band": a.band, "within_band": met, "role": a.role, "tag": a.tag, "source": a.source,
            "setup": None if a.setup is None else dataclasses.asdict(a.setup),
            "versus": None if a.versus is None else dataclasses.asdict(a.versus),
            "note": a.note, "limit": a.limit if met is False else "", **a.extra})
    return rows


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    if x == float("inf"):
        return "inf"
    return f"{x:,.4g}" if abs(x) < 1e4 else f"{x:,.0f}"


def _setup_text(s: dict | None) -> str:
    if not s:
        return "-"
    bits = [f"{s['model']} on {s['profile']}", f"batch {s['batch']}"]
    if s["precision"]:
        bits.append(s["precision"])
    bits.append(f"{s['clients']} in flight" if s["clients"] else "as fast as accepted")
    if s["overrides"]:
        bits.append("; ".join(f"{k} = {v}" for k, v in s["overrides"]))
    return ", ".join(bits)


def summary(rows: list[dict]) -> dict:
    scored = [r for r in rows if r["ratio"] is not None]
    held = [r for r in scored if r["role"] == "held-out"]
    errors = [abs(r["ratio"] - 1) for r in held]
    point = [abs(r["ratio"] - 1) for r in held if r["range"] is None]  # without the range anchors
    return {
        "anchors": len(rows), "simulated": len(scored),
        "within_band": sum(1 for r in scored if r["within_band"]),
        "held_out": len(held), "held_out_within_band": sum(1 for r in held if r["within_band"]),
        "held_out_median_abs_error": statistics.median(errors) if errors else None,
        "held_out_point_median_abs_error": statistics.median(point) if point else None, "held_out_point": len(point),
        "calibration": sum(1 for r in scored if r["role"] == "calibration"),
        "source": sum(1 for r in scored if r["role"] == "source"),
        "not_simulated": sum(1 for r in rows if r["ratio"] is None),
    }


def render(rows: list[dict], calib: list[dict], s: dict) -> str:
    out = ["# Validation against measured silicon", "",
           "Generated by `benchmarks/validation.py` (`make bench`); the method is in "
           "[docs/validation.md](../../docs/validation.md). ratio = simulated / measured (a range anchor: 1.0 inside "
           "the range, else simulated / the nearest bound). Band: +-25 % for throughput, latency and counts, +-50 % "
           "for power and energy. Roles: *calibration* (the anchor fits the profile field named below), *held-out* "
           "(predicted), *source* (a profile field was derived from this figure: a consistency check).", "",
           f"**{s['within_band']} of {s['simulated']} simulated anchors within their band; held-out: "
           f"{s['held_out_within_band']} of {s['held_out']} within band, median absolute error "
           f"{100 * s['held_out_median_abs_error']:.1f} % ({100 * s['held_out_point_median_abs_error']:.1f} % over "
           f"the {s['held_out_point']} with one measured figure, the range anchors left out).** "
           f"{s['not_simulated']} anchors are listed but not simulated (their network is not a preset).", "",
           "![simulated vs measured](validation.png)", "",
           "| id | hardware | workload | batch | precision, stack | measured | simulated | unit | ratio | band "
           "| role |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        meas = _num(r["measured"]) if r["range"] is None else f"{_num(r['range'][0])}-{_num(r['range'][1])}"
        ok = "" if r["within_band"] is None else (" ok" if r["within_band"] else " **out**")
        out.append(f"| {r['id']} | {r['hardware']} | {r['workload']} | {r['batch']} | {r['precision']} | {meas} | "
                   f"{_num(r['simulated'])} | {r['unit']} | {_num(r['ratio'])}{ok} | +-{int(100 * r['band'])} % | "
                   f"{r['role']} |")
    out += ["", "## Calibrated fields", "",
            "Fitted in this order, twice (a 1-D bisection per field until its anchor's simulated figure equals the "
            "measurement, within the bounds given); the value written into the profile is rounded to 4 digits.", "",
            "| anchor | field (every profile it is written to) | fitted | in the profile | bounds | what it is |",
            "|---|---|---|---|---|---|"]
    for c in calib:
        out.append(f"| {c['anchor']} | {', '.join(c['fields'])} | {c['fitted']:.4g} {c['unit']} | "
                   f"{c['committed']:.4g} {c['unit']} | {c['low']:g}-{c['high']:g} | {c['why']} |")
    out += ["", "## What each measurement includes and how it was simulated", "",
            "| id | includes | simulated as | source | note |", "|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['id']} | {r['includes']} | {_setup_text(r['setup'])}"
                   f"{' vs ' + _setup_text(r['versus']) if r['versus'] else ''} | {r['source']} | {r['note']} |")
    outside = [r for r in rows if r["within_band"] is False]
    out += ["", "## Anchors outside their band, and the modelling limit that keeps each out", ""]
    out += [f"* **{r['id']}** (ratio {_num(r['ratio'])}, {r['role']}): {r['limit'] or 'NO LIMIT STATED'}"
            for r in outside] or ["None."]
    return "\n".join(out) + "\n"


def readme_block(rows: list[dict], s: dict) -> str:
    """The README's table (between its validation markers): every anchor in one line."""
    out = ["<!-- validation:start -->",
           f"**{s['within_band']} of {s['simulated']} simulated anchors within their band** (+-25 % time, +-50 % "
           f"energy); **held-out: median absolute error {100 * s['held_out_median_abs_error']:.0f} %** over "
           f"{s['held_out']} rows ({s['held_out_within_band']} within band; "
           f"{100 * s['held_out_point_median_abs_error']:.0f} % over the {s['held_out_point']} with one measured "
           f"figure); {s['calibration']} calibration rows, {s['source']} source rows, {s['not_simulated']} listed "
           "but not simulated.", "",
           "| id | hardware | workload, batch, precision | measured | simulated | ratio | role |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        meas = _num(r["measured"]) if r["range"] is None else f"{_num(r['range'][0])}-{_num(r['range'][1])}"
        ok = "" if r["within_band"] is None else ("" if r["within_band"] else " (out)")
        out.append(f"| {r['id']} | {r['hardware']} | {r['workload']}, {r['batch']}, {r['precision']} | {meas} "
                   f"{r['unit']} | {_num(r['simulated'])} | {_num(r['ratio'])}{ok} | {r['role']} |")
    out.append("<!-- validation:end -->")
    return "\n".join(out)


def update_readme(block: str, readme: Path = ROOT / "README.md") -> None:
    import re

    text = readme.read_text()
    if "<!-- validation:start -->" in text:
        write_text(readme, re.sub(r"<!-- validation:start -->.*?<!-- validation:end -->", lambda _: block, text,
                                  flags=re.S))


def plot(rows: list[dict], stem: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from mpsim.plotting import save_figure

    colours = {"gpu": "tab:green", "ipu": "tab:blue", "truenorth": "tab:purple", "analog": "tab:orange",
               "northpole": "tab:red"}
    markers = {"calibration": "s", "held-out": "o", "source": "x"}
    fig, ax = plt.subplots(figsize=(7.5, 7), constrained_layout=True)
    pts = []
    for r in rows:
        if r["ratio"] is None:
            continue
        if r["range"] is None:
            x = r["measured"]
            y = x * r["ratio"]  # position by ratio, so every unit shares one diagonal
        else:  # on the diagonal when inside the range, at the nearest bound otherwise
            lo, hi = r["range"]
            y = r["simulated"]
            x = min(max(y, lo), hi)
        pts.append((x, y))
        face = "none" if r["role"] == "calibration" else colours[r["family"]]
        if markers[r["role"]] == "x":
            ax.scatter([x], [y], marker="x", s=46, c=colours[r["family"]], zorder=3)
        else:
            ax.scatter([x], [y], marker=markers[r["role"]], s=46, edgecolors=colours[r["family"]], facecolors=face,
                       zorder=3)
        ax.annotate(r["id"], (x, y), textcoords="offset points", xytext=(4, 3), fontsize=6.5)
        if r["range"] is not None:  # the measured range, at the simulated height
            right = r["range"][1] if math.isfinite(r["range"][1]) else 1e9
            ax.plot([r["range"][0], right], [y, y], color=colours[r["family"]], lw=1, alpha=0.6)
    xs = np.array([v for p in pts for v in p])
    lo, hi = xs.min() / 3, xs.max() * 3
    line = np.array([lo, hi])
    ax.plot(line, line, color="k", lw=1)
    ax.fill_between(line, 0.75 * line, 1.25 * line, color="0.6", alpha=0.35, label="+-25 % (time)")
    ax.fill_between(line, 0.5 * line, 1.5 * line, color="0.8", alpha=0.3, label="+-50 % (energy)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("measured (each anchor in its own unit: img/s, ms, us, mW, W, TOPS, cores, x)")
    ax.set_ylabel("simulated (same unit)")
    ax.set_title("mpsim against measured silicon")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], ls="", marker="o", color=c, label=f) for f, c in colours.items()]
    handles += [Line2D([], [], ls="", marker=m, color="k", markerfacecolor="none" if k == "calibration" else "k",
                       label=k) for k, m in markers.items()]
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0], loc="upper left", fontsize=8)
    save_figure(fig, stem)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write-profiles", action="store_true", help="write the fitted values into hwprofiles/*.yaml")
    ap.add_argument("--no-fit", action="store_true", help="skip the calibration fit (report the profiles as they are)")
    args = ap.parse_args(argv)
    calib = []
    if not args.no_fit:
        values, units = calibrate()
        if args.write_profiles:
            for (file, fld), v in values.items():
                write_profile_value(file, fld, v)
        for c in CALIBRATIONS:
            v_now, unit = committed(c)
            calib.append({"anchor": c.anchor, "fields": [f"{f}:{k}" for f, k in c.fields], "unit": unit,
                          "fitted": values[c.fields[0]], "committed": v_now, "low": c.low, "high": c.high,
                          "why": c.why})
    rows = evaluate()
    s = summary(rows)
    RESULTS.mkdir(exist_ok=True)
    write_json(RESULTS / "validation.json", rows)  # a list of rows, each with "id" and "ratio"
    write_json(RESULTS / "validation_summary.json", {"summary": s, "calibrations": calib})
    write_text(RESULTS / "validation.md", render(rows, calib, s))
    plot(rows, RESULTS / "validation")
    update_readme(readme_block(rows, s))
    for r in rows:
        if r["within_band"] is False and not r["limit"]:
            print(f"warning: {r['id']} is outside its band and states no modelling limit", file=sys.stderr)
    drift = [c for c in calib if abs(c["fitted"] - c["committed"]) > 0.01 * max(abs(c["committed"]), 1e-12)]
    for c in drift:
        print(f"warning: {c['anchor']}: the fit gives {c['fitted']:.4g} {c['unit']}, the profile has "
              f"{c['committed']:.4g} (run with --write-profiles)", file=sys.stderr)
    print(f"{s['within_band']} of {s['simulated']} anchors within band; held-out median abs error "
          f"{100 * s['held_out_median_abs_error']:.1f} % ({s['held_out_within_band']} of {s['held_out']} in band)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
