"""The table of a sweep (``mpsim sweep``): one row per point, for the terminal, CSV, JSON and
the HTML page."""

from __future__ import annotations

from typing import Any, Sequence

from mpsim.fmt import fraction, joules, rate, seconds
from mpsim.views.table import Column, TableView

# Every field of a row, in CSV order (a row has those its kind of point has).
FIELDS = ("profile", "model", "mode", "executed_mode", "placement", "strategy", "engine", "policy", "value",
          "offered_rate_fps", "fits", "feasible", "converged", "frames", "required_bytes", "capacity_bytes",
          "throughput_fps", "first_latency_first_s", "first_latency_last_s", "mean_latency_last_s",
          "p99_latency_last_s", "mean_latency_s", "p99_latency_s", "accuracy", "mean_exit", "macs_per_frame",
          "traffic_bytes_per_frame", "offchip_bytes_per_frame", "energy_j_per_frame", "dynamic_energy_j_per_frame",
          "power_w", "bottleneck")


def verdict(r: dict[str, Any]) -> str:
    if r.get("fits"):
        return "fits"
    return "infeasible" if r.get("feasible") is False else f"no: {r.get('strategy')}"


def sweep_tables(rows: Sequence[dict[str, Any]]) -> tuple[TableView, TableView]:
    """(every field of every row (``FIELDS``: CSV), the key columns (terminal, HTML))."""
    policy = any(r.get("policy") for r in rows)
    cols = [Column("point", "profile / model / mode"), Column("verdict", "fits"),
            Column("throughput_fps", "throughput", rate, True),
            Column("latency", "latency m_N" if not policy else "latency", seconds, True),
            Column("energy_j_per_frame", "energy per frame", joules, True)]
    if policy:
        cols[1:1] = [Column("value", "value", lambda v: f"{v:g}", True),
                     Column("accuracy", "accuracy", lambda v: fraction(v, 4), True)]
    shown = TableView("sweep", "sweep (latency: steady-state mean of the last output, or of the exit with a "
                               "policy; every field in --csv / --json)", cols)
    for r in rows:
        mode = r["mode"] + (f" @ {rate(r['offered_rate_fps'])}" if r.get("offered_rate_fps") else "")
        shown.add(**r, point=f"{r['profile']}\n{r['model']}\n{mode}", verdict=verdict(r),
                  latency=r.get("mean_latency_s", r.get("mean_latency_last_s")))
    keys = [k for k in FIELDS if any(k in r for r in rows)]
    full = TableView("rows", "sweep", [Column(k, k) for k in keys], [dict(r) for r in rows])
    return full, shown


def sweep_units_table(rows: Sequence[dict[str, Any]], reports: Sequence[dict[str, Any] | None]) -> TableView:
    """Per unit of every point that ran: the point's keys, then the run report's unit rows
    (tiles, arrays or SMs as the profile counts them)."""
    from mpsim.views.run_tables import unit_records

    t = TableView("units", "per unit of every point", [])
    keys: dict[str, None] = {}
    for r, rep in zip(rows, reports):
        if not rep or not rep.get("units"):
            continue
        point = {k: r.get(k) for k in ("profile", "model", "mode", "offered_rate_fps", "policy", "value") if k in r}
        for u in unit_records(rep):
            row = {**point, **u}
            keys.update(dict.fromkeys(row))
            t.rows.append(row)
    t.columns = [Column(k, k) for k in keys]
    return t
