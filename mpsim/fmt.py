"""One formatter for the figures every command prints: engineering prefixes, three significant
digits, a fixed unit per quantity (s, B, B/s, frames/s, J, W), so that the same value always
reads the same and fits a narrow terminal."""

from __future__ import annotations

import math

_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"),
             (1e-12, "p"), (1e-15, "f"))


def eng(x: float | None, unit: str, digits: int = 3) -> str:
    """``x`` with an engineering prefix: eng(0.00105, 's') -> '1.05 ms'; None -> '-'."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if x == 0:
        return f"0 {unit}"
    if math.isinf(x):
        return f"{'-' if x < 0 else ''}inf {unit}"
    for scale, prefix in _PREFIXES:
        if abs(x) >= scale * 0.9995:
            v = x / scale
            text = f"{v:.{digits}g}"
            if "e" in text:  # 1000 after rounding: one prefix up
                continue
            return f"{text} {prefix}{unit}"
    return f"{x:.{digits}g} {unit}"


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


def percent(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"
