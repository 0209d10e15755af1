"""Turn a placement and an engine run into the report (a plain dict) and its terminal view.

The dict's keys are the ``--json`` format documented in docs/semantics.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mpsim.hw.profile import Profile
from mpsim.ir.graph import Graph
from mpsim.mapping.mapper import Placement
from mpsim.sim.plan import LINK_CLASSES, SimPlan
from mpsim.sim.result import SimResult


def _clean(x: Any) -> Any:
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    if isinstance(x, (np.floating,)):
        return _clean(float(x))
    if isinstance(x, (np.integer,)):
        return int(x)
    return x


def traffic_per_frame(plan: SimPlan, r: SimResult) -> dict[str, float]:
    """Bytes moved per frame, by link class."""
    per_class = {c: 0.0 for c in LINK_CLASSES}
    for link, nbytes in enumerate(r.link_bytes):
        per_class[LINK_CLASSES[int(plan.link_class[link])]] += float(nbytes)
    per_class["on_tile"] += r.local_bytes
    per_class["offchip"] += r.offchip_bytes
    return {c: v / max(1, r.frames) for c, v in per_class.items()}


def memory_section(pl: Placement, p: Profile) -> dict[str, Any]:
    return {
        "required_bytes": pl.required_bytes,
        "capacity_bytes": pl.capacity_bytes,
        "tiles_used": pl.tiles_used,
        "tiles_available": pl.tiles_available,
        "tiles_needed": pl.min_tiles,
        "largest_node": pl.largest_unit,
        "largest_node_bytes": pl.largest_unit_bytes,
        "overflow_bytes": pl.overflow_bytes,
        "occupancy": pl.occupancy_stats(p.tile_memory_bytes),
    }


def build_report(g: Graph, p: Profile, pl: Placement, plan: SimPlan | None, r: SimResult | None,
                 mode: str, engine: str, rate: float | None) -> dict[str, Any]:
    rep: dict[str, Any] = {
        "model": g.name,
        "profile": p.name,
        "mode": mode,
        "engine": engine,
        "fits": pl.fits,
        "feasible": pl.feasible,
        "note": pl.note,
        "strategy": plan.strategy if plan else "infeasible",
        "memory": memory_section(pl, p),
    }
    n_out = len(g.outputs)
    if plan is None or r is None:
        none = [None] * n_out
        rep.update(latency_s={"first": none, "mean": none, "p50": none, "p99": none}, throughput_fps=None,
                   traffic_bytes_per_frame={}, traffic_bytes_per_s={}, busiest_link=None, utilisation=None,
                   energy_j_per_frame=None, frames=0, warmup_frames=0, offered_rate_fps=rate)
        return rep
    frames = max(1, r.frames)
    thr = r.throughput_fps
    per_frame = traffic_per_frame(plan, r)
    span = max(r.end_time, 1e-30)
    link_util = r.link_busy / span
    busiest = int(np.argmax(link_util)) if len(link_util) else None
    unit_util = r.unit_busy / span
    bottleneck = int(np.argmax(unit_util))
    top = np.argsort(-unit_util)[:8]
    energy = None
    if p.energy is not None:
        e = {"compute": r.energy_compute_j / frames, "movement": r.energy_movement_j / frames,
             "conversion": r.energy_conversion_j / frames}
        e["total"] = sum(e.values())
        energy = e
    rep.update(
        latency_s={
            "first": [_clean(float(x)) for x in r.first_latency],
            "mean": [_clean(x) for x in r.hist.mean()],
            "p50": [_clean(x) for x in r.hist.quantile(0.50)],
            "p99": [_clean(x) for x in r.hist.quantile(0.99)],
        },
        throughput_fps=_clean(thr),
        offered_rate_fps=rate,
        traffic_bytes_per_frame=per_frame,
        traffic_bytes_per_s={c: (v * thr if thr else None) for c, v in per_frame.items()},
        busiest_link=None if busiest is None else {"name": plan.link_names[busiest],
                                                   "class": LINK_CLASSES[int(plan.link_class[busiest])],
                                                   "utilisation": float(link_util[busiest])},
        utilisation={
            "bottleneck": plan.unit_names[bottleneck],
            "bottleneck_utilisation": float(unit_util[bottleneck]),
            "units": [{"name": plan.unit_names[k], "utilisation": float(unit_util[k])} for k in top],
        },
        energy_j_per_frame=energy,
        frames=r.frames,
        warmup_frames=r.warmup,
        firings=r.firings,
        simulated_time_s=r.end_time,
    )
    return rep


def _si(x: float | None, unit: str) -> str:
    if x is None:
        return "-"
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "u"),
                          (1e-9, "n"), (1e-12, "p")):
        if abs(x) >= scale:
            return f"{x / scale:,.3g} {prefix}{unit}"
    return f"{x:.3g} {unit}"


def print_report(rep: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    mem = rep["memory"]
    if rep["fits"]:
        verdict = "[green]fits[/green]"
    elif not rep["feasible"]:
        verdict = f"[red]{escape(rep['note'])}[/red]"
    else:
        verdict = f"[yellow]{escape(rep['note'])}[/yellow]"
    t = Table(title=f"{rep['model']} on {rep['profile']} ({rep['mode']}, {rep['engine']} engine)", show_header=False)
    t.add_row("verdict", verdict)
    t.add_row("memory required / available", f"{_si(mem['required_bytes'], 'B')} / {_si(mem['capacity_bytes'], 'B')}")
    t.add_row("tiles needed / used / available", f"{mem['tiles_needed']:,} / {mem['tiles_used']:,} / {mem['tiles_available']:,}")
    t.add_row("largest node", f"{mem['largest_node']} ({_si(mem['largest_node_bytes'], 'B')})")
    occ = mem["occupancy"]
    t.add_row("tile occupancy min / mean / max", f"{occ['min']:.1%} / {occ['mean']:.1%} / {occ['max']:.1%}")
    if mem["overflow_bytes"]:
        t.add_row("overflow", _si(mem["overflow_bytes"], "B" if rep["strategy"] != "infeasible" else ""))
    t.add_row("execution", rep["strategy"])
    if rep.get("frames"):
        t.add_row("frames (warm-up excluded)", f"{rep['frames']:,} ({rep['warmup_frames']:,})")
        t.add_row("throughput", _si(rep["throughput_fps"], "frames/s"))
        util = rep["utilisation"]
        t.add_row("bottleneck", f"{util['bottleneck']} ({util['bottleneck_utilisation']:.1%} busy)")
        if rep["busiest_link"]:
            bl = rep["busiest_link"]
            t.add_row("busiest link", f"{bl['name']} ({bl['class']} link, {bl['utilisation']:.1%} busy)")
        if rep["energy_j_per_frame"]:
            e = rep["energy_j_per_frame"]
            t.add_row("energy per frame", f"{_si(e['total'], 'J')} (compute {_si(e['compute'], 'J')}, "
                      f"movement {_si(e['movement'], 'J')}, conversion {_si(e['conversion'], 'J')})")
    console.print(t)
    if not rep.get("frames"):
        return
    lat = rep["latency_s"]
    lt = Table(title="latency per anytime output")
    for col in ("output", "first frame", "mean", "p50", "p99"):
        lt.add_column(col, justify="right")
    for k in range(len(lat["first"])):
        lt.add_row(f"m_{k + 1}", *(_si(lat[c][k], "s") for c in ("first", "mean", "p50", "p99")))
    console.print(lt)
    tt = Table(title="memory traffic by link class")
    for col in ("link class", "per frame", "per second"):
        tt.add_column(col, justify="right")
    for c, v in rep["traffic_bytes_per_frame"].items():
        if v:
            tt.add_row(c, _si(v, "B"), _si(rep["traffic_bytes_per_s"][c], "B/s"))
    console.print(tt)
