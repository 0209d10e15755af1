"""``mpsim profiles [show NAME_OR_PATH]``: the built-in hardware profiles, and every field of one.

``show`` validates the file as it prints it, so it doubles as the check for a user's profile.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from mpsim.hw.profile import Profile, list_profiles, load_profile
from mpsim.hw.schema import PRECISION_RATE, SECTIONS
from mpsim.hw.units import DIMENSIONS


def register(sub) -> None:
    p = sub.add_parser("profiles", help="list the built-in hardware profiles, or show one")
    p.set_defaults(func=run_list)
    inner = p.add_subparsers(dest="profiles_command", metavar="ACTION")
    inner.add_parser("list", help="the built-in profiles (the default)").set_defaults(func=run_list)
    show = inner.add_parser("show", help="every field of a profile with value, unit and source")
    show.add_argument("profile", metavar="NAME_OR_PATH", help="a built-in name or a .yaml file")
    show.set_defaults(func=run_show)


def _bytes(b: float) -> str:
    for unit, f in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= f:
            return f"{b / f:,.3g} {unit}"
    return f"{b:,.0f} B"


def _hz(hz: float) -> str:
    for unit, f in (("GHz", 1e9), ("MHz", 1e6), ("kHz", 1e3)):
        if hz >= f:
            return f"{hz / f:g} {unit}"
    return f"{hz:g} Hz"


def _memory(p: Profile, long: bool = False) -> str:
    """In-processor memory; crossbar kinds add the weights their arrays hold."""
    text = _bytes(p.capacity_bytes)
    if long:
        text += f" ({p.tile_memory_bytes / 1024:g} KiB per tile)"
    if p.crossbar:
        text += f"\n+ {p.crossbar_weight_capacity / 1e6:,.3g} M weights"
        text += f" in {p.total_arrays:,} arrays" if long else ""
    return text


def _short(description: str) -> str:
    """The description up to its first parenthesis: the list is an overview, ``show`` has it all."""
    head = description.split(" (", 1)[0].split(";", 1)[0]
    return head if len(head) < len(description) else description


def run_list(args) -> int:
    table = Table(title="built-in hardware profiles (mpsim profiles show NAME)")
    for col, just in (("name", "left"), ("kind", "left"), ("tiles", "right"), ("memory", "right"),
                      ("clock", "right"), ("description", "left")):
        table.add_column(col, justify=just, no_wrap=col in ("name", "clock"))  # type: ignore[arg-type]
    for name in list_profiles():
        p = load_profile(name)
        table.add_row(p.name, f"{p.kind}\n{p.default_placement}", f"{p.total_tiles:,}", _memory(p), _hz(p.clock_hz),
                      _short(p.description))
    Console().print(table)
    return 0


def _si_text(field: str, si: float) -> str:
    section, key = field.split(".", 1)
    spec = PRECISION_RATE if section == "precision" else SECTIONS[section][key]
    dim = DIMENSIONS[spec.dim]
    if dim.name == "boolean":
        return str(bool(si)).lower()
    return f"{si:.6g} {dim.si_unit}"


def run_show(args) -> int:
    p = load_profile(args.profile)
    console = Console()
    console.print(f"[bold]{p.name}[/bold]: {p.description}", highlight=False)
    head = Table(show_header=False)
    head.add_row("file", str(p.path))
    head.add_row("kind / placement / mode", f"{p.kind} / {p.default_placement} / {p.default_mode}")
    head.add_row("precision", f"{p.precision.name} (default; also {', '.join(k for k in p.mac_rates if k != p.precision.name) or 'nothing else'})")
    head.add_row("static power", f"{p.static_power_w:g} W")
    head.add_row("tiles", f"{p.total_tiles:,} ({p.chips} x {p.tiles_per_chip:,})")
    head.add_row("in-processor memory", _memory(p, long=True).replace("\n", " "))
    per = {"crossbar": "array", "gpu": "SM"}.get(p.kind, "tile")
    head.add_row(f"compute per {per}", f"{p.tile_macs_per_s / 1e9:,.4g} GMAC/s")
    console.print(head)
    table = Table(title="fields (as written, in SI, and where from)")
    for col in ("field", "value", "unit", "SI", "source"):
        table.add_column(col, justify="right" if col in ("value", "SI") else "left", no_wrap=col != "source")
    for field, raw in p.fields.items():
        value = str(raw.value).lower() if isinstance(raw.value, bool) else f"{raw.value:g}"
        table.add_row(field, value, raw.unit, _si_text(field, p.si_values[field]), raw.source)
    console.print(table)
    return 0
