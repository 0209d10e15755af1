"""Accuracy over latency, over MACs and over graph size: the paper's Figure 1 b-d for our models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mpsim.plotting import save_figure


def plot_sweep(result: dict[str, Any], out_stem: str | Path) -> list[Path]:
    """Write ``out_stem``.png and .svg; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve, pts = result["per_output"], result["points"]
    measure = result["accuracy_measure"]
    axes_spec = [("mean_latency_s", "latency_s", "latency (s)"),
                 ("macs_per_frame", "macs", "MACs per frame"),
                 ("graph_size_bytes", "graph_size_bytes", "graph size (bytes)")]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True)
    for ax, (pkey, ckey, label) in zip(axes, axes_spec):
        if curve.get(ckey):
            ax.plot(curve[ckey], curve["accuracy"], "o-", color="0.6", ms=3, label="output m_n (all frames)")
            for k, (x, y) in enumerate(zip(curve[ckey], curve["accuracy"])):
                if k in (0, len(curve[ckey]) - 1):
                    ax.annotate(f"m_{k + 1}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
        xs = [p[pkey] for p in pts if p.get(pkey) is not None]
        ys = [p["accuracy"] for p in pts if p.get(pkey) is not None]
        ax.plot(xs, ys, "s", color="tab:red", label=f"{result['policy']} policy")
        for p in pts:
            if p.get(pkey) is not None:
                ax.annotate(f"{p['value']:g}", (p[pkey], p["accuracy"]), textcoords="offset points",
                            xytext=(4, 4), fontsize=7, color="tab:red")
        ax.set_xlabel(label)
        ax.set_ylabel(measure)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{result['model']} on {result['profile']}: anytime prediction ({result['policy']})")
    return save_figure(fig, out_stem, dpi=120)
