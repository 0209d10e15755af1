"""Resource-adaptive inference: pick, for every frame, the best sub-network the chip can hold now.

A *catalog* (``DIR/catalog.json``) lists the sub-networks of a doubly nested network, each an
exported graph with its accuracy; a *budget trace* gives the tiles (or bytes) free over time,
as other programs come and go.  For a frame released at time t, every sub-network is mapped on
the profile cut down to the budget b(t) (``chips = 1, tiles = b``), and simulated alone on it;
among those that fit and meet the deadline the most accurate wins (fewer MACs on a tie).  A
frame for which none qualifies is dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mpsim import jsonfile
from mpsim.errors import MpsimError
from mpsim.hw.profile import Profile
from mpsim.ir.graph import Graph
from mpsim.ir.serialize import load_graph
from mpsim.limits import (MAX_BUDGET_BYTES, MAX_GRAPH_FILE_BYTES, MAX_GRAPH_MACS, MAX_SECONDS, MAX_SUBNETS,
                          MAX_TOTAL_TILES, MAX_TRACE_FILE_BYTES, MAX_TRACE_POINTS, check_fraction, check_int,
                          check_real, show)
from mpsim.mapping.placement import RunOptions
from mpsim.sim.simulate import make_plan, run_engine


@dataclass(frozen=True)
class Subnet:
    name: str
    graph: Graph
    accuracy: float
    macs: int
    meta: dict


def load_catalog(folder: str | Path) -> list[Subnet]:
    """``folder/catalog.json``: {"subnets": [{"name", "graph" (path relative to folder), "accuracy", ...}]}."""
    root = Path(folder)
    path = root / "catalog.json" if root.is_dir() else root
    root = path.parent
    if not path.exists():
        raise MpsimError(f"{path}: no catalog (a doubly nested model needs catalog.json)")
    doc = jsonfile.load(path, MAX_GRAPH_FILE_BYTES, "catalog")
    entries = doc.get("subnets") if isinstance(doc, dict) else None
    if not entries or not isinstance(entries, list):
        raise MpsimError(f"{path}: field 'subnets' is missing, empty or not a list")
    if len(entries) > MAX_SUBNETS:
        raise MpsimError(f"{path}: {len(entries):,} sub-networks, more than the limit of {MAX_SUBNETS:,}")
    out = []
    for i, e in enumerate(entries):
        where = f"{path}: subnets[{i}]"
        if not isinstance(e, dict) or not isinstance(e.get("graph"), str) or "accuracy" not in e:
            raise MpsimError(f"{where} needs 'graph' (a path) and 'accuracy' (write the catalog with "
                             "`mpsim dnn catalog --accuracy FILE --export DIR`, which exports the graphs)")
        accuracy = check_fraction(e["accuracy"], f"{where}.accuracy")
        g = load_graph(root / e["graph"])  # its last output is the sub-network's prediction
        macs = sum(n.macs for n in g.nodes)
        if "macs" in e:
            macs = check_int(e["macs"], f"{where}.macs", 0, MAX_GRAPH_MACS)
        out.append(Subnet(show(e.get("name", e["graph"])), g, accuracy, macs,
                          {k: v for k, v in e.items() if k not in ("graph",)}))
    return out


def _trace_points(p: Path, text: str) -> tuple[Any, list]:
    """(unit, [[t, v], ...]) from a JSON or CSV budget trace, with one line per malformed part."""
    if p.suffix.lower() == ".json":
        doc = jsonfile.parse(text)
        if not isinstance(doc, dict) or "unit" not in doc or not isinstance(doc.get("points"), list):
            raise MpsimError('a JSON budget trace is {"unit": "tiles" | "bytes", "points": [[t, v], ...]}')
        return doc["unit"], doc["points"]
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")]
    if not lines:
        raise MpsimError("empty (want a header 'time_s,tiles' or 'time_s,bytes' and rows)")
    header = [c.strip() for c in lines[0][1].split(",")]
    if len(header) != 2 or header[0] != "time_s":
        raise MpsimError(f"line {lines[0][0]}: the header must be 'time_s,tiles' or 'time_s,bytes', "
                         f"not '{show(lines[0][1])}'")
    points = []
    for n, line in lines[1:]:
        cells = line.split(",")
        if len(cells) != 2:
            raise MpsimError(f"line {n}: want two values 'time,budget', got '{show(line)}'")
        try:
            points.append([float(c) for c in cells])
        except ValueError:
            raise MpsimError(f"line {n}: '{show(line)}' is not two numbers") from None
    return header[1], points


def load_trace(path: str | Path) -> tuple[str, np.ndarray, np.ndarray]:
    """(unit 'tiles' | 'bytes', times, values) from CSV ``time_s,tiles`` / ``time_s,bytes`` or
    JSON ``{"unit": ..., "points": [[t, v], ...]}``; a step function, starting at the first time.

    Times are finite, in [0, MAX_SECONDS] and increasing; budgets finite, in [0, MAX_TOTAL_TILES]
    tiles or [0, MAX_BUDGET_BYTES] bytes; at most MAX_TRACE_POINTS points (docs/limits.md)."""
    p = Path(path)
    text = jsonfile.read_text(p, MAX_TRACE_FILE_BYTES, "budget trace")
    try:
        unit, pts = _trace_points(p, text)
        if unit not in ("tiles", "bytes"):
            raise MpsimError(f"budget unit '{show(unit)}' is not 'tiles' or 'bytes'")
        if not pts:
            raise MpsimError("holds no points")
        if len(pts) > MAX_TRACE_POINTS:
            raise MpsimError(f"{len(pts):,} points, more than the limit of {MAX_TRACE_POINTS:,}")
        top = MAX_TOTAL_TILES if unit == "tiles" else MAX_BUDGET_BYTES
        times, values = [], []
        for i, pt in enumerate(pts):
            if not isinstance(pt, (list, tuple)) or len(pt) != 2:
                raise MpsimError(f"point {i + 1} must be [time, budget], got {show(pt)}")
            times.append(check_real(pt[0], f"point {i + 1}: time", 0.0, MAX_SECONDS, unit="s"))
            values.append(check_real(pt[1], f"point {i + 1}: budget", 0.0, top, unit=unit))
            if i and times[i] <= times[i - 1]:
                raise MpsimError(f"point {i + 1}: time {times[i]:g} s does not increase (after {times[i - 1]:g} s)")
    except MpsimError as exc:
        raise MpsimError(f"{p}: malformed budget trace: {exc}") from None
    return unit, np.array(times), np.array(values)


def with_tiles(p: Profile, tiles: int) -> Profile:
    """The profile with only ``tiles`` tiles (one chip, at least one): what is free for this program now."""
    return p.with_overrides(**{"compute.chips": 1, "compute.tiles_per_chip": max(1, int(tiles))})


class _Evaluator:
    """Latency of each sub-network at each budget, simulated once and remembered."""

    def __init__(self, p: Profile, engine: str) -> None:
        self.p, self.engine, self.cache = p, engine, {}

    def latency(self, k: int, s: Subnet, tiles: int) -> float | None:
        key = (k, tiles)
        if key not in self.cache:
            lat = None
            if tiles > 0:
                q = with_tiles(self.p, tiles)
                pl, plan = make_plan(s.graph, q, RunOptions(placement="pipelined"), "dataflow")
                if pl.fits and plan is not None:
                    r = run_engine(plan, pl.profile, "dataflow", self.engine, 1, None)
                    lat = float(r.first_latency[-1])
            self.cache[key] = lat
        return self.cache[key]


def simulate_budget(subnets: list[Subnet], p: Profile, unit: str, times: np.ndarray, values: np.ndarray, *,
                    deadline: float, frames: int, rate: float, engine: str = "auto",
                    progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    if p.kind == "gpu":
        raise MpsimError("a budget of tiles means nothing on a layer-by-layer GPU profile")
    ev = _Evaluator(p, engine)
    order = sorted(range(len(subnets)), key=lambda k: (-subnets[k].accuracy, subnets[k].macs))
    frames_out, segments = [], []
    for f in range(frames):
        t = times[0] + f / rate
        seg = int(np.searchsorted(times, t, side="right") - 1)
        budget = values[seg]
        tiles = int(budget if unit == "tiles" else math.floor(budget / p.tile_memory_bytes))
        pick = None
        for k in order:  # the most accurate first: the first that qualifies wins
            lat = ev.latency(k, subnets[k], tiles)
            if lat is not None and lat <= deadline:
                pick = (k, lat)
                break
        frames_out.append({"frame": f, "time_s": float(t), "budget": float(budget), "tiles": tiles,
                           "subnet": None if pick is None else subnets[pick[0]].name,
                           "accuracy": None if pick is None else subnets[pick[0]].accuracy,
                           "latency_s": None if pick is None else pick[1],
                           "macs": None if pick is None else subnets[pick[0]].macs})
        if not segments or segments[-1]["segment"] != seg:
            segments.append({"segment": seg, "from_s": float(times[seg]), "budget": float(budget), "tiles": tiles,
                             "subnet": frames_out[-1]["subnet"], "accuracy": frames_out[-1]["accuracy"],
                             "latency_s": frames_out[-1]["latency_s"], "frames": 0})
        segments[-1]["frames"] += 1
        if progress is not None:
            progress(f + 1)
    served = [x for x in frames_out if x["subnet"] is not None]
    return {
        "profile": p.name, "unit": unit, "deadline_s": deadline, "rate_fps": rate, "frames": frames,
        "served": len(served), "dropped": frames - len(served),
        "mean_accuracy": float(np.mean([x["accuracy"] for x in served])) if served else None,
        "mean_latency_s": float(np.mean([x["latency_s"] for x in served])) if served else None,
        "mean_macs": float(np.mean([x["macs"] for x in served])) if served else None,
        "segments": segments, "choices": frames_out,
    }


def plot_budget(result: dict[str, Any], stem: str | Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mpsim.plotting import save_figure

    ch = result["choices"]
    t = [c["time_s"] for c in ch]
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, constrained_layout=True)
    a1.step(t, [c["tiles"] for c in ch], where="post")
    a1.set_ylabel("free tiles")
    a2.plot(t, [c["accuracy"] if c["accuracy"] is not None else float("nan") for c in ch], ".", ms=3)
    for s in result["segments"]:
        if s["subnet"]:
            a2.annotate(s["subnet"], (s["from_s"], s["accuracy"]), fontsize=7, xytext=(2, 4),
                        textcoords="offset points")
    a2.set_ylabel("accuracy of the chosen sub-network")
    a2.set_xlabel("time (s)")
    fig.suptitle(f"budget-adaptive inference on {result['profile']} (deadline {result['deadline_s'] * 1e3:g} ms)")
    return save_figure(fig, stem)
