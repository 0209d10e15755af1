"""How long one firing of a node takes on a given share of a machine.

Every placement style asks the same questions (how fast is this op on t tiles, on a crossbar
with r replicas, on a GPU), so the answers live here once:

* An op's work divides into **whole tiles**, and an op cannot use more tiles than it has
  independent output partitions (its output elements): with P partitions on t tiles the
  busiest tile holds ceil(P / min(t, P)) of them.
* Each op class runs at the profile's achieved fraction of peak (``efficiency``): dense k x k
  convolutions, 1 x 1 / matmul, depthwise / grouped, elementwise, pooling / resizing.
* MACs run at the profile's MAC rate at its precision; elementwise work at its vector rate.
* A crossbar weight layer takes one array read per output pixel and input slice
  (activation bits / DAC bits), divided among its replicas.
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


def partitions(g: Graph, n: Node, batch: int = 1) -> int:
    """Independent output partitions of one firing: its output elements."""
    return max(1, batch * sum(tensor_spec(g, t).numel for t in n.outputs))


def tile_time(g: Graph, n: Node, p: Profile, tiles: int, batch: int = 1) -> float:
    """Seconds for one firing of ``n`` spread over ``tiles`` digital tiles (or SMs), excluding
    the fixed per-op overhead: whole partitions per tile, the class's efficiency applied."""
    parts = partitions(g, n, batch)
    used = max(1, min(tiles, parts))
    per_tile = math.ceil(parts / used) / parts  # the busiest tile's share of the work
    eff = p.efficiency
    t = 0.0
    if n.macs > 0:
        t += batch * n.macs * per_tile / (p.tile_macs_per_s * eff[op_class(g, n)])
    vec = vector_ops(g, n)
    if vec > 0:
        cls = "pooling" if n.op in POOLING_OPS else "vector"
        t += batch * vec * per_tile / (p.tile_vector_ops_per_s * eff[cls])
    return t


def crossbar_mvms(g: Graph, n: Node, batch: int = 1) -> int:
    """Array reads of one full-precision input per firing: one per output pixel (conv) or row."""
    out = g.tensors[n.outputs[0]].shape
    per_image = math.prod(out) // out[1] if n.op.startswith("conv") else math.prod(out[:-1])
    return batch * per_image


def crossbar_time(g: Graph, n: Node, p: Profile, replicas: int, batch: int = 1) -> float:
    """Seconds for one firing of a weight layer held in crossbar arrays with ``replicas`` copies."""
    xb = p.crossbar
    slices = xb.input_slices(p.precision.activation_bits)
    t = crossbar_mvms(g, n, batch) * slices * xb.mvm_latency_s / max(1, replicas)
    vec = vector_ops(g, n)
    if vec > 0:
        t += batch * vec / (p.tile_vector_ops_per_s * p.efficiency["vector"])
    return t


def firing_time(g: Graph, n: Node, p: Profile, tiles: int, replicas: int = 1, batch: int = 1) -> float:
    """One firing on a unit of ``tiles`` tiles (crossbar: its weight layers have ``replicas``)."""
    if p.kind == "crossbar" and is_weight_layer(n.op):
        t = crossbar_time(g, n, p, replicas, batch)
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
        reads = crossbar_mvms(g, n, batch) * xb.input_slices(p.precision.activation_bits)
        out = g.tensors[n.outputs[0]].shape
        columns = (out[1] if n.op.startswith("conv") else out[-1]) * xb.cells_per_weight
        return reads * max(1, arrays) * e.crossbar_mvm + vec, reads * columns * e.adc_conversion
    return batch * n.macs * e.mac + vec, 0.0
