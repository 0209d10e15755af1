"""Turn a placement, a plan and a steady-state run into the report (a plain dict).

Every figure says what bounds it and how sure it is: the throughput comes with its 95 %
interval and the frames it took, the bottleneck is the most utilised of *every* resource
(units, links, the host links, the bsp phases and supersteps), and energy includes the static
power the machine draws while it works. "Frame" means one image: a run with ``--batch B``
streams batches, and per-frame figures are per image (latency is the batch's). The dict's keys
are the ``--json`` format documented in docs/semantics.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mpsim import __version__
from mpsim.mapping.placement import Placement
from mpsim.sim.plan import CARRIED, LINK_CLASSES, PARTS, PLAIN, UNIT_KINDS, SimPlan
from mpsim.sim.result import SimResult
from mpsim.sim.steady import SteadyState

SCHEMA = "mpsim.report/2"


def clean(x: Any) -> Any:
    """Plain JSON values: numpy scalars to Python, NaN and infinities to None, recursively."""
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return [clean(v) for v in x.tolist()]
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return None if math.isnan(x) or math.isinf(x) else x
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def firings_per_frame(plan: SimPlan, r: SimResult) -> np.ndarray:
    """Mean firings of every node per simulated frame (exact counts from busy time / service)."""
    return r.node_busy / np.maximum(plan.service_s, 1e-300) / max(1, r.frames)


def traffic_per_frame(plan: SimPlan, r: SimResult) -> dict[str, float]:
    """Bytes moved per image, by link class."""
    per_class = {c: 0.0 for c in LINK_CLASSES}
    for link, nbytes in enumerate(r.link_bytes):
        per_class[LINK_CLASSES[int(plan.link_class[link])]] += float(nbytes) / max(1, r.frames)
    per_class["on_tile"] += r.local_bytes / max(1, r.frames)
    per_class["offchip"] += r.offchip_bytes / max(1, r.frames)
    per_class["host"] += float(firings_per_frame(plan, r) @ plan.host_bytes)
    return {c: v / plan.batch for c, v in per_class.items()}


def utilisation(plan: SimPlan, r: SimResult, mode: str, thr: float) -> list[dict[str, Any]]:
    """Every resource's share of steady-state time, largest first: busy time per frame x frames
    per second (units, links); in bsp and rollout also each unit's share of supersteps (a node
    fires at most once per step, so the unit whose nodes fire in every step bounds the frame
    rate) and, in bsp, the phases' shares of the run's time."""
    frames = max(1, r.frames)
    rows = []
    for u, name in enumerate(plan.unit_names):
        cls = UNIT_KINDS[int(plan.unit_kind[u])]
        rows.append({"name": name, "class": "unit" if cls == "compute" else cls.replace("_", " ") + " link",
                     "utilisation": float(r.unit_busy[u] / frames * thr)})
    for k, name in enumerate(plan.link_names):
        rows.append({"name": name, "class": LINK_CLASSES[int(plan.link_class[k])] + " link",
                     "utilisation": float(r.link_busy[k] / frames * thr)})
    if mode in ("bsp", "rollout") and r.steps and plan.strategy == "pipelined":
        # The share of supersteps in which the unit's busiest node fired (at most one each).
        share = firings_per_frame(plan, r) * r.frames / r.steps
        occupancy = np.zeros(plan.n_units)
        np.maximum.at(occupancy, plan.unit_of, share)
        for u, name in enumerate(plan.unit_names):
            if plan.unit_kind[u] == 0:
                rows.append({"name": name, "class": "superstep share", "utilisation": float(occupancy[u])})
        if mode == "bsp":  # the phases' shares of the run's time (a rollout's tick is all of it)
            for name, t in zip(("compute", "sync", "exchange"), r.phase_s):
                rows.append({"name": f"{name} phase", "class": "phase",
                             "utilisation": float(t / max(r.end_time, 1e-300))})
    rows.sort(key=lambda x: -x["utilisation"])
    return rows


def bsp_breakdown(plan: SimPlan, r: SimResult, mode: str) -> dict[str, Any] | None:
    """Where the time of a superstep goes (what PopVision shows): compute, sync, exchange."""
    if plan.strategy == "pipelined":
        if mode != "bsp" or not r.steps:
            return None
        total = float(r.phase_s.sum())
        return {"steps_per_frame": r.steps / max(1, r.frames), "step_s": total / r.steps,
                **{k: float(v / total) for k, v in zip(("compute", "sync", "exchange"), r.phase_s)}}
    busy = firings_per_frame(plan, r)[:, None] * plan.service_parts
    compute_units = plan.unit_kind[plan.unit_of] == 0
    parts = busy[compute_units].sum(axis=0)
    total = float(parts.sum())
    if total <= 0:
        return None
    ops = float(firings_per_frame(plan, r)[compute_units].sum())
    return {"steps_per_frame": ops, "step_s": total / max(ops, 1e-300),
            **{k: float(v / total) for k, v in zip(PARTS, parts)}}


def unit_rows(pl: Placement, plan: SimPlan, r: SimResult, thr: float) -> list[dict[str, Any]]:
    """Per unit: what it runs, its tiles and bytes, busy time, utilisation, energy per image."""
    fires = firings_per_frame(plan, r)
    energy = fires * (plan.energy_compute_j + plan.energy_conversion_j + plan.energy_move_j)
    rows = []
    for u, name in enumerate(plan.unit_names):
        on = plan.unit_of == u
        place = pl.units[u] if u < len(pl.units) else None
        rows.append({
            "name": name, "kind": UNIT_KINDS[int(plan.unit_kind[u])], "ops": int(on.sum()),
            "chip": place.chip if place else None, pl.profile.memory_units: place.tiles if place else 0,
            "weight_bytes": place.weight_bytes if place else 0.0, "buffer_bytes": place.buffer_bytes if place else 0.0,
            "occupancy": place.occupancy if place else 0.0,
            "busy_s_per_frame": float(r.unit_busy[u] / max(1, r.frames) / plan.batch),
            "utilisation": float(r.unit_busy[u] / max(1, r.frames) * thr),
            "energy_j_per_frame": float(energy[on].sum() / plan.batch),
        })
    return rows


def operation_rows(plan: SimPlan, r: SimResult) -> list[dict[str, Any]]:
    """Per plan node (an operation, or a fused group run as one): its unit, firings (a firing
    serves a whole batch) and busy time per image, its share of the compute units' busy time,
    its dynamic energy per image."""
    fires = firings_per_frame(plan, r) / plan.batch
    busy = r.node_busy / max(1, r.frames) / plan.batch
    energy = fires * (plan.energy_compute_j + plan.energy_conversion_j + plan.energy_move_j)
    compute = plan.unit_kind[plan.unit_of] == 0
    total = float(busy[compute].sum())
    return [{"name": name, "unit": plan.unit_names[int(plan.unit_of[n])], "firings_per_frame": float(fires[n]),
             "busy_s_per_frame": float(busy[n]),
             "time_share": float(busy[n] / total) if compute[n] and total > 0 else None,
             "energy_j_per_frame": float(energy[n])} for n, name in enumerate(plan.node_names)]


def energy_per_exit(plan: SimPlan) -> list[float]:
    """Dynamic energy (compute, conversion, movement) of one frame that exits after m_k, for each
    k: the firings its exit level needs and the transfers between them."""
    per_firing = plan.energy_compute_j + plan.energy_conversion_j + plan.energy_move_j
    link_e = np.where(plan.e_link >= 0, plan.e_bytes * plan.link_energy_j_per_byte[np.maximum(plan.e_link, 0)]
                      if len(plan.link_energy_j_per_byte) else 0.0, 0.0)
    out = []
    for row in plan.level_trips:
        fires = row[plan.e_dst]
        moved = float(np.sum(link_e * np.where(plan.e_kind == CARRIED, np.maximum(fires - 1, 0),
                                               np.where(plan.e_kind == PLAIN, fires, np.minimum(fires, 1)))))
        out.append(float(row @ per_firing) + moved)
    return out


def _latencies(plan: SimPlan, r: SimResult, st: SteadyState) -> dict[str, list[float | None]]:
    lat = r.done - r.release[:, None]
    steady = lat[st.warmup:]
    out: dict[str, list] = {"first": [float(x) for x in lat[0]]}
    for key, fn in (("mean", np.nanmean), ("p50", lambda a: np.nanpercentile(a, 50)),
                    ("p99", lambda a: np.nanpercentile(a, 99))):
        out[key] = [float(fn(steady[:, k])) if np.isfinite(steady[:, k]).any() else None
                    for k in range(plan.n_outputs)]
    return out


def build_report(pl: Placement, plan: SimPlan | None, r: SimResult | None, st: SteadyState | None,
                 mode: str, engine: str | None, rate: float | None) -> dict[str, Any]:
    p, g = pl.profile, pl.graph
    mem = pl.memory
    rep: dict[str, Any] = {
        "schema": SCHEMA, "mpsim_version": __version__,
        "model": g.name, "profile": p.name, "placement": pl.style, "strategy": pl.strategy, "mode": mode,
        "engine": engine, "precision": p.precision.name, "batch": pl.batch, "replicas": pl.replicas,
        "chips_per_replica": pl.chips_per_replica, "fits": pl.fits, "feasible": pl.feasible, "note": pl.note,
        "memory": {
            "required_bytes": mem.required_bytes, "capacity_bytes": mem.capacity_bytes, "unit_word": mem.unit_word,
            "needed": mem.units_needed, "used": mem.units_used, "available": mem.units_available,
            "largest": mem.largest, "largest_bytes": mem.largest_bytes, "overflow_bytes": mem.overflow_bytes,
            "occupancy": mem.occupancy, "chips": p.chips, "units_per_chip": mem.units_available // max(1, p.chips),
        },
        "offered_rate_fps": rate,
    }
    n_out = len(g.outputs)
    if plan is None or r is None or st is None:
        none = [None] * n_out
        rep.update(steady_state=None, throughput_fps=None, throughput_per_replica_fps=None,
                   latency_s={"first": none, "mean": none, "p50": none, "p99": none}, traffic_bytes_per_frame={},
                   traffic_bytes_per_s={}, bottleneck=None, utilisation=[], bsp=None, units=[], operations=[],
                   energy_j_per_frame=None, power_w=None, frames_per_joule=None, frames=0)
        return clean(rep)
    thr = st.throughput_fps or 0.0  # frames (batches) per second of one replica
    images = thr * plan.batch * plan.replicas
    util = utilisation(plan, r, mode, thr)
    per_frame = traffic_per_frame(plan, r)
    dyn = {"compute": r.energy_compute_j, "movement": r.energy_movement_j, "conversion": r.energy_conversion_j}
    dyn = {k: v / max(1, r.frames) / plan.batch for k, v in dyn.items()}
    static = p.static_power_w / images if images > 0 else None
    energy = {"static": static, **dyn}
    energy["total"] = None if static is None else static + sum(dyn.values())
    power = p.static_power_w + sum(dyn.values()) * images
    ci = st.throughput_ci
    scale = plan.batch * plan.replicas
    rep.update(
        steady_state={
            "converged": st.converged, "overloaded": st.overloaded, "tolerance": st.tolerance, "frames": st.frames, "warmup_frames": st.warmup,
            "batches": st.batches, "throughput_ci_fps": None if ci is None else [ci[0] * scale, ci[1] * scale],
            "latency_ci_s": None if st.latency_ci is None else list(st.latency_ci),
            "rel_halfwidth": st.rel_halfwidth,
        },
        throughput_fps=images, throughput_per_replica_fps=thr * plan.batch,
        latency_s=_latencies(plan, r, st),
        traffic_bytes_per_frame=per_frame,
        traffic_bytes_per_s={c: v * images for c, v in per_frame.items()},
        bottleneck=util[0] if util else None, utilisation=util, bsp=bsp_breakdown(plan, r, mode),
        units=unit_rows(pl, plan, r, thr), operations=operation_rows(plan, r),
        energy_j_per_frame=energy, power_w=power, frames_per_joule=images / power if power > 0 else None,
        frames=r.frames, firings=r.firings, simulated_time_s=r.end_time,
        frames_in_flight=None if rate is not None else int(plan.window if plan.strategy != "pipelined"
                                                           or mode == "dataflow" else max(plan.window, plan.n_units + 2)),
    )
    return clean(rep)
