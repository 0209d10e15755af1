"""SVG pieces of the HTML report, written directly (each shape carries a tooltip): the tile or
array map of every chip of a replica, coloured by unit (hue) and occupancy (depth)."""

from __future__ import annotations

import math
from html import escape
from typing import Any

MAX_CELLS = 4096  # cells drawn per chip; beyond it a cell stands for several tiles
MAP_WIDTH = 520  # px a chip's map aims at; a cell is 4 to 16 px, gap included


def unit_colour(index: int, occupancy: float) -> str:
    """Hue by unit (golden angle, so neighbours differ), lightness by occupancy (fuller: deeper)."""
    hue = (index * 137.508) % 360
    light = 82 - 42 * min(1.0, max(0.0, occupancy))
    return f"hsl({hue:.0f},65%,{light:.0f}%)"


def _runs(start: int, stop: int, cols: int) -> list[tuple[int, int, int]]:
    """Cells [start, stop) of a row-major grid as (row, first column, length) runs."""
    out = []
    while start < stop:
        row, col = divmod(start, cols)
        n = min(cols - col, stop - start)
        out.append((row, col, n))
        start += n
    return out


def chip_layout(rep: dict[str, Any]) -> dict[int, list[tuple[dict, int, int]]]:
    """Per chip of the simulated replica: (unit, first tile, tiles) in unit order, tiles laid out
    contiguously (a placement owns tile counts, not positions; the map shows how much, not where)."""
    word = rep["memory"]["unit_word"]
    chips: dict[int, list[tuple[dict, int, int]]] = {}
    for u in rep.get("units") or []:
        if u["kind"] != "compute" or u.get("chip") is None:
            continue
        lst = chips.setdefault(int(u["chip"]), [])
        start = lst[-1][1] + lst[-1][2] if lst else 0
        lst.append((u, start, int(u.get(word) or 0)))
    return chips


def tile_map(rep: dict[str, Any], max_chips: int = 16) -> str:
    """One SVG per chip of the replica, with a legend; '' when nothing was placed."""
    word = rep["memory"]["unit_word"]
    per_chip = int(rep["memory"].get("units_per_chip") or 0)
    layout = chip_layout(rep)
    if not layout or per_chip <= 0:
        return ""
    index = {u["name"]: k for k, u in enumerate(u for u in rep["units"] if u["kind"] == "compute")}
    group = max(1, math.ceil(per_chip / MAX_CELLS))
    cells = math.ceil(per_chip / group)
    cols = max(1, math.ceil(math.sqrt(cells * 2)))
    rows = math.ceil(cells / cols)
    px = max(4, min(16, MAP_WIDTH // cols))  # a cell, gap included
    parts = []
    for chip in sorted(layout)[:max_chips]:
        placed = layout[chip]
        used = sum(n for _, _, n in placed)
        shared = used > per_chip  # units take turns on the same tiles (one operation at a time)
        svg = [f'<svg class="tilemap" xmlns="http://www.w3.org/2000/svg" width="{cols * px}" '
               f'height="{rows * px}" viewBox="0 0 {cols * px} {rows * px}" role="img" '
               f'aria-label="chip {chip}: {used} of {per_chip} {word}">',
               f'<rect width="{cols * px}" height="{rows * px}" fill="#eeeeee"><title>free {word}</title></rect>']
        for u, start, n in ([] if shared else placed):
            tip = (f"{u['name']}: {n:,} {word}, occupancy {100 * (u.get('occupancy') or 0):.1f} %, "
                   f"busy {100 * u['utilisation']:.1f} %")
            colour = unit_colour(index[u["name"]], u.get("occupancy") or 0.0)
            rects = "".join(f'<rect x="{c * px}" y="{r * px}" width="{k * px - 1}" height="{px - 1}"/>'
                            for r, c, k in _runs(start // group, math.ceil((start + n) / group), cols))
            svg.append(f'<g fill="{colour}" data-unit="{escape(u["name"])}"><title>{escape(tip)}</title>{rects}</g>')
        if shared:
            top = max(placed, key=lambda x: x[0]["busy_s_per_frame"])[0]
            svg.append(f'<rect width="{cols * px}" height="{rows * px}" '
                       f'fill="{unit_colour(index[top["name"]], top.get("occupancy") or 0.0)}">'
                       f'<title>{len(placed)} units take turns on all {per_chip:,} {word}</title></rect>')
        svg.append("</svg>")
        note = (f"{len(placed)} units in turn on all {per_chip:,} {word}" if shared
                else f"{used:,} of {per_chip:,} {word} used by {len(placed)} units")
        scale = f"; a cell is {group} {word}" if group > 1 else ""
        parts.append(f'<figure class="chip"><figcaption>chip {chip}: {escape(note)}{scale}</figcaption>'
                     f'{"".join(svg)}</figure>')
    more = len(layout) - max_chips
    if more > 0:
        parts.append(f"<p>{more} more chips not drawn.</p>")
    return "".join(parts)


def legend(rep: dict[str, Any], limit: int = 24) -> str:
    """Swatches for the units (busiest first) and the occupancy scale."""
    units = [u for u in rep.get("units") or [] if u["kind"] == "compute"]
    index = {u["name"]: k for k, u in enumerate(units)}
    shown = sorted(units, key=lambda u: -u["utilisation"])[:limit]
    items = "".join(f'<li><span class="sw" style="background:{unit_colour(index[u["name"]], u.get("occupancy") or 0)}">'
                    f'</span>{escape(u["name"])}</li>' for u in shown)
    rest = f"<li>and {len(units) - limit} more (hover a cell)</li>" if len(units) > limit else ""
    ramp = "".join(f'<span class="sw" style="background:{unit_colour(0, x / 4)}" title="{25 * x} %"></span>'
                   for x in range(5))
    return (f'<div class="legend"><p>occupancy of the unit\'s memory: 0 % {ramp} 100 % (lighter: emptier)</p>'
            f'<ul>{items}{rest}</ul></div>')
