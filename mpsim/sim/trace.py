"""Chrome trace-event JSON (opens in Perfetto / chrome://tracing) of the first frames.

Engines record ``SimResult.trace`` as tuples ``(kind, resource, name, start_s, duration_s,
frame, iteration)``; this module turns them into events:

* ``kind = "unit"`` / ``"link"``: a firing on unit ``resource`` / a transfer on link ``resource``
  of ``frame`` and loop ``iteration`` (process "units" / "links", a thread per unit or link);
  a firing whose service has parts (a sequential or layer-by-layer operation: overhead, compute,
  sync, exchange) gets them as nested slices, so its syncs show;
* ``kind = "superstep"`` (resource 0) and ``"phase"`` (resource 1, name compute / sync /
  exchange): a bsp superstep (a rollout tick) and its phases, with ``iteration`` holding the
  step's index and ``frame`` -1 (process "supersteps"), recorded by both engines' step modes
  (``tick_engine``, ``fast_ticks``) while a traced frame is in flight.

Links and the host links (the ``host.in`` / ``host.out`` units) also get counter tracks
("<link> busy"): the fraction of each of ``COUNTER_BINS`` equal spans of the traced time that
the link was transferring.
"""

from __future__ import annotations

import numpy as np

from mpsim.atomic import write_json
from mpsim.sim.plan import PARTS, SimPlan
from mpsim.sim.result import SimResult

PIDS = {"unit": 0, "link": 1, "superstep": 2, "phase": 2}
COUNTER_BINS = 100


def _slices(kind: str, res: int, name: str, start: float, dur: float, f: int, i: int,
            parts_of: dict[str, np.ndarray]) -> list[dict]:
    args = {"frame": int(f), "iteration": int(i)} if f >= 0 else {"step": int(i)}
    ev = [{"name": name, "cat": kind, "ph": "X", "pid": PIDS[kind], "tid": int(res), "ts": start * 1e6,
           "dur": dur * 1e6, "args": args}]
    if kind == "unit":
        parts = parts_of.get(name, ())
        if sum(1 for x in parts if x > 0) > 1:  # nest the operation's phases inside it
            t = start
            for part, d in zip(PARTS, parts):
                if d > 0:
                    ev.append({"name": part, "cat": "part", "ph": "X", "pid": 0, "tid": int(res), "ts": t * 1e6,
                               "dur": d * 1e6, "args": args})
                    t += d
    return ev


def link_counters(r: SimResult, plan: SimPlan, bins: int = COUNTER_BINS) -> list[dict]:
    """Counter events: each link's (and host link's) busy fraction per span of the traced time."""
    host = {u for u, kind in enumerate(plan.unit_kind) if kind != 0}  # host.in / host.out: the host links
    moves = [t for t in r.trace if t[0] == "link" or (t[0] == "unit" and t[1] in host)]
    if not moves:
        return []
    t0 = min(t[3] for t in r.trace)
    t1 = max(t[3] + t[4] for t in r.trace)
    if t1 <= t0:
        return []
    edges = np.linspace(t0, t1, bins + 1)
    width = edges[1] - edges[0]
    busy: dict[tuple[str, int], np.ndarray] = {}
    for kind, k, _, start, dur, _, _ in moves:
        row = busy.setdefault((kind, int(k)), np.zeros(bins))
        a = max(0, int(np.searchsorted(edges, start, "right")) - 1)
        b = min(bins, int(np.searchsorted(edges, start + dur, "left")))
        for j in range(a, b):
            row[j] += max(0.0, min(start + dur, edges[j + 1]) - max(start, edges[j]))
    out = []
    for (kind, k), row in sorted(busy.items()):
        name = f"{(plan.link_names if kind == 'link' else plan.unit_names)[k]} busy"
        out += [{"name": name, "ph": "C", "pid": PIDS[kind], "ts": edges[j] * 1e6,
                 "args": {"busy": round(float(row[j] / width), 6)}} for j in range(bins)]
        out.append({"name": name, "ph": "C", "pid": PIDS[kind], "ts": edges[-1] * 1e6, "args": {"busy": 0.0}})
    return out


def trace_events(r: SimResult, plan: SimPlan) -> list[dict]:
    events: list[dict] = [
        {"name": "process_name", "ph": "M", "pid": 0, "args": {"name": "units"}},
        {"name": "process_name", "ph": "M", "pid": 1, "args": {"name": "links"}},
    ]
    for u, name in enumerate(plan.unit_names):
        events.append({"name": "thread_name", "ph": "M", "pid": 0, "tid": u, "args": {"name": name}})
    for k, name in enumerate(plan.link_names):
        events.append({"name": "thread_name", "ph": "M", "pid": 1, "tid": k, "args": {"name": name}})
    if any(t[0] in ("superstep", "phase") for t in r.trace):
        events += [{"name": "process_name", "ph": "M", "pid": 2, "args": {"name": "supersteps"}},
                   {"name": "thread_name", "ph": "M", "pid": 2, "tid": 0, "args": {"name": "superstep"}},
                   {"name": "thread_name", "ph": "M", "pid": 2, "tid": 1, "args": {"name": "phase"}}]
    parts_of = dict(zip(plan.node_names, plan.service_parts))
    for kind, res, name, start, dur, f, i in r.trace:
        events += _slices(kind, res, name, start, dur, f, i, parts_of)
    return events + link_counters(r, plan)


def write_trace(path: str, r: SimResult, plan: SimPlan) -> None:
    write_json(path, {"traceEvents": trace_events(r, plan), "displayTimeUnit": "ns"})
