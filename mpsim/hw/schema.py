"""The profile schema and its validator.

The schema is data (one ``FieldSpec`` per field) so that the validator, ``mpsim profiles show``
and docs/profiles.md all read the same table.  The validator stops at the first problem and
says, in one line, which file and which field: a profile is edited by hand, and one clear
error is easier to act on than a list.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from reprlib import repr as _r  # bounded: a value in a message stays short whatever it holds
from typing import Any, Mapping

from mpsim.errors import ProfileError
from mpsim.hw.precision import PRECISIONS
from mpsim.hw.units import DIMENSIONS, UnitError, to_si
from mpsim.limits import FIELD_MAXIMUM, MAX_TOTAL_TILES, SI_RANGE, range_text

KINDS = ("tiles", "crossbar", "gpu")
MODES = ("dataflow", "bsp", "rollout")
# The placement styles each kind of machine can run (mpsim.mapping); the first is its default.
PLACEMENTS: dict[str, tuple[str, ...]] = {
    "tiles": ("pipelined", "sequential"),
    "crossbar": ("pipelined",),
    "gpu": ("layer_by_layer",),
}
OP_CLASSES = ("conv", "pointwise", "depthwise", "vector", "pooling")


@dataclass(frozen=True)
class FieldSpec:
    """One numeric field: its dimension, bounds, and what it means."""

    dim: str
    doc: str
    positive: bool = True  # False: zero allowed (never negative)
    integer: bool = False
    required: bool = True
    maximum: float | None = None
    crossbar_only: bool = False


@dataclass(frozen=True)
class Quantity:
    """A validated field: as written (value, unit, source) and converted (si)."""

    value: float | int | bool
    unit: str
    source: str
    si: float


def _f(dim: str, doc: str, **kw: Any) -> FieldSpec:
    return FieldSpec(dim, doc, **kw)


SECTIONS: dict[str, dict[str, FieldSpec]] = {
    "compute": {
        "chips": _f("count", "chips in the system", integer=True),
        "tiles_per_chip": _f("count", "tiles per chip (crossbar: tiles of arrays; gpu: SMs)", integer=True),
        "tile_memory": _f("size", "SRAM per tile for weights and buffers (crossbar: digital buffer "
                                  "per tile, weights live in the arrays; gpu: L2 share per SM)"),
        "clock": _f("frequency", "clock of the tiles; converts B/cycle and cycles"),
        "vector_ops_per_cycle": _f("op_rate", "elementwise operations per cycle per tile"),
        "fused_elementwise": _f("bool", "elementwise ops run inside the operation (kernel) of the layer before "
                                        "them (default true); false: each is an operation of its own, as eager "
                                        "PyTorch runs them", positive=False, required=False),
        "work_tile": _f("count", "output elements one tile (SM) computes as one indivisible piece of work: a "
                                 "GPU thread block's output tile (default 1: an element)", integer=True,
                        required=False),
    },
    "efficiency": {
        "conv": _f("ratio", "achieved fraction of peak MAC rate on dense k x k convolutions (k > 1)",
                   maximum=1.0),
        "pointwise": _f("ratio", "achieved fraction of peak on 1 x 1 convolutions, linear layers, matmul",
                        maximum=1.0),
        "depthwise": _f("ratio", "achieved fraction of peak on depthwise and grouped convolutions", maximum=1.0),
        "vector": _f("ratio", "achieved fraction of the vector rate on elementwise ops, norms, softmax",
                     maximum=1.0),
        "pooling": _f("ratio", "achieved fraction of the vector rate on pooling and resizing", maximum=1.0),
    },
    "links": {
        "on_tile": _f("bandwidth", "local SRAM bandwidth, per tile"),
        "exchange": _f("bandwidth", "on-chip exchange fabric bandwidth, per tile"),
        "chip_to_chip": _f("bandwidth", "bandwidth between two chips, per chip pair and direction",
                           positive=False),
        "offchip": _f("bandwidth", "off-chip (streaming / DRAM) memory bandwidth, whole system",
                      positive=False),
        "host_in": _f("bandwidth", "host to machine (frames in), one direction, whole system"),
        "host_out": _f("bandwidth", "machine to host (results out), one direction, whole system"),
        "host_latency": _f("time", "fixed latency of one host transfer (DMA set-up, network, serving)",
                           positive=False),
    },
    "memory": {
        "offchip_capacity": _f("size", "off-chip (streaming / DRAM) memory capacity", positive=False),
        "code_per_tile": _f("size", "tile memory taken by code and vertex state, not available to data",
                            positive=False),
    },
    "timing": {
        "sync": _f("time", "one synchronisation of the tiles of one chip (a BSP superstep boundary)",
                   positive=False),
        "sync_per_extra_chip": _f("time", "added to a synchronisation for every further chip it spans",
                                  positive=False),
        "op_overhead": _f("time", "fixed cost of running one operation (a compute set's vertices, a "
                                  "kernel launch)", positive=False),
        "frame_overhead": _f("time", "fixed time per frame (a batch, a request) on the machine's timeline before "
                                     "its first operation: a runtime's per-call work (sequential and layer_by_layer; "
                                     "default 0)", positive=False, required=False),
        "host_issue": _f("time", "host time to issue one operation (an eager framework's dispatch, library "
                                 "set-up and launch call), overlapped with the device: an operation takes at "
                                 "least this long (layer_by_layer; default 0)", positive=False, required=False),
    },
    "power": {
        "static": _f("power", "idle power of the whole system (leakage, clocks, idle links), drawn "
                              "whether or not it computes", positive=False),
    },
    "crossbar": {
        "rows": _f("count", "word lines (inputs) per array", integer=True),
        "cols": _f("count", "bit lines (cells) per array", integer=True),
        "bits_per_cell": _f("bits", "bits stored per cell", integer=True),
        "weight_bits": _f("bits", "bits of one weight; cells per weight = ceil(weight_bits / "
                                  "bits_per_cell)", integer=True),
        "dac_bits": _f("bits", "input bits applied per read (bit-serial slices)", integer=True),
        "adc_bits": _f("bits", "ADC resolution", integer=True),
        "conductance_levels": _f("count", "programmable conductance levels used per cell", integer=True),
        "mvm_latency": _f("time", "one read of the array with one dac_bits-wide input slice, "
                                  "conversions included"),
        "adc_latency": _f("time", "one ADC conversion (informative; inside mvm_latency)", positive=False),
        "arrays_per_tile": _f("count", "crossbar arrays per tile", integer=True),
        "read_noise": _f("ratio", "relative sigma of a read", positive=False),
        "stuck_at_on": _f("ratio", "fraction of cells stuck at high conductance", positive=False, maximum=1.0),
        "stuck_at_off": _f("ratio", "fraction of cells stuck at low conductance", positive=False, maximum=1.0),
        "programmable_per_frame": _f("bool", "whether weights may be rewritten per frame", positive=False),
        "spatial_unroll": _f("bool", "every output position has its own cells: a layer's kernel is copied to "
                                     "arrays for blocks of positions (TrueNorth), so a layer is one read per frame "
                                     "(default false)", positive=False, required=False),
        "rows_per_input": _f("count", "word lines one input drives (TrueNorth: 2, an excitatory and an "
                                      "inhibitory axon for a trinary weight; default 1)", integer=True,
                             required=False),
        "partial_sum_bits": _f("bits", "bits of one partial sum an array sends to be added when a layer's inputs "
                                       "span several arrays (default adc_bits)", integer=True, required=False),
    },
    "energy": {
        "mac": _f("energy", "one digital MAC at the profile's default precision", positive=False,
                  required=False),
        "vector_op": _f("energy", "one elementwise operation (activation, add, pooling)", positive=False,
                        required=False),
        "sram_byte": _f("energy", "one byte read from or written to tile SRAM", positive=False, required=False),
        "exchange_byte": _f("energy", "one byte over the on-chip exchange", positive=False, required=False),
        "chip_to_chip_byte": _f("energy", "one byte between chips", positive=False, required=False),
        "offchip_byte": _f("energy", "one byte to or from off-chip memory", positive=False, required=False),
        "host_byte": _f("energy", "one byte over the host link", positive=False, required=False),
        "adc_conversion": _f("energy", "one ADC conversion", positive=False, required=False,
                             crossbar_only=True),
        "crossbar_mvm": _f("energy", "one read of one array (one input slice), ADCs excluded",
                           positive=False, required=False, crossbar_only=True),
    },
}
# MAC rate per tile (crossbar: per array; gpu: per SM) at each format the machine supports.
PRECISION_RATE = _f("mac_rate", "MACs per cycle per tile at this format (crossbar: per array, derived "
                                "from its read time; gpu: per SM)")
# Achieved fraction of the op-class efficiencies at a format (tensor cores are harder to keep fed
# than the fp32 cores the class efficiencies describe); 1 where a format is not listed.
PRECISION_EFFICIENCY = _f("ratio", "achieved fraction of the op-class efficiencies at this format", maximum=1.0)
# Fraction of a 3 x 3 stride-1 convolution's direct multiplies that the library's algorithm does
# at a format (Winograd F(2x2,3x3): 16 of 36, Lavin & Gray 2016); 1 (direct) where not listed.
PRECISION_WINOGRAD = _f("ratio", "fraction of a 3x3 stride-1 convolution's direct multiplies done at this "
                                 "format (Winograd)", maximum=1.0)
PRECISION_MAPS = {"efficiency": PRECISION_EFFICIENCY, "winograd": PRECISION_WINOGRAD}

OPTIONAL_SECTIONS = ("crossbar", "energy")
STRING_FIELDS = ("name", "description", "kind", "default_mode", "default_placement")
TOP_LEVEL = (*STRING_FIELDS, *SECTIONS, "precision")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_PLACEHOLDERS = {"?", "todo", "tbd", "tba", "unknown", "n/a", "na", "none", "-"}
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class _Fail(Exception):
    """Internal: a problem with a named field, turned into a ProfileError by ``validate``."""

    def __init__(self, field: str, msg: str) -> None:
        super().__init__(msg)
        self.field, self.msg = field, msg


def _check_keys(obj: Mapping[str, Any], allowed: tuple[str, ...] | list[str], prefix: str) -> None:
    for key in obj:
        if key not in allowed:
            name = f"{prefix}.{key}" if prefix else str(key)
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise _Fail(name, f"unknown field ({hint}known here: {', '.join(allowed)})")


def _mapping(obj: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise _Fail(field, f"must be a mapping, got {type(obj).__name__}")
    return obj


def _string(raw: Mapping[str, Any], key: str, choices: tuple[str, ...] | None = None) -> str:
    if key not in raw:
        raise _Fail(key, "missing required field")
    val = raw[key]
    if not isinstance(val, str) or not val.strip():
        raise _Fail(key, "must be a non-empty string")
    if choices is not None and val not in choices:
        raise _Fail(key, f"unknown value '{val}' (use {', '.join(choices)})")
    return val


def check_source(source: Any, field: str) -> str:
    """A source is a citation, or ``assumption: <why>``; placeholders are neither."""
    if not isinstance(source, str) or not source.strip():
        raise _Fail(field, "missing or empty source (cite one, or write 'assumption: <why>')")
    text = source.strip()
    if text.lower() in _PLACEHOLDERS:
        raise _Fail(field, f"source '{text}' is a placeholder (cite one, or write 'assumption: <why>')")
    if text.lower().startswith("assumption"):
        m = re.match(r"(?i)^assumption\s*:\s*(.*)$", text, re.S)
        if not m or len(m.group(1).strip()) < 10:
            raise _Fail(field, "an assumption must say why: 'assumption: <why, in words>'")
    return text


def _number(val: Any, field: str, spec: FieldSpec) -> float | int | bool:
    if spec.dim == "bool":
        if not isinstance(val, bool):
            raise _Fail(field, f"value must be true or false, got {_r(val)}")
        return val
    if isinstance(val, bool):
        raise _Fail(field, f"value must be a number, got {_r(val)}")
    if isinstance(val, str) and _NUMBER.match(val.strip()):
        val = float(val)  # YAML 1.1 reads 1e9 (no dot) as a string
    if not isinstance(val, (int, float)):
        raise _Fail(field, f"value must be a number, got {_r(val)}")
    if isinstance(val, int) and abs(val) > 2**1000 or not math.isfinite(val):
        raise _Fail(field, f"value must be finite, got {_r(val)}")
    if spec.integer and val != int(val):
        raise _Fail(field, f"value must be a whole number, got {_r(val)}")
    return val


def _quantity(obj: Any, field: str, spec: FieldSpec, clock_hz: float | None) -> Quantity:
    if not isinstance(obj, Mapping):
        raise _Fail(field, f"must be {{value: ..., unit: ..., source: ...}}, got {_r(obj)}")
    for key in obj:
        if key not in ("value", "unit", "source"):
            raise _Fail(field, f"unknown key '{key}' (a field has value, unit, source)")
    for key in ("value", "unit", "source"):
        if key not in obj:
            raise _Fail(field, f"missing '{key}' (a field has value, unit, source)")
    source = check_source(obj["source"], field)
    unit = obj["unit"]
    if not isinstance(unit, str):
        raise _Fail(field, f"unit must be a string, got {_r(unit)}")
    value = _number(obj["value"], field, spec)
    try:
        if spec.dim == "bool":
            to_si(0.0, unit, spec.dim)  # checks the unit only
            si = 1.0 if value else 0.0
        else:
            si = to_si(float(value), unit, spec.dim, clock_hz)
    except UnitError as exc:
        raise _Fail(field, str(exc)) from None
    if not math.isfinite(si):
        raise _Fail(field, f"value {_r(value)} {unit} is not a finite number in SI ({DIMENSIONS[spec.dim].si_unit})")
    if si < 0 or (spec.positive and si == 0):
        need = "positive" if spec.positive else "zero or positive"
        raise _Fail(field, f"value must be {need}, got {_r(value)} {unit}")
    if spec.maximum is not None and si > spec.maximum:
        raise _Fail(field, f"value must be at most {spec.maximum:g} (as {DIMENSIONS[spec.dim].si_unit}), "
                           f"got {_r(value)} {unit}")
    _check_range(field, spec, value, unit, si)
    if spec.integer:
        value = int(value)
    return Quantity(value, unit, source, si)


def _check_range(field: str, spec: FieldSpec, value: Any, unit: str, si: float) -> None:
    """Every field, after conversion to SI, within its dimension's range (mpsim.limits.SI_RANGE)
    and its own documented maximum (FIELD_MAXIMUM): the bounds on every command's work."""
    lo, hi = SI_RANGE[spec.dim]
    hi = min(hi, FIELD_MAXIMUM.get(field, hi))
    if si != 0 and not lo <= si <= hi:
        si_unit = DIMENSIONS[spec.dim].si_unit
        in_si = "" if unit == si_unit else f" ({si:.4g} {si_unit})"
        zero = "" if spec.positive else "0 or "
        allowed = range_text(lo, hi, integer=spec.integer, unit=si_unit)
        raise _Fail(field, f"value {_r(value)} {unit}{in_si} is out of range (allowed: {zero}{allowed}; "
                           "docs/limits.md)")


def _check_totals(fields: Mapping[str, Quantity]) -> None:
    tiles = fields["compute.chips"].si * fields["compute.tiles_per_chip"].si
    if tiles > MAX_TOTAL_TILES:
        raise _Fail("compute.tiles_per_chip", f"chips x tiles_per_chip = {tiles:,.0f} tiles, more than the limit "
                                              f"of {MAX_TOTAL_TILES:,} (docs/limits.md)")


def _section(raw: Mapping[str, Any], name: str, kind: str, clock_hz: float | None) -> dict[str, Quantity]:
    specs = SECTIONS[name]
    sec = _mapping(raw[name], name)
    _check_keys(sec, list(specs), name)
    if not sec:
        raise _Fail(name, "empty block (give its fields, or leave the block out)")
    out: dict[str, Quantity] = {}
    for key, spec in specs.items():
        field = f"{name}.{key}"
        if key not in sec:
            if spec.required:
                raise _Fail(field, "missing required field")
            continue
        if spec.crossbar_only and kind != "crossbar":
            raise _Fail(field, f"only for kind crossbar (this profile is kind {kind})")
        out[field] = _quantity(sec[key], field, spec, clock_hz)
    return out


def _check_crossbar(fields: Mapping[str, Quantity]) -> None:
    """An array must hold at least one whole weight, or nothing could ever be mapped on it."""
    cols, wbits, cbits = (int(fields[f"crossbar.{k}"].si) for k in ("cols", "weight_bits", "bits_per_cell"))
    cells = math.ceil(wbits / cbits)
    if cols < cells:
        raise _Fail("crossbar.cols", f"{cols} columns cannot hold one {wbits}-bit weight of {cells} cells "
                                     f"({cbits} bits per cell)")


def _clock(raw: Mapping[str, Any]) -> float | None:
    """The clock in Hz, read first because B/cycle and cycles need it (None if unusable)."""
    try:
        obj = raw["compute"]["clock"]
        return _quantity(obj, "compute.clock", SECTIONS["compute"]["clock"], None).si
    except (_Fail, KeyError, TypeError):
        return None  # reported when compute.clock itself is validated, in field order


def _precision(raw: Mapping[str, Any], strings: dict[str, str], clock_hz: float | None) -> dict[str, Quantity]:
    """``precision: {default: fmt, macs_per_cycle: {fmt: quantity, ...}}``: the formats the machine
    runs and its MAC rate at each; the default must be one of them."""
    if "precision" not in raw:
        raise _Fail("precision", "missing required section")
    sec = _mapping(raw["precision"], "precision")
    _check_keys(sec, ["default", "macs_per_cycle", *PRECISION_MAPS], "precision")
    rates = _mapping(sec.get("macs_per_cycle"), "precision.macs_per_cycle")
    if not rates:
        raise _Fail("precision.macs_per_cycle", "give the MAC rate of at least one format")
    _check_keys(rates, list(PRECISIONS), "precision.macs_per_cycle")
    out = {f"precision.macs_per_cycle.{k}": _quantity(v, f"precision.macs_per_cycle.{k}", PRECISION_RATE, clock_hz)
           for k, v in rates.items()}
    for name, spec in PRECISION_MAPS.items():  # optional per-format ratios
        if name in sec:
            per = _mapping(sec[name], f"precision.{name}")
            _check_keys(per, list(rates), f"precision.{name}")
            out.update({f"precision.{name}.{k}": _quantity(v, f"precision.{name}.{k}", spec, clock_hz)
                        for k, v in per.items()})
    try:
        strings["precision.default"] = _string(sec, "default", tuple(rates))
    except _Fail as exc:
        raise _Fail("precision.default", exc.msg) from None
    return out


def _validate(raw: Any) -> tuple[dict[str, str], dict[str, Quantity]]:
    if raw is None:
        raise _Fail("(top level)", "the file is empty")
    raw = _mapping(raw, "(top level)")
    _check_keys(raw, TOP_LEVEL, "")
    strings = {"name": _string(raw, "name"), "description": _string(raw, "description"),
               "kind": _string(raw, "kind", KINDS), "default_mode": _string(raw, "default_mode", MODES)}
    if not _NAME.match(strings["name"]):
        raise _Fail("name", "use letters, digits, '_', '-' and '.' only")
    kind = strings["kind"]
    clock_hz = _clock(raw)
    fields: dict[str, Quantity] = {}
    for name in SECTIONS:
        if name == "crossbar":
            if kind == "crossbar" and name not in raw:
                raise _Fail("crossbar", "missing: required when kind is crossbar")
            if kind != "crossbar" and name in raw:
                raise _Fail("crossbar", f"not allowed when kind is {kind} (only for kind crossbar)")
        if name not in raw:
            if name in OPTIONAL_SECTIONS:
                continue
            raise _Fail(name, "missing required section")
        fields.update(_section(raw, name, kind, clock_hz))
    _check_totals(fields)
    if kind == "crossbar":
        _check_crossbar(fields)
    if fields["memory.code_per_tile"].si >= fields["compute.tile_memory"].si:
        raise _Fail("memory.code_per_tile", "must be less than compute.tile_memory (no room left for data)")
    placements = PLACEMENTS[kind]
    strings["default_placement"] = _string(raw, "default_placement", placements)
    fields.update(_precision(raw, strings, clock_hz))
    return strings, fields


def validate(raw: Any, where: str) -> tuple[dict[str, str], dict[str, Quantity]]:
    """Check a parsed profile; return its strings and its fields (dotted name -> Quantity).

    ``where`` names the file in the one-line ``ProfileError``.
    """
    try:
        return _validate(raw)
    except _Fail as exc:
        raise ProfileError(f"{where}: field '{exc.field}': {exc.msg}") from None
