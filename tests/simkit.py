"""Hand-sized graphs and a round-number profile, so simulated times can be worked out by hand."""

from __future__ import annotations

from pathlib import Path

from mpsim.hw.profile import load_profile
from mpsim.ir.builder import GraphBuilder
from mpsim.ir.loops import fold

# 1 GHz clock, 1 MAC (fp32; 4 in fp16) and 1 vector op per cycle per tile, 1 B/cycle exchange per
# tile, 1 GB/s host links and chip links, ideal efficiency: a node's time in ns on one tile is its
# MACs plus its vector ops.
PROFILE_YAML = """
name: {name}
description: round numbers for hand-computed tests
kind: tiles
default_mode: dataflow
default_placement: pipelined
compute:
  chips:          {{value: {chips}, unit: count, source: "{why}"}}
  tiles_per_chip: {{value: {tiles}, unit: count, source: "{why}"}}
  tile_memory:    {{value: 1, unit: KiB, source: "{why}"}}
  clock:          {{value: 1, unit: GHz, source: "{why}"}}
  vector_ops_per_cycle: {{value: 1, unit: op/cycle, source: "{why}"}}
efficiency:
  conv:      {{value: 1, unit: ratio, source: "{why}"}}
  pointwise: {{value: 1, unit: ratio, source: "{why}"}}
  depthwise: {{value: 1, unit: ratio, source: "{why}"}}
  vector:    {{value: 1, unit: ratio, source: "{why}"}}
  pooling:   {{value: 1, unit: ratio, source: "{why}"}}
links:
  on_tile:      {{value: 8, unit: B/cycle, source: "{why}"}}
  exchange:     {{value: 1, unit: B/cycle, source: "{why}"}}
  chip_to_chip: {{value: 1, unit: GB/s, source: "{why}"}}
  offchip:      {{value: 1, unit: GB/s, source: "{why}"}}
  host_in:      {{value: 1, unit: GB/s, source: "{why}"}}
  host_out:     {{value: 1, unit: GB/s, source: "{why}"}}
  host_latency: {{value: 0, unit: ns, source: "{why}"}}
memory:
  offchip_capacity: {{value: 1, unit: GB, source: "{why}"}}
  code_per_tile:    {{value: 0, unit: B, source: "{why}"}}
timing:
  sync:   {{value: 10, unit: cycles, source: "{why}"}}
  sync_per_extra_chip: {{value: 5, unit: cycles, source: "{why}"}}
  op_overhead: {{value: 0, unit: ns, source: "{why}"}}
power:
  static: {{value: 1, unit: W, source: "{why}"}}
precision:
  default: fp32
  macs_per_cycle:
    fp32: {{value: 1, unit: MAC/cycle, source: "{why}"}}
    fp16: {{value: 4, unit: MAC/cycle, source: "{why}"}}
"""
WHY = "assumption: round numbers for a hand-computed test"


def round_profile(tmp: Path, tiles: int, name: str = "round", chips: int = 1):
    path = tmp / f"{name}_{tiles}_{chips}.yaml"
    path.write_text(PROFILE_YAML.format(name=name, tiles=tiles, chips=chips, why=WHY))
    return load_profile(str(path))


def conv(b: GraphBuilder, x: str, cin: int, cout: int, k: int, w: str) -> str:
    b.weight(w, (cout, cin, k, k))
    attrs = {"stride": [1, 1], "padding": [k // 2, k // 2], "dilation": [1, 1], "groups": 1}
    return b.node("conv2d", [x], attrs, {"weight": w}, name=w)[0]


def chain_graph():
    """x[1,1,4,4] -> conv A (1->2, 3x3: 288 MACs) -> relu (32 ops) -> conv B (2->1, 1x1: 32 MACs)."""
    b = GraphBuilder("chain")
    x = b.input("x", (1, 1, 4, 4))
    a = conv(b, x, 1, 2, 3, "A")
    r = b.node("relu", [a])[0]
    out = conv(b, r, 2, 1, 1, "B")
    b.output(out)
    return b.build()


def loop_graph(trips: int, every_output: bool = False):
    """conv0 (1->2, 3x3: 288 MACs), then ``trips`` x [conv S (2->2, 3x3, shared: 576 MACs) -> relu (32)];
    the last iteration's output, or (``every_output``) one after every iteration."""
    b = GraphBuilder("anytime" if every_output else "loop")
    x = b.input("x", (1, 1, 4, 4))
    s = conv(b, x, 1, 2, 3, "c0")
    b.weight("S", (2, 2, 3, 3))
    attrs = {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "groups": 1}
    for _ in range(trips):
        s = b.node("conv2d", [s], attrs, {"weight": "S"}, name="S")[0]
        s = b.node("relu", [s])[0]
        if every_output:
            b.output(s)
    if not every_output:
        b.output(s)
    flat = b.build()
    return flat, fold(flat)


def anytime_loop_graph(trips: int):
    """An ItNet in miniature: ``loop_graph`` with an output after every iteration."""
    return loop_graph(trips, every_output=True)
