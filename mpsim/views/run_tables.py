"""The tables of one run report (``mpsim run``, ``mpsim.simulate``): the same rows for the
terminal, CSV, JSON and the HTML page."""

from __future__ import annotations

from typing import Any

from mpsim.fmt import count, joules, nbytes, number, percent, rate, seconds, watts
from mpsim.views.table import Cell, Column, TableView

UNIT_KEYS = ("tiles", "arrays", "SMs")


def units_word(rep: dict[str, Any]) -> str:
    """What a profile allocates: tiles, crossbar arrays or GPU SMs."""
    return rep["memory"]["unit_word"]


def unit_records(rep: dict[str, Any]) -> list[dict[str, Any]]:
    """Per unit: name, kind, chip, ops, tiles (arrays, SMs), bytes, busy time, utilisation, its
    share of the compute units' busy time, energy per frame."""
    word = units_word(rep)
    busy_total = sum(u["busy_s_per_frame"] for u in rep.get("units") or [] if u["kind"] == "compute")
    out = []
    for u in rep.get("units") or []:
        held = (u.get("weight_bytes") or 0.0) + (u.get("buffer_bytes") or 0.0)
        share = u["busy_s_per_frame"] / busy_total if u["kind"] == "compute" and busy_total > 0 else None
        out.append({"name": u["name"], "kind": u["kind"], "chip": u.get("chip"), "ops": u["ops"],
                    word: u.get(word, 0), "weight_bytes": u.get("weight_bytes"), "buffer_bytes": u.get("buffer_bytes"),
                    "bytes": held, "occupancy": u.get("occupancy"), "busy_s_per_frame": u["busy_s_per_frame"],
                    "utilisation": u["utilisation"], "time_share": share,
                    "energy_j_per_frame": u.get("energy_j_per_frame")})
    return out


def units_table(rep: dict[str, Any], top: int | None = None) -> TableView:
    word = units_word(rep)
    rows = unit_records(rep)
    caption = None
    if top is not None and len(rows) > top:
        rows = sorted(rows, key=lambda r: -r["utilisation"])[:top]
        caption = f"the {top} busiest of {len(rep['units'])} units; all in --csv, --json and --html"
    cols = [Column("name", "unit"), Column("kind", "kind"), Column("chip", "chip", count, True),
            Column("ops", "ops", count, True), Column(word, word, count, True),
            Column("weight_bytes", "weights", nbytes, True), Column("buffer_bytes", "buffers", nbytes, True),
            Column("bytes", "bytes", nbytes, True), Column("occupancy", "occupancy", percent, True),
            Column("busy_s_per_frame", "busy per frame", seconds, True), Column("utilisation", "busy", percent, True),
            Column("time_share", "share", percent, True),
            Column("energy_j_per_frame", "energy per frame", joules, True)]
    return TableView("units", "per unit", cols, rows, caption=caption)


def terminal_units_table(rep: dict[str, Any], top: int = 8) -> TableView:
    """The units table narrowed to what fits 80 columns (the full one goes to files)."""
    full = units_table(rep, top)
    keep = ("name", units_word(rep), "bytes", "busy_s_per_frame", "utilisation", "time_share", "energy_j_per_frame")
    return TableView(full.name, full.title, [c for c in full.columns if c.key in keep], full.rows,
                     caption=full.caption)


def operations_table(rep: dict[str, Any], top: int | None = None) -> TableView:
    rows = list(rep.get("operations") or [])
    caption = None
    if top is not None and len(rows) > top:
        rows = sorted(rows, key=lambda r: -r["busy_s_per_frame"])[:top]
        caption = f"the {top} longest of {len(rep['operations'])} operations"
    cols = [Column("name", "operation"), Column("unit", "unit"), Column("firings_per_frame", "firings", number, True),
            Column("busy_s_per_frame", "busy per frame", seconds, True), Column("time_share", "share", percent, True),
            Column("energy_j_per_frame", "energy per frame", joules, True)]
    return TableView("operations", "per operation", cols, rows, caption=caption)


def load_text(rep: dict[str, Any]) -> str:
    """How the frames were offered: the latency includes queueing when they came as fast as accepted."""
    if rep.get("frames_in_flight"):
        return (f"{rep['frames_in_flight']} frames in flight (offered as fast as accepted: latency includes "
                "queueing; give --rate below the throughput for an unloaded latency)")
    return f"offered {rate(rep.get('offered_rate_fps'))}"


def latency_table(rep: dict[str, Any]) -> TableView:
    lat = rep["latency_s"]
    t = TableView("latency", "latency per anytime output",
                  [Column("output", "output"), Column("first_s", "first frame", seconds, True),
                   Column("mean_s", "mean", seconds, True), Column("p50_s", "p50", seconds, True),
                   Column("p99_s", "p99", seconds, True)], caption=load_text(rep))
    for k in range(len(lat["first"])):
        t.add(output=f"m_{k + 1}", first_s=lat["first"][k], mean_s=lat["mean"][k], p50_s=lat["p50"][k],
              p99_s=lat["p99"][k])
    return t


def utilisation_table(rep: dict[str, Any], top: int | None = None) -> TableView:
    rows = rep.get("utilisation") or []
    caption = None
    if top is not None and len(rows) > top:
        caption = f"top {top} of {len(rows)} resources; every class below"
        rows = rows[:top]
    return TableView("utilisation", "utilisation of every resource, busiest first",
                     [Column("name", "resource"), Column("class", "class"),
                      Column("utilisation", "busy", percent, True)], [dict(r) for r in rows], caption=caption)


def class_records(rep: dict[str, Any]) -> list[dict[str, Any]]:
    """Every resource class: how many resources, the busiest and its utilisation, the mean."""
    by: dict[str, list[dict]] = {}
    for r in rep.get("utilisation") or []:
        by.setdefault(r["class"], []).append(r)
    out = []
    for cls, rs in by.items():
        top = max(rs, key=lambda r: r["utilisation"])
        out.append({"class": cls, "resources": len(rs), "busiest": top["name"], "max": top["utilisation"],
                    "mean": sum(r["utilisation"] for r in rs) / len(rs)})
    return sorted(out, key=lambda r: -r["max"])


def classes_table(rep: dict[str, Any]) -> TableView:
    return TableView("classes", "utilisation by resource class",
                     [Column("class", "class"), Column("resources", "n", count, True), Column("busiest", "busiest"),
                      Column("max", "max", percent, True), Column("mean", "mean", percent, True)],
                     class_records(rep))


def traffic_table(rep: dict[str, Any]) -> TableView:
    t = TableView("traffic", "memory traffic by link class",
                  [Column("link_class", "link class"), Column("bytes_per_frame", "per frame", nbytes, True),
                   Column("bytes_per_s", "per second", lambda v: rate(v, "B/s"), True)])
    for c, v in (rep.get("traffic_bytes_per_frame") or {}).items():
        if v:
            t.add(link_class=c, bytes_per_frame=v, bytes_per_s=rep["traffic_bytes_per_s"][c])
    return t


def verdict_text(rep: dict[str, Any]) -> str:
    return "fits" if rep["fits"] else rep["note"]


def summary_table(rep: dict[str, Any]) -> TableView:
    """Key figures as (figure, value): raw values for files, compact text for reading."""
    t = TableView("summary", f"{rep['model']} on {rep['profile']}", [Column("figure", "figure"),
                  Column("value", "value")], show_header=False)

    def row(key: str, label: str, raw: Any, text: str) -> None:
        t.add(figure=Cell(key, label), value=Cell(raw, text))

    mem = rep["memory"]
    word = mem["unit_word"]
    row("verdict", "verdict", rep["fits"], verdict_text(rep))
    row("placement", "placement", rep["strategy"],
        f"{rep['placement']} ({rep['strategy']}), {rep['mode']} mode, {rep['engine'] or '-'} engine")
    row("precision", "precision / batch", rep["precision"], f"{rep['precision']} / {rep['batch']}")
    if rep["fits"]:
        row("replicas", "replicas", rep["replicas"],
            f"{rep['replicas']} x {rep['chips_per_replica']} chip(s): {rep['note']}")
    row("required_bytes", "memory needed / available", mem["required_bytes"],
        f"{nbytes(mem['required_bytes'])} / {nbytes(mem['capacity_bytes'])}")
    row(f"{word}_used", f"{word} needed / used / available", mem["used"],
        f"{count(mem['needed'])} / {count(mem['used'])} / {count(mem['available'])}")
    row("largest_unit", "largest unit", mem["largest"], f"{mem['largest']} ({nbytes(mem['largest_bytes'])})")
    occ = mem.get("occupancy") or {}
    if occ:
        row("occupancy_max", "occupancy min / mean / max", occ["max"],
            " / ".join(percent(occ[k]) for k in ("min", "mean", "max")))
    if mem["overflow_bytes"]:
        row("overflow_bytes", "overflow", mem["overflow_bytes"],
            nbytes(mem["overflow_bytes"]) if word != "arrays" else f"{count(mem['overflow_bytes'])} arrays")
    st = rep.get("steady_state")
    if st:
        ci = st["throughput_ci_fps"]
        row("throughput_fps", "throughput", rep["throughput_fps"],
            rate(rep["throughput_fps"]) + ("" if ci is None else f" (95 % CI {rate(ci[0])} - {rate(ci[1])})"))
        conv = "converged" if st["converged"] else "NOT converged"
        row("converged", "steady state", st["converged"], f"{conv} within {percent(st['tolerance'])} after "
            f"{count(st['frames'])} frames ({count(st['warmup_frames'])} warm-up)")
        b = rep["bottleneck"]
        if b:
            row("bottleneck", "bottleneck", b["name"], f"{b['name']} ({b['class']}, {percent(b['utilisation'])})")
        e = rep["energy_j_per_frame"]
        if e:
            parts = ", ".join(f"{k} {joules(e[k])}" for k in ("static", "compute", "movement", "conversion")
                              if e.get(k) or k == "static")  # a digital chip converts nothing: no "0 J"
            row("energy_j_per_frame", "energy per frame", e["total"], f"{joules(e['total'])}: {parts}")
            row("power_w", "power", rep["power_w"],
                f"{watts(rep['power_w'])}, {rate(rep['frames_per_joule'], 'frames/J')}")
        bsp = rep.get("bsp")
        if bsp:
            parts = ", ".join(f"{k} {percent(bsp[k])}" for k in ("overhead", "compute", "sync", "exchange") if k in bsp)
            row("step_s", "superstep", bsp["step_s"],
                f"{seconds(bsp['step_s'])} x {number(bsp['steps_per_frame'])} per frame: {parts}")
    return t


def report_tables(rep: dict[str, Any], top: int | None = None) -> list[TableView]:
    """Every table of a report; ``top`` shortens the long ones for a terminal. The first is the
    per-unit table (the main CSV), the summary comes last in files but first on screen."""
    if not rep.get("steady_state"):
        return [units_table(rep), summary_table(rep)]
    units = terminal_units_table(rep, top) if top else units_table(rep)
    tables = [units, summary_table(rep), latency_table(rep), utilisation_table(rep, top), classes_table(rep),
              traffic_table(rep)]
    if rep.get("operations"):
        tables.append(operations_table(rep, top))
    return tables
