"""Save a matplotlib figure as PNG and SVG, atomically (one place for every plot of mpsim)."""

from __future__ import annotations

from pathlib import Path

from mpsim.atomic import atomic_path


def save_figure(fig, stem: str | Path, dpi: int = 110) -> list[Path]:
    """Write ``stem``.png and ``stem``.svg; close the figure; return the paths."""
    import matplotlib.pyplot as plt

    paths = []
    for ext in ("png", "svg"):
        path = Path(f"{stem}.{ext}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=dpi)
        paths.append(path)
    plt.close(fig)
    return paths
