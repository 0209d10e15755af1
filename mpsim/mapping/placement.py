"""The one interface between placement styles and the simulation plan.

A placement style (``pipelined``, ``sequential``, ``layer_by_layer``: one module each in this
package) answers the same question for a graph on a profile: which *units* (servers that run
one firing at a time: a tile set, a chip, a GPU) execute which *plan nodes* (a graph node or a
fused group of them), how long each firing takes, which *links* carry data between units, and
whether it all fits. ``mpsim.sim.plan.build_plan`` turns any ``Placement`` into the flat arrays
both engines run; nothing downstream knows which style made it.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from typing import Any

from mpsim.errors import MpsimError
from mpsim.hw.profile import Profile
from mpsim.hw.schema import PLACEMENTS
from mpsim.ir.graph import Graph

STYLES = ("pipelined", "sequential", "layer_by_layer")
HOST_OUTPUTS = ("labels", "tensors")
SOURCE = -1  # edge source: the frame's input (delivered by the host-in unit)
INSIDE = -1  # edge link: inside one unit, no link time


@dataclass(frozen=True)
class RunOptions:
    """How to run a graph on a profile, beyond the profile itself."""

    placement: str | None = None  # None: the profile's default_placement
    replicas: int | None = None  # None: as many as the spare chips hold ("auto")
    batch: int = 1  # images per frame (a GPU's or an IPU's batch)
    precision: str | None = None  # None: the profile's precision.default
    host_output: str = "labels"  # what crosses the host link back: class labels or whole tensors
    mode: str | None = None  # how a pipelined placement will run (None: the profile's): shapes its tile balance


@dataclass(frozen=True)
class UnitPlacement:
    """A server: tiles (arrays, SMs) that run one firing at a time."""

    name: str
    chip: int
    tiles: int  # allocated tiles (crossbar: arrays)
    min_tiles: int  # what its memory needs
    weight_bytes: float
    buffer_bytes: float
    graph_nodes: tuple[int, ...] = ()
    held_bytes: float = 0.0  # what its tile memory holds (crossbar: buffers only; weights are in arrays)
    capacity_bytes: float = 0.0  # data capacity of its tile memory (code and vertex state excluded)

    @property
    def occupancy(self) -> float:
        """Fraction of its tiles' data memory in use (0 when it holds none, e.g. a GPU stream)."""
        return self.held_bytes / self.capacity_bytes if self.capacity_bytes else 0.0


@dataclass(frozen=True)
class PlanNode:
    """What a unit runs per firing: one graph node, or a fused group run as one operation."""

    name: str
    unit: int
    graph_nodes: tuple[int, ...]
    compute_s: float  # arithmetic (and streamed weights)
    sync_s: float = 0.0  # synchronisations inside the operation (sequential styles)
    exchange_s: float = 0.0  # exchange inside the operation (sequential styles)
    overhead_s: float = 0.0  # fixed per-operation cost (launch, compute-set start)
    local_bytes: float = 0.0  # tile-memory traffic per firing
    offchip_bytes: float = 0.0  # off-chip traffic per firing
    energy_compute_j: float = 0.0
    energy_conversion_j: float = 0.0

    @property
    def service_s(self) -> float:
        return self.overhead_s + self.compute_s + self.sync_s + self.exchange_s


@dataclass(frozen=True)
class PlanEdge:
    """Data a firing of ``dst`` needs from ``src`` (SOURCE: the frame's input)."""

    src: int
    dst: int
    kind: int  # mpsim.mapping.program edge kinds
    tap: int
    nbytes: float
    link: int  # index into Placement.links, or INSIDE
    tensor: str = ""  # what it carries (the graph's name)


@dataclass(frozen=True)
class LinkSpec:
    name: str
    cls: str  # exchange | chip_to_chip (| host, added by the plan)
    bandwidth: float  # B/s
    energy_per_byte: float = 0.0
    latency_s: float = 0.0


@dataclass(frozen=True)
class MemoryVerdict:
    """Does it fit, and how full is it: the figures the report shows."""

    required_bytes: float
    capacity_bytes: float
    units_needed: int  # tiles / arrays / SMs the memory needs
    units_used: int
    units_available: int
    unit_word: str  # "tiles", "arrays" or "SMs"
    largest: str
    largest_bytes: float
    overflow_bytes: float
    occupancy: dict[str, float] = field(default_factory=dict)  # min / mean / max over units


@dataclass(frozen=True)
class Placement:
    """A style's answer; ``build_plan`` consumes it."""

    style: str  # the style asked for
    graph: Graph  # the view nodes refer to (folded, or unrolled for layer_by_layer)
    profile: Profile  # at the run's precision
    options: RunOptions
    fits: bool
    feasible: bool
    strategy: str  # what ran: the style, "fallback" (off-chip weights) or "infeasible"
    note: str
    replicas: int
    chips_per_replica: int
    memory: MemoryVerdict
    units: tuple[UnitPlacement, ...]
    nodes: tuple[PlanNode, ...]
    edges: tuple[PlanEdge, ...]
    links: tuple[LinkSpec, ...]
    outputs: tuple[tuple[int, int], ...]  # (plan node, iteration or -1) of m_1..m_K
    sync_s: float  # one BSP synchronisation of a replica (spans its chips)
    window: int | None = None  # frames in flight when none is offered (None: the plan decides)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def batch(self) -> int:
        return self.options.batch


def resolve_style(p: Profile, options: RunOptions) -> str:
    """The style to run: the requested one if this kind of machine can run it, else its default."""
    allowed = PLACEMENTS[p.kind]
    style = options.placement or p.default_placement
    if style not in STYLES:
        raise MpsimError(f"unknown placement '{style}' (choose from {', '.join(STYLES)})")
    if style not in allowed:
        raise MpsimError(f"placement '{style}' cannot run on {p.name} (a {p.kind} machine runs "
                         f"{', '.join(allowed)})")
    return style


def place(g: Graph, p: Profile, options: RunOptions | None = None) -> Placement:
    """Place ``g`` on ``p`` in the requested (or the profile's default) style."""
    options = options or RunOptions()
    if options.batch < 1:
        raise MpsimError(f"--batch must be at least 1, got {options.batch}")
    if options.replicas is not None and options.replicas < 1:
        raise MpsimError(f"--replicas must be at least 1 or auto, got {options.replicas}")
    if options.host_output not in HOST_OUTPUTS:
        raise MpsimError(f"unknown host output '{options.host_output}' (choose from {', '.join(HOST_OUTPUTS)})")
    p = p.with_precision(options.precision)
    style = resolve_style(p, options)
    module = importlib.import_module(f"mpsim.mapping.{style}")
    return dataclasses.replace(module.place(g, p, options), style=style)  # what was asked; strategy: what ran


def replica_count(p: Profile, chips_per_replica: int, options: RunOptions) -> int:
    """Replicas on the chips a replica leaves over: ``auto`` fills them, a number must fit."""
    room = max(1, p.chips // max(1, chips_per_replica))
    if options.replicas is None:
        return room
    if options.replicas > room:
        raise MpsimError(f"--replicas {options.replicas} needs {options.replicas * chips_per_replica} chips; "
                         f"{p.name} has {p.chips} and a replica takes {chips_per_replica}")
    return options.replicas


def infeasible(g: Graph, p: Profile, options: RunOptions, style: str, verdict: MemoryVerdict,
               note: str) -> Placement:
    """A graph this machine cannot run at all (a crossbar cannot rewrite weights per frame, a GPU
    without the device memory): the verdict and why, nothing to simulate."""
    return Placement(
        style=style, graph=g, profile=p, options=options, fits=False, feasible=False, strategy="infeasible",
        note=note, replicas=0, chips_per_replica=0, memory=verdict, units=(), nodes=(), edges=(), links=(),
        outputs=(), sync_s=0.0)
