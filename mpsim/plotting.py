"""Save a matplotlib figure as PNG and SVG, atomically (one place for every plot of mpsim).

The files are reproducible: the SVG carries no date and its element ids come from a fixed
salt, so the same figure gives the same bytes (results under version control stay quiet).
"""

from __future__ import annotations

from pathlib import Path

from mpsim.atomic import atomic_files


def save_figure(fig, stem: str | Path, dpi: int = 110) -> list[Path]:
    """Write ``stem``.png and ``stem``.svg (both renamed into place together); close the figure."""
    import matplotlib.pyplot as plt

    paths = [Path(f"{stem}.{ext}") for ext in ("png", "svg")]
    try:
        with atomic_files(paths) as tmps, plt.rc_context({"svg.hashsalt": "mpsim"}):
            for ext, tmp in zip(("png", "svg"), tmps):
                fig.savefig(tmp, format=ext, dpi=dpi, metadata={"Date": None} if ext == "svg" else None)
    finally:
        plt.close(fig)
    return paths
