"""Sweep an exit policy's parameter: accuracy, latency, throughput and traffic at each value.

Predictions (per frame and output) come from the functional executor under the profile's
numerics, or from PyTorch; the simulator then streams frames whose exit levels the policy
chose.  Simulated frame f shows data frame f mod n, so a small data set drives a long stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from mpsim.analysis.metrics import graph_size_bytes, macs_per_output
from mpsim.anytime.accuracy import ExitAccuracy
from mpsim.anytime.policies import by_budget, by_confidence, by_deadline, confidence
from mpsim.errors import MpsimError
from mpsim.hw.profile import Profile
from mpsim.ir.graph import Graph
from mpsim.mapping.placement import RunOptions
from mpsim.sim.plan import level_trips
from mpsim.sim.report import build_report, energy_per_exit, traffic_per_frame
from mpsim.sim.simulate import engine_rate, make_plan, resolve_engine, resolve_mode, run_steady
from mpsim.sim.steady import DEFAULT_MAX_FRAMES, DEFAULT_TOLERANCE


@dataclass(frozen=True)
class Predictions:
    conf: np.ndarray  # [frames, outputs] confidence of each output
    preds: np.ndarray  # [frames, outputs, H, W] argmax class maps
    labels: np.ndarray | None  # [frames, H, W] with 255 ignored, or None (unlabelled)
    n_classes: int


def predict(outputs_of: Callable[[np.ndarray], Sequence[np.ndarray]], images: Iterable[np.ndarray],
            labels: Sequence[np.ndarray] | None, progress: Callable[[int], None] | None = None) -> Predictions:
    """Run every frame through ``outputs_of`` (all anytime outputs of one (1, C, H, W) input)."""
    conf, preds, n_classes = [], [], 0
    for i, x in enumerate(images):
        outs = outputs_of(x)
        n_classes = outs[0].shape[1]
        conf.append([confidence(o) for o in outs])
        preds.append(np.stack([o[0].argmax(axis=0).astype(np.uint8) for o in outs]))
        if progress is not None:
            progress(i + 1)
    if not preds:
        raise MpsimError("no frames to evaluate")
    lab = None if labels is None else np.stack([np.asarray(l) for l in labels])
    return Predictions(np.array(conf), np.stack(preds), lab, n_classes)


def _levels_table(g: Graph) -> np.ndarray:
    trips = np.array([next((lp.trip_count for lp in g.loops if lp.name == g.loop_of.get(n.name)), 1)
                      for n in g.nodes], dtype=np.int64)
    return level_trips(g, trips)


def sweep(g: Graph, p: Profile, pr: Predictions, policy: str, values: Sequence[float], *,
          options: RunOptions | None = None, mode: str | None = None, engine: str = "auto",
          frames: int | None = None, tolerance: float = DEFAULT_TOLERANCE, max_frames: int = DEFAULT_MAX_FRAMES,
          rate: float | None = None, budget_unit: str = "macs",
          progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """The points of ``policy`` over ``values`` plus a per-output reference curve. Every
    simulation runs to steady state (or exactly ``frames``), as ``mpsim run`` does."""
    n_data, k_out = pr.conf.shape
    if k_out != len(g.outputs):
        raise MpsimError(f"predictions have {k_out} outputs, the graph {len(g.outputs)}")
    cap = frames or max_frames
    data_of = np.arange(cap) % n_data  # simulated frame -> data frame
    acc = ExitAccuracy(pr.preds, pr.labels, pr.n_classes)
    macs = np.array(macs_per_output(g)[1], dtype=np.float64)  # m_1..m_k all computed
    rows = _levels_table(g)
    sizes = np.array([graph_size_bytes(g, {n.name for n, t in zip(g.nodes, row) if t > 0}) for row in rows], float)
    pl, plan = make_plan(g, p, options, mode)
    mode = resolve_mode(pl, pl.profile, mode)
    q = pl.profile
    used = None if plan is None else resolve_engine(engine)
    images = 1 if plan is None else plan.batch * plan.replicas  # images per simulated frame, all replicas

    def steady(load, levels=None):
        return run_steady(plan, q, mode, used, frames, load, tolerance, max_frames, levels=levels)

    full = None
    load = None if plan is None else engine_rate(plan, rate)
    report = build_report(pl, None, None, None, mode, None, None)
    if plan is not None:
        # Latency is measured under an offered load (half the full graph's capacity unless a
        # rate is given): in a saturated stream it would only measure the queue.
        saturated_full, st_full = steady(None)
        report = build_report(pl, plan, saturated_full, st_full, mode, used, None)
        if load is None:
            load = 0.5 * st_full.throughput_fps
        full = steady(load)[0]
    lat = None if full is None else full.done - full.release[:, None]
    per_exit = None if plan is None else energy_per_exit(plan)
    curve = {
        "accuracy": [acc.score(np.full(n_data, k)) for k in range(k_out)],
        "macs": macs.tolist(),
        "graph_size_bytes": sizes.tolist(),
        "latency_s": None if full is None else [float(np.nanmean(lat[:, k])) for k in range(k_out)],
        "dynamic_energy_j": per_exit,
    }
    points = []
    for j, v in enumerate(values):
        if policy == "confidence":
            levels = by_confidence(pr.conf, v)[data_of]
        elif policy == "budget":
            cost = macs if budget_unit == "macs" else np.array(curve["latency_s"] or [np.nan] * k_out)
            levels = by_budget(pr.conf[data_of], cost, v)
        elif policy == "deadline":
            if lat is None:
                raise MpsimError("the deadline policy needs a simulation, and this graph is infeasible here")
            levels = np.resize(by_deadline(lat, v), cap)
        else:
            raise MpsimError(f"unknown policy '{policy}' (choose from deadline, confidence, budget)")
        point: dict[str, Any] = {
            "value": float(v),
            "accuracy": acc.score_frames(levels, data_of),
            "mean_exit": float(levels.mean() + 1),
            "macs_per_frame": float(macs[levels].mean()),
            "graph_size_bytes": float(sizes[levels].max()),
        }
        if plan is not None:
            timed, _ = steady(load, levels)
            saturated, st = steady(None, levels)
            thr = (st.throughput_fps or 0.0) * images
            dyn = float(np.mean(np.asarray(per_exit)[levels[:saturated.frames]])) / plan.batch
            static = q.static_power_w / thr if thr > 0 else None
            point.update(
                mean_latency_s=timed.exit_hist.mean()[0], p99_latency_s=timed.exit_hist.quantile(0.99)[0],
                throughput_fps=thr, converged=st.converged, traffic_bytes_per_frame=traffic_per_frame(plan, saturated),
                energy_j_per_frame=None if static is None else dyn + static, dynamic_energy_j_per_frame=dyn,
            )
        else:
            point.update(mean_latency_s=None, p99_latency_s=None, throughput_fps=None, converged=None,
                         traffic_bytes_per_frame=None, energy_j_per_frame=None, dynamic_energy_j_per_frame=None)
        points.append(point)
        if progress is not None:
            progress(j + 1)
    return {
        "model": g.name, "profile": p.name, "policy": policy, "mode": mode, "engine": used,
        "placement": pl.style, "fits": pl.fits, "feasible": pl.feasible, "labelled": pr.labels is not None,
        "accuracy_measure": "mIoU" if pr.labels is not None else "agreement with the last output",
        "trained": "checkpoint" in g.meta or "training" in g.meta,  # an export records its training
        "data_frames": n_data, "latency_load_fps": None if load is None else load * images,
        "per_output": curve, "points": points,
        "report": report,  # the full graph (every frame to m_N) as fast as accepted: mpsim.report/2
    }
