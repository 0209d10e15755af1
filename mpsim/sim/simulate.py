"""One entry point from (graph, profile, options) to a report: map, plan, run an engine."""

from __future__ import annotations

from typing import Any, Callable

from mpsim.errors import MpsimError
from mpsim.hw.profile import Profile
from mpsim.ir.graph import Graph
from mpsim.limits import check_stream
from mpsim.mapping.mapper import Placement, place
from mpsim.sim.plan import SimPlan, build_sequential_plan, build_spatial_plan
from mpsim.sim.report import build_report
from mpsim.sim.result import SimResult

MODES = ("dataflow", "bsp", "rollout")
ENGINES = ("simpy", "fast")


def make_plan(g: Graph, p: Profile) -> tuple[Placement, SimPlan | None]:
    """Place the graph and choose how it executes: spatially, by fallback, or not at all."""
    pl = place(g, p)
    if p.kind == "gpu":
        return pl, build_sequential_plan(g, p, "layer_by_layer")
    if pl.fits:
        return pl, build_spatial_plan(g, pl, p)
    if not pl.feasible:
        return pl, None
    return pl, build_sequential_plan(g, p, "fallback")


def run_engine(plan: SimPlan, p: Profile, mode: str, engine: str, frames: int, rate: float | None,
               window: int | None = None, record: bool = False, trace_frames: int = 0,
               progress: Callable[[int], None] | None = None, levels=None) -> SimResult:
    """Run one engine; ``levels[f] = k - 1`` makes frame f exit after output m_k."""
    if mode not in MODES:
        raise MpsimError(f"unknown mode '{mode}' (choose from {', '.join(MODES)})")
    if engine not in ENGINES:
        raise MpsimError(f"unknown engine '{engine}' (choose from {', '.join(ENGINES)})")
    stepped = mode != "dataflow" and plan.strategy == "spatial"
    if stepped:
        from mpsim.sim.tick_engine import rollout_tick, simulate_ticks
    step = (rollout_tick(plan) if mode == "rollout" else p.sync_s) if stepped else None
    check_stream(frames, rate, int(plan.level_trips[-1].sum()), engine, step, mode)  # bounded work
    if stepped:
        if engine == "fast":
            raise MpsimError(f"the fast engine runs dataflow mode only: use --mode dataflow, or --engine simpy for {mode}")
        return simulate_ticks(plan, p, mode, frames, rate, window, record, trace_frames, progress, levels)
    if engine == "fast":
        from mpsim.sim.fast_engine import simulate_fast

        return simulate_fast(plan, frames, rate, window, record, progress, levels=levels)
    from mpsim.sim.simpy_engine import simulate_dataflow

    return simulate_dataflow(plan, frames, rate, window, record, trace_frames, progress, levels)


def simulate(g: Graph, p: Profile, mode: str | None = None, engine: str = "simpy", frames: int = 200,
             rate: float | None = None, trace_frames: int = 0,
             progress: Callable[[int], None] | None = None) -> tuple[dict[str, Any], SimResult | None, SimPlan | None]:
    mode = mode or p.default_mode
    pl, plan = make_plan(g, p)
    if plan is None:
        return build_report(g, p, pl, None, None, mode, engine, rate), None, None
    if plan.strategy != "spatial":
        mode = "dataflow"  # sequential execution has no supersteps to speak of
    r = run_engine(plan, p, mode, engine, frames, rate, trace_frames=trace_frames, progress=progress)
    return build_report(g, p, pl, plan, r, mode, engine, rate), r, plan
