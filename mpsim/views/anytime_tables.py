"""The tables of an anytime sweep (``mpsim anytime``): the policy's points and the per-output
curve, for the terminal, CSV, JSON and the HTML page."""

from __future__ import annotations

from mpsim.fmt import fraction, joules, macs, nbytes, rate, seconds
from mpsim.views.table import Column, TableView


def anytime_tables(res: dict) -> list[TableView]:
    """The policy's points (main table) and the per-output curve (every frame exits at m_n)."""
    pts = TableView("points", f"{res['model']} on {res['profile']}: {res['policy']} policy "
                              f"({res['accuracy_measure']})",
                    [Column("value", "value", lambda v: f"{v:g}", True),
                     Column("accuracy", "accuracy", lambda v: fraction(v, 4), True),
                     Column("mean_exit", "exit", lambda v: "-" if v is None else f"m_{v:.2f}", True),
                     Column("mean_latency_s", "latency", seconds, True),
                     Column("p99_latency_s", "p99", seconds, True, show=False),
                     Column("throughput_fps", "throughput", rate, True),
                     Column("macs_per_frame", "MACs to exit", macs, True),
                     Column("traffic_bytes_per_frame", "traffic", nbytes, True, show=False),
                     Column("energy_j_per_frame", "energy", joules, True)],
                    caption="latency: mean under an offered load; throughput and energy per frame: as fast as "
                            "accepted; MACs of m_1..m_exit; p99 and traffic in --csv, --json, --html")
    for p in res["points"]:
        traffic = p["traffic_bytes_per_frame"]
        pts.add(**{**p, "traffic_bytes_per_frame": None if traffic is None else sum(traffic.values())})
    cur = res["per_output"]
    out = TableView("outputs", "every frame exits at m_n",
                    [Column("output", "output"), Column("accuracy", "accuracy", lambda v: fraction(v, 4), True),
                     Column("macs", "MACs to m_n", macs, True), Column("latency_s", "latency", seconds, True),
                     Column("dynamic_energy_j", "dynamic energy", joules, True),
                     Column("graph_size_bytes", "graph size", nbytes, True)])
    for k, a in enumerate(cur["accuracy"]):
        out.add(output=f"m_{k + 1}", accuracy=a, macs=cur["macs"][k],
                latency_s=None if cur.get("latency_s") is None else cur["latency_s"][k],
                dynamic_energy_j=None if cur.get("dynamic_energy_j") is None else cur["dynamic_energy_j"][k],
                graph_size_bytes=cur["graph_size_bytes"][k])
    return [pts, out]
