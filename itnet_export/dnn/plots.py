"""Figures of the DNN paper with matplotlib (Agg backend), each written as PNG and SVG.

* ``resource_maps_figure``: Fig. 3, heat maps of MACs, parameters and the largest feature map
  over the L x C grid (rows: depth, bottom = l 1; columns: width);
* ``accuracy_figure``: the accuracy grid; with a budget, Fig. 5: infeasible cells greyed out,
  the best feasible sub-network and the best depth-only one marked;
* ``slicing_figure``: Fig. 4, accuracy over width c at full depth: the DNN's width slices vs
  brute-force slicing (and fine-tuning) of a plain network.

No torch needed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from mpsim.atomic import atomic_files


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, base: str | os.PathLike[str]) -> list[Path]:
    base = Path(base)
    if base.suffix.lower() in (".png", ".svg"):
        base = base.with_suffix("")
    paths = [base.with_name(base.name + "." + ext) for ext in ("png", "svg")]
    try:
        with atomic_files(paths) as tmps:
            for ext, tmp in zip(("png", "svg"), tmps):
                fig.savefig(tmp, format=ext, dpi=120, bbox_inches="tight")
    finally:
        _plt().close(fig)
    return paths


def _grid_axes(ax, L: int, C: int) -> None:
    ax.set_xticks(range(C))
    ax.set_xticklabels([str(c) for c in range(1, C + 1)], fontsize=6)
    ax.set_yticks(range(L))
    ax.set_yticklabels([str(l) for l in range(1, L + 1)], fontsize=6)
    ax.set_xlabel("width c (channel groups)")
    ax.set_ylabel("depth l (output location)")


def resource_maps_figure(maps: dict, base: str | os.PathLike[str], title: str = "") -> list[Path]:
    """Fig. 3: MACs (M), parameters (k) and the largest feature map (kB), side by side."""
    plt = _plt()
    panels = [("macs", 1e6, "MACs (M)"), ("params", 1e3, "parameters (k)"),
              ("max_fmap_bytes", 1e3, "largest feature map (kB)")]
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.2))
    for ax, (key, scale, label) in zip(axes, panels):
        a = np.asarray(maps[key], dtype=float) / scale
        im = ax.imshow(a, origin="lower", aspect="auto", cmap="viridis")
        _grid_axes(ax, *a.shape)
        ax.set_title(label)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    if title:
        fig.suptitle(title)
    return _save(fig, base)


def accuracy_figure(accuracy: Sequence[Sequence[float]], base: str | os.PathLike[str], title: str = "",
                    macs: Sequence[Sequence[float]] | None = None, budget: dict | None = None) -> list[Path]:
    """Accuracy (%) heat map with values; with ``macs`` and a ``best_under_budget`` result,
    cells over the budget are hatched grey and the two winners are outlined (Fig. 5)."""
    plt = _plt()
    from matplotlib.patches import Rectangle

    acc = 100 * np.asarray(accuracy, dtype=float)
    L, C = acc.shape
    fig, ax = plt.subplots(figsize=(13, 7.5))
    shown = acc.copy()
    if macs is not None and budget is not None:
        shown = np.ma.masked_where(np.asarray(macs, dtype=float) > budget["budget"], acc)
    cmap = plt.get_cmap("viridis").with_extremes(bad="#dddddd")
    im = ax.imshow(shown, origin="lower", aspect="auto", cmap=cmap, vmin=np.nanmin(acc), vmax=np.nanmax(acc))
    for l in range(L):
        for c in range(C):
            masked = np.ma.is_masked(shown[l, c]) if np.ma.isMaskedArray(shown) else False
            ax.text(c, l, f"{acc[l, c]:.0f}", ha="center", va="center", fontsize=5.5,
                    color="#888888" if masked else ("white" if acc[l, c] < np.nanmean(acc) else "black"))
    if budget is not None:
        for key, colour, label in (("best", "red", "best"), ("best_depth_only", "orange", "best depth-only")):
            e = budget.get(key)
            if e:
                ax.add_patch(Rectangle((e["c"] - 1.5, e["l"] - 1.5), 1, 1, fill=False, lw=2.5, ec=colour,
                                       label=f"{label}: {e['name']} ({100 * e['accuracy']:.1f} %, "
                                             f"{e['macs'] / 1e6:.1f} M MACs)"))
        ax.legend(loc="upper left", bbox_to_anchor=(0, -0.1), fontsize=8, ncol=2)
    _grid_axes(ax, L, C)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02, label="accuracy (%)")
    ax.set_title(title or "accuracy of the sub-networks (%)")
    return _save(fig, base)


def slicing_figure(curves: dict[str, Sequence[float]], base: str | os.PathLike[str], title: str = "") -> list[Path]:
    """Fig. 4: accuracy (%) over width c, one line per scheme."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, ys in curves.items():
        ys = 100 * np.asarray(ys, dtype=float)
        ax.plot(range(1, len(ys) + 1), ys, marker="o", ms=3, label=label)
    ax.set_xlabel("width c (channel groups)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "sub-networks of different widths (full depth)")
    return _save(fig, base)
