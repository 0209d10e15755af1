"""Units of profile fields and their conversion to SI.

A profile states every number in the unit its source used (KiB, GB/s, cycles, pJ); the loader
converts once, here, so that nothing downstream guesses a unit.  Decimal prefixes (kB, MB, GB)
are powers of 1000, binary ones (KiB, MiB, GiB) powers of 1024; ``KB`` is taken as ``kB``.
Two units depend on the profile's clock: ``B/cycle`` (bandwidth) and ``cycles`` (time).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping


class UnitError(ValueError):
    """A unit that does not exist or does not belong to the field's dimension."""


@dataclass(frozen=True)
class Dimension:
    """A physical dimension: its name in messages and its units as (factor, clock power).

    The SI value is ``value * factor * clock_hz ** clock_power``: ``B/cycle`` has power +1
    (bytes per cycle times cycles per second), ``cycles`` has power -1.  A factor below one is
    applied as a division by its exact reciprocal (10 us is exactly 1e-5 s, 30 pJ is 30e-12 J).
    """

    name: str
    si_unit: str
    units: Mapping[str, tuple[float, int]]

    def allowed(self) -> str:
        return ", ".join(self.units)


def _dim(name: str, si_unit: str, units: dict[str, tuple[float, int]]) -> Dimension:
    return Dimension(name, si_unit, MappingProxyType(units))


_K, _KI = 1e3, 1024.0

DIMENSIONS: Mapping[str, Dimension] = MappingProxyType({
    "count": _dim("count", "count", {"count": (1.0, 0)}),
    "size": _dim("size", "B", {
        "B": (1.0, 0), "KiB": (_KI, 0), "MiB": (_KI**2, 0), "GiB": (_KI**3, 0), "TiB": (_KI**4, 0),
        "kB": (_K, 0), "KB": (_K, 0), "MB": (_K**2, 0), "GB": (_K**3, 0), "TB": (_K**4, 0),
    }),
    "frequency": _dim("frequency", "Hz", {"Hz": (1.0, 0), "kHz": (_K, 0), "MHz": (_K**2, 0), "GHz": (_K**3, 0)}),
    "bandwidth": _dim("bandwidth", "B/s", {
        "B/s": (1.0, 0), "kB/s": (_K, 0), "KB/s": (_K, 0), "MB/s": (_K**2, 0), "GB/s": (_K**3, 0),
        "TB/s": (_K**4, 0), "KiB/s": (_KI, 0), "MiB/s": (_KI**2, 0), "GiB/s": (_KI**3, 0),
        "B/cycle": (1.0, 1),
    }),
    "time": _dim("time", "s", {
        "s": (1.0, 0), "ms": (1e-3, 0), "us": (1e-6, 0), "µs": (1e-6, 0), "ns": (1e-9, 0), "ps": (1e-12, 0),
        "cycles": (1.0, -1), "cycle": (1.0, -1),
    }),
    "energy": _dim("energy", "J", {
        "J": (1.0, 0), "mJ": (1e-3, 0), "uJ": (1e-6, 0), "µJ": (1e-6, 0), "nJ": (1e-9, 0),
        "pJ": (1e-12, 0), "fJ": (1e-15, 0),
    }),
    "power": _dim("power", "W", {"W": (1.0, 0), "kW": (_K, 0), "mW": (1e-3, 0), "uW": (1e-6, 0), "µW": (1e-6, 0)}),
    "bits": _dim("bits", "bits", {"bits": (1.0, 0), "bit": (1.0, 0)}),
    "ratio": _dim("ratio", "ratio", {"ratio": (1.0, 0), "%": (0.01, 0)}),
    "mac_rate": _dim("MAC rate", "MAC/cycle", {"MAC/cycle": (1.0, 0)}),
    "op_rate": _dim("op rate", "op/cycle", {"op/cycle": (1.0, 0)}),
    "bool": _dim("boolean", "bool", {"bool": (1.0, 0)}),
})

# Bytes per element of the digital formats the functional executor emulates.
DTYPE_BYTES: Mapping[str, int] = MappingProxyType({"fp32": 4, "fp16": 2, "bf16": 2, "int16": 2, "int8": 1})


def needs_clock(unit: str, dimension: str) -> bool:
    """Whether converting ``unit`` needs the profile's clock (B/cycle, cycles)."""
    entry = DIMENSIONS[dimension].units.get(unit)
    return bool(entry and entry[1])


def to_si(value: float, unit: str, dimension: str, clock_hz: float | None = None) -> float:
    """``value`` in ``unit`` as an SI float; ``UnitError`` if the unit is not of ``dimension``."""
    dim = DIMENSIONS[dimension]
    entry = dim.units.get(unit)
    if entry is None:
        article = "an" if dim.name[0] in "aeiou" else "a"
        raise UnitError(f"unit '{unit}' is not {article} {dim.name} unit (use {dim.allowed()})")
    factor, power = entry
    si = float(value) * factor if factor >= 1 else float(value) / round(1 / factor)
    if power:
        if not clock_hz:
            raise UnitError(f"unit '{unit}' needs compute.clock, which is missing or invalid")
        si = si * clock_hz if power > 0 else si / clock_hz  # one rounding, not two
    return si
