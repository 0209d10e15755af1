"""The terminal view of a run report (``mpsim run``): what fits, how fast, what bounds it."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mpsim.fmt import joules, nbytes, percent, rate, seconds, watts


def _kv(title: str) -> Table:
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column("figure", style="bold", overflow="fold")
    t.add_column("value", overflow="fold")
    return t


def print_report(rep: dict[str, Any], console: Console | None = None, top: int = 8) -> None:
    console = console or Console()
    mem = rep["memory"]
    word = mem["unit_word"]
    if rep["fits"]:
        verdict = "[green]fits[/green]"
    elif not rep["feasible"]:
        verdict = f"[red]{escape(rep['note'])}[/red]"
    else:
        verdict = f"[yellow]{escape(rep['note'])}[/yellow]"
    t = _kv(f"{rep['model']} on {rep['profile']}")
    t.add_row("verdict", verdict)
    t.add_row("placement", f"{rep['placement']} ({rep['strategy']}), {rep['mode']} mode, {rep['engine'] or '-'} engine")
    t.add_row("precision / batch", f"{rep['precision']} / {rep['batch']}")
    if rep["fits"]:
        t.add_row("replicas", f"{rep['replicas']} x {rep['chips_per_replica']} chip(s): {escape(rep['note'])}")
    t.add_row("memory needed / available", f"{nbytes(mem['required_bytes'])} / {nbytes(mem['capacity_bytes'])}")
    t.add_row(f"{word} needed / used / available", f"{mem['needed']:,} / {mem['used']:,} / {mem['available']:,}")
    t.add_row("largest unit", f"{escape(mem['largest'])} ({nbytes(mem['largest_bytes'])})")
    occ = mem.get("occupancy") or {}
    if occ:
        t.add_row("occupancy min / mean / max", " / ".join(percent(occ[k]) for k in ("min", "mean", "max")))
    if mem["overflow_bytes"]:
        t.add_row("overflow", nbytes(mem["overflow_bytes"]) if word != "arrays" else f"{mem['overflow_bytes']:,.0f} arrays")
    st = rep.get("steady_state")
    if st:
        conv = "converged" if st["converged"] else "[yellow]NOT converged[/yellow]"
        ci = st["throughput_ci_fps"]
        t.add_row("throughput", rate(rep["throughput_fps"]) + ("" if ci is None else
                  f" (95 % CI {rate(ci[0])} - {rate(ci[1])})"))
        t.add_row("steady state", f"{conv} within {percent(st['tolerance'])} after {st['frames']:,} frames "
                  f"({st['warmup_frames']:,} warm-up)")
        b = rep["bottleneck"]
        if b:
            t.add_row("bottleneck", f"{escape(b['name'])} ({b['class']}, {percent(b['utilisation'])})")
        e = rep["energy_j_per_frame"]
        if e:
            t.add_row("energy per frame", f"{joules(e['total'])}: static {joules(e['static'])}, compute "
                      f"{joules(e['compute'])}, movement {joules(e['movement'])}, conversion {joules(e['conversion'])}")
            t.add_row("power", f"{watts(rep['power_w'])}, {rate(rep['frames_per_joule'], 'frames/J')}")
        if rep.get("bsp"):
            bsp = rep["bsp"]
            parts = ", ".join(f"{k} {percent(bsp[k])}" for k in ("overhead", "compute", "sync", "exchange") if k in bsp)
            t.add_row("superstep", f"{seconds(bsp['step_s'])} x {bsp['steps_per_frame']:.3g} per frame: {parts}")
    console.print(t)
    if not st:
        return
    lat = rep["latency_s"]
    load = (f"{rep['frames_in_flight']} frames in flight (offered as fast as accepted: latency includes "
            "queueing; give --rate below the throughput for an unloaded latency)") if rep.get("frames_in_flight") \
        else f"offered {rate(rep['offered_rate_fps'])}"
    lt = Table(title="latency per anytime output", title_justify="left", caption=load, caption_justify="left")
    for col in ("output", "first frame", "mean", "p50", "p99"):
        lt.add_column(col, justify="right")
    for k in range(len(lat["first"])):
        lt.add_row(f"m_{k + 1}", *(seconds(lat[c][k]) for c in ("first", "mean", "p50", "p99")))
    console.print(lt)
    ut = Table(title=f"utilisation (top {top} of {len(rep['utilisation'])} resources)", title_justify="left")
    for col, just in (("resource", "left"), ("class", "left"), ("busy", "right")):
        ut.add_column(col, justify=just, overflow="fold")
    for row in rep["utilisation"][:top]:
        ut.add_row(escape(row["name"]), row["class"], percent(row["utilisation"]))
    console.print(ut)
    tt = Table(title="memory traffic by link class", title_justify="left")
    for col in ("link class", "per frame", "per second"):
        tt.add_column(col, justify="right")
    for c, v in rep["traffic_bytes_per_frame"].items():
        if v:
            tt.add_row(c, nbytes(v), rate(rep["traffic_bytes_per_s"][c], "B/s"))
    console.print(tt)
