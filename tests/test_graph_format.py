"""The graph format: fold/unroll, JSON round trips, and one-line errors for bad files."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpsim.analysis.metrics import stats
from mpsim.cli.main import main
from mpsim.errors import GraphFormatError
from mpsim.ir.builder import GraphBuilder
from mpsim.ir.graph import Graph
from mpsim.ir.loops import fold, unroll
from mpsim.ir.serialize import dumps, load_graph, loads, to_dict
from mpsim.ir.validate import validate

C, HW = 4, 4  # channels and spatial size of the hand-made graphs


def _conv(b: GraphBuilder, x: str, w: str, k: int = 3, cin: int = C, cout: int = C, bias: str | None = None,
          name: str | None = None) -> str:
    b.weight(w, (cout, cin, k, k))
    params = {"weight": w}
    if bias:
        params["bias"] = b.weight(bias, (cout,))
    attrs = {"stride": [1, 1], "padding": [k // 2, k // 2], "dilation": [1, 1], "groups": 1}
    return b.node("conv2d", [x], attrs, params, name=name)[0]


def _bn(b: GraphBuilder, x: str, tag: str) -> str:
    p = {"scale": b.weight(f"{tag}.scale", (C,)), "shift": b.weight(f"{tag}.shift", (C,))}
    return b.node("batch_norm", [x], {}, p, name=tag)[0]


def shared_loop_flat(trips: int = 3) -> Graph:
    """stem conv; per iteration: BN (own), conv (shared) + relu + residual add, head (own)."""
    b = GraphBuilder("hand-loop")
    x = b.input("x", (1, 3, HW, HW))
    s = _conv(b, x, "stem.w", cin=3, name="stem")
    for i in range(trips):
        y = _bn(b, s, f"bn{i}")
        y = _conv(b, y, "body.w", bias="body.b", name="body")
        y = b.node("relu", [y])[0]
        s = b.node("add", [s, y])[0]
        b.output(_conv(b, s, f"head{i}.w", k=1, cout=2, name="head"))
    return b.build()


def same_up_to_renaming(a: Graph, b: Graph) -> None:
    """Same nodes in the same order (op, attrs, shapes, MACs, weights), wired the same way."""
    assert len(a.nodes) == len(b.nodes)
    assert a.inputs == b.inputs
    names = {t: t for t in a.inputs}  # tensor of a -> tensor of b
    for na, nb in zip(a.nodes, b.nodes):
        assert (na.op, dict(na.attrs), dict(na.params), na.macs, na.param_count) == (
            nb.op, dict(nb.attrs), dict(nb.params), nb.macs, nb.param_count)
        assert [names[t] for t in na.inputs] == list(nb.inputs)
        assert [a.tensors[t] for t in na.outputs] == [b.tensors[t] for t in nb.outputs]
        names.update(zip(na.outputs, nb.outputs))
    assert [(o.index, names[o.tensor]) for o in a.outputs] == [(o.index, o.tensor) for o in b.outputs]


METRICS = ("params", "macs_per_output", "macs_cumulative", "depth_per_output")


# Fold / unroll ----------------------------------------------------------------------------------

def test_hand_made_loop_folds_and_round_trips():
    flat = shared_loop_flat(3)
    g = fold(flat)
    validate(g)
    (lp,) = g.loops
    assert lp.trip_count == 3
    assert [g.node_by_name[n].op for n in lp.body] == ["batch_norm", "conv2d", "relu", "add", "conv2d"]
    assert len(lp.carried) == 1 and lp.carried[0].init == "stem"
    assert set(g.weight_groups) == {"loop0.bn0.scale", "loop0.bn0.shift", "loop0.head.weight"}
    assert g.weight_groups["loop0.head.weight"] == ("head0.w", "head1.w", "head2.w")
    assert [o.tensor for o in g.outputs] == ["head@0", "head@1", "head@2"]
    assert fold(unroll(g)) == g
    same_up_to_renaming(flat, unroll(g))
    s_flat, s_g = stats(flat), stats(g)
    assert {k: s_flat[k] for k in METRICS} == {k: s_g[k] for k in METRICS}
    assert s_g["graph_size_bytes"]["unrolled"] == s_flat["graph_size_bytes"]["folded"]


def test_exported_graph_round_trips(tiny_dir):
    g = load_graph(tiny_dir)
    assert len(g.loops) == 1
    u = unroll(g)
    assert not u.loops and len(u.nodes) == 6 + 4 * len(g.loops[0].body)
    validate(u)
    assert fold(u) == g
    same_up_to_renaming(u, unroll(fold(u)))
    assert loads(dumps(g)) == g
    assert loads(dumps(u)) == u


def test_exported_flat_graph_folds_back():
    pytest.importorskip("torch")
    from itnet_export.exporter import to_flat_graph
    from tests import zoo

    flat, _ = to_flat_graph(zoo.build("SharedLoopNet"), zoo.example_input())
    g = fold(flat)
    assert [lp.trip_count for lp in g.loops] == [3]
    same_up_to_renaming(flat, unroll(g))
    assert fold(unroll(g)) == g
    s_flat, s_g = stats(flat), stats(g)
    assert {k: s_flat[k] for k in METRICS} == {k: s_g[k] for k in METRICS}


def test_two_loops_in_sequence():
    """Loop 1 reads loop 0's last iteration (``add@2``) in every iteration of its own."""
    b = GraphBuilder("two-loops")
    s = _conv(b, b.input("x", (1, 3, HW, HW)), "stem.w", cin=3, name="stem")
    for _ in range(3):
        s = b.node("add", [s, _conv(b, s, "A.w", name="A")])[0]
        b.output(s)
    t = _conv(b, s, "mid.w", name="mid")
    for i in range(2):
        t = b.node("add", [_conv(b, _bn(b, t, f"bn{i}"), "B.w", k=1, name="B"), s])[0]
    b.output(t)
    flat = b.build()
    g = fold(flat)
    validate(g)
    assert [(lp.trip_count, len(lp.body), len(lp.carried)) for lp in g.loops] == [(3, 2, 1), (2, 3, 1)]
    assert g.node_by_name["mid"].inputs == ("add@2",)
    assert [o.tensor for o in g.outputs] == ["add@0", "add@1", "add@2", "add_3@1"]
    u = unroll(g)
    same_up_to_renaming(flat, u)
    assert fold(u) == g and loads(dumps(g)) == g
    s_flat, s_g = stats(flat), stats(g)
    assert {k: s_flat[k] for k in METRICS} == {k: s_g[k] for k in METRICS}
    assert s_g["state_bytes"] == 2 * C * HW * HW * 4


def test_json_round_trip_hand_made():
    for g in (shared_loop_flat(2), fold(shared_loop_flat(4))):
        assert loads(dumps(g)) == g
        assert loads(json.dumps(to_dict(g))) == g


# Random graphs with a repeated block ----------------------------------------------------------

@st.composite
def block_specs(draw):
    trips = draw(st.integers(2, 5))
    ops = []
    for k in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["conv2d", "relu", "add", "batch_norm"]))
        ops.append({
            "op": op,
            "shared": draw(st.booleans()),
            "kernel": draw(st.sampled_from([1, 3])),
            "src": draw(st.integers(0, k)),  # 0: the iteration's input; j: output of block op j-1
            "src2": draw(st.integers(-1, k)),  # add's second operand; -1: the stem output
        })
    return trips, ops, draw(st.booleans())


def build_block_graph(trips, ops, per_iteration_outputs) -> Graph:
    b = GraphBuilder("random-block")
    x = b.input("x", (1, 3, HW, HW))
    stem = _conv(b, x, "stem.w", cin=3, name="stem")
    cur = stem
    for i in range(trips):
        avail = [cur]
        for k, o in enumerate(ops):
            tag = f"w{k}" if o["shared"] else f"w{k}_{i}"
            src = avail[o["src"]]
            if o["op"] == "conv2d":
                y = _conv(b, src, tag, k=o["kernel"])
            elif o["op"] == "batch_norm":
                y = _bn(b, src, tag)
            elif o["op"] == "relu":
                y = b.node("relu", [src])[0]
            else:
                y = b.node("add", [src, stem if o["src2"] < 0 else avail[o["src2"]]])[0]
            avail.append(y)
        cur = avail[-1]
        if per_iteration_outputs:
            b.output(cur)
    b.output(_conv(b, cur, "head.w", k=1, cout=2, name="head"))
    return b.build()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block_specs())
def test_fold_unroll_invariants(spec):
    trips, ops, outs = spec
    flat = build_block_graph(trips, ops, outs)
    validate(flat)
    g = fold(flat)
    validate(g)
    weighted = [o for o in ops if o["op"] in ("conv2d", "batch_norm")]
    if not any(o["shared"] for o in weighted):
        assert g == flat  # nothing shared: nothing to fold
        return
    (lp,) = g.loops
    assert lp.trip_count == trips
    assert [g.node_by_name[n].op for n in lp.body] == [o["op"] for o in ops]
    # Shared weights stay plain names; per-iteration ones become groups of `trips` members.
    assert len(g.weight_groups) == sum(1 if o["op"] == "conv2d" else 2 for o in weighted if not o["shared"])
    assert all(len(m) == trips for m in g.weight_groups.values())
    reads_input = any(o["src"] == 0 or (o["op"] == "add" and o["src2"] == 0) for o in ops)
    assert len(lp.carried) == int(reads_input)

    u = unroll(g)
    validate(u)
    same_up_to_renaming(flat, u)
    assert fold(u) == g
    assert loads(dumps(g)) == g and loads(dumps(u)) == u

    s_flat, s_g = stats(flat), stats(g)
    assert {k: s_flat[k] for k in METRICS} == {k: s_g[k] for k in METRICS}
    assert s_g["graph_size_bytes"]["unrolled"] == s_flat["graph_size_bytes"]["folded"]
    # A folded conv counts its input and output (C x HW x HW floats each) once instead of
    # `trips` times, and a shared weight once; a weight group counts all its members.
    act = 2 * C * HW * HW * 4
    convs = [o for o in ops if o["op"] == "conv2d"]
    saved = (trips - 1) * sum(act + (C * C * o["kernel"] ** 2 * 4 if o["shared"] else 0) for o in convs)
    assert s_g["graph_size_bytes"]["unrolled"] - s_g["graph_size_bytes"]["folded"] == saved
    assert s_g["state_bytes"] == (C * HW * HW * 4 if reads_input else 0)
    assert s_flat["state_bytes"] == 0


# Bad files ----------------------------------------------------------------------------------

def _small() -> dict:
    b = GraphBuilder("small")
    x = b.input("x", (1, 3, HW, HW))
    y = _conv(b, x, "w", cin=3, name="conv")
    b.output(b.node("relu", [y], name="relu")[0])
    return to_dict(b.build())


def _loop() -> dict:
    return to_dict(fold(shared_loop_flat(3)))


def _set(d, path, value):
    obj = d
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value
    return d


def _cycle() -> dict:
    d = _small()
    d["nodes"][1]["inputs"] = ["relu2"]
    d["nodes"].append({"name": "relu2", "op": "relu", "inputs": ["relu"], "outputs": ["relu2"]})
    d["tensors"]["relu2"] = d["tensors"]["relu"]
    return d


BAD = {
    # case: (file text, words the one-line message must hold)
    "unknown op": (lambda: _set(_small(), ["nodes", 1, "op"], "conv3d"), ["unknown op 'conv3d'", "'relu'"]),
    "dangling tensor": (lambda: _set(_small(), ["nodes", 1, "inputs"], ["ghost"]), ["'ghost'", "dangling"]),
    "dangling output": (lambda: _set(_small(), ["outputs", 0, "tensor"], "ghost"), ["'ghost'", "dangling"]),
    "shape mismatch": (lambda: _set(_small(), ["tensors", "conv", "shape"], [1, 4, 4, 5]),
                       ["shape mismatch", "'conv'", "[1, 4, 4, 5]"]),
    "cycle": (_cycle, ["cycle outside a loop region", "relu", "relu2"]),
    "unknown version": (lambda: _set(_small(), ["version"], 99), ["version 99"]),
    "not a graph": (lambda: _set(_small(), ["format"], "onnx"), ["format", "onnx"]),
    "wrong field type": (lambda: _set(_small(), ["nodes", 0, "inputs"], "x"), ["nodes[0].inputs", "list"]),
    "wrong shape type": (lambda: _set(_small(), ["tensors", "x", "shape"], [1, "3", 4, 4]), ["tensors.x.shape"]),
    "missing field": (lambda: {k: v for k, v in _small().items() if k != "nodes"}, ["'nodes'", "missing"]),
    "macs mismatch": (lambda: _set(_small(), ["nodes", 0, "macs"], 1), ["'conv'", "1 MACs"]),
    "param count mismatch": (lambda: _set(_small(), ["nodes", 0, "param_count"], 7), ["'conv'", "7 param"]),
    "unknown weight": (lambda: _set(_small(), ["nodes", 0, "params", "weight"], "nope"), ["'nope'"]),
    "bad attribute": (lambda: _set(_small(), ["nodes", 0, "attrs", "stride"], "x"), ["'conv'", "'stride'", "integer"]),
    "zero stride": (lambda: _set(_small(), ["nodes", 0, "attrs", "stride"], 0), ["'conv'", "'stride' is 0", "allowed: 1.."]),
    "unknown dtype": (lambda: _set(_small(), ["tensors", "x", "dtype"], "float8"), ["float8"]),
    "group size": (lambda: _set(_loop(), ["loops", 0, "trip_count"], 4), ["3 members", "4 times"]),
    "carried input undeclared": (lambda: _set(_loop(), ["loops", 0, "carried", 0, "body_input"], "add@1"),
                                 ["'add@1'", "not declared"]),
}


def _bad_text(case: str) -> str:
    return json.dumps(BAD[case][0]())


@pytest.fixture
def bad_file(request, tmp_path):
    case = request.param
    path = tmp_path / "graph.json"
    path.write_text(_bad_text(case))
    return path, BAD[case][1]


@pytest.fixture
def truncated_file(tmp_path):
    text = dumps(fold(shared_loop_flat(3)))
    path = tmp_path / "graph.json"
    path.write_text(text[: len(text) // 2])
    return path, ["not valid JSON", "truncated"]


def test_valid_bases_load():
    for d in (_small(), _loop()):
        assert loads(json.dumps(d)) is not None


@pytest.mark.parametrize("bad_file", sorted(BAD), indirect=True)
def test_bad_file_is_one_line(bad_file):
    path, words = bad_file
    with pytest.raises(GraphFormatError) as info:
        load_graph(path)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(path))
    for w in words:
        assert w in msg, (w, msg)


def test_truncated_file_is_one_line(truncated_file):
    path, words = truncated_file
    with pytest.raises(GraphFormatError) as info:
        load_graph(path)
    assert "\n" not in str(info.value) and all(w in str(info.value) for w in words)


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(GraphFormatError, match="no such graph file"):
        load_graph(tmp_path / "nope.json")


def _cli_one_line(path, capsys):
    assert main(["stats", str(path)]) == 2
    cap = capsys.readouterr()
    assert cap.err.count("\n") == 1 and cap.err.startswith("mpsim stats: error: ")
    assert "Traceback" not in cap.err + cap.out
    return cap.err


@pytest.mark.parametrize("bad_file", sorted(BAD), indirect=True)
def test_stats_cli_bad_file(bad_file, capsys):
    path, words = bad_file
    err = _cli_one_line(path, capsys)
    assert all(w in err for w in words)


def test_stats_cli_truncated_and_missing(truncated_file, tmp_path, capsys):
    _cli_one_line(truncated_file[0], capsys)
    _cli_one_line(tmp_path / "missing.json", capsys)
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    _cli_one_line(tmp_path / "binary.json", capsys)
