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


_SCALES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"),
           (1e-12, "p"))


def unit_scale(values, unit: str) -> tuple[float, str]:
    """(factor, unit with prefix) that puts the largest of ``values`` between 1 and 1000."""
    finite = [abs(float(v)) for v in values if v is not None and v == v and abs(float(v)) != float("inf")]
    top = max(finite, default=0.0)
    for scale, prefix in _SCALES:
        if top >= scale:
            return 1.0 / scale, f"{prefix}{unit}"
    return 1.0, unit


def spans_decades(values, decades: float = 1.5) -> bool:
    """True when positive ``values`` span more than ``decades`` powers of ten (use a log axis)."""
    pos = [float(v) for v in values if v is not None and v == v and float(v) > 0]
    return len(pos) > 1 and max(pos) / min(pos) > 10 ** decades


def set_axis(ax, which: str, values, unit: str, quantity: str, log: bool | None = None) -> float:
    """Label an axis as 'quantity (unit)': log (ticks as powers of ten) when ``values`` span
    decades, else linear with a prefix that suits them and no offset or scientific notation.
    Returns the factor to multiply the data by before plotting."""
    from matplotlib import ticker

    log = spans_decades(values) if log is None else log
    factor, label = (1.0, unit) if log else unit_scale(values, unit)  # a log axis: powers of ten of the unit
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log" if log else "linear")
    if log:
        axis.set_major_formatter(ticker.LogFormatterSciNotation())
    else:
        fmt = ticker.ScalarFormatter(useOffset=False)
        fmt.set_scientific(False)
        axis.set_major_formatter(fmt)
    (ax.set_xlabel if which == "x" else ax.set_ylabel)(f"{quantity} ({label})" if label else quantity)
    return factor
