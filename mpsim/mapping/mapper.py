"""Place a folded graph on a profile: memory per unit, tiles per unit, and the verdict.

Digital tiles hold a unit's weights plus its input and output buffers, split evenly across
the unit's tiles.  Analog crossbars hold weight matrices as rows x (columns x cells per
weight x 2 for differential pairs), activations in the arrays' digital buffers.  A folded
loop is placed once.  Spare tiles (or array replicas) go to the slowest units until the
pipeline is balanced: the bottleneck unit sets throughput.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mpsim.hw.profile import Profile
from mpsim.ir.graph import Graph
from mpsim.ir.ops import is_weight_layer
from mpsim.mapping.fusion import Unit, fuse
from mpsim.mapping.work import tensor_bytes, vector_ops

NUMERIC_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int16": 2, "int8": 1}
NUMERIC_BITS = {k: 8 * v for k, v in NUMERIC_BYTES.items()}
IN_PLACE = frozenset({"relu", "relu6", "sigmoid", "hardswish", "clamp", "batch_norm", "prelu", "add", "mul", "reshape"})


@dataclass(frozen=True)
class UnitPlacement:
    name: str
    nodes: tuple[int, ...]
    loop: str | None
    fires_per_frame: int
    min_tiles: int  # tiles (or crossbar arrays) its memory needs
    tiles: int  # tiles (or arrays) allocated after balancing
    first_tile: int
    chip: int
    weight_bytes: int
    buffer_bytes: int
    busy_per_frame_s: float  # per-frame busy time with the allocated tiles

    @property
    def occupancy(self) -> float:
        """Fraction of its tiles' memory the unit fills (digital tiles)."""
        return 0.0 if self.tiles == 0 else (self.weight_bytes + self.buffer_bytes) / self.tiles


@dataclass(frozen=True)
class Placement:
    """The mapper's answer: where everything sits and whether it fits."""

    profile: str
    kind: str
    fits: bool
    feasible: bool  # False: analog weights would have to be rewritten per frame
    required_bytes: int
    capacity_bytes: int
    tiles_used: int
    tiles_available: int
    min_tiles: int
    largest_unit: str
    largest_unit_bytes: int
    overflow_bytes: int
    units: tuple[UnitPlacement, ...]
    unit_of: tuple[int, ...]  # node position -> unit index
    service_s: tuple[float, ...]  # node position -> seconds per firing on its unit
    act_bytes: int
    note: str = ""

    def occupancy_stats(self, tile_memory: float) -> dict[str, float]:
        occ = [u.occupancy / tile_memory for u in self.units if u.tiles > 0]
        if not occ:
            return {"min": 0.0, "mean": 0.0, "max": 0.0}
        return {"min": float(min(occ)), "mean": float(np.mean(occ)), "max": float(max(occ))}


def _fires(g: Graph, unit: Unit) -> int:
    if unit.loop is None:
        return 1
    return next(lp.trip_count for lp in g.loops if lp.name == unit.loop)


def _unit_bytes(g: Graph, unit: Unit, w_bytes: int, a_bytes: int) -> tuple[int, int]:
    """(weight bytes, buffer bytes) of a unit on digital tiles."""
    nodes = [g.nodes[i] for i in unit.nodes]
    inside = {t for n in nodes for t in n.outputs}
    weights = sum(g.weights[w].numel * w_bytes for n in nodes for w in g.param_names(n))
    ins = {t for n in nodes for t in n.inputs if t not in inside}
    # Fused elementwise ops write over their first input (the paper's fusion assumption).
    own = {t for n in nodes if n.op not in IN_PLACE for t in n.outputs}
    buffers = sum(tensor_bytes(g, t, a_bytes) for t in ins | own)
    return weights, buffers


def crossbar_arrays(g: Graph, unit: Unit, p: Profile) -> int:
    """Crossbar arrays that a unit's weight matrices occupy."""
    xb = p.crossbar
    cells = math.ceil(xb.weight_bits / xb.bits_per_cell) * 2  # differential pair
    total = 0
    for i in unit.nodes:
        n = g.nodes[i]
        if not is_weight_layer(n.op):
            continue
        copies = len(g.param_names(n)) // max(1, len(n.params))  # weight groups store every member
        shape = g.param_shape(n.params["weight"])
        if n.op == "conv2d":
            groups = int(n.attrs["groups"])
            rows, cols = shape[1] * shape[2] * shape[3], (shape[0] // groups) * cells
        else:
            groups, rows, cols = 1, shape[1], shape[0] * cells
        if rows <= xb.rows and cols <= xb.cols:
            per_array = min(xb.rows // rows, xb.cols // cols)
            arrays = math.ceil(groups / per_array)
        else:
            arrays = groups * math.ceil(rows / xb.rows) * math.ceil(cols / xb.cols)
        total += arrays * copies
    return total


def _firing_time(g: Graph, i: int, p: Profile, parallel: int, replicas: int) -> float:
    """Seconds for one firing of node i with ``parallel`` tiles (digital) or ``replicas``."""
    n = g.nodes[i]
    vec = vector_ops(g, n) / (max(1, parallel) * p.tile_vector_ops_per_s)
    if p.kind == "crossbar" and is_weight_layer(n.op):
        xb = p.crossbar
        passes = math.ceil(min(8, NUMERIC_BITS[p.numerics.activations]) / max(1, xb.dac_bits))
        out = g.tensors[n.outputs[0]].shape
        mvms = int(np.prod(out)) // out[1] if n.op == "conv2d" else int(np.prod(out[:-1]))
        t = mvms * passes * (xb.mvm_latency_s + xb.adc_latency_s) / max(1, replicas) + vec
    else:
        t = n.macs / (max(1, parallel) * p.tile_macs_per_s) + vec
    return max(t, 1.0 / p.clock_hz)


def _balance(work: np.ndarray, minimum: np.ndarray, step: np.ndarray, budget: int) -> np.ndarray:
    """Allocation a_u = minimum_u * r_u (replicas) or minimum_u + extra tiles, minimising
    max_u work_u / share_u within ``budget``; ``step`` is 0 for tile units (any count) and
    the replica size for array units."""
    share = np.maximum(minimum, 1)
    if share.sum() > budget or work.max() <= 0:
        return minimum.copy()

    def alloc(tau: float) -> np.ndarray:
        need = np.ceil(work / tau)
        tiles = np.where(step > 0, np.maximum(1, need) * step, np.maximum(minimum, need))
        return np.where(minimum == 0, 0, tiles).astype(np.int64)

    lo, hi = work.max() / budget, work.max() / 1.0
    if alloc(lo).sum() <= budget:
        return alloc(lo)
    for _ in range(80):
        mid = math.sqrt(lo * hi)
        if alloc(mid).sum() <= budget:
            hi = mid
        else:
            lo = mid
    return alloc(hi)


def place(g: Graph, p: Profile) -> Placement:
    """Map the folded graph ``g`` onto profile ``p``."""
    units, unit_of = fuse(g)
    a_bytes = NUMERIC_BYTES[p.numerics.activations]
    w_bytes = NUMERIC_BYTES[p.numerics.weights]
    sizes = [_unit_bytes(g, u, w_bytes, a_bytes) for u in units]
    fires = np.array([_fires(g, u) for u in units], dtype=np.int64)
    analog = p.kind == "crossbar"
    if analog:
        minimum = np.array([crossbar_arrays(g, u, p) for u in units], dtype=np.int64)
        step = minimum.copy()
        budget = p.total_arrays
        buffers = sum(b for _, b in sizes)
        required = sum(w for w, _ in sizes) + buffers
        fits = int(minimum.sum()) <= budget and buffers <= p.capacity_bytes
    else:
        per_unit = np.array([w + b for w, b in sizes], dtype=np.float64)
        minimum = np.maximum(1, np.ceil(per_unit / p.tile_memory_bytes)).astype(np.int64)
        step = np.zeros_like(minimum)
        budget = p.total_tiles
        required = int(per_unit.sum())
        fits = int(minimum.sum()) <= budget
    if p.kind == "gpu":
        # Layer by layer from device memory: the graph must fit there, not in the caches.
        minimum = np.minimum(minimum, 1)
        fits = required <= p.offchip_capacity_bytes
    # Per-frame work of each unit on one tile / one replica.
    single = np.array(
        [fires[k] * sum(_firing_time(g, i, p, 1, 1) for i in u.nodes) for k, u in enumerate(units)]
    )
    alloc = _balance(single, minimum, step, budget) if fits else minimum.copy()
    placements, service = [], [0.0] * len(g.nodes)
    next_tile = 0
    for k, u in enumerate(units):
        tiles = int(alloc[k])
        replicas = max(1, tiles // max(1, minimum[k])) if analog else 1
        parallel = max(1, tiles) if not analog else max(1, tiles)
        for i in u.nodes:
            service[i] = _firing_time(g, i, p, parallel, replicas)
        chip = min(p.chips - 1, next_tile // max(1, p.tiles_per_chip))
        placements.append(
            UnitPlacement(u.name, u.nodes, u.loop, int(fires[k]), int(minimum[k]), tiles, next_tile, chip,
                          sizes[k][0], sizes[k][1], float(fires[k] * sum(service[i] for i in u.nodes)))
        )
        next_tile += tiles
    largest = max(range(len(units)), key=lambda k: sum(sizes[k]))
    capacity = int(p.offchip_capacity_bytes if p.kind == "gpu" else p.capacity_bytes)
    overflow = max(0, required - capacity) if not analog else max(0, int(minimum.sum()) - budget)
    note = ""
    if not fits and analog:
        if int(minimum.sum()) > budget:
            note = (f"infeasible: weights need {int(minimum.sum()):,} crossbar arrays, the chip has {budget:,}, "
                    "and weights cannot be rewritten per frame")
        else:
            note = (f"infeasible: activation buffers need {buffers / 1e6:,.1f} MB, the chip's digital buffers "
                    f"hold {p.capacity_bytes / 1e6:,.1f} MB")
    elif not fits:
        note = "does not fit: simulated with the off-chip fallback (parts reloaded every frame)"
    return Placement(
        profile=p.name, kind=p.kind, fits=bool(fits), feasible=bool(fits or not analog),
        required_bytes=int(required), capacity_bytes=capacity, tiles_used=int(alloc.sum()),
        tiles_available=int(budget), min_tiles=int(minimum.sum()), largest_unit=units[largest].name,
        largest_unit_bytes=int(sum(sizes[largest])), overflow_bytes=int(overflow), units=tuple(placements),
        unit_of=tuple(unit_of), service_s=tuple(service), act_bytes=a_bytes, note=note,
    )
