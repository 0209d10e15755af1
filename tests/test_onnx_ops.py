"""The ONNX importer op by op: small models written with onnx.helper (forms the torch exporters
do not write: Gemm without transB, auto_pad, ONNX's own MaxUnpool, Resize variants, ...), each
imported and run by the numba executor against onnxruntime, and the forms it refuses."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from mpsim.errors import UnsupportedOperatorError  # noqa: E402
from mpsim.exec import run_graph  # noqa: E402
from mpsim.importers.onnx_import import reference_run, to_graph  # noqa: E402

RNG = np.random.default_rng(0)


def _model(nodes, x_shape, inits=None, opset=21, extra_inputs=()):
    inits = inits or {}
    graph = helper.make_graph(
        nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape), *extra_inputs],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    model = onnx.shape_inference.infer_shapes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]))
    out = model.graph.output[0].type.tensor_type
    if not out.HasField("shape"):  # inference skips function ops (GroupNormalization): same shape as x
        out.shape.CopyFrom(model.graph.input[0].type.tensor_type.shape)
    return model  # a valid file declares its output's shape


def _run(tmp_path, model, x_shape, lo=-1.0, hi=1.0):
    f = tmp_path / "m.onnx"
    onnx.save(model, f)
    g, w, m = to_graph(f)
    x = RNG.uniform(lo, hi, x_shape).astype(np.float32)
    (got,) = run_graph(g, w, x)
    (ref,) = reference_run(m, [x])
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    return g


def f32(*shape):
    return RNG.uniform(-1, 1, shape).astype(np.float32)


def i64(*v):
    return np.array(v, np.int64)


CASES = {
    "gemm, B not transposed, alpha and beta": (
        [helper.make_node("Gemm", ["x", "w", "b"], ["y"], alpha=0.5, beta=2.0)], (3, 5),
        {"w": f32(5, 4), "b": f32(4)}, ["linear"]),
    "matmul with a constant, then its bias": (
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["b", "h"], ["y"])], (2, 3, 5),
        {"w": f32(5, 4), "b": f32(4)}, ["linear"]),
    "conv with auto_pad SAME_UPPER (asymmetric)": (
        [helper.make_node("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])], (1, 2, 7, 8),
        {"w": f32(3, 2, 4, 4)}, ["pad", "conv2d"]),
    "conv with explicit asymmetric pads, grouped": (
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[0, 1, 2, 1], group=2)], (1, 4, 6, 6),
        {"w": f32(6, 2, 3, 3), "b": f32(6)}, ["pad", "conv2d"]),
    "transposed conv, grouped, output padding": (
        [helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1],
                          output_padding=[1, 1], group=2)], (1, 4, 5, 5), {"w": f32(4, 3, 3, 3)},
        ["conv_transpose2d"]),
    "hard sigmoid with ONNX's default alpha": (
        [helper.make_node("HardSigmoid", ["x"], ["y"])], (2, 8), {}, ["mul", "add", "clamp"]),
    "clip from inputs, leaky relu, prelu with a (C, 1, 1) slope": (
        [helper.make_node("Clip", ["x", "lo", "hi"], ["a"]), helper.make_node("LeakyRelu", ["a"], ["b"], alpha=0.3),
         helper.make_node("PRelu", ["b", "s"], ["y"])], (1, 3, 4, 4),
        {"lo": np.float32(-0.5), "hi": np.float32(0.7), "s": f32(3, 1, 1)}, ["clamp", "leaky_relu", "prelu"]),
    "neg, reciprocal, sub and div with constants": (
        [helper.make_node("Neg", ["x"], ["a"]), helper.make_node("Sub", ["c", "a"], ["b"]),
         helper.make_node("Reciprocal", ["b"], ["d"]), helper.make_node("Div", ["d", "c"], ["y"])], (2, 3),
        {"c": np.array([3.0, 4.0, 5.0], np.float32)}, ["mul", "sub", "div", "div"]),
    "slice with steps, gather of one index": (
        [helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["a"]),
         helper.make_node("Gather", ["a", "i"], ["y"], axis=1)], (2, 5, 9),
        {"st": i64(1, 0), "en": i64(100, -1), "ax": i64(2, 1), "sp": i64(3, 1), "i": np.array(2, np.int64)},
        ["slice", "slice", "slice", "reshape"]),
    "reduce sum with axes as an input, reduce mean": (
        [helper.make_node("ReduceSum", ["x", "ax"], ["a"], keepdims=0),
         helper.make_node("ReduceMean", ["a", "ax0"], ["y"], keepdims=1)], (2, 3, 4),
        {"ax": i64(1), "ax0": i64(0)}, ["sum", "mean"]),
    "pad reflect and edge": (
        [helper.make_node("Pad", ["x", "p"], ["a"], mode="reflect"), helper.make_node("Pad", ["a", "q"], ["y"],
                                                                                      mode="edge")],
        (1, 2, 4, 5), {"p": i64(0, 0, 1, 2, 0, 0, 2, 1), "q": i64(0, 0, 0, 1, 0, 0, 1, 0)}, ["pad", "pad"]),
    "resize nearest (asymmetric, floor) by scales": (
        [helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest", coordinate_transformation_mode="asymmetric",
                          nearest_mode="floor")], (1, 2, 3, 5), {"s": np.array([1, 1, 2.0, 1.6], np.float32)},
        ["interpolate"]),
    "resize linear with align_corners by sizes": (
        [helper.make_node("Resize", ["x", "", "", "n"], ["y"], mode="linear",
                          coordinate_transformation_mode="align_corners")], (1, 2, 4, 3),
        {"n": i64(1, 2, 7, 8)}, ["interpolate"]),
    "onnx max-unpool of max-pool indices": (
        [helper.make_node("MaxPool", ["x"], ["p", "i"], kernel_shape=[2, 2], strides=[2, 2]),
         helper.make_node("Relu", ["p"], ["r"]),
         helper.make_node("MaxUnpool", ["r", "i"], ["y"], kernel_shape=[2, 2], strides=[2, 2])], (2, 3, 6, 8),
        {}, ["max_pool2d", "relu", "max_unpool2d"]),
    "group normalization (opset 21: per channel)": (
        [helper.make_node("GroupNormalization", ["x", "g", "b"], ["y"], num_groups=2, epsilon=1e-5)], (2, 4, 3, 3),
        {"g": f32(4), "b": f32(4)}, ["group_norm"]),
    "expand, concat with a constant, split": (
        [helper.make_node("Expand", ["x", "sh"], ["a"]), helper.make_node("Concat", ["a", "c"], ["b"], axis=1),
         helper.make_node("Split", ["b", "sp"], ["y", "z"], axis=1)], (1, 1, 4),
        {"sh": i64(3, 2, 4), "c": f32(3, 1, 4), "sp": i64(2, 1)}, ["expand", "pad", "add", "split"]),
    "global average pool, flatten, softmax": (
        [helper.make_node("GlobalAveragePool", ["x"], ["a"]), helper.make_node("Flatten", ["a"], ["b"]),
         helper.make_node("Softmax", ["b"], ["y"], axis=1)], (2, 5, 3, 4), {},
        ["adaptive_avg_pool2d", "reshape", "softmax"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_onnx_op_matches_onnxruntime(case, tmp_path):
    nodes, shape, inits, ops = CASES[case]
    g = _run(tmp_path, _model(nodes, shape, inits), shape)
    assert [n.op for n in g.nodes] == ops


def test_shared_initializers_fold_into_a_loop(tmp_path):
    """One weight read by three convolutions in a chain: a loop of three, as on the torch side."""
    nodes, prev = [], "x"
    for k in range(3):
        nodes += [helper.make_node("Conv", [prev, "w", "b"], [f"c{k}"], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"c{k}"], [f"r{k}" if k < 2 else "y"])]
        prev = f"r{k}"
    g = _run(tmp_path, _model(nodes, (1, 4, 5, 5), {"w": f32(4, 4, 3, 3) * 0.3, "b": f32(4)}), (1, 4, 5, 5))
    assert [lp.trip_count for lp in g.loops] == [3]


@pytest.mark.parametrize("nodes, inits, message", [
    ([helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest")], {"s": np.array([1, 1, 2, 2], np.float32)},
     "ai.onnx.Resize x1 (first at r: nearest resizing with half_pixel coordinates"),
    ([helper.make_node("Conv", ["x", "x"], ["y"])], {},  # a weight computed from the input
     "ai.onnx.Conv x1 (first at r: a Conv weight must be a constant)"),
    ([helper.make_node("Einsum", ["x", "x"], ["y"], equation="nchw,nchw->nchw")], {},
     "ai.onnx.Einsum x1 (first at r)"),
])
def test_unsupported_forms_are_named(nodes, inits, message, tmp_path):
    for n in nodes:
        n.name = "r"
    f = tmp_path / "m.onnx"
    onnx.save(_model(nodes, (1, 2, 3, 3), inits), f)
    with pytest.raises(UnsupportedOperatorError) as info:
        to_graph(f)
    assert message in str(info.value) and "\n" not in str(info.value)
