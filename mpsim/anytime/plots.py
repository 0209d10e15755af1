"""Accuracy over latency, over energy, over MACs (and over graph size where it changes): the
paper's Figure 1 b-d for our models, with the energy a chip spends, fit for a paper: units in
every axis label, log axes where values span decades, the policy's values on a colour bar
instead of crowded labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mpsim.plotting import save_figure, set_axis


def _panels(curve: dict, pts: list[dict]) -> list[tuple[str, str, str, str]]:
    """(point key, curve key, unit, quantity) of each panel; graph size only where it changes."""
    out = [("mean_latency_s", "latency_s", "s", "latency of the exit output"),
           ("dynamic_energy_j_per_frame", "dynamic_energy_j", "J", "dynamic energy per frame"),
           ("macs_per_frame", "macs", "MAC", "MACs per frame")]
    sizes = [s for s in curve.get("graph_size_bytes") or [] if s]
    if sizes and max(sizes) > 1.01 * min(sizes):
        out.append(("graph_size_bytes", "graph_size_bytes", "B", "graph size"))
    return [p for p in out if curve.get(p[1]) or any(q.get(p[0]) is not None for q in pts)]


def sweep_figure(result: dict[str, Any]):
    """The figure of an anytime sweep (a matplotlib Figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import colors

    curve, pts = result["per_output"], result["points"]
    panels = _panels(curve, pts)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), constrained_layout=True, squeeze=False)
    values = [p["value"] for p in pts]
    norm = colors.Normalize(min(values), max(values) if max(values) > min(values) else min(values) + 1)
    scatter = None
    for ax, (pkey, ckey, unit, quantity) in zip(axes[0], panels):
        cx = curve.get(ckey) or []
        px = [p.get(pkey) for p in pts]
        f = set_axis(ax, "x", [*cx, *px], unit, quantity)
        if cx:
            ax.plot([x * f for x in cx], curve["accuracy"], "o-", color="0.55", ms=3,
                    label="every frame exits at m_n")
            for k in (0, len(cx) - 1):
                ax.annotate(f"m_{k + 1}", (cx[k] * f, curve["accuracy"][k]), textcoords="offset points",
                            xytext=(5, -11 if k == 0 else 4), fontsize=8, color="0.35")
        keep = [(x * f, p["accuracy"], p["value"]) for x, p in zip(px, pts) if x is not None]
        if keep:
            scatter = ax.scatter([k[0] for k in keep], [k[1] for k in keep], c=[k[2] for k in keep], cmap="viridis",
                                 norm=norm, marker="s", s=36, edgecolors="black", linewidths=0.5, zorder=3,
                                 label=f"{result['policy']} policy")
        ax.set_ylabel(result["accuracy_measure"])
        ax.grid(alpha=0.3, which="both")
    axes[0][0].legend(fontsize=8, loc="best")
    if scatter is not None:
        unit = {"deadline": " (s)", "budget": ""}.get(result["policy"], "")
        fig.colorbar(scatter, ax=list(axes[0]), shrink=0.85, label=f"{result['policy']} value{unit}")
    sizes = curve.get("graph_size_bytes") or []
    extra = "" if any(p[1] == "graph_size_bytes" for p in panels) or not sizes else \
        f"; graph size {sizes[-1] / 1e6:.3g} MB at every exit"
    if result.get("trained") is False:
        extra += "; UNTRAINED weights"
    fig.suptitle(f"{result['model']} on {result['profile']}: anytime prediction, {result['policy']} policy{extra}",
                 fontsize=10)
    return fig


def plot_sweep(result: dict[str, Any], out_stem: str | Path) -> list[Path]:
    """Write ``out_stem``.png and .svg; return their paths."""
    return save_figure(sweep_figure(result), out_stem, dpi=120)
