"""The event-driven engine: SimPy's event queue drives firings, transfers and frames.

Rules (shared with the compiled engine, docs/semantics.md):

* A firing (frame f, node n, iteration i) is ready when every input edge that applies to
  iteration i has delivered.  Each unit (a tile set) runs one firing at a time, without
  preemption; when free it starts the ready firing with the smallest key (f, i, n): the
  oldest frame first, so a frame is never overtaken by a later one where it could proceed.
* A transfer between units occupies one link for bytes / bandwidth; each link serves its
  requests in key order (f, i, edge).  Inside a unit data moves at no cost.
* Resource decisions are taken after every other event of the same instant (a lower event
  priority), so they see everything that became ready at that time.
* Frames are released at ``f / rate``, or (no rate) whenever fewer than ``window`` frames
  are in flight (released and not yet retired): the source runs as fast as the graph accepts.
"""

from __future__ import annotations

import heapq
from typing import Callable

import numpy as np
import simpy

from mpsim.sim.plan import CARRIED, INIT, INVARIANT, PLAIN, SAME_UNIT, SOURCE, TAP, SimPlan
from mpsim.sim.result import SimResult, counted, deadlock
from mpsim.sim.stats import LatencyHistogram

DECIDE = 2  # event priority below SimPy's NORMAL (1): decisions come last in an instant


def targets(kind: int, i: int, tap: int, dst_trips: int) -> range:
    """Iterations of the consumer that a delivery of the producer's iteration i feeds."""
    if kind == PLAIN:
        lo, hi = i, i + 1
    elif kind == CARRIED:
        lo, hi = i + 1, i + 2
    elif kind == INVARIANT:
        lo, hi = 0, dst_trips
    elif kind == INIT:  # from outside the loop; from another loop's iteration ``tap`` if tapped
        lo, hi = (0, 1) if tap < 0 or i == tap else (0, 0)
    else:  # TAP
        lo, hi = (0, 1) if i == tap else (0, 0)
    return range(lo, min(hi, dst_trips))


def needs(plan: SimPlan) -> np.ndarray:
    """need[n, i]: edges that must deliver before node n fires at iteration i."""
    max_trips = int(plan.trips.max(initial=1))
    need = np.zeros((plan.n_nodes, max_trips), dtype=np.int64)
    for dst, kind in zip(plan.e_dst, plan.e_kind):
        t = int(plan.trips[dst])
        if kind in (PLAIN, INVARIANT):
            need[dst, :t] += 1
        elif kind == CARRIED:
            need[dst, 1:t] += 1
        elif kind in (INIT, TAP):
            need[dst, 0] += 1
    return need


class _Run:
    def __init__(self, plan: SimPlan, frames: int, rate: float | None, window: int | None,
                 record: bool, trace_frames: int, progress: Callable[[int], None] | None,
                 levels: np.ndarray | None = None) -> None:
        self.p = plan
        self.env = simpy.Environment()
        self.frames = frames
        self.rate = rate
        self.window = None if rate else (window or plan.window)
        self.record = record
        self.trace_frames = trace_frames
        self.progress = progress
        self.need0 = needs(plan)
        self.out_edges: list[list[int]] = [[] for _ in range(plan.n_nodes)]
        self.src_edges: list[int] = []
        for e, s in enumerate(plan.e_src):
            (self.src_edges if s == SOURCE else self.out_edges[s]).append(e)
        self.outputs_of: dict[tuple[int, int], list[int]] = {}
        for k, (n, it) in enumerate(zip(plan.out_node, plan.out_iter)):
            self.outputs_of.setdefault((int(n), max(0, int(it))), []).append(k)
        nu, nl, no = plan.n_units, len(plan.link_names), plan.n_outputs
        self.unit_queue: list[list] = [[] for _ in range(nu)]
        self.unit_idle = [True] * nu
        self.unit_pending = [False] * nu
        self.link_queue: list[list] = [[] for _ in range(nl)]
        self.link_idle = [True] * nl
        self.link_pending = [False] * nl
        self.state: dict[int, np.ndarray] = {}  # frame -> remaining inputs [nodes, trips]
        self.left: dict[int, int] = {}  # frame -> outputs not yet complete
        self.work: dict[int, int] = {}  # frame -> firings not yet done
        self.levels = levels  # per frame: exit after output m_{level+1}; None = run every output
        self.ftrips: dict[int, np.ndarray] = {}  # frame -> firings per node
        self.release_t: dict[int, float] = {}
        self.hist = LatencyHistogram(no)
        self.hist_all = LatencyHistogram(no)
        self.exit_hist, self.exit_all = LatencyHistogram(1), LatencyHistogram(1)
        self.first = np.full(no, np.nan)
        self.fire_count = np.zeros(plan.n_nodes, dtype=np.int64)  # firings per node: the accounting (result.counted)
        self.moved = np.zeros(len(plan.e_src), dtype=np.int64)  # transfers per edge over its link
        self.next_frame = 0
        self.finished = 0
        self.frame0_done: float | None = None
        self.warmup = 0
        self.t_first = np.inf
        self.t_last = -np.inf
        self.n_steady = 0
        self.all_first, self.all_last = np.inf, -np.inf
        self.trace: list = []
        self.rel = np.zeros(frames) if record else None
        self.done = np.full((frames, no), np.nan) if record else None

    # Scheduling helpers ---------------------------------------------------------------------
    def _later(self, delay: float, fn: Callable[[], None]) -> None:
        ev = self.env.timeout(delay)
        ev.callbacks.append(lambda _ev: fn())

    def _decide(self, fn: Callable[[], None]) -> None:
        ev = self.env.event()
        ev._ok, ev._value = True, None  # a triggered event, queued at the lowest priority
        ev.callbacks.append(lambda _ev: fn())
        self.env.schedule(ev, DECIDE)

    # Frames --------------------------------------------------------------------------------
    def source(self):
        while self.next_frame < self.frames:
            if self.rate:
                wait = self.next_frame / self.rate - self.env.now
                if wait > 0:
                    yield self.env.timeout(wait)
                self.release()
            elif self.next_frame - self.finished < self.window:
                self.release()
            else:
                self._source_wakeup = self.env.event()
                yield self._source_wakeup

    def release(self) -> None:
        f = self.next_frame
        self.next_frame += 1
        now = self.env.now
        level = self.p.n_outputs - 1 if self.levels is None else int(self.levels[f])
        self.ftrips[f] = self.p.level_trips[level]
        self.state[f] = self.need0.copy()
        self.left[f] = level + 1
        self.work[f] = int(self.ftrips[f].sum())
        self.release_t[f] = now
        if self.frame0_done is None:
            self.warmup += 1
        if self.rel is not None:
            self.rel[f] = now
        for e in self.src_edges:
            if len(targets(int(self.p.e_kind[e]), 0, int(self.p.e_tap[e]), int(self.ftrips[f][self.p.e_dst[e]]))):
                self.request(e, f, 0)  # only to consumers this frame needs

    # Links -----------------------------------------------------------------------------------
    def request(self, e: int, f: int, i: int) -> None:
        link = int(self.p.e_link[e])
        if link == SAME_UNIT:
            self.deliver(e, f, i)
            return
        heapq.heappush(self.link_queue[link], (f, i, e))
        if self.link_idle[link] and not self.link_pending[link]:
            self.link_pending[link] = True
            self._decide(lambda: self.link_decide(link))

    def link_decide(self, link: int) -> None:
        self.link_pending[link] = False
        if not self.link_idle[link] or not self.link_queue[link]:
            return
        f, i, e = heapq.heappop(self.link_queue[link])
        self.link_idle[link] = False
        dur = float(self.p.e_time[e])
        self.moved[e] += 1
        if f < self.trace_frames:
            self.trace.append(("link", link, self.p.link_names[link], self.env.now, dur, f, i))
        self._later(dur, lambda: self.link_done(link, e, f, i))

    def link_done(self, link: int, e: int, f: int, i: int) -> None:
        self.link_idle[link] = True
        self.deliver(e, f, i)
        if self.link_queue[link] and not self.link_pending[link]:
            self.link_pending[link] = True
            self._decide(lambda: self.link_decide(link))

    # Firings ---------------------------------------------------------------------------------
    def deliver(self, e: int, f: int, i: int) -> None:
        """Edge e delivered frame f's data produced at iteration i of its source."""
        p = self.p
        dst = int(p.e_dst[e])
        st = self.state[f]
        for j in targets(int(p.e_kind[e]), i, int(p.e_tap[e]), int(self.ftrips[f][dst])):
            st[dst, j] -= 1
            if st[dst, j] == 0:
                self.ready(dst, f, j)

    def ready(self, n: int, f: int, i: int) -> None:
        u = int(self.p.unit_of[n])
        heapq.heappush(self.unit_queue[u], (f, i, n))
        if self.unit_idle[u] and not self.unit_pending[u]:
            self.unit_pending[u] = True
            self._decide(lambda: self.unit_decide(u))

    def unit_decide(self, u: int) -> None:
        self.unit_pending[u] = False
        if not self.unit_idle[u] or not self.unit_queue[u]:
            return
        f, i, n = heapq.heappop(self.unit_queue[u])
        self.unit_idle[u] = False
        dur = float(self.p.service_s[n])
        if f < self.trace_frames:
            self.trace.append(("unit", u, self.p.node_names[n], self.env.now, dur, f, i))
        self._later(dur, lambda: self.fired(u, n, f, i, dur))

    def fired(self, u: int, n: int, f: int, i: int, dur: float) -> None:
        p = self.p
        self.unit_idle[u] = True
        self.fire_count[n] += 1
        trips = self.ftrips[f]
        for e in self.out_edges[n]:
            if len(targets(int(p.e_kind[e]), i, int(p.e_tap[e]), int(trips[p.e_dst[e]]))):
                self.request(e, f, i)  # nothing moves to a consumer the frame no longer needs
        for k in self.outputs_of.get((n, i), ()):
            self.output_done(k, f)
        self.work[f] -= 1
        if self.work[f] == 0:
            self.retire(f)
        if self.unit_queue[u] and not self.unit_pending[u]:
            self.unit_pending[u] = True
            self._decide(lambda: self.unit_decide(u))

    def output_done(self, k: int, f: int) -> None:
        now = self.env.now
        lat = now - self.release_t[f]
        if f == 0:
            self.first[k] = lat
        if self.done is not None:
            self.done[f, k] = now
        steady = f >= self.warmup
        self.hist_all.add(k, lat)
        if steady:
            self.hist.add(k, lat)
        self.left[f] -= 1
        if self.left[f] == 0:
            self.outputs_complete(f, now, steady)

    def outputs_complete(self, f: int, now: float, steady: bool) -> None:
        """Frame f's last output is out: the point throughput is measured at."""
        self.exit_all.add(0, now - self.release_t[f])
        if steady:
            self.exit_hist.add(0, now - self.release_t[f])
        if f == 0:
            self.frame0_done = now
        self.all_first, self.all_last = min(self.all_first, now), max(self.all_last, now)
        if steady:
            self.n_steady += 1
            self.t_first = min(self.t_first, now)
            self.t_last = max(self.t_last, now)

    def retire(self, f: int) -> None:
        """Every firing of frame f is done: free its state and let the source go on."""
        del self.state[f], self.left[f], self.release_t[f], self.work[f], self.ftrips[f]
        self.finished += 1
        if self.progress is not None:
            self.progress(self.finished)
        wake = getattr(self, "_source_wakeup", None)
        if wake is not None and not wake.triggered:
            wake.succeed()

    def run(self) -> SimResult:
        self.env.process(self.source())
        self.env.run()
        if self.finished < self.frames:
            raise deadlock(self.frames - self.finished, self.frames)
        if self.n_steady < 2:  # too few frames for a steady state: use them all
            self.warmup, self.n_steady, self.hist = 0, self.finished, self.hist_all
            self.exit_hist = self.exit_all
            self.t_first, self.t_last = self.all_first, self.all_last
        return SimResult(
            frames=self.frames, warmup=self.warmup, first_latency=self.first, hist=self.hist,
            exit_hist=self.exit_hist,
            t_first=float(self.t_first), t_last=float(self.t_last), n_steady=self.n_steady,
            end_time=float(self.env.now), **counted(self.p, self.fire_count, self.moved), release=self.rel,
            done=self.done, trace=self.trace,
        )


def simulate_dataflow(plan: SimPlan, frames: int, rate: float | None = None, window: int | None = None,
                      record: bool = False, trace_frames: int = 0,
                      progress: Callable[[int], None] | None = None,
                      levels: np.ndarray | None = None) -> SimResult:
    """Asynchronous dataflow: every unit fires as soon as its inputs are there and it is free.

    ``levels[f] = k - 1`` makes frame f exit early after output m_k (anytime prediction): a
    folded loop stops after the iterations m_1..m_k need and frees its tiles for other frames.
    """
    if levels is not None and (len(levels) < frames or np.any((levels < 0) | (levels >= plan.n_outputs))):
        raise ValueError(f"levels must give an output index 0..{plan.n_outputs - 1} for each of {frames} frames")
    return _Run(plan, frames, rate, window, record, trace_frames, progress, levels).run()
