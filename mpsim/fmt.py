"""One formatter for the figures every command prints: engineering prefixes, three significant
digits, a fixed unit per quantity (s, B, B/s, frames/s, J, W, Hz, MAC), so that the same value
always reads the same and fits a narrow terminal. Tables, HTML pages and figures all use it."""

from __future__ import annotations

import math

_PREFIXES = ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"),
             (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f"))


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def eng(x: float | None, unit: str, digits: int = 3) -> str:
    """``x`` with an engineering prefix: eng(0.00105, 's') -> '1.05 ms'; None -> '-'."""
    if _missing(x):
        return "-"
    x = float(x)
    if x == 0:
        return f"0 {unit}".rstrip()
    if math.isinf(x):
        return f"{'-' if x < 0 else ''}inf {unit}".rstrip()
    for scale, prefix in _PREFIXES:
        if abs(x) >= scale * 0.9995:
            v = x / scale
            text = f"{v:.{digits}g}"
            if "e" in text:  # 1000 after rounding: one prefix up
                continue
            return f"{text} {prefix}{unit}".rstrip()
    return f"{x:.{digits}g} {unit}".rstrip()


def seconds(x: float | None) -> str:
    return eng(x, "s")


def nbytes(x: float | None) -> str:
    return eng(x, "B")


def rate(x: float | None, unit: str = "frames/s") -> str:
    return eng(x, unit)


def joules(x: float | None) -> str:
    return eng(x, "J")


def watts(x: float | None) -> str:
    return eng(x, "W")


def hertz(x: float | None) -> str:
    return eng(x, "Hz")


def macs(x: float | None) -> str:
    """A MAC count: macs(2.068e9) -> '2.07 GMAC'."""
    return eng(x, "MAC")


def number(x: float | None, digits: int = 3) -> str:
    """A dimensionless figure with a prefix: number(12345) -> '12.3 k'."""
    return eng(x, "", digits)


def count(x: float | None) -> str:
    """A whole count, exact, with thousands separators: count(1472) -> '1,472'."""
    return "-" if _missing(x) else f"{int(round(float(x))):,}"


def percent(x: float | None) -> str:
    return "-" if _missing(x) else f"{100 * x:.1f} %"


def fraction(x: float | None, digits: int = 3) -> str:
    """A score in [0, 1] (accuracy, mIoU, agreement), fixed decimals so columns line up."""
    return "-" if _missing(x) else f"{x:.{digits}f}"


def ratio(x: float | None) -> str:
    """A dimensionless ratio or error, three significant digits: ratio(1.234e-5) -> '1.23e-05'."""
    return "-" if _missing(x) else f"{x:.3g}"
