"""One entry point from (graph, profile, options) to a report: place, plan, run an engine to
steady state, report.

Modes: ``pipelined`` placements run in the requested mode (dataflow, bsp or rollout; default
the profile's). ``sequential`` and ``layer_by_layer`` placements (and the off-chip fallback)
*are* bulk-synchronous: every operation is a superstep whose sync and exchange are in its
service time, so they run in ``bsp`` only and the event engine orders their operations. A mode
a placement cannot run is refused, never switched.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from mpsim.errors import MpsimError
from mpsim.hw.profile import Profile
from mpsim.ir.graph import Graph
from mpsim.limits import MAX_FIRINGS_FAST, MAX_FIRINGS_SIMPY, check_stream
from mpsim.mapping.placement import Placement, RunOptions, place
from mpsim.sim.plan import SimPlan, build_plan
from mpsim.sim.report import build_report
from mpsim.sim.result import SimResult
from mpsim.sim.steady import DEFAULT_MAX_FRAMES, DEFAULT_TOLERANCE, START_FRAMES, SteadyState, run_to_steady

MODES = ("dataflow", "bsp", "rollout")
ENGINES = ("auto", "compiled", "simpy")
ENGINE_ALIASES = {"fast": "compiled"}


def make_plan(g: Graph, p: Profile, options: RunOptions | None = None,
              mode: str | None = None) -> tuple[Placement, SimPlan | None]:
    """Place the graph and build its plan (None when the machine cannot run it at all); a
    pipelined placement balances its tiles for ``mode`` (default: the options', else the profile's)."""
    options = options or RunOptions()
    if mode is not None and options.mode is None:
        options = dataclasses.replace(options, mode=mode)
    pl = place(g, p, options)
    return pl, build_plan(pl) if pl.feasible else None


def resolve_mode(pl: Placement, p: Profile, mode: str | None) -> str:
    """The mode a run uses: pipelined placements take the requested one (default: the profile's),
    the others run bsp. Asking a sequential or layer-by-layer placement for another mode is
    refused; a pipelined request that fell back (it did not fit) runs bsp, and its note says so."""
    if mode is not None and mode not in MODES:
        raise MpsimError(f"unknown mode '{mode}' (choose from {', '.join(MODES)})")
    if pl.strategy == "pipelined":
        return mode or p.default_mode
    if pl.style != "pipelined" and mode not in (None, "bsp"):
        raise MpsimError(f"mode '{mode}' needs the pipelined placement; a {pl.strategy} run executes one operation "
                         "per superstep (bsp): use --placement pipelined or leave --mode out")
    return "bsp"


def resolve_engine(engine: str) -> str:
    """The engine that runs: ``auto`` is the compiled engine, which runs every mode and placement;
    ``simpy`` the readable reference (the same results, docs/engines.md)."""
    engine = ENGINE_ALIASES.get(engine, engine)
    if engine not in ENGINES:
        raise MpsimError(f"unknown engine '{engine}' (choose from {', '.join(ENGINES)})")
    return "compiled" if engine == "auto" else engine


def least_step(plan: SimPlan, mode: str) -> float | None:
    """The least step of a step-synchronous run (bsp: the sync, rollout: the tick), which idles
    step by step between offered frames; None where the engine is event-driven (dataflow, and
    the placements that carry their supersteps in their service times)."""
    if mode == "dataflow" or plan.strategy != "pipelined":
        return None
    from mpsim.sim.tick_engine import rollout_tick

    return rollout_tick(plan) if mode == "rollout" else plan.sync_s


def run_engine(plan: SimPlan, p: Profile, mode: str, engine: str, frames: int, rate: float | None,
               window: int | None = None, record: bool = False, trace_frames: int = 0,
               progress: Callable[[int], None] | None = None, levels=None) -> SimResult:
    """Run one engine for ``frames`` frames; ``levels[f] = k - 1`` makes frame f exit after m_k.

    Pipelined plans run the requested mode; the other placements carry their supersteps in their
    service times and run under the dataflow rules (``resolve_mode`` reports them as bsp).  The
    work is bounded before it starts (``mpsim.limits.check_stream``)."""
    engine = resolve_engine(engine)
    step = least_step(plan, mode)
    check_stream(frames, rate, int(plan.level_trips[-1].sum()), engine, step, mode)
    if step is not None:
        # A superstep moves every frame one node on: to keep every unit busy a pipeline needs a
        # frame at each of its units (each unit buffers one frame), not only enough to cover the
        # busiest unit's time as in dataflow.
        window = window or max(plan.window, plan.n_units + 2)
        if engine == "compiled":
            from mpsim.sim.fast_ticks import simulate_ticks_fast

            return simulate_ticks_fast(plan, mode, frames, rate, window, record, trace_frames, progress, levels,
                                       idle_step_s=1.0 / p.clock_hz)
        from mpsim.sim.tick_engine import simulate_ticks

        return simulate_ticks(plan, p, mode, frames, rate, window, record, trace_frames, progress, levels)
    if engine == "compiled":
        from mpsim.sim.fast_engine import simulate_fast

        return simulate_fast(plan, frames, rate, window, record, progress, levels=levels, trace_frames=trace_frames)
    from mpsim.sim.simpy_engine import simulate_dataflow

    return simulate_dataflow(plan, frames, rate, window, record, trace_frames, progress, levels)


def engine_rate(plan: SimPlan, rate: float | None) -> float | None:
    """A user's offered rate (images per second to the whole machine) as the simulated replica
    sees it: batches per second, its share of the replicas."""
    if rate is None:
        return None
    if not rate > 0:
        raise MpsimError(f"--rate must be positive, got {rate}")
    return rate / (plan.batch * plan.replicas)


def run_steady(plan: SimPlan, p: Profile, mode: str, engine: str, frames: int | None = None,
               rate: float | None = None, tolerance: float = DEFAULT_TOLERANCE,
               max_frames: int = DEFAULT_MAX_FRAMES, trace_frames: int = 0,
               progress: Callable[[int, int], None] | None = None, levels=None) -> tuple[SimResult, SteadyState]:
    """Run to steady state (or exactly ``frames``); ``progress(done, of)`` follows each attempt.
    Converging never asks for more work than the engine's documented bound allows."""
    limit = MAX_FIRINGS_FAST if resolve_engine(engine) == "compiled" else MAX_FIRINGS_SIMPY
    max_frames = max(1, min(max_frames, limit // max(1, int(plan.level_trips[-1].sum()))))

    def one(n: int) -> SimResult:
        cb = None if progress is None else (lambda done: progress(done, n))
        return run_engine(plan, p, mode, engine, n, rate, record=True, trace_frames=trace_frames, progress=cb,
                          levels=None if levels is None else levels[:n])
    return run_to_steady(one, frames, tolerance, max_frames, rate=rate)


def simulate(g: Graph, p: Profile, options: RunOptions | None = None, mode: str | None = None,
             engine: str = "auto", frames: int | None = None, rate: float | None = None,
             tolerance: float = DEFAULT_TOLERANCE, max_frames: int = DEFAULT_MAX_FRAMES, trace_frames: int = 0,
             progress: Callable[[int, int], None] | None = None) -> tuple[dict[str, Any], SimResult | None,
                                                                          SimPlan | None]:
    """Place, plan and run ``g`` on ``p`` to steady state; return (report, engine result, plan)."""
    pl, plan = make_plan(g, p, options, mode)
    asked, mode = mode, resolve_mode(pl, p, mode)
    if asked not in (None, mode):
        pl = dataclasses.replace(pl, note=f"{pl.note}; mode {asked} applies to a pipelined run, this one ran {mode}")
    if plan is None:
        return build_report(pl, None, None, None, mode, None, rate), None, None
    used = resolve_engine(engine)
    per_replica = engine_rate(plan, rate)
    # The first attempt's work, in the user's terms, before anything runs.
    check_stream(frames or min(START_FRAMES, max_frames), per_replica, int(plan.level_trips[-1].sum()), used,
                 least_step(plan, mode), mode, shown_rate=rate)
    r, st = run_steady(plan, pl.profile, mode, used, frames, per_replica, tolerance, max_frames, trace_frames,
                       progress)
    return build_report(pl, plan, r, st, mode, used, rate), r, plan
