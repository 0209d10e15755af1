"""Figures of a run report and of a sweep (matplotlib, fit for a paper: units in every axis
label, log axes where values span decades, legends, infeasible points marked as such)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any, Sequence

from mpsim.plotting import save_figure, set_axis


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def latency_figure(rep: dict[str, Any]):
    """Latency of every anytime output: the empty machine's first frame and the steady state's."""
    plt = _plt()
    lat = rep["latency_s"]
    n = len(lat["first"])
    fig, ax = plt.subplots(figsize=(6.4, 3.4), constrained_layout=True)
    values = [v for k in ("first", "mean", "p99") for v in lat[k] if v is not None]
    f = set_axis(ax, "y", values, "s", "latency")
    xs = list(range(1, n + 1))
    for key, label, style in (("first", "first frame (empty machine)", "o-"), ("mean", "steady-state mean", "s-"),
                              ("p99", "steady-state p99", "^--")):
        ys = [None if v is None else v * f for v in lat[key]]
        ax.plot(xs, ys, style, ms=4, label=label)
    ax.set_xlabel("anytime output m_n (n)")
    ax.set_xticks(xs if n <= 20 else xs[:: max(1, n // 10)])
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


def _labels(rows: Sequence[dict[str, Any]]) -> list[str]:
    """A group label per row: the profile, with the mode or the offered rate only where one
    profile has several (a point that could not run joins its profile's group)."""
    ran = [r for r in rows if r.get("throughput_fps") is not None]
    out = []
    for r in rows:
        mine = [x for x in ran if x["profile"] == r["profile"]] or [r]
        text = r["profile"]
        if len({x["mode"] for x in mine}) > 1:
            text += f"\n{r['mode']}"
        if len({x.get("offered_rate_fps") for x in mine}) > 1:
            text += "\nmax rate" if r.get("offered_rate_fps") is None else f"\n{r['offered_rate_fps']:g} frames/s"
        out.append(text)
    return out


def sweep_figure(rows: Sequence[dict[str, Any]], title: str = "sweep"):
    """Throughput, latency of the last output and energy per frame of every point, grouped by
    configuration, one bar per model; a point that could not run is marked 'infeasible'."""
    plt = _plt()
    import numpy as np

    rows = [r for r in rows if not r.get("policy")]
    models = list(dict.fromkeys(r["model"] for r in rows))
    labels = _labels(rows)
    groups = list(dict.fromkeys(labels))
    panels = (("throughput_fps", "frames/s", "throughput"), ("mean_latency_last_s", "s", "mean latency of m_N"),
              ("energy_j_per_frame", "J", "energy per frame"))
    fig, axes = plt.subplots(len(panels), 1, figsize=(min(16, max(6.4, 0.3 * len(groups) * max(1, len(models)) + 2)),
                                                      8.6),
                             constrained_layout=True, sharex=True)
    width = 0.8 / max(1, len(models))
    x0 = np.arange(len(groups))
    for ax, (key, unit, quantity) in zip(axes, panels):
        vals = [r.get(key) for r in rows]
        f = set_axis(ax, "y", vals, unit, quantity)
        pos = [v * f for v in vals if v]
        floor = min(pos) if pos else 1.0
        for k, m in enumerate(models):
            by = {g: r for g, r in zip(labels, rows) if r["model"] == m}
            xs = x0 + (k - (len(models) - 1) / 2) * width
            hs = [(by.get(g) or {}).get(key) for g in groups]
            ax.bar(xs, [0 if h is None else h * f for h in hs], width, label=m, color=f"C{k}")
            for x, h, g in zip(xs, hs, groups):
                if h is None and g in by:
                    why = "infeasible" if by[g].get("feasible") is False else "no figure"
                    ax.annotate(f"x {why}", (x, floor), xytext=(0, 2), textcoords="offset points", rotation=90,
                                ha="center", va="bottom", fontsize=7, color="C3")
        ax.grid(alpha=0.3, axis="y", which="major")
        ax.set_axisbelow(True)
    axes[-1].set_xticks(x0, groups, rotation=30, ha="right")
    axes[0].legend(fontsize=8, ncols=min(3, len(models)), loc="lower left", bbox_to_anchor=(0, 1.02))
    fig.suptitle(f"{title}: 'x infeasible' marks a point the machine cannot run (no bar)", fontsize=10)
    return fig


def policy_figure(rows: Sequence[dict[str, Any]]):
    """A sweep with an exit policy: accuracy over latency and over energy, a line per
    (profile, model)."""
    plt = _plt()
    rows = [r for r in rows if r.get("policy")]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    series = list(dict.fromkeys((r["profile"], r["model"]) for r in rows))
    for ax, (key, unit, quantity) in zip(axes, (("mean_latency_s", "s", "latency of the exit output"),
                                                ("energy_j_per_frame", "J", "energy per frame"))):
        f = set_axis(ax, "x", [r.get(key) for r in rows], unit, quantity)
        for k, s in enumerate(series):
            pts = sorted((r[key] * f, r["accuracy"]) for r in rows if (r["profile"], r["model"]) == s and r.get(key))
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", ms=4, color=f"C{k}", label=f"{s[1]} on {s[0]}")
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    return fig


def data_uri(fig, fmt: str = "svg") -> str:
    """The figure as a data: URI (an <img> that needs no network), then closed."""
    plt = _plt()
    buf = io.BytesIO()
    with plt.rc_context({"svg.hashsalt": "mpsim"}):
        fig.savefig(buf, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    plt.close(fig)
    mime = "image/svg+xml" if fmt == "svg" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


def save(fig, stem: str | Path) -> list[Path]:
    return save_figure(fig, stem, dpi=120)
