"""How long one firing of a node takes on a given share of a machine.

Every placement style asks the same questions (how fast is this op on t tiles, on a crossbar
with r replicas, on a GPU), so the answers live here once:

* An op's work divides into **whole tiles**, and an op cannot use more tiles than it has
  independent output partitions (its output elements, in pieces of at least
  ``compute.work_tile`` of them: a GPU thread block's output tile): with P partitions on t tiles
  the busiest tile holds ceil(P / min(t, P)) of them.
* Each op class runs at the profile's achieved fraction of peak (``efficiency``): dense k x k
  convolutions, 1 x 1 / matmul, depthwise / grouped, elementwise, pooling / resizing; MACs also
  at the format's fraction of those (``precision.efficiency``: tensor cores, 1 if not given), and
  a dense 3 x 3 stride-1 convolution does ``precision.winograd`` of its direct multiplies (a
  library's Winograd algorithm; 1 if not given).
* MACs run at the profile's MAC rate at its precision; elementwise work at its vector rate.
* A crossbar weight layer takes one array read per output pixel and input slice
  (activation bits / DAC bits), whole reads divided among its replicas; a layer whose inputs
  span several arrays also sends each read's partial sums to the array that adds them
  (``partial_sum_bits`` per column over the exchange link, overlapped with the next read);
  on a spatially unrolled crossbar
  (TrueNorth) one read per input slice, every position at once, and the elementwise ops fused
  with it happen inside that read (the neurons integrate and fire).
"""

from __future__ import annotations

import math

from mpsim.hw.profile import Profile
from mpsim.ir.graph import Graph, Node
from mpsim.ir.ops import is_weight_layer
from mpsim.mapping.work import tensor_spec, vector_ops

POOLING_OPS = frozenset({"max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "interpolate", "max_unpool2d",
                         "upsample"})


def op_class(g: Graph, n: Node) -> str:
    """The efficiency class of a node (one of ``mpsim.hw.schema.OP_CLASSES``)."""
    if n.macs > 0 and n.op.startswith("conv"):
        if int(n.attrs.get("groups", 1)) > 1:
            return "depthwise"
        w = g.param_shape(n.params["weight"]) if "weight" in n.params else ()
        return "conv" if len(w) == 4 and w[2] * w[3] > 1 else "pointwise"
    if n.macs > 0:
        return "pointwise"
    return "pooling" if n.op in POOLING_OPS else "vector"


def direct_mac_share(g: Graph, n: Node, p: Profile) -> float:
    """Fraction of ``n``'s direct MACs the machine performs: ``p.conv3x3_work`` (Winograd) for a
    dense 3 x 3 stride-1 convolution, else 1."""
    if p.conv3x3_work == 1.0 or op_class(g, n) != "conv":
        return 1.0
    w = g.param_shape(n.params["weight"])
    stride = tuple(n.attrs.get("stride", (1, 1)))
    return p.conv3x3_work if tuple(w[2:]) == (3, 3) and stride == (1, 1) else 1.0


def partitions(g: Graph, n: Node, batch: int = 1, work_tile: int = 1) -> int:
    """Independent output partitions of one firing: its output elements, in pieces of at least
    ``work_tile`` elements."""
    return max(1, math.ceil(batch * sum(tensor_spec(g, t).numel for t in n.outputs) / work_tile))


def tile_time(g: Graph, n: Node, p: Profile, tiles: int, batch: int = 1) -> float:
    """Seconds for one firing of ``n`` spread over ``tiles`` digital tiles (or SMs), excluding
    the fixed per-op overhead: whole partitions per tile, the class's efficiency applied."""
    parts = partitions(g, n, batch, p.work_tile)
    used = max(1, min(tiles, parts))
    per_tile = math.ceil(parts / used) / parts  # the busiest tile's share of the work
    eff = p.efficiency
    t = 0.0
    if n.macs > 0:
        work = batch * n.macs * direct_mac_share(g, n, p)
        t += work * per_tile / (p.tile_macs_per_s * eff[op_class(g, n)] * p.mac_efficiency)
    vec = vector_ops(g, n)
    if vec > 0:
        cls = "pooling" if n.op in POOLING_OPS else "vector"
        t += batch * vec * per_tile / (p.tile_vector_ops_per_s * eff[cls])
    return t


def crossbar_mvms(g: Graph, n: Node, p: Profile, batch: int = 1) -> int:
    """Array reads of one full-precision input per firing: one per output pixel (conv) or row;
    one per image when the crossbar is spatially unrolled (every position has its own arrays)."""
    if p.crossbar.spatial_unroll:
        return batch
    out = g.tensors[n.outputs[0]].shape
    per_image = math.prod(out) // out[1] if n.op.startswith("conv") else math.prod(out[:-1])
    return batch * per_image


def partial_sum_time(g: Graph, n: Node, p: Profile) -> float:
    """Seconds to send one read's partial sums to the array that adds them, when the layer's
    inputs span several arrays: each other array sends its columns' sums (``partial_sum_bits``
    each) over its own exchange link, in parallel. 0 when one array holds a column's inputs."""
    xb = p.crossbar
    if xb.spatial_unroll:
        return 0.0
    shape = g.param_shape(n.params["weight"])
    groups = int(n.attrs.get("groups", 1)) if n.op.startswith("conv") else 1
    rows = math.prod(shape[1:]) * xb.rows_per_input
    if rows <= xb.rows:
        return 0.0
    features = min(shape[0] // groups, xb.cols // xb.cells_per_weight)
    return features * xb.partial_sum_bytes / p.link_bandwidth["exchange"]


def crossbar_time(g: Graph, n: Node, p: Profile, replicas: int, batch: int = 1) -> float:
    """Seconds for one firing of a weight layer held in crossbar arrays with ``replicas`` copies:
    whole reads shared among the copies (a read is not divisible), each followed by its partial
    sums' transfer when the layer spans arrays by rows (the next read overlaps it)."""
    xb = p.crossbar
    slices = xb.input_slices(p.precision.activation_bits)
    copies = 1 if xb.spatial_unroll else max(1, replicas)
    reads = math.ceil(crossbar_mvms(g, n, p, batch) / copies)
    read, psum = slices * xb.mvm_latency_s, partial_sum_time(g, n, p)
    t = reads * max(read, psum) + min(read, psum)
    vec = vector_ops(g, n)
    if vec > 0:
        t += batch * vec / (p.tile_vector_ops_per_s * p.efficiency["vector"])
    return t


def firing_time(g: Graph, n: Node, p: Profile, tiles: int, replicas: int = 1, batch: int = 1) -> float:
    """One firing on a unit of ``tiles`` tiles (crossbar: its weight layers have ``replicas``)."""
    if p.kind == "crossbar" and is_weight_layer(n.op):
        t = crossbar_time(g, n, p, replicas, batch)
    elif p.kind == "crossbar" and p.crossbar.spatial_unroll:
        return 0.0  # every position's neurons apply it within their layer's read (integrate and fire)
    else:
        t = tile_time(g, n, p, tiles, batch)
    return max(t, 1.0 / p.clock_hz)  # nothing takes less than a cycle


def firing_energy(g: Graph, n: Node, p: Profile, arrays: int = 0, batch: int = 1) -> tuple[float, float]:
    """(compute, conversion) joules of one firing: digital MACs and vector ops, or on a crossbar
    one read per array, output pixel and input slice plus one ADC conversion per column read."""
    e = p.energy
    if e is None:
        return 0.0, 0.0
    vec = batch * vector_ops(g, n) * e.vector_op
    if p.kind == "crossbar" and is_weight_layer(n.op):
        xb = p.crossbar
        reads = crossbar_mvms(g, n, p, batch) * xb.input_slices(p.precision.activation_bits)
        out = g.tensors[n.outputs[0]].shape
        per_read = math.prod(out[1:]) if xb.spatial_unroll else (out[1] if n.op.startswith("conv") else out[-1])
        columns = per_read * xb.cells_per_weight
        return reads * max(1, arrays) * e.crossbar_mvm + vec, reads * columns * e.adc_conversion
    return batch * n.macs * e.mac + vec, 0.0
