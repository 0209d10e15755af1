"""Chrome trace-event JSON (opens in Perfetto / chrome://tracing) of the first frames."""

from __future__ import annotations

from mpsim.atomic import write_json
from mpsim.sim.plan import SimPlan
from mpsim.sim.result import SimResult


def trace_events(r: SimResult, plan: SimPlan) -> list[dict]:
    events: list[dict] = [
        {"name": "process_name", "ph": "M", "pid": 0, "args": {"name": "units"}},
        {"name": "process_name", "ph": "M", "pid": 1, "args": {"name": "links"}},
    ]
    for u, name in enumerate(plan.unit_names):
        events.append({"name": "thread_name", "ph": "M", "pid": 0, "tid": u, "args": {"name": name}})
    for k, name in enumerate(plan.link_names):
        events.append({"name": "thread_name", "ph": "M", "pid": 1, "tid": k, "args": {"name": name}})
    for kind, res, name, start, dur, f, i in r.trace:
        events.append({
            "name": name, "cat": kind, "ph": "X", "pid": 0 if kind == "unit" else 1, "tid": int(res),
            "ts": start * 1e6, "dur": dur * 1e6, "args": {"frame": int(f), "iteration": int(i)},
        })
    return events


def write_trace(path: str, r: SimResult, plan: SimPlan) -> None:
    write_json(path, {"traceEvents": trace_events(r, plan), "displayTimeUnit": "ns"})
