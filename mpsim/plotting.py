"""Save a matplotlib figure as PNG and SVG, atomically (one place for every plot of mpsim).

The files are reproducible: the SVG carries no date and its element ids come from a fixed
salt, so the same figure gives the same bytes (results under version control stay quiet).
"""

from __future__ import annotations

from pathlib import Path

from mpsim.atomic import atomic_path


def save_figure(fig, stem: str | Path, dpi: int = 110) -> list[Path]:
    """Write ``stem``.png and ``stem``.svg; close the figure; return the paths."""
    import matplotlib.pyplot as plt

    paths = []
    for ext in ("png", "svg"):
        path = Path(f"{stem}.{ext}")
        with atomic_path(path) as tmp, plt.rc_context({"svg.hashsalt": "mpsim"}):
            fig.savefig(tmp, format=ext, dpi=dpi, metadata={"Date": None} if ext == "svg" else None)
        paths.append(path)
    plt.close(fig)
    return paths
