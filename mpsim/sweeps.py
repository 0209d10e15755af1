"""Sweeps over profiles x models x modes (x policy values): one row per simulated point."""

from __future__ import annotations

import itertools
from typing import Any

from mpsim.hw.profile import load_profile
from mpsim.mapping.placement import RunOptions
from mpsim.models import export_folder, resolve_export
from mpsim.sim.simulate import simulate
from mpsim.sim.steady import DEFAULT_MAX_FRAMES, DEFAULT_TOLERANCE


def tasks(profiles, models, modes, frames: int | None, engine: str, policy: str | None = None,
          values: list[float] | None = None, data: str = "digits", data_frames: int = 16, seed: int = 0,
          options: RunOptions | None = None, rates: list[float | None] | None = None,
          tolerance: float = DEFAULT_TOLERANCE, max_frames: int = DEFAULT_MAX_FRAMES,
          report: bool = False) -> list[dict]:
    """One task per profile x model x mode x offered rate (None: as fast as accepted); with
    ``report`` each row also carries its run report (``row["report"]``, for the HTML view)."""
    return [dict(profile=p, model=m, mode=md, frames=frames, engine=engine, policy=policy, values=values,
                 data=data, data_frames=data_frames, seed=seed, options=options or RunOptions(), rate=r,
                 tolerance=tolerance, max_frames=max_frames, report=report)
            for p, m, md, r in itertools.product(profiles, models, modes, rates or [None])]


def run_point(task: dict[str, Any]) -> list[dict[str, Any]]:
    """Simulate one (profile, model, mode); with a policy, one row per policy value."""
    p, (g, folder) = load_profile(task["profile"]), resolve_export(task["model"])
    mode = task["mode"] if task["mode"] != "default" else None
    base = {"profile": p.name, "model": g.name}
    if task.get("policy"):
        from mpsim.anytime.frames import load_frames
        from mpsim.anytime.sweep import predict, sweep
        from mpsim.exec.executor import Executor
        from mpsim.exec.weights import load_weights

        h, w = g.tensors[g.inputs[0]].shape[-2:]
        images, labels = load_frames(task["data"], None, task["data_frames"], (h, w), task["seed"])
        ex = Executor(g, load_weights(export_folder(folder, task["model"], "a policy sweep"), g))
        res = sweep(g, p, predict(ex.run, images, labels), task["policy"], task["values"], options=task["options"],
                    mode=mode, engine=task["engine"], frames=task["frames"], tolerance=task["tolerance"],
                    max_frames=task["max_frames"])
        extra = {"report": res["report"]} if task.get("report") else {}
        return [{**base, "mode": res["mode"], "policy": task["policy"], **pt,
                 "traffic_bytes_per_frame": None if pt["traffic_bytes_per_frame"] is None
                 else sum(pt["traffic_bytes_per_frame"].values()), **(extra if j == 0 else {})}
                for j, pt in enumerate(res["points"])]
    rep, _, _ = simulate(g, p, task["options"], mode=mode, engine=task["engine"], frames=task["frames"],
                         rate=task["rate"], tolerance=task["tolerance"], max_frames=task["max_frames"])
    lat = rep["latency_s"]
    energy = rep["energy_j_per_frame"]
    st = rep["steady_state"] or {}
    return [{
        **base, "mode": task["mode"] if task["mode"] != "default" else rep["mode"], "executed_mode": rep["mode"],
        "placement": rep["placement"], "engine": rep["engine"],
        "offered_rate_fps": task["rate"], "converged": st.get("converged"), "frames": st.get("frames"),
        "fits": rep["fits"], "feasible": rep["feasible"], "strategy": rep["strategy"],
        "required_bytes": rep["memory"]["required_bytes"], "capacity_bytes": rep["memory"]["capacity_bytes"],
        "throughput_fps": rep["throughput_fps"], "first_latency_last_s": lat["first"][-1],
        "first_latency_first_s": lat["first"][0], "mean_latency_last_s": lat["mean"][-1],
        "p99_latency_last_s": lat["p99"][-1],
        "traffic_bytes_per_frame": sum(rep["traffic_bytes_per_frame"].values()) if rep["traffic_bytes_per_frame"] else None,
        "offchip_bytes_per_frame": (rep["traffic_bytes_per_frame"] or {}).get("offchip"),
        "energy_j_per_frame": energy["total"] if energy else None, "power_w": rep["power_w"],
        "bottleneck": (rep["bottleneck"] or {}).get("name"),
        **({"report": rep} if task.get("report") else {}),
    }]
