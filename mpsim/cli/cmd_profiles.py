"""``mpsim profiles [show NAME_OR_PATH]``: the built-in hardware profiles, and every field of one.

``show`` validates the file as it prints it, so it doubles as the check for a user's profile.
"""

from __future__ import annotations

from rich.console import Console

from mpsim.cli.output import add_output_flags, print_tables, write_outputs
from mpsim.fmt import count, eng, hertz, nbytes, rate, watts
from mpsim.hw.profile import Profile, list_profiles, load_profile
from mpsim.hw.schema import PRECISION_RATE, SECTIONS
from mpsim.hw.units import DIMENSIONS
from mpsim.views.table import Cell, Column, TableView


def register(sub) -> None:
    p = sub.add_parser("profiles", help="list the built-in hardware profiles, or show one")
    add_output_flags(p, "write the list as JSON")
    p.set_defaults(func=run_list)
    inner = p.add_subparsers(dest="profiles_command", metavar="ACTION")
    lst = inner.add_parser("list", help="the built-in profiles (the default)")
    add_output_flags(lst, "write the list as JSON", keep_parent=True)
    lst.set_defaults(func=run_list)
    show = inner.add_parser("show", help="every field of a profile with value, unit and source")
    show.add_argument("profile", metavar="NAME_OR_PATH", help="a built-in name or a .yaml file")
    add_output_flags(show, "write every field (as written, in SI, source) as JSON", keep_parent=True)
    show.set_defaults(func=run_show)


def _memory(p: Profile, long: bool = False) -> str:
    """In-processor memory; crossbar kinds add the weights their arrays hold."""
    text = nbytes(p.capacity_bytes)
    if long:
        text += f" ({p.tile_memory_bytes / 1024:g} KiB per tile)"
    if p.crossbar:
        text += f" + {eng(p.crossbar_weight_capacity, '')} weights"
        text += f" in {count(p.total_arrays)} arrays" if long else ""
    return text


def _short(description: str) -> str:
    """The description up to its first parenthesis: the list is an overview, ``show`` has it all."""
    head = description.split(" (", 1)[0].split(";", 1)[0]
    return head if len(head) < len(description) else description


def list_table() -> TableView:
    t = TableView("profiles", "built-in hardware profiles (mpsim profiles show NAME)",
                  [Column("name", "name"), Column("kind", "kind / placement"), Column("tiles", "tiles", count, True),
                   Column("capacity_bytes", "memory"), Column("clock_hz", "clock", hertz, True),
                   Column("description", "description")])
    for name in list_profiles():
        p = load_profile(name)
        t.add(name=p.name, kind=Cell(p.kind, f"{p.kind} / {p.default_placement}"), tiles=p.total_tiles,
              capacity_bytes=Cell(p.capacity_bytes, _memory(p)), clock_hz=p.clock_hz,
              description=Cell(p.description, _short(p.description)))
    return t


def run_list(args) -> int:
    t = list_table()
    print_tables([t])
    write_outputs(args, [t], "mpsim.profiles/1", {"profiles": t.records()})
    return 0


def _si_text(field: str, si: float) -> str:
    section, key = field.split(".", 1)
    spec = PRECISION_RATE if section == "precision" else SECTIONS[section][key]
    dim = DIMENSIONS[spec.dim]
    if dim.name == "boolean":
        return str(bool(si)).lower()
    return f"{si:.6g} {dim.si_unit}"


def show_tables(p: Profile) -> list[TableView]:
    """Every field (main table) and the derived figures of ``p``."""
    head = TableView("derived", f"{p.name}: {p.description}", [Column("figure", "figure"), Column("value", "value")],
                     show_header=False)

    def row(key, label, raw, text):
        head.add(figure=Cell(key, label), value=Cell(raw, text))

    row("file", "file", str(p.path), str(p.path))
    row("kind", "kind / placement / mode", p.kind, f"{p.kind} / {p.default_placement} / {p.default_mode}")
    others = ", ".join(k for k in p.mac_rates if k != p.precision.name) or "nothing else"
    row("precision", "precision", p.precision.name, f"{p.precision.name} (default; also {others})")
    row("static_power_w", "static power", p.static_power_w, watts(p.static_power_w))
    row("tiles", "tiles", p.total_tiles, f"{count(p.total_tiles)} ({p.chips} x {count(p.tiles_per_chip)})")
    row("capacity_bytes", "in-processor memory", p.capacity_bytes, _memory(p, long=True))
    per = {"crossbar": "array", "gpu": "SM"}.get(p.kind, "tile")
    row("tile_macs_per_s", f"compute per {per}", p.tile_macs_per_s, rate(p.tile_macs_per_s, "MAC/s"))
    fields = TableView("fields", "fields (as written, in SI, and where from)",
                       [Column("field", "field"), Column("value", "value", right=True), Column("unit", "unit"),
                        Column("si", "SI", right=True), Column("source", "source")])
    for field, raw in p.fields.items():
        value = str(raw.value).lower() if isinstance(raw.value, bool) else f"{raw.value:g}"
        si = p.si_values[field]
        fields.add(field=field, value=Cell(raw.value, value), unit=raw.unit, si=Cell(si, _si_text(field, si)),
                   source=raw.source)
    return [fields, head]


def run_show(args) -> int:
    p = load_profile(args.profile)
    tables = show_tables(p)
    print_tables(tables[::-1], Console())
    write_outputs(args, tables, "mpsim.profile/1",
                  {"name": p.name, "derived": tables[1].records(), "fields": tables[0].records()})
    return 0
