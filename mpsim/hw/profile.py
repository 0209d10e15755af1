"""Loading a hardware profile: YAML file -> validated ``Profile`` with every number in SI.

The engines read only this object, never the YAML, so that a unit or a missing source can be
wrong in exactly one place (the file) and is caught in exactly one place (``schema.validate``).
"""

from __future__ import annotations

import copy
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, NamedTuple

import yaml

from hwprofiles import profile_dir
from mpsim.errors import ProfileError
from mpsim.hw.precision import PRECISIONS, Precision
from mpsim.hw.schema import OP_CLASSES, Quantity, validate
from mpsim.hw.units import DTYPE_BYTES
from mpsim.jsonfile import read_text
from mpsim.limits import MAX_PROFILE_DEPTH, MAX_PROFILE_FILE_BYTES, show

LINK_FIELDS = ("on_tile", "exchange", "chip_to_chip", "offchip", "host_in", "host_out")
MAX_EXTENDS = 8  # a chain of ``extends`` longer than this is a cycle or a mistake


class RawField(NamedTuple):
    """A field as written in the file, for ``mpsim profiles show``."""

    value: float | int | bool
    unit: str
    source: str


@dataclass(frozen=True)
class Crossbar:
    """Analog array parameters (SI). ``mvm_latency_s`` is one read with one input slice."""

    rows: int
    cols: int
    bits_per_cell: int
    weight_bits: int
    dac_bits: int
    adc_bits: int
    conductance_levels: int
    mvm_latency_s: float
    adc_latency_s: float
    arrays_per_tile: int
    read_noise: float
    stuck_at_on: float
    stuck_at_off: float
    programmable_per_frame: bool
    spatial_unroll: bool = False  # every output position has its own cells (TrueNorth)
    rows_per_input: int = 1  # word lines one input drives (TrueNorth's trinary weights: 2)
    partial_sum_bits: int = 0  # bits of a partial sum sent between arrays of a split layer (0: adc_bits)

    @property
    def partial_sum_bytes(self) -> float:
        return (self.partial_sum_bits or self.adc_bits) / 8

    @property
    def cells_per_weight(self) -> int:
        """Cells side by side in a row that hold one weight (bit slicing / differential pair)."""
        return math.ceil(self.weight_bits / self.bits_per_cell)

    @property
    def weights_per_array(self) -> int:
        """Weights one array holds: rows x whole weight columns."""
        return self.rows * (self.cols // self.cells_per_weight)

    def input_slices(self, input_bits: int) -> int:
        """Reads needed to apply an ``input_bits``-wide input through ``dac_bits``-wide DACs."""
        return math.ceil(input_bits / self.dac_bits)

    def mvm_time_s(self, input_bits: int) -> float:
        """Time of one full matrix-vector multiply on one array at ``input_bits`` inputs."""
        return self.input_slices(input_bits) * self.mvm_latency_s


@dataclass(frozen=True)
class Numerics:
    """Number formats of weights and activations (fp32, fp16, bf16, int16, int8)."""

    weights: str
    activations: str

    @property
    def weight_bytes(self) -> int:
        return DTYPE_BYTES[self.weights]

    @property
    def activation_bytes(self) -> int:
        return DTYPE_BYTES[self.activations]

    @property
    def activation_bits(self) -> int:
        return 8 * DTYPE_BYTES[self.activations]


@dataclass(frozen=True)
class Energy:
    """Energy per event in joules; 0.0 where the profile gives none."""

    mac: float = 0.0
    vector_op: float = 0.0
    sram_byte: float = 0.0
    exchange_byte: float = 0.0
    chip_to_chip_byte: float = 0.0
    offchip_byte: float = 0.0
    host_byte: float = 0.0
    adc_conversion: float = 0.0
    crossbar_mvm: float = 0.0


@dataclass(frozen=True)
class Profile:
    """A validated hardware profile at one precision; all numbers SI (bytes, Hz, B/s, s, J, W).

    Build it with ``load_profile`` (a name or a path, with optional overrides); ``with_overrides``
    returns a new profile validated and converted again, so no derived value goes stale.
    """

    name: str
    description: str
    kind: str
    default_mode: str
    default_placement: str
    path: Path
    chips: int
    tiles_per_chip: int
    tile_memory_bytes: float
    clock_hz: float
    vector_ops_per_cycle: float
    precision: Precision  # the format this profile runs at (precision.default, or an override)
    mac_rates: Mapping[str, float]  # MAC/cycle per tile at each supported format
    efficiency: Mapping[str, float]  # achieved fraction of peak per op class (OP_CLASSES)
    precision_efficiency: Mapping[str, float]  # achieved fraction of those at each format listed (else 1)
    winograd: Mapping[str, float]  # fraction of a 3x3 stride-1 conv's multiplies done, per format listed (else 1)
    link_bandwidth: Mapping[str, float]  # LINK_FIELDS, B/s
    host_latency_s: float
    offchip_capacity_bytes: float
    code_per_tile_bytes: float
    sync_s: float
    sync_per_extra_chip_s: float
    op_overhead_s: float
    frame_overhead_s: float  # fixed time per frame before its first operation (sequential, layer_by_layer)
    host_issue_s: float  # host time to issue one operation, overlapped with the device (layer_by_layer)
    fused_elementwise: bool  # elementwise ops run inside the operation before them
    work_tile: int  # output elements per indivisible piece of work (a GPU thread block's tile)
    static_power_w: float
    crossbar: Crossbar | None
    energy: Energy | None
    fields: Mapping[str, RawField]
    si_values: Mapping[str, float]
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def total_tiles(self) -> int:
        return self.chips * self.tiles_per_chip

    @property
    def capacity_bytes(self) -> float:
        """In-processor memory of the whole system (crossbar: digital buffers only)."""
        return self.total_tiles * self.tile_memory_bytes

    @property
    def usable_tile_bytes(self) -> float:
        """Tile memory left for data once code and vertex state are in."""
        return max(0.0, self.tile_memory_bytes - self.code_per_tile_bytes)

    @property
    def macs_per_cycle(self) -> float:
        return self.mac_rates[self.precision.name]

    @property
    def tile_macs_per_s(self) -> float:
        """Peak MAC/s of one tile at the profile's precision (crossbar: one array; gpu: one SM)."""
        return self.macs_per_cycle * self.clock_hz

    @property
    def mac_efficiency(self) -> float:
        """Achieved fraction of the op-class efficiencies at the run's format (1 unless listed)."""
        return self.precision_efficiency.get(self.precision.name, 1.0)

    @property
    def conv3x3_work(self) -> float:
        """Fraction of a 3x3 stride-1 convolution's direct multiplies done at the run's format."""
        return self.winograd.get(self.precision.name, 1.0)

    @property
    def tile_vector_ops_per_s(self) -> float:
        return self.vector_ops_per_cycle * self.clock_hz

    @property
    def numerics(self) -> Numerics:
        """The digital formats the functional executor emulates at this precision."""
        return Numerics(self.precision.exec_weights, self.precision.exec_activations)

    @property
    def total_arrays(self) -> int:
        """Crossbar arrays in the system (0 when the profile has no crossbar)."""
        return self.total_tiles * self.crossbar.arrays_per_tile if self.crossbar else 0

    @property
    def crossbar_weight_capacity(self) -> int:
        """Weights the arrays can hold (0 when the profile has no crossbar)."""
        return self.total_arrays * self.crossbar.weights_per_array if self.crossbar else 0

    @property
    def memory_units(self) -> str:
        """What this machine's placement units are called in reports."""
        return {"crossbar": "arrays", "gpu": "SMs"}.get(self.kind, "tiles")

    def sync_for(self, chips: int) -> float:
        """A synchronisation that spans ``chips`` chips."""
        return self.sync_s + max(0, chips - 1) * self.sync_per_extra_chip_s

    def with_overrides(self, **overrides: Any) -> "Profile":
        """This profile with fields replaced (dotted names with ``__`` or ``.``), validated again."""
        return _build(apply_overrides(self.raw, overrides, self.name), self.path, self.name)

    def with_precision(self, name: str | None) -> "Profile":
        """This profile at another listed format (``None``: unchanged)."""
        if name is None or name == self.precision.name:
            return self
        if name not in self.mac_rates:
            listed = ", ".join(self.mac_rates)
            raise ProfileError(f"profile {self.name} has no MAC rate for precision '{name}' (it lists {listed})")
        return self.with_overrides(**{"precision.default": name})


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice (PyYAML would silently keep the last) and
    nesting deeper than ``MAX_PROFILE_DEPTH`` (PyYAML composes recursively)."""

    _depth = 0

    def compose_node(self, parent, index):  # type: ignore[override]
        self._depth += 1
        try:
            if self._depth > MAX_PROFILE_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested deeper than the limit of {MAX_PROFILE_DEPTH} "
                                                              "levels", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}'", mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path, where: str) -> Any:
    try:
        text = read_text(path, MAX_PROFILE_FILE_BYTES, "profile file", ProfileError)
    except ProfileError as exc:
        raise ProfileError(str(exc).replace(os.fspath(path), where, 1)) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProfileError(f"{where}: malformed YAML{at}: {problem}") from None
    except (ValueError, TypeError, RecursionError) as exc:  # a 5,000-digit integer, a list as a key, ...
        raise ProfileError(f"{where}: malformed YAML: {show(str(exc) or type(exc).__name__)}") from None


def list_profiles() -> list[str]:
    """Names of the built-in profiles, sorted."""
    return sorted(p.stem for p in profile_dir().glob("*.yaml"))


def _resolve(name_or_path: str | os.PathLike[str]) -> tuple[Path, str]:
    """The file to read and how to name it in messages (built-ins as hwprofiles/NAME.yaml)."""
    text = os.fspath(name_or_path)
    path = Path(text)
    looks_like_path = path.suffix in (".yaml", ".yml") or os.sep in text or "/" in text
    if path.is_dir():
        raise ProfileError(f"{text}: is a folder, not a profile file (give a .yaml file or a built-in name)")
    if looks_like_path and not path.exists():
        raise ProfileError(f"{text}: no such profile file")
    if looks_like_path:
        return path.resolve(), text  # read_text reports a special file
    builtin = profile_dir() / f"{text}.yaml"
    if not looks_like_path and text and builtin.is_file():
        return builtin, f"hwprofiles/{text}.yaml"
    if path.is_file():
        return path.resolve(), text
    raise ProfileError(f"unknown profile '{text}' (built-in: {', '.join(list_profiles())}; "
                       "or give the path of a .yaml file)")


def _crossbar(fields: Mapping[str, Quantity]) -> Crossbar | None:
    if "crossbar.rows" not in fields:
        return None
    q = {k.split(".", 1)[1]: v for k, v in fields.items() if k.startswith("crossbar.")}
    ints = ("rows", "cols", "bits_per_cell", "weight_bits", "dac_bits", "adc_bits", "conductance_levels",
            "arrays_per_tile")
    return Crossbar(
        **{k: int(q[k].si) for k in ints},
        mvm_latency_s=q["mvm_latency"].si, adc_latency_s=q["adc_latency"].si,
        read_noise=q["read_noise"].si, stuck_at_on=q["stuck_at_on"].si, stuck_at_off=q["stuck_at_off"].si,
        programmable_per_frame=bool(q["programmable_per_frame"].value),
        spatial_unroll=bool(q["spatial_unroll"].value) if "spatial_unroll" in q else False,
        rows_per_input=int(q["rows_per_input"].si) if "rows_per_input" in q else 1,
        partial_sum_bits=int(q["partial_sum_bits"].si) if "partial_sum_bits" in q else 0,
    )


def _merge(base: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """``child`` over ``base``: sections merge field by field, a field is replaced whole."""
    out = copy.deepcopy(dict(base))
    for key, val in child.items():
        if isinstance(val, Mapping) and isinstance(out.get(key), Mapping) and not {"value", "unit"} & set(val):
            out[key] = _merge(out[key], val)
        else:
            out[key] = copy.deepcopy(val)
    return out


def read_raw(name_or_path: str | os.PathLike[str], depth: int = 0) -> tuple[dict[str, Any], Path, str]:
    """(raw mapping, path, name in messages) of a profile, ``extends`` resolved: the parent's
    fields under the file's own, section by section."""
    path, where = _resolve(name_or_path)
    raw = _read_yaml(path, where)
    if not isinstance(raw, dict) or "extends" not in raw:
        return raw, path, where
    parent = raw.pop("extends")
    if not isinstance(parent, str) or not parent.strip():
        raise ProfileError(f"{where}: field 'extends': must name a built-in profile or a .yaml path")
    if depth >= MAX_EXTENDS:
        raise ProfileError(f"{where}: field 'extends': more than {MAX_EXTENDS} levels (a cycle?)")
    if not parent.endswith((".yaml", ".yml")) or os.path.isabs(parent):
        target = parent
    else:
        target = str(path.parent / parent)
    base, _, _ = read_raw(target, depth + 1)
    return _merge(base, raw), path, where


_QUANTITY = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(\S.*)$")


def apply_overrides(raw: Mapping[str, Any], overrides: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``raw`` with fields replaced: ``{"compute.chips": 2, "links.host_in": "25 GB/s",
    "precision.default": "fp16"}`` (``__`` may stand for ``.``). A bare number keeps the file's
    unit; ``"VALUE UNIT"`` gives both; a mapping gives value, unit and source."""
    out = copy.deepcopy(dict(raw))
    for key, val in overrides.items():
        parts = key.replace("__", ".").split(".")
        node = out
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ProfileError(f"{where}: override '{key}': no such section '{part}'")
            node = node[part]
        leaf = parts[-1]
        old = node.get(leaf)
        if isinstance(val, Mapping):
            node[leaf] = dict(val)
        elif isinstance(old, Mapping) and "unit" in old:
            unit = old["unit"]
            if isinstance(val, str):
                m = _QUANTITY.match(val)
                if not m:
                    raise ProfileError(f"{where}: override '{key}': give a number or 'VALUE UNIT', got {val!r}")
                val, unit = float(m.group(1)), m.group(2).strip()
            node[leaf] = {"value": val, "unit": unit,
                          "source": f"override: set by the user (the profile had {old.get('value')!r} {old['unit']})"}
        elif old is None and leaf not in node and len(parts) > 1 and not isinstance(val, str):
            raise ProfileError(f"{where}: override '{key}': no such field")
        else:
            node[leaf] = val
    return out


def _build(raw: Any, path: Path, where: str) -> Profile:
    strings, fields = validate(raw, where)
    si = {k: q.si for k, q in fields.items()}
    joules = {k.split(".", 1)[1]: v for k, v in si.items() if k.startswith("energy.")}
    rates = {k.rsplit(".", 1)[1]: v for k, v in si.items() if k.startswith("precision.macs_per_cycle.")}
    fmt_eff = {k.rsplit(".", 1)[1]: v for k, v in si.items() if k.startswith("precision.efficiency.")}
    winograd = {k.rsplit(".", 1)[1]: v for k, v in si.items() if k.startswith("precision.winograd.")}
    return Profile(
        name=strings["name"], description=" ".join(strings["description"].split()), kind=strings["kind"],
        default_mode=strings["default_mode"], default_placement=strings["default_placement"], path=path,
        chips=int(si["compute.chips"]), tiles_per_chip=int(si["compute.tiles_per_chip"]),
        tile_memory_bytes=si["compute.tile_memory"], clock_hz=si["compute.clock"],
        vector_ops_per_cycle=si["compute.vector_ops_per_cycle"],
        precision=PRECISIONS[strings["precision.default"]], mac_rates=MappingProxyType(rates),
        efficiency=MappingProxyType({c: si[f"efficiency.{c}"] for c in OP_CLASSES}),
        precision_efficiency=MappingProxyType(fmt_eff), winograd=MappingProxyType(winograd),
        link_bandwidth=MappingProxyType({n: si[f"links.{n}"] for n in LINK_FIELDS}),
        host_latency_s=si["links.host_latency"],
        offchip_capacity_bytes=si["memory.offchip_capacity"], code_per_tile_bytes=si["memory.code_per_tile"],
        sync_s=si["timing.sync"], sync_per_extra_chip_s=si["timing.sync_per_extra_chip"],
        op_overhead_s=si["timing.op_overhead"], frame_overhead_s=si.get("timing.frame_overhead", 0.0),
        host_issue_s=si.get("timing.host_issue", 0.0), fused_elementwise=si.get("compute.fused_elementwise", 1.0) > 0,
        work_tile=int(si.get("compute.work_tile", 1)), static_power_w=si["power.static"],
        crossbar=_crossbar(fields), energy=Energy(**joules) if joules else None,
        fields=MappingProxyType({k: RawField(q.value, q.unit, q.source) for k, q in fields.items()}),
        si_values=MappingProxyType(si), raw=MappingProxyType(copy.deepcopy(raw)),
    )


def load_profile(name_or_path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None,
                 precision: str | None = None) -> Profile:
    """A built-in profile by name, or a user's profile by path, with optional field overrides
    and another listed precision; ``ProfileError`` (one line) if unknown or bad."""
    raw, path, where = read_raw(name_or_path)
    if overrides:
        raw = apply_overrides(raw, overrides, where)
    return _build(raw, path, where).with_precision(precision)


def profile_from_mapping(raw: Mapping[str, Any], overrides: Mapping[str, Any] | None = None,
                         precision: str | None = None) -> Profile:
    """A profile given as a mapping (what a profile file holds; ``extends`` names a built-in or a
    path), validated and converted like a file."""
    raw = copy.deepcopy(dict(raw))
    where = str(raw.get("name", "<mapping>"))
    if "extends" in raw:
        parent = raw.pop("extends")
        if not isinstance(parent, str) or not parent.strip():
            raise ProfileError(f"{where}: field 'extends': must name a built-in profile or a .yaml path")
        raw = _merge(read_raw(parent, 1)[0], raw)
    if overrides:
        raw = apply_overrides(raw, overrides, where)
    return _build(raw, Path(f"<{where}>"), where).with_precision(precision)
