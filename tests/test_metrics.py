"""The paper's static metrics on graphs small enough to work out by hand (float32: 4 bytes)."""

from __future__ import annotations

from mpsim.analysis.metrics import (
    depth_per_output,
    graph_size_bytes,
    macs_per_output,
    param_count,
    state_bytes,
    stats,
)
from mpsim.ir.builder import GraphBuilder
from mpsim.ir.graph import Graph
from mpsim.ir.loops import fold, unroll


def conv(b: GraphBuilder, x: str, w: str, shape, bias: str | None = None, stride=1, pad=0, groups=1,
         dilation=1) -> str:
    params = {"weight": b.weight(w, shape)}
    if bias:
        params["bias"] = b.weight(bias, (shape[0],))
    attrs = {"stride": [stride, stride], "padding": [pad, pad], "dilation": [dilation, dilation], "groups": groups}
    return b.node("conv2d", [x], attrs, params, name=w.split(".")[0])[0]


def test_conv_and_linear_macs_follow_shapes():
    b = GraphBuilder("macs")
    x = b.input("x", (1, 8, 9, 9))
    # 8 -> 6 channels, groups 2 (4 in-channels per group), 3x3, stride 2, pad 2, dilation 2:
    # out = (9 + 4 - 2*2 - 1) // 2 + 1 = 5 -> (1, 6, 5, 5); MACs = 150 * 4 * 9 = 5400.
    y = conv(b, x, "g.w", (6, 4, 3, 3), stride=2, pad=2, groups=2, dilation=2)
    # Depthwise 3x3, pad 1: (1, 6, 5, 5); MACs = 150 * 1 * 9 = 1350.
    z = conv(b, y, "dw.w", (6, 1, 3, 3), bias="dw.b", pad=1, groups=6)
    f = b.node("reshape", [z], {"shape": [1, 150]})[0]
    # Linear 150 -> 10: MACs = 10 * 150 = 1500; params 1500 + 10.
    b.output(b.node("linear", [f], {}, {"weight": b.weight("fc.w", (10, 150)), "bias": b.weight("fc.b", (10,))})[0])
    g = b.build()
    assert [g.tensors[n.outputs[0]].shape for n in g.nodes] == [(1, 6, 5, 5), (1, 6, 5, 5), (1, 150), (1, 10)]
    assert [n.macs for n in g.nodes] == [5400, 1350, 0, 1500]
    assert [n.param_count for n in g.nodes] == [216, 60, 0, 1510]
    assert macs_per_output(g) == ([8250], [8250])
    assert depth_per_output(g) == [3]  # conv, conv, linear
    assert param_count(g) == 1786


def test_shared_weight_counts_once():
    b = GraphBuilder("shared")
    x = b.input("x", (1, 2, 4, 4))
    y = conv(b, x, "w", (2, 2, 1, 1))  # 4 weights
    y = b.node("relu", [y])[0]
    b.output(conv(b, y, "w", (2, 2, 1, 1)))  # the same 4 weights again
    g = b.build()
    assert [n.param_count for n in g.nodes] == [4, 0, 4]
    assert param_count(g) == 4
    # Graph size does count the weight at each layer that stores it: 2 x (4 + 32 + 32) x 4 B.
    assert graph_size_bytes(g) == 544


def two_outputs() -> Graph:
    """A trunk conv feeds head 1 directly and head 2 through a branch conv.

    x (1,1,4,4) -> trunk 3x3 pad 1 (2,1,3,3): (1,2,4,4), MACs 32*9 = 288
      trunk -> head1 1x1 (3,2,1,1): (1,3,4,4), MACs 48*2 = 96           -> m_1
      trunk -> relu -> branch 3x3 pad 1 (2,2,3,3) + bias: (1,2,4,4), MACs 32*18 = 576
               -> head2 1x1 (3,2,1,1): MACs 96                            -> m_2
    """
    b = GraphBuilder("two-outputs")
    x = b.input("x", (1, 1, 4, 4))
    t = conv(b, x, "trunk.w", (2, 1, 3, 3), pad=1)
    b.output(conv(b, t, "head1.w", (3, 2, 1, 1)))
    r = b.node("relu", [t])[0]
    br = conv(b, r, "branch.w", (2, 2, 3, 3), bias="branch.b", pad=1)
    b.output(conv(b, br, "head2.w", (3, 2, 1, 1)))
    return b.build()


def test_macs_per_output_vs_cumulative():
    g = two_outputs()
    per, cum = macs_per_output(g)
    # m_1 alone: trunk + head1 = 288 + 96; m_2 alone: trunk + branch + head2 = 288 + 576 + 96.
    assert per == [384, 960]
    # m_1..m_2 together: the trunk runs once: 384 + 576 + 96.
    assert cum == [384, 1056]


def test_two_output_params_size_depth():
    g = two_outputs()
    assert param_count(g) == 18 + 6 + 36 + 2 + 6  # = 68
    # Per conv: (params + input + output) floats x 4 B:
    #   trunk (18 + 16 + 32) = 66; head1 (6 + 32 + 48) = 86; branch (38 + 32 + 32) = 102; head2 86.
    assert graph_size_bytes(g) == (66 + 86 + 102 + 86) * 4 == 1360
    assert depth_per_output(g) == [2, 3]
    assert state_bytes(g) == 0


def loop_flat() -> Graph:
    """x (1,2,4,4) -> stem 1x1 + bias; then 3 iterations of
    BN (own scale/shift) -> body 3x3 pad 1 + bias (shared) -> relu -> add to the state -> head 1x1 (own).
    """
    b = GraphBuilder("loop")
    x = b.input("x", (1, 2, 4, 4))
    s = conv(b, x, "stem.w", (2, 2, 1, 1), bias="stem.b")
    for i in range(3):
        y = b.node("batch_norm", [s], {}, {"scale": b.weight(f"bn{i}.scale", (2,)),
                                           "shift": b.weight(f"bn{i}.shift", (2,))}, name="bn")[0]
        y = conv(b, y, "body.w", (2, 2, 3, 3), bias="body.b", pad=1)
        y = b.node("relu", [y])[0]
        s = b.node("add", [s, y])[0]
        b.output(conv(b, s, f"head{i}.w", (1, 2, 1, 1)))
    return b.build()


def test_loop_metrics_by_hand():
    flat = loop_flat()
    g = fold(flat)
    assert [lp.trip_count for lp in g.loops] == [3]
    for h in (flat, g):
        # stem 4 + 2; BN 3 x (2 + 2); body 36 + 2 (once); heads 3 x 2.
        assert param_count(h) == 6 + 12 + 38 + 6 == 62
        # MACs: stem 32*2 = 64, body 32*18 = 576, head 16*2 = 32 per iteration.
        assert macs_per_output(h) == ([64 + 576 + 32, 64 + 2 * 576 + 32, 64 + 3 * 576 + 32],
                                      [672, 672 + 608, 672 + 2 * 608])
        # Depth: stem, then body and head per iteration: 1 + n + 1.
        assert depth_per_output(h) == [3, 4, 5]
    # Graph size.  stem: (6 + 32 + 32) x 4 = 280; body: (38 + 32 + 32) x 4 = 408;
    # head: (2 + 32 + 16) x 4 = 200 per iteration.
    # Folded: the body once, the head's weight group with all 3 members: (6 + 32 + 16) x 4 = 216.
    assert graph_size_bytes(g) == 280 + 408 + 216 == 904
    # Unrolled (flat, or the folded graph unrolled): 280 + 3 x 408 + 3 x 200.
    assert graph_size_bytes(flat) == graph_size_bytes(unroll(g)) == 280 + 3 * 408 + 3 * 200 == 2104
    # State: the loop carries the (1,2,4,4) sum between iterations: 32 floats.
    assert state_bytes(g) == 128
    assert state_bytes(flat) == 0
    s = stats(g)
    assert s["graph_size_bytes"] == {"folded": 904, "unrolled": 2104}
    assert s["nodes"] == {"folded": 6, "unrolled": 16}
    assert s["loops"] == [{"name": "loop0", "trip_count": 3, "body_nodes": 5}]


def test_state_bytes_counts_every_carried_tensor_and_dtype():
    """Two carried states, a float32 (1,2,4,4) conv chain and a float16 (1,2,4,4) sum: 128 + 64 bytes."""
    b = GraphBuilder("two-states")
    x = b.input("x", (1, 2, 4, 4))
    a = conv(b, x, "a.w", (2, 2, 1, 1))
    h = b.input("h", (1, 2, 4, 4), dtype="float16")
    for _ in range(2):
        a = conv(b, a, "loop.w", (2, 2, 1, 1))
        h = b.node("add", [h, h], name="hadd")[0]
        b.output(a)
    b.output(h)
    g = fold(b.build())
    assert [len(lp.carried) for lp in g.loops] == [2]
    assert state_bytes(g) == 32 * 4 + 32 * 2


def test_transposed_conv_and_matmul_macs_graph_size_depth():
    """docs/import.md's definitions, worked by hand."""
    b = GraphBuilder("imported")
    x = b.input("x", (1, 4, 5, 5))
    # Transposed conv 4 -> 6, groups 2, 3x3, stride 2, padding 1, output padding 1:
    # out = (5-1)*2 - 2 + 3 + 1 = 10 -> (1, 6, 10, 10); weight (4, 3, 3, 3) = 108 numbers;
    # MACs = every input value x its group's 3 filters x 9 taps = 100 * 3 * 9 = 2700.
    attrs = {"stride": [2, 2], "padding": [1, 1], "output_padding": [1, 1], "dilation": [1, 1], "groups": 2}
    (y,) = b.node("conv_transpose2d", [x], attrs, {"weight": b.weight("t.w", (4, 3, 3, 3))}, name="t")
    (y,) = b.node("reshape", [y], {"shape": [1, 6, 100]})
    # matmul (1, 6, 100) @ (1, 100, 6): out 36 values x K = 100 -> 3600 MACs; no weights, so it
    # counts in MACs but neither in graph size nor in depth (a crossbar cannot hold activations).
    (yt,) = b.node("permute", [y], {"dims": [0, 2, 1]})
    (z,) = b.node("matmul", [y, yt], name="mm")
    b.output(z)
    g = b.build()
    assert g.tensors["t"].shape == (1, 6, 10, 10) and g.tensors["mm"].shape == (1, 6, 6)
    assert [n.macs for n in g.nodes] == [2700, 0, 0, 3600]
    assert macs_per_output(g) == ([6300], [6300])
    # Graph size: the transposed conv alone: (108 weights + 100 inputs + 600 outputs) x 4 B.
    assert graph_size_bytes(g) == (108 + 100 + 600) * 4 == 3232
    assert depth_per_output(g) == [1]
    assert param_count(g) == 108


def test_constant_operands_count_as_parameters():
    b = GraphBuilder("consts")
    x = b.input("x", (1, 3, 4))
    (y,) = b.node("add", [x], {}, {"other": b.weight("pos", (1, 3, 4))})
    b.output(b.node("mul", [y], {"scalar": 0.5})[0])
    g = b.build()
    assert param_count(g) == 12 and graph_size_bytes(g) == 0 and [n.macs for n in g.nodes] == [0, 0]
