"""Step-synchronous execution, driven by a SimPy process: IPU supersteps and streaming rollouts.

* ``bsp``: a superstep is a compute phase (each unit runs, in key order (frame, iteration,
  node), the firings whose inputs arrived before the step, and those its own earlier firings
  of this step made ready; each node fires at most once per step), a global sync (the
  placement's: ``timing.sync`` plus ``sync_per_extra_chip`` for every further chip a replica
  spans), then an exchange phase in which every link moves the step's transfers one after
  another (data for another unit without a link, such as the host's, arrives with it).  The step
  lasts max(compute) + sync + max(exchange).
* ``rollout``: every node updates at most once per global tick from the previous tick's
  values (Fischer et al. 2018); the tick is fixed: the slowest unit's step plus the slowest
  link's exchange when every node fires once.  An output's latency is its depth in ticks.
"""

from __future__ import annotations

import heapq
from typing import Callable

import numpy as np
import simpy

from mpsim.hw.profile import Profile
from mpsim.sim.plan import SAME_UNIT, SOURCE, SimPlan
from mpsim.sim.result import SimResult, counted, deadlock
from mpsim.sim.simpy_engine import needs, targets
from mpsim.sim.stats import LatencyHistogram


def rollout_tick(plan: SimPlan) -> float:
    unit_step = np.zeros(plan.n_units)
    np.add.at(unit_step, plan.unit_of, plan.service_s)
    link_step = np.zeros(len(plan.link_names))
    cross = plan.e_link != SAME_UNIT
    np.add.at(link_step, plan.e_link[cross], plan.e_time[cross])
    return float(unit_step.max(initial=0.0) + link_step.max(initial=0.0))


def simulate_ticks(plan: SimPlan, p: Profile, mode: str, frames: int, rate: float | None,
                   window: int | None = None, record: bool = False, trace_frames: int = 0,
                   progress: Callable[[int], None] | None = None,
                   levels: np.ndarray | None = None) -> SimResult:
    env = simpy.Environment()
    window = None if rate else (window or plan.window)
    need0 = needs(plan)
    out_edges: list[list[int]] = [[] for _ in range(plan.n_nodes)]
    src_edges = [e for e, s in enumerate(plan.e_src) if s == SOURCE]
    for e, s in enumerate(plan.e_src):
        if s != SOURCE:
            out_edges[s].append(e)
    outputs_of: dict[tuple[int, int], list[int]] = {}
    for k, (n, it) in enumerate(zip(plan.out_node, plan.out_iter)):
        outputs_of.setdefault((int(n), max(0, int(it))), []).append(k)
    n_out = plan.n_outputs
    tick = rollout_tick(plan) if mode == "rollout" else 0.0
    sync = 0.0 if mode == "rollout" else plan.sync_s

    state: dict[int, np.ndarray] = {}
    left: dict[int, int] = {}
    work: dict[int, int] = {}
    ftrips: dict[int, np.ndarray] = {}
    rel_t: dict[int, float] = {}
    ready: list[list] = [[] for _ in range(plan.n_units)]  # per unit heap of (f, i, n)
    hist, hist_all = LatencyHistogram(n_out), LatencyHistogram(n_out)
    exit_hist, exit_all = LatencyHistogram(1), LatencyHistogram(1)
    first = np.full(n_out, np.nan)
    fire_count = np.zeros(plan.n_nodes, dtype=np.int64)  # firings per node: the accounting (result.counted)
    moved = np.zeros(len(plan.e_src), dtype=np.int64)  # transfers per edge over its link
    rel = np.zeros(frames) if record else None
    done = np.full((frames, n_out), np.nan) if record else None
    trace: list = []
    counters = {"next": 0, "finished": 0, "warm": 0, "frame0": None, "steady": 0, "steps": 0}
    phases = np.zeros(3)  # compute, sync, exchange
    span = {"first": np.inf, "last": -np.inf, "all_first": np.inf, "all_last": -np.inf}

    def deliver(e: int, f: int, i: int) -> None:
        dst = int(plan.e_dst[e])
        st = state[f]
        for j in targets(int(plan.e_kind[e]), i, int(plan.e_tap[e]), int(ftrips[f][dst])):
            st[dst, j] -= 1
            if st[dst, j] == 0:
                heapq.heappush(ready[int(plan.unit_of[dst])], (f, j, dst))

    def output_done(k: int, f: int, t: float) -> None:
        lat = t - rel_t[f]
        if f == 0:
            first[k] = lat
        if done is not None:
            done[f, k] = t
        steady = f >= counters["warm"]
        hist_all.add(k, lat)
        if steady:
            hist.add(k, lat)
        left[f] -= 1
        if left[f] == 0:
            exit_all.add(0, lat)
            if steady:
                exit_hist.add(0, lat)
            if f == 0:
                counters["frame0"] = t
            span["all_first"], span["all_last"] = min(span["all_first"], t), max(span["all_last"], t)
            if steady:
                counters["steady"] += 1
                span["first"], span["last"] = min(span["first"], t), max(span["last"], t)

    def fired(f: int) -> None:
        work[f] -= 1
        if work[f] == 0:
            del state[f], left[f], rel_t[f], work[f], ftrips[f]
            counters["finished"] += 1
            if progress is not None:
                progress(counters["finished"])

    def release(t: float, pending: list) -> None:
        f = counters["next"]
        counters["next"] += 1
        level = n_out - 1 if levels is None else int(levels[f])
        ftrips[f] = plan.level_trips[level]
        state[f] = need0.copy()
        left[f] = level + 1
        work[f] = int(ftrips[f].sum())
        rel_t[f] = t
        if counters["frame0"] is None:
            counters["warm"] += 1
        if rel is not None:
            rel[f] = t
        for e in src_edges:
            if len(targets(int(plan.e_kind[e]), 0, int(plan.e_tap[e]), int(ftrips[f][plan.e_dst[e]]))):
                if int(plan.e_link[e]) == SAME_UNIT:
                    deliver(e, f, 0)  # the frame is at the host-in unit when it is released
                else:
                    pending.append((e, f, 0))

    def stepper():
        pending: list[tuple[int, int, int]] = []  # transfers for the next exchange phase
        while counters["finished"] < frames:
            now = env.now
            while counters["next"] < frames:
                if rate is not None and counters["next"] / rate > now + 1e-15:
                    break
                if rate is None and counters["next"] - counters["finished"] >= window:
                    break
                release(now, pending)
            traced = trace_frames > 0 and bool(state) and min(state) < trace_frames  # a traced frame in flight
            # Compute phase.
            unit_time = np.zeros(plan.n_units)
            fired_now: set[int] = set()
            for u in range(plan.n_units):
                deferred = []
                while ready[u]:
                    f, i, n = heapq.heappop(ready[u])
                    if n in fired_now:
                        deferred.append((f, i, n))
                        continue
                    fired_now.add(n)
                    dur = float(plan.service_s[n])
                    start = now + unit_time[u]
                    unit_time[u] += dur
                    fire_count[n] += 1
                    if f < trace_frames:
                        trace.append(("unit", u, plan.node_names[n], start, dur, f, i))
                    for e in out_edges[n]:
                        if not len(targets(int(plan.e_kind[e]), i, int(plan.e_tap[e]), int(ftrips[f][plan.e_dst[e]]))):
                            continue
                        if int(plan.e_link[e]) == SAME_UNIT and int(plan.unit_of[plan.e_dst[e]]) == u:
                            deliver(e, f, i)  # may make a later node of this unit ready now
                        else:
                            pending.append((e, f, i))
                    for k in outputs_of.get((n, i), ()):
                        output_done(k, f, start + dur)
                    fired(f)
                for item in deferred:
                    heapq.heappush(ready[u], item)
            compute = float(unit_time.max(initial=0.0))
            # Exchange phase: each link moves this step's transfers back to back.
            link_time = np.zeros(len(plan.link_names))
            transfers, pending = pending, []
            for e, f, i in transfers:
                link = int(plan.e_link[e])
                if link == SAME_UNIT:
                    continue  # to another unit without a link (host in/out): arrives with the exchange
                if f < trace_frames:
                    trace.append(("link", link, plan.link_names[link], now + compute + sync + link_time[link],
                                  float(plan.e_time[e]), f, i))
                link_time[link] += plan.e_time[e]
                moved[e] += 1
            exchange = float(link_time.max(initial=0.0))
            step = tick if mode == "rollout" else compute + sync + exchange
            if compute > 0.0 or exchange > 0.0:
                counters["steps"] += 1
                phases[:] += (step, 0.0, 0.0) if mode == "rollout" else (compute, sync, exchange)
                if traced:
                    # Supersteps and their phases: (kind, 0, name, start, duration, -1, step index).
                    k = counters["steps"] - 1
                    trace.append(("superstep", 0, "tick" if mode == "rollout" else "superstep", now, step, -1, k))
                    if mode == "bsp":
                        for name, start, dur in (("compute", now, compute), ("sync", now + compute, sync),
                                                 ("exchange", now + compute + sync, exchange)):
                            if dur > 0.0:
                                trace.append(("phase", 1, name, start, dur, -1, k))
            if not fired_now and not transfers and (rate is None or counters["next"] >= frames):
                raise deadlock(frames - counters["finished"], frames)
            if step <= 0.0:
                # Nothing to do: wait for the next frame of an offered rate.
                nxt = counters["next"] / rate if rate else now
                step = max(nxt - now, 1.0 / p.clock_hz)
            yield env.timeout(step)
            for e, f, i in transfers:
                deliver(e, f, i)

    env.process(stepper())
    env.run()
    steady = counters["steady"]
    warm = counters["warm"]
    t_first, t_last = span["first"], span["last"]
    if steady < 2:
        hist, warm, steady, exit_hist = hist_all, 0, counters["finished"], exit_all
        t_first, t_last = span["all_first"], span["all_last"]
    return SimResult(
        frames=frames, warmup=warm, first_latency=first, hist=hist, exit_hist=exit_hist, t_first=float(t_first),
        t_last=float(t_last), n_steady=steady, end_time=float(env.now), **counted(plan, fire_count, moved), release=rel,
        done=done, trace=trace,
        steps=counters["steps"], phase_s=phases,
    )
