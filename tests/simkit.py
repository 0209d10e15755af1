"""Hand-sized graphs and a round-number profile, so simulated times can be worked out by hand."""

from __future__ import annotations

from pathlib import Path

from mpsim.hw.profile import load_profile
from mpsim.ir.builder import GraphBuilder
from mpsim.ir.loops import fold

# 1 GHz clock, 1 MAC and 1 vector op per cycle per tile, 1 B/cycle exchange per tile,
# 1 GB/s host link: a node's time in ns is its MACs plus its vector ops.
PROFILE_YAML = """
name: {name}
description: round numbers for hand-computed tests
kind: tiles
default_mode: dataflow
compute:
  chips:          {{value: 1, unit: count, source: "assumption: round numbers for a hand-computed test"}}
  tiles_per_chip: {{value: {tiles}, unit: count, source: "assumption: round numbers for a hand-computed test"}}
  tile_memory:    {{value: 1, unit: KiB, source: "assumption: round numbers for a hand-computed test"}}
  clock:          {{value: 1, unit: GHz, source: "assumption: round numbers for a hand-computed test"}}
  macs_per_cycle: {{value: 1, unit: MAC/cycle, source: "assumption: round numbers for a hand-computed test"}}
  vector_ops_per_cycle: {{value: 1, unit: op/cycle, source: "assumption: round numbers for a hand-computed test"}}
links:
  on_tile:      {{value: 8, unit: B/cycle, source: "assumption: round numbers for a hand-computed test"}}
  exchange:     {{value: 1, unit: B/cycle, source: "assumption: round numbers for a hand-computed test"}}
  chip_to_chip: {{value: 1, unit: GB/s, source: "assumption: round numbers for a hand-computed test"}}
  offchip:      {{value: 1, unit: GB/s, source: "assumption: round numbers for a hand-computed test"}}
  host:         {{value: 1, unit: GB/s, source: "assumption: round numbers for a hand-computed test"}}
memory:
  offchip_capacity: {{value: 1, unit: GB, source: "assumption: round numbers for a hand-computed test"}}
timing:
  sync:   {{value: 10, unit: cycles, source: "assumption: round numbers for a hand-computed test"}}
  launch: {{value: 0, unit: us, source: "assumption: round numbers for a hand-computed test"}}
numerics:
  weights: fp32
  activations: fp32
"""


def round_profile(tmp: Path, tiles: int, name: str = "round"):
    path = tmp / f"{name}_{tiles}.yaml"
    path.write_text(PROFILE_YAML.format(name=name, tiles=tiles))
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
