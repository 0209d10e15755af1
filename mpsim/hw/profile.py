"""Loading a hardware profile: YAML file -> validated ``Profile`` with every number in SI.

The engines read only this object, never the YAML, so that a unit or a missing source can be
wrong in exactly one place (the file) and is caught in exactly one place (``schema.validate``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, NamedTuple

import yaml

from hwprofiles import profile_dir
from mpsim.errors import ProfileError
from mpsim.hw.schema import Quantity, validate
from mpsim.hw.units import DTYPE_BYTES
from mpsim.jsonfile import read_text
from mpsim.limits import MAX_PROFILE_DEPTH, MAX_PROFILE_FILE_BYTES, show

LINK_CLASSES = ("on_tile", "exchange", "chip_to_chip", "offchip", "host")


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
    sram_byte: float = 0.0
    exchange_byte: float = 0.0
    chip_to_chip_byte: float = 0.0
    offchip_byte: float = 0.0
    adc_conversion: float = 0.0
    crossbar_mvm: float = 0.0


@dataclass(frozen=True)
class Profile:
    """A validated hardware profile; all numbers SI (bytes, Hz, B/s, s, J)."""

    name: str
    description: str
    kind: str
    default_mode: str
    path: Path
    chips: int
    tiles_per_chip: int
    tile_memory_bytes: float
    clock_hz: float
    macs_per_cycle: float
    vector_ops_per_cycle: float
    link_bandwidth: Mapping[str, float]
    offchip_capacity_bytes: float
    sync_s: float
    launch_s: float
    crossbar: Crossbar | None
    numerics: Numerics
    energy: Energy | None
    fields: Mapping[str, RawField]
    si_values: Mapping[str, float]

    @property
    def total_tiles(self) -> int:
        return self.chips * self.tiles_per_chip

    @property
    def capacity_bytes(self) -> float:
        """In-processor memory of the whole system (crossbar: digital buffers only)."""
        return self.total_tiles * self.tile_memory_bytes

    @property
    def tile_macs_per_s(self) -> float:
        """MAC/s of one tile (kind crossbar: of one array, as macs_per_cycle is per array)."""
        return self.macs_per_cycle * self.clock_hz

    @property
    def tile_vector_ops_per_s(self) -> float:
        return self.vector_ops_per_cycle * self.clock_hz

    @property
    def total_arrays(self) -> int:
        """Crossbar arrays in the system (0 when the profile has no crossbar)."""
        return self.total_tiles * self.crossbar.arrays_per_tile if self.crossbar else 0

    @property
    def crossbar_weight_capacity(self) -> int:
        """Weights the arrays can hold (0 when the profile has no crossbar)."""
        return self.total_arrays * self.crossbar.weights_per_array if self.crossbar else 0


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


def _si(fields: Mapping[str, Quantity], section: str, names: list[str]) -> dict[str, float]:
    return {n: fields[f"{section}.{n}"].si for n in names if f"{section}.{n}" in fields}


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
    )


def load_profile(name_or_path: str | os.PathLike[str]) -> Profile:
    """A built-in profile by name, or a user's profile by path; ``ProfileError`` if unknown or bad."""
    path, where = _resolve(name_or_path)
    strings, fields = validate(_read_yaml(path, where), where)
    si = {k: q.si for k, q in fields.items()}
    joules = {k.split(".", 1)[1]: v for k, v in si.items() if k.startswith("energy.")}
    energy = Energy(**joules) if joules else None
    return Profile(
        name=strings["name"], description=" ".join(strings["description"].split()), kind=strings["kind"],
        default_mode=strings["default_mode"], path=path,
        chips=int(si["compute.chips"]), tiles_per_chip=int(si["compute.tiles_per_chip"]),
        tile_memory_bytes=si["compute.tile_memory"], clock_hz=si["compute.clock"],
        macs_per_cycle=si["compute.macs_per_cycle"], vector_ops_per_cycle=si["compute.vector_ops_per_cycle"],
        link_bandwidth=MappingProxyType({n: si[f"links.{n}"] for n in LINK_CLASSES}),
        offchip_capacity_bytes=si["memory.offchip_capacity"], sync_s=si["timing.sync"],
        launch_s=si["timing.launch"], crossbar=_crossbar(fields),
        numerics=Numerics(strings["numerics.weights"], strings["numerics.activations"]),
        energy=energy,
        fields=MappingProxyType({k: RawField(q.value, q.unit, q.source) for k, q in fields.items()}),
        si_values=MappingProxyType(si),
    )
