"""The built-in profiles' table of docs/profiles.md, generated from the loaded profiles so that
the docs cannot drift from the tool (a test compares the committed table with this one).

    python -m mpsim.hw.doc_table                      # print the table
    python -m mpsim.hw.doc_table --write docs/profiles.md   # replace it between the markers
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from mpsim.fmt import count, eng, hertz, nbytes, rate, watts
from mpsim.hw.profile import Profile, list_profiles, load_profile

START, END = "<!-- profiles-table:start -->", "<!-- profiles-table:end -->"
HEADER = ("| profile | kind / placement | tiles | in-processor memory | clock | peak MAC/s (system, default precision) "
          "| host in / out | static power |\n|---|---|---|---|---|---|---|---|")


def peak_macs_per_s(p: Profile) -> float:
    """The whole system's MAC rate at the default precision (per tile, array or SM x their count)."""
    return p.tile_macs_per_s * (p.total_arrays if p.crossbar else p.total_tiles)


def row(p: Profile) -> str:
    tiles = f"{p.chips} x {count(p.tiles_per_chip)}" if p.chips > 1 else count(p.total_tiles)
    memory = nbytes(p.capacity_bytes)
    if p.crossbar:
        xb = p.crossbar
        arrays = "array" if p.total_arrays == 1 else "arrays"
        tiles += f" ({count(p.total_arrays)} {arrays} of {xb.rows} x {xb.cols})"
        memory += f" buffers + {eng(p.crossbar_weight_capacity, '')} weights"
    host = f"{rate(p.link_bandwidth['host_in'], 'B/s')} / {rate(p.link_bandwidth['host_out'], 'B/s')}"
    return (f"| `{p.name}` | {p.kind} / {p.default_placement} | {tiles} | {memory} | {hertz(p.clock_hz)} | "
            f"{rate(peak_macs_per_s(p), 'MAC/s')} ({p.precision.name}) | {host} | {watts(p.static_power_w)} |")


def table() -> str:
    return HEADER + "\n" + "\n".join(row(load_profile(n)) for n in list_profiles())


def block() -> str:
    return f"{START}\n{table()}\n{END}"


def committed(doc: str) -> str | None:
    """The table between the markers of ``doc`` (None without markers)."""
    m = re.search(re.escape(START) + r"\n(.*?)\n?" + re.escape(END), doc, flags=re.S)
    return None if m is None else m.group(1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", metavar="FILE", help="replace the table between the markers in FILE")
    args = ap.parse_args(argv)
    if not args.write:
        print(table())
        return 0
    path = Path(args.write)
    text = path.read_text()
    if committed(text) is None:
        print(f"{path}: no {START} ... {END} markers", file=sys.stderr)
        return 2
    from mpsim.atomic import write_text

    write_text(path, re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block(), text, flags=re.S))
    return 0


if __name__ == "__main__":
    sys.exit(main())
